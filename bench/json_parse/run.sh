#!/usr/bin/env bash
# bench/json_parse/run.sh BUILD_DIR - build bench_json_parse in a Release build dir and
# run it: fhirlake vs jansson (same process, one core) on the bulk-100 sample and on
# 100,000 generated Patients. Extra arguments go to the bench (e.g. --patients 20000).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:-build/release}
shift || true
case "$build" in /*) ;; *) build=$src/$build ;; esac
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFL_BUILD_FUZZ=OFF >/dev/null
fi
bin=$build/bench_json_parse
if ! cmake --build "$build" --target bench_json_parse -j2 >/dev/null 2>&1; then
  # another module may be mid-edit: build only what this bench needs
  echo "json_parse: full build failed, compiling against fl_json/fl_os/fl_base only" >&2
  cmake --build "$build" --target fl_json -j2 >/dev/null
  bin=$build/bench_json_parse_standalone
  jl=""; pkg-config --exists jansson 2>/dev/null && jl=$(pkg-config --libs jansson)
  ${CC:-cc} -std=c11 -O2 -DNDEBUG -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -I"$src/include" -I"$src/src" \
    "$here/bench_json_parse.c" "$build/libfl_json.a" "$build/libfl_os.a" "$build/libfl_base.a" \
    $jl -lz -lm -lpthread -o "$bin"
fi
grep -E '^CMAKE_(C_COMPILER|BUILD_TYPE|C_FLAGS_RELEASE):' "$build/CMakeCache.txt" | sed 's/^/# /'
exec "$bin" --bulk "$src/tests/data/fhir/bulk-100" "$@"
