#!/usr/bin/env bash
# export_crash.sh - `fhirlake export` killed with SIGKILL at random points leaves no
# visible partial commit: after every kill each table either does not exist, is empty
# (created, data not committed) or holds the whole export; a rerun with the same export
# id then completes, and one more run changes nothing. Input: the Bulk Data sample three
# times over (so the export runs long enough to be hit mid-way).
set -uo pipefail
bin=$1
src=${FL_SOURCE_DIR}/tests/data/fhir/bulk-100
views=${FL_SOURCE_DIR}/tests/data/views
work=${FL_BUILD_DIR}/export-crash
rm -rf "$work"
mkdir -p "$work/in"
for k in 1 2 3; do
  for f in "$src"/*.ndjson.gz; do ln -s "$f" "$work/in/c$k-$(basename "$f")"; done
done
vargs=()
for v in patients observations conditions encounters medication_requests; do vargs+=(--view "$views/$v.json"); done
fail() { echo "export_crash: FAIL: $*"; exit 1; }
records() { "$bin" table info "$1" | sed -n 's/.*"numRecords":\([0-9]*\).*/\1/p'; }

# reference run: expected row counts and duration
start=$(date +%s%N)
"$bin" export "${vargs[@]}" --input "$work/in" --to "$work/ref" --quiet --threads 2 || fail "reference export"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
declare -A want
for v in patients observations conditions encounters medication_requests; do want[$v]=$(records "$work/ref/$v"); done
echo "export_crash: reference export ${ms} ms, rows: $(for v in "${!want[@]}"; do printf '%s=%s ' "$v" "${want[$v]}"; done)"

kills=0
for i in $(seq 1 8); do
  delay=$(( RANDOM % (ms + 200) ))
  "$bin" export "${vargs[@]}" --input "$work/in" --to "$work/t" --export-id crash-test --quiet --threads 2 >/dev/null 2>&1 &
  pid=$!
  sleep "$(printf '0.%03d' "$delay")" 2>/dev/null || sleep 0
  [ "$delay" -ge 1000 ] && sleep $(( delay / 1000 ))
  if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
  wait "$pid" 2>/dev/null
  for v in patients observations conditions encounters medication_requests; do
    t="$work/t/$v"
    [ -d "$t/_delta_log" ] || continue
    ls "$t/_delta_log" | grep -q '\.json$' || continue
    n=$(records "$t") || fail "kill $i: table $v not loadable"
    [ "$n" = 0 ] || [ "$n" = "${want[$v]}" ] || fail "kill $i (after ${delay} ms): table $v shows $n rows, wanted 0 or ${want[$v]}"
  done
done
echo "export_crash: $kills of 8 runs killed mid-way, no partial commit seen"

out=$("$bin" export "${vargs[@]}" --input "$work/in" --to "$work/t" --export-id crash-test --threads 2) || fail "rerun after the kills"
for v in patients observations conditions encounters medication_requests; do
  n=$(records "$work/t/$v")
  [ "$n" = "${want[$v]}" ] || fail "after rerun: $v has $n rows, wanted ${want[$v]}"
done
out=$("$bin" export "${vargs[@]}" --input "$work/in" --to "$work/t" --export-id crash-test --threads 2) || fail "second rerun"
[ "$(echo "$out" | grep -c 'nothing changed')" = 5 ] || fail "second rerun changed something: $out"
py=${FL_SOURCE_DIR}/build/venv/bin/python
if [ -x "$py" ] && "$py" -c "import deltalake" 2>/dev/null; then
  for v in patients observations; do
    n=$("$py" -c "import deltalake,sys; print(deltalake.DeltaTable(sys.argv[1]).to_pyarrow_table().num_rows)" "$work/t/$v")
    [ "$n" = "${want[$v]}" ] || fail "delta-rs reads $n rows of $v, wanted ${want[$v]}"
  done
fi
echo "export_crash: ok"
