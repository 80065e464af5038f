#!/usr/bin/env bash
# bench/fhirpath/run.sh BUILD_DIR - FHIRPath evaluation: fhirlake vs fhirpath.js 4.10.1.
# Same expressions (exprs.tsv) over the Patient and Observation files of the bulk-100
# sample; parsing excluded on both sides; prints both lines and the speed ratio, and
# checks that both engines returned the same number of items per expression.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build/release}
bin="$build/bench_fhirpath"
[ -x "$bin" ] || cmake --build "$build" --target bench_fhirpath >/dev/null
data="$root/tests/data/fhir/bulk-100"
files=("$data/Patient.000.ndjson.gz" "$data/Observation.000.ndjson.gz")
peer="$root/build/fp-peer"
if [ ! -d "$peer/node_modules/fhirpath" ] && command -v npm >/dev/null; then
  mkdir -p "$peer" && (cd "$peer" && npm install --no-audit --no-fund --silent fhirpath@4.10.1 >/dev/null)
fi
ours=$("$bin" "$here/exprs.tsv" "${files[@]}" --reps 5)
echo "$ours" | head -1
if [ -d "$peer/node_modules/fhirpath" ]; then
  theirs=$(NODE_PATH="$peer/node_modules" node "$here/peer.js" "$here/exprs.tsv" "${files[@]}" --reps 5)
  echo "$theirs" | head -1
  a=$(echo "$ours" | head -1 | sed -E 's/.*evals_per_s=([0-9]+).*/\1/')
  b=$(echo "$theirs" | head -1 | sed -E 's/.*evals_per_s=([0-9]+).*/\1/')
  echo "ratio fhirlake/fhirpath.js = $(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.1f", a/b}')x (wall)"
  a=$(echo "$ours" | head -1 | sed -E 's/.*evals_per_cpu_s=([0-9]+).*/\1/')
  b=$(echo "$theirs" | head -1 | sed -E 's/.*evals_per_cpu_s=([0-9]+).*/\1/')
  echo "ratio fhirlake/fhirpath.js = $(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.1f", a/b}')x (cpu time)"
  if ! diff <(echo "$ours" | tail -n +2) <(echo "$theirs" | tail -n +2) >/dev/null; then
    echo "result item counts differ per expression:"; paste <(echo "$ours" | tail -n +2) <(echo "$theirs" | tail -n +2)
  fi
else
  echo "fhirpath.js not available (npm missing): peer skipped"
fi
