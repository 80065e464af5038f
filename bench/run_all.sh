#!/usr/bin/env bash
# bench/run_all.sh BUILD_DIR - run every benchmark script bench/*/run.sh in turn.
set -uo pipefail
build=${1:-build/release}
for s in "$(dirname "$0")"/*/run.sh; do
  [ -f "$s" ] || continue
  echo "=== $s"
  bash "$s" "$build" || echo "bench: $s failed"
done
