#!/usr/bin/env bash
# json_suite.sh FHIRLAKE - JSONTestSuite through `fhirlake check` (one .json = one text).
# y_ files must exit 0, n_ files exit 1 with a file:line:col message, i_ files 0 or 1
# (never a crash: exit codes > 2 or signals fail). The two y_ duplicate-key files are a
# deliberate deviation (FHIR forbids duplicate keys): exit 1 by default, 0 with
# --allow-dupkeys. Also checks usage errors (exit 2), --json and NDJSON mode.
set -uo pipefail
bin=$1
src=${FL_SOURCE_DIR:?FL_SOURCE_DIR not set}
dir=$src/tests/data/json/test_parsing
[ -d "$dir" ] || { echo "missing $dir"; exit 1; }
fail=0 ny=0 nn=0 ni=0
bad() { echo "FAIL: $*"; fail=1; }
for f in "$dir"/*.json; do
  name=$(basename "$f")
  out=$("$bin" check "$f" 2>&1); rc=$?
  case "$name" in
    y_object_duplicated_key.json|y_object_duplicated_key_and_value.json)
      ny=$((ny + 1))
      [ $rc -eq 1 ] || bad "$name: default exit $rc, want 1 (duplicate key)"
      grep -q "duplicate object key" <<<"$out" || bad "$name: no duplicate-key message"
      "$bin" check --allow-dupkeys "$f" >/dev/null 2>&1 || bad "$name: --allow-dupkeys exit $?, want 0" ;;
    y_*) ny=$((ny + 1)); [ $rc -eq 0 ] || bad "$name: exit $rc, want 0: $out" ;;
    n_*)
      nn=$((nn + 1))
      [ $rc -eq 1 ] || bad "$name: exit $rc, want 1"
      ok=0
      while IFS= read -r l; do
        [[ $l == "$f:"* ]] && [[ ${l#"$f:"} =~ ^[0-9]+:[0-9]+:\ . ]] && ok=1
      done <<<"$out"
      [ $ok -eq 1 ] || bad "$name: no file:line:col message: $out" ;;
    i_*) ni=$((ni + 1)); [ $rc -le 1 ] || bad "$name: exit $rc (crash?)" ;;
  esac
done
echo "suite via check: $ny y, $nn n, $ni i"
[ $ny -eq 95 ] && [ $nn -eq 188 ] && [ $ni -eq 35 ] || bad "unexpected file counts"

# all y_ files at once, --json report
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$bin" check --allow-dupkeys --json "$dir"/y_*.json >"$tmp/report.json"; rc=$?
[ $rc -eq 0 ] || bad "all y_ with --json: exit $rc"
grep -q '"valid":95,"invalid":0,"unreadable_files":0,"errors_not_shown":0,"ok":true}' "$tmp/report.json" || bad "--json totals: $(tail -c 200 "$tmp/report.json")"
# usage errors
"$bin" check >/dev/null 2>&1; [ $? -eq 2 ] || bad "no files: want exit 2"
"$bin" check --bogus x.json >/dev/null 2>&1; [ $? -eq 2 ] || bad "unknown option: want exit 2"
"$bin" check --help | grep -q "usage: fhirlake check" || bad "--help"
# NDJSON mode: same text as .ndjson is read line by line
printf '{"resourceType":"Patient","id":"a"}\r\n\n[1,\n{"x":1}' >"$tmp/mixed.ndjson"
out=$("$bin" check "$tmp/mixed.ndjson"); rc=$?
[ $rc -eq 1 ] || bad "mixed.ndjson exit $rc"
grep -q "mixed.ndjson:3:4: expected a JSON value, found end of input" <<<"$out" || bad "mixed.ndjson message: $out"
grep -q "mixed.ndjson: 2 valid, 1 invalid" <<<"$out" || bad "mixed.ndjson counts: $out"
out=$("$bin" check --fhir "$tmp/mixed.ndjson")
grep -q "mixed.ndjson:4:1: FHIR resource without \"resourceType\"" <<<"$out" || bad "--fhir: $out"
# a .json file holding NDJSON gets a hint; --max-errors caps printed lines
printf '{"a":1}\n{"a":2}\n' >"$tmp/two.json"
out=$("$bin" check "$tmp/two.json")
grep -q "two.json:2:1: .*name it .ndjson" <<<"$out" || bad "NDJSON-in-.json hint: $out"
printf 'x\ny\nz\n' >"$tmp/bad.ndjson"
n=$("$bin" check --max-errors 1 "$tmp/bad.ndjson" | grep -c "bad.ndjson:[0-9]*:")
[ "$n" -eq 1 ] || bad "--max-errors 1 printed $n"
# gzip, stdin
gzip -c "$dir/y_structure_lonely_int.json" >"$tmp/one.json.gz"
"$bin" check "$tmp/one.json.gz" >/dev/null || bad "one.json.gz"
out=$(printf '{"a":1}\n' | "$bin" check -)
grep -q "<stdin>: 1 valid, 0 invalid" <<<"$out" || bad "stdin: $out"
[ $fail -eq 0 ] && echo "json_suite: ok"
exit $fail
