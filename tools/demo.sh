#!/usr/bin/env bash
# tools/demo.sh FHIRLAKE_BIN - the `make demo` job (grows as features land).
set -euo pipefail
bin=${1:-build/release/fhirlake}
"$bin" version
