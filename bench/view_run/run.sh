#!/usr/bin/env bash
# bench/view_run/run.sh BUILD_DIR [N] - the patient view over N (default 100,000) synthetic
# Patients: fhirlake on one thread and on all cores, then fhirpath.js (npm `fhirpath`,
# expressions compiled once; installed into BUILD_DIR/bench-view/node) on the same file,
# and the ratios. CPU-time ratios are printed too because the box is often shared.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:-build/release}
n=${2:-100000}
case "$build" in /*) ;; *) build=$src/$build ;; esac
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFL_BUILD_FUZZ=OFF >/dev/null
fi
cmake --build "$build" --target bench_view_run fhirlake -j2 >/dev/null
grep -E '^CMAKE_(C_COMPILER|BUILD_TYPE|C_FLAGS_RELEASE):' "$build/CMakeCache.txt" | sed 's/^/# /'
work=$build/bench-view
mkdir -p "$work"
data=$work/patients-$n.ndjson
[ -f "$data" ] || "$build/bench_view_run" gen "$n" "$data"
view=$here/patient_view.json
echo "# input: $n Patients, $(du -m "$data" | cut -f1) MB; cpus: $(nproc)"
one=$("$build/bench_view_run" run "$view" "$data" --threads 1 --reps 5)
echo "fhirlake 1 thread : $one"
all=$("$build/bench_view_run" run "$view" "$data" --threads 0 --reps 5)
echo "fhirlake all cores: $all"

peer=""
if command -v node >/dev/null && command -v npm >/dev/null; then
  if [ ! -d "$work/node/node_modules/fhirpath" ]; then
    (cd "$work" && mkdir -p node && cd node && { [ -f package.json ] || npm init -y >/dev/null; } &&
     npm install --no-audit --no-fund --silent fhirpath@4.10.1 >/dev/null 2>&1) ||
      echo "# npm install fhirpath failed; no peer figures"
  fi
  if [ -d "$work/node/node_modules/fhirpath" ]; then
    peer=$(NODE_PATH="$work/node/node_modules" node "$here/peer.js" "$data" "$work/peer-out.ndjson" 3)
    echo "fhirpath.js       : $peer"
  fi
else
  echo "# node/npm not found; no peer figures"
fi
if [ -n "$peer" ]; then
  # same rows, byte for byte: `fhirlake run` with the FHIR text of dates vs the peer's output
  "$build/fhirlake" run --view "$view" --temporal-as-string --out "$work/ours-out.ndjson" "$data"
  if cmp -s "$work/ours-out.ndjson" "$work/peer-out.ndjson"; then echo "# output identical to the peer's"
  else echo "WARNING: output differs from the peer's ($work/ours-out.ndjson vs peer-out.ndjson)"; fi
fi
get() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
if [ -n "$peer" ]; then
  [ "$(get "$one" rows)" = "$(get "$peer" rows)" ] || echo "WARNING: row counts differ"
  awk -v a="$(get "$one" resources_per_s)" -v b="$(get "$peer" resources_per_s)" \
      -v c="$(get "$one" resources_per_cpu_s)" -v d="$(get "$peer" resources_per_cpu_s)" \
      -v e="$(get "$all" resources_per_s)" \
      'BEGIN { printf "ratio 1 thread (wall)   : %.1fx\nratio per CPU-second    : %.1fx\nratio all cores (wall)  : %.1fx\n", a/b, c/d, e/b }'
fi
