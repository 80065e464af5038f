#!/usr/bin/env bash
# export_torture.sh - `fhirlake export` with the Nth allocation failing (FL_TEST_FAIL_ALLOC,
# N sampled over the whole run, merge mode with a Bulk Data deleted[] file, 2 threads):
# every run must end with exit 0 or 1 (never a crash, hang or sanitizer report), leave
# each table empty or complete, and a rerun without faults must give the full table.
set -uo pipefail
bin=$1
src=${FL_SOURCE_DIR}/tests/data
work=${FL_BUILD_DIR}/export-torture
rm -rf "$work"
mkdir -p "$work/in"
zcat "$src/fhir/bulk-100/Patient.000.ndjson.gz" | head -20 > "$work/in/p.ndjson"
zcat "$src/fhir/bulk-100/Condition.000.ndjson.gz" | head -40 > "$work/in/c.ndjson"
printf '{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"DELETE","url":"Patient/x1"}}]}\n' > "$work/in/d.ndjson"
echo '{"output":[{"type":"Patient","url":"p.ndjson"},{"type":"Condition","url":"c.ndjson"}],"deleted":[{"type":"Bundle","url":"d.ndjson"}]}' > "$work/in/manifest.json"
views=(--view "$src/views/patients.json" --view "$src/views/conditions.json")
fail() { echo "export_torture: FAIL: $*"; exit 1; }
records() { "$bin" table info "$1" 2>/dev/null | sed -n 's/.*"numRecords":\([0-9]*\).*/\1/p'; }
"$bin" export "${views[@]}" --input "$work/in" --to "$work/ref" --mode merge --quiet || fail "reference run"
want_p=$(records "$work/ref/patients"); want_c=$(records "$work/ref/conditions")
runs=0
for n in $(seq 3 53 4000); do
  rm -rf "$work/t"
  out=$(FL_TEST_FAIL_ALLOC=$n timeout 120 "$bin" export "${views[@]}" --input "$work/in" --to "$work/t" --mode merge --threads 2 --quiet 2>&1)
  rc=$?
  runs=$((runs + 1))
  if echo "$out" | grep -q "Sanitizer\|runtime error"; then echo "$out" | head -30; fail "N=$n: sanitizer report"; fi
  [ $rc -le 1 ] || fail "N=$n: exit $rc: $(echo "$out" | head -3)"
  for t in patients:$want_p conditions:$want_c; do
    name=${t%%:*}; want=${t#*:}
    [ -d "$work/t/$name/_delta_log" ] || continue
    got=$(records "$work/t/$name")
    [ -z "$got" ] || [ "$got" = 0 ] || [ "$got" = "$want" ] || fail "N=$n: $name has $got rows (want 0 or $want)"
  done
  # without faults the same export completes the table
  "$bin" export "${views[@]}" --input "$work/in" --to "$work/t" --mode merge --quiet >/dev/null 2>&1 || fail "N=$n: rerun failed"
  [ "$(records "$work/t/patients")" = "$want_p" ] && [ "$(records "$work/t/conditions")" = "$want_c" ] || fail "N=$n: rerun rows"
done
echo "export_torture: $runs runs with a failing allocation, all clean; reruns complete"
