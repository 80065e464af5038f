#!/usr/bin/env bash
# tests/run/fhirpath_cli.sh FHIRLAKE - transcript tests of `fhirlake fhirpath`:
# JSON and NDJSON input, --var, exit codes, and the caret under a compile error.
set -uo pipefail
bin=$1
src=${FL_SOURCE_DIR:?}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
expect() { # name, expected, actual
  if [ "$2" != "$3" ]; then echo "FAIL $1"; echo "  expected: $2"; echo "  actual:   $3"; fail=1; else echo "ok   $1"; fi
}
P=$src/tests/data/fhirpath/r4/json-equivalents/patient-example.json

expect "json input" '["Peter","James","Jim","Peter","James"]' "$("$bin" fhirpath 'name.given' --input "$P")"
expect "boolean result" '[true]' "$("$bin" fhirpath "birthDate < @2000-01-01" --input "$P")"
expect "no input" '[3]' "$("$bin" fhirpath '1 + 2')"
expect "decimal text kept" '[1.50]' "$("$bin" fhirpath '1.50')"
expect "--var integer" '[42]' "$("$bin" fhirpath '%x + 1' --var x=41)"
expect "--var text" '["ab"]' "$("$bin" fhirpath "%s & 'b'" --var s=a)"
expect "quantity" '[{"value":4,"unit":"g"}]' "$("$bin" fhirpath "2 'g' * 2")"

printf '%s\n' '{"resourceType":"Patient","id":"a","name":[{"family":"X"}]}' '' \
  '{"resourceType":"Patient","id":"b"}' > "$work/in.ndjson"
expect "ndjson one line per resource" $'["a","X"]\n["b"]' "$("$bin" fhirpath "id | name.family" --input "$work/in.ndjson")"

out=$("$bin" fhirpath "name.family.upper()" --input "$work/in.ndjson" 2>/dev/null); rc=$?
expect "ndjson keeps one line per resource" '["X"]
[]' "$out"
expect "ndjson exit code" 0 "$rc"
printf '%s\n' '{"name":[{"family":"a"},{"family":"b"}]}' '{"name":[{"family":"c"}]}' > "$work/two.ndjson"
out=$("$bin" fhirpath "name.family.upper()" --input "$work/two.ndjson" 2>/dev/null); rc=$?
expect "ndjson error line" '{"error":"name.family.upper(): col 13: upper() needs a single input item, got 2"}
["C"]' "$out"
expect "ndjson error exit code" 1 "$rc"

err=$("$bin" fhirpath 'name.where(use = )' 2>&1 >/dev/null); rc=$?
expect "compile error exit code" 1 "$rc"
expect "compile error message" "fhirlake: fhirpath: name.where(use = ): col 18: expected an expression, found ')'
  name.where(use = )
                   ^" "$err"
"$bin" fhirpath 'name.single()' --input "$P" >/dev/null 2>"$work/e"; rc=$?
expect "eval error exit code" 1 "$rc"
grep -q "single() on 3 items" "$work/e" || { echo "FAIL eval error message: $(cat "$work/e")"; fail=1; }
"$bin" fhirpath >/dev/null 2>&1; rc=$?
expect "usage exit code" 2 "$rc"
exit $fail
