#!/usr/bin/env bash
# run_cli.sh FHIRLAKE - command transcripts for `fhirlake run`: help and usage errors,
# view errors with file:line:col, per-resource failures reported as file:line and skipped
# (exit 1), --fail-fast, gzip and stdin inputs, ndjson/csv/json output, --out, several
# inputs, and memory that does not grow with the input size.
set -uo pipefail
bin=$1
work=${FL_BUILD_DIR:-/tmp}/run-cli
rm -rf "$work" && mkdir -p "$work" && cd "$work"
fails=0
ok()   { echo "ok   $1"; }
bad()  { echo "FAIL $1"; fails=$((fails + 1)); }
# expect NAME WANT_STATUS CMD... ; stdout -> out, stderr -> err
expect() {
  local name=$1 want=$2; shift 2
  "$@" >out 2>err; local st=$?
  if [ "$st" -eq "$want" ]; then ok "$name"; else bad "$name (exit $st, want $want): $(head -c 300 err)"; fi
}
has() { # has NAME FILE TEXT
  if grep -qF -- "$3" "$2"; then ok "$1"; else bad "$1: '$3' not in $2: $(head -c 300 "$2")"; fi
}
same() { # same NAME FILE EXPECTED_TEXT
  if [ "$(cat "$2")" == "$3" ]; then ok "$1"; else bad "$1: got [$(cat "$2")] want [$3]"; fi
}

cat > view.json <<'V'
{"resource": "Patient", "select": [
  {"column": [{"name": "id", "path": "id", "type": "id"},
              {"name": "birth", "path": "birthDate", "type": "date"}]},
  {"forEachOrNull": "name", "column": [{"name": "family", "path": "family", "type": "string"},
                                       {"name": "given", "path": "given", "type": "string", "collection": true}]}]}
V
cat > in.ndjson <<'V'
{"resourceType":"Patient","id":"a","birthDate":"1970-06","name":[{"family":"X, Y","given":["P","Q"]}]}
{"resourceType":"Observation","id":"o"}

{"resourceType":"Patient","id":"b"}
V
printf '{"resourceType":"Patient","id":"c"}\n' > in2.ndjson

expect "help" 0 "$bin" run --help
has "help text" out "usage: fhirlake run"
expect "no view" 2 "$bin" run --input in.ndjson
has "no view message" err "--view is required"
expect "bad format" 2 "$bin" run --view view.json --format xml in.ndjson
expect "unknown option" 2 "$bin" run --view view.json --bogus
expect "missing view file" 1 "$bin" run --view nope.json in.ndjson
has "missing view file names it" err "nope.json"

expect "ndjson" 0 "$bin" run --view view.json --input in.ndjson
same "ndjson rows" out '{"id":"a","birth":"1970-06-01","family":"X, Y","given":["P","Q"]}
{"id":"b","birth":null,"family":null,"given":[]}'
expect "csv" 0 "$bin" run --view view.json --format csv in.ndjson
same "csv rows" out "$(printf 'id,birth,family,given\r\na,1970-06-01,"X, Y","[""P"",""Q""]"\r\nb,,,[]\r')"
expect "json" 0 "$bin" run --view view.json --format=json --omit-nulls in.ndjson
same "json rows" out '[
{"id":"a","birth":"1970-06-01","family":"X, Y","given":["P","Q"]},
{"id":"b","given":[]}
]'
expect "temporal as string" 0 "$bin" run --view view.json --temporal-as-string in.ndjson
has "partial date kept" out '"birth":"1970-06"'
expect "two inputs" 0 "$bin" run --view view.json -i in.ndjson -i in2.ndjson --stats
has "second input rows" out '"id":"c"'
has "stats" err "run: 4 resources, 3 rows, 1 of other types, 0 failed"
gzip -c in.ndjson > in.ndjson.gz
expect "gzip" 0 "$bin" run --view view.json in.ndjson.gz
cp out gz.out
"$bin" run --view view.json in.ndjson > plain.out
if cmp -s gz.out plain.out; then ok "gzip same rows"; else bad "gzip same rows"; fi
expect "stdin dash" 0 sh -c "\"$bin\" run --view view.json - < in.ndjson"
if cmp -s out plain.out; then ok "stdin same rows"; else bad "stdin same rows"; fi
expect "stdin default" 0 sh -c "\"$bin\" run --view view.json < in.ndjson"
expect "--out" 0 "$bin" run --view view.json --out rows.ndjson in.ndjson
if cmp -s rows.ndjson plain.out && [ ! -s out ]; then ok "--out file"; else bad "--out file"; fi

expect "schema" 0 "$bin" run --view view.json --schema
same "schema lines" out '{"name":"id","type":"STRING","fhirType":"id","collection":false,"declared":true}
{"name":"birth","type":"DATE","fhirType":"date","collection":false,"declared":true}
{"name":"family","type":"STRING","fhirType":"string","collection":false,"declared":true}
{"name":"given","type":"STRING","fhirType":"string","collection":true,"declared":true}'

# view errors: JSON position, validation place
printf '{"resource": "Patient",\n  "select": [}\n' > broken.json
expect "view json syntax" 1 "$bin" run --view broken.json in.ndjson
has "view json position" err "broken.json:2:"
printf '{"resource":"Patient","select":[{"column":[{"name":"a","path":"name.where(","type":"string"}]}]}' > badpath.json
expect "bad fhirpath" 1 "$bin" run --view badpath.json in.ndjson
has "bad fhirpath names column and path" err "select[0].column[0] (column 'a'): path 'name.where('"

# per-resource failures: reported with file:line, skipped, exit 1; --fail-fast stops
cat > mixed.ndjson <<'V'
{"resourceType":"Patient","id":"m1"}
{"resourceType":"Patient","id":
{"resourceType":"Patient","id":"m3","name":[{"family":"A"}],"birthDate":"not-a-date"}
{"resourceType":"Patient","id":"m4"}
V
expect "failures exit 1" 1 "$bin" run --view view.json mixed.ndjson
has "bad json at line 2" err "mixed.ndjson:2:"
has "eval error at line 3" err "mixed.ndjson:3: Patient/m3: column 'birth'"
has "good rows still written" out '"id":"m4"'
has "failure count" err "2 failed"
expect "fail-fast" 1 "$bin" run --view view.json --fail-fast mixed.ndjson
if grep -q '"id":"m1"' out && ! grep -q '"id":"m4"' out; then ok "fail-fast stops"; else bad "fail-fast stops: $(cat out)"; fi

# memory does not grow with input size (streaming): 20k vs 200k resources
python3 - <<'P'
import json
for n, name in ((20000, "small.ndjson"), (200000, "big.ndjson")):
    with open(name, "w") as f:
        for i in range(n):
            f.write(json.dumps({"resourceType": "Patient", "id": "p%d" % i, "birthDate": "1980-01-02",
                                "name": [{"family": "F%d" % i, "given": ["G", "H"]}]}) + "\n")
P
rss() { /usr/bin/time -f '%M' "$bin" run --view view.json --out /dev/null "$1" 2>&1 >/dev/null | tail -1; }
if [ -x /usr/bin/time ]; then
  export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=16:detect_leaks=0"
  s=$(rss small.ndjson); b=$(rss big.ndjson)
  echo "max RSS: 20k resources ${s} KB, 200k resources ${b} KB"
  if [ "$b" -lt $((s * 3 / 2 + 16384)) ]; then ok "bounded memory"; else bad "bounded memory (${s} KB -> ${b} KB)"; fi
else
  echo "skip bounded memory (/usr/bin/time missing)"
fi

echo "run_cli: $fails failed"
[ $fails -eq 0 ]
