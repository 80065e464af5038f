#!/usr/bin/env bash
# json_check.sh FHIRLAKE - `fhirlake check` on NDJSON: gzip (concatenated members),
# CRLF, BOM, blank lines, over-long lines (--max-line), --fhir, --max-errors with
# --json (report validated by python3's json module when available), the bulk sample.
set -uo pipefail
bin=$1
src=${FL_SOURCE_DIR:?FL_SOURCE_DIR not set}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
expect() { # name, expected exit, grep pattern, command...
  local name=$1 want=$2 pat=$3; shift 3
  local out rc
  out=$("$@" 2>&1); rc=$?
  [ $rc -eq "$want" ] || bad "$name: exit $rc, want $want: $out"
  [ -z "$pat" ] || grep -qE -- "$pat" <<<"$out" || bad "$name: output lacks /$pat/: $out"
}

# 1. the bulk sample: all 38,483 resources valid, also as FHIR
expect bulk 0 "^total: 38483 valid, 0 invalid in 20 files$" "$bin" check --fhir "$src"/tests/data/fhir/bulk-100/*.ndjson.gz

# 2. CRLF + BOM + blank lines + missing final newline, gzip in two members
printf '\xef\xbb\xbf{"resourceType":"Patient","id":"1"}\r\n\r\n' >"$tmp/a.part"
printf '{"resourceType":"Patient","id":"2"}\r\n{"resourceType":"Patient","id":3,}' >"$tmp/b.part"
gzip -c "$tmp/a.part" >"$tmp/p.ndjson.gz"; gzip -c "$tmp/b.part" >>"$tmp/p.ndjson.gz"
expect gz-members 1 "p.ndjson.gz:4:34: expected a string key after ',', found '\}'" "$bin" check "$tmp/p.ndjson.gz"
expect gz-counts 1 "p.ndjson.gz: 2 valid, 1 invalid" "$bin" check "$tmp/p.ndjson.gz"
# the same name without .gz is still inflated (magic bytes decide)
cp "$tmp/p.ndjson.gz" "$tmp/p-noext"
expect gz-magic 1 "p-noext: 2 valid, 1 invalid" "$bin" check "$tmp/p-noext"
# truncated gzip: unreadable file, exit 1
head -c 40 "$tmp/p.ndjson.gz" >"$tmp/t.ndjson.gz"
expect gz-trunc 1 "t.ndjson.gz: .*(truncated gzip|gzip data error)" "$bin" check "$tmp/t.ndjson.gz"

# 3. over-long line is reported and skipped; counting goes on
{ printf '{"a":1}\n'; head -c 5000 /dev/zero | tr '\0' 'x'; printf '\n{"b":2}\n'; } >"$tmp/long.ndjson"
expect long 1 "long.ndjson:2:1: line longer than --max-line \(skipped\)" "$bin" check --max-line 1000 "$tmp/long.ndjson"
expect long-counts 1 "long.ndjson: 2 valid, 1 invalid" "$bin" check --max-line 1000 "$tmp/long.ndjson"
expect long-default 1 "long.ndjson:2:1: expected a JSON value, found 'x'" "$bin" check "$tmp/long.ndjson"

# 4. --fhir shape rules and duplicate keys
printf '{"resourceType":"Patient"}\n[]\n{"resourceType":""}\n{"id":"x"}\n{"resourceType":"P","a":1,"a":2}\n' >"$tmp/f.ndjson"
expect fhir 1 "f.ndjson:2:1: expected a FHIR resource \(JSON object\), found an array" "$bin" check --fhir "$tmp/f.ndjson"
expect fhir-rt 1 "f.ndjson:3:1: \"resourceType\" must be a non-empty string" "$bin" check --fhir "$tmp/f.ndjson"
expect fhir-missing 1 "f.ndjson:4:1: FHIR resource without \"resourceType\"" "$bin" check --fhir "$tmp/f.ndjson"
expect dupkey 1 "f.ndjson:5:27: duplicate object key \"a\"" "$bin" check "$tmp/f.ndjson"
expect dupkey-allow 0 "f.ndjson: 5 valid, 0 invalid" "$bin" check --allow-dupkeys "$tmp/f.ndjson"

# 5. --json report with --max-errors: counts stay exact
for i in $(seq 1 50); do echo "{bad $i}"; done >"$tmp/many.ndjson"
out=$("$bin" check --json --max-errors 3 "$tmp/many.ndjson" "$tmp/missing.ndjson"); rc=$?
[ $rc -eq 1 ] || bad "json report exit $rc"
grep -q '"valid":0,"invalid":50,"unreadable_files":1,"errors_not_shown":47,"ok":false}$' <<<"$out" || bad "json totals: $out"
if command -v python3 >/dev/null; then
  python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
f = r["files"]
assert len(f) == 2 and f[0]["invalid"] == 50 and len(f[0]["errors"]) == 3, f
assert f[0]["errors"][0] == {"line": 1, "column": 2, "offset": 1, "code": "FL_E_JSON_SYNTAX",
    "message": "expected a string key or '"'"'}'"'"', found '"'"'b'"'"'"}, f[0]["errors"][0]
assert f[1]["readable"] is False and f[1]["errors"][0]["code"] == "FL_E_NOT_FOUND", f[1]
' <<<"$out" || bad "json report structure: $out"
fi
expect max-errors-text 1 "\(47 more errors not shown; see --max-errors\)" "$bin" check --max-errors 3 "$tmp/many.ndjson"
expect quiet 1 "^total: 0 valid, 50 invalid in 1 file$" "$bin" check -q "$tmp/many.ndjson"
expect bad-number 2 "needs a non-negative number" "$bin" check --max-errors x "$tmp/many.ndjson"
expect bad-maxline 2 "needs a positive number" "$bin" check --max-line 0 "$tmp/many.ndjson"
# 6. --format overrides the file name
printf '{"a":1}\n{"a":2}\n' >"$tmp/lines.json"
expect format-ndjson 0 "lines.json: 2 valid, 0 invalid" "$bin" check --format ndjson "$tmp/lines.json"
printf '{"a":\n[1,\n2]}\n' >"$tmp/pretty.ndjson"
expect format-json 0 "pretty.ndjson: 1 valid, 0 invalid" "$bin" check --format=json "$tmp/pretty.ndjson"
expect format-bad 2 "--format must be json or ndjson" "$bin" check --format xml "$tmp/pretty.ndjson"
[ $fail -eq 0 ] && echo "json_check: ok"
exit $fail
