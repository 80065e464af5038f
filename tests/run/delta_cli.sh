#!/usr/bin/env bash
# delta_cli.sh FHIRLAKE_BINARY - `fhirlake table` end to end without external peers:
# create, append (txn idempotency), show, files, cat, history, optimize, vacuum, checkpoint,
# time travel, and the exit codes / messages of common mistakes.
set -uo pipefail
bin=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/fl_delta_cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
expect() { # description, expected exit code, command...
  local what=$1 want=$2; shift 2
  "$@" >"$work/out" 2>"$work/err"; local got=$?
  if [ "$got" = "$want" ]; then ok "$what"; else bad "$what: exit $got, want $want: $(head -c 300 "$work/err")"; fi
}
has() { # description, file, pattern
  if grep -q -- "$3" "$2"; then ok "$1"; else bad "$1: '$3' not in $(head -c 300 "$2")"; fi
}
t=$work/t
schema='{"type":"struct","fields":[{"name":"id","type":"long","nullable":false,"metadata":{}},{"name":"name","type":"string","nullable":true,"metadata":{}},{"name":"day","type":"date","nullable":true,"metadata":{}}]}'
expect "create" 0 "$bin" table create "$t" --schema "$schema" --partition-by day
expect "create again fails" 1 "$bin" table create "$t" --schema "$schema"
has "create again names the problem" "$work/err" "already exists"
for b in 1 2 3; do
  : >"$work/b$b.ndjson"
  for i in 1 2 3 4; do echo "{\"id\":$((b * 10 + i)),\"name\":\"n$b-$i\",\"day\":\"2024-0$b-01\"}" >>"$work/b$b.ndjson"; done
  expect "append batch $b" 0 "$bin" table append "$t" "$work/b$b.ndjson" --app-id job --txn-version "$b"
done
echo '{"id":99,"name":"bad","day":"banana"}' >"$work/badday.ndjson"
expect "append refuses a partition value its column cannot read" 1 "$bin" table append "$t" "$work/badday.ndjson"
has "bad partition value names line and column" "$work/err" 'badday.ndjson:1: partition column day'
expect "replayed batch is skipped" 0 "$bin" table append "$t" "$work/b2.ndjson" --app-id job --txn-version 2
has "skip is reported" "$work/out" "skipped"
expect "info" 0 "$bin" table info "$t"
has "version 3" "$work/out" '"version":3'
has "12 records" "$work/out" '"numRecords":12'
has "txn recorded" "$work/out" '"txns":{"job":3}'
expect "cat" 0 "$bin" table cat "$t"
[ "$(wc -l <"$work/out")" = 12 ] && ok "cat prints 12 rows" || bad "cat prints $(wc -l <"$work/out") rows"
has "cat renders dates" "$work/out" '"day":"2024-02-01"'
expect "show prints rows" 0 "$bin" table show "$t" --limit 5
[ "$(wc -l <"$work/out")" = 5 ] && ok "show --limit 5 prints 5 rows" || bad "show --limit 5 prints $(wc -l <"$work/out") rows"
expect "stats" 0 "$bin" table stats "$t"
has "stats counts records" "$work/out" '"numRecords":12'
expect "schema" 0 "$bin" table schema "$t"
has "schema names a column" "$work/out" '"name":"day"'
expect "subcommand help" 0 "$bin" table show --help
has "help shows usage" "$work/out" "usage: fhirlake table"
expect "time travel by version" 0 "$bin" table cat "$t" --version 1
[ "$(wc -l <"$work/out")" = 4 ] && ok "version 1 has 4 rows" || bad "version 1 has $(wc -l <"$work/out") rows"
ts1=$("$bin" table history "$t" | sed -n 's/^{"version":1,"timestamp":\([0-9]*\),.*/\1/p')
if [ -n "$ts1" ]; then
  expect "time travel by timestamp" 0 "$bin" table show "$t" --timestamp "$ts1"
  [ "$(wc -l <"$work/out")" = 4 ] && ok "timestamp of version 1 shows its 4 rows" || bad "--timestamp $ts1 shows $(wc -l <"$work/out") rows"
  expect "timestamp before the first commit" 1 "$bin" table show "$t" --timestamp 1000
else
  bad "no timestamp for version 1 in history"
fi
expect "history" 0 "$bin" table history "$t"
[ "$(wc -l <"$work/out")" = 4 ] && ok "history lists 4 commits" || bad "history lists $(wc -l <"$work/out")"
has "history has CREATE TABLE" "$work/out" '"operation":"CREATE TABLE"'
expect "files" 0 "$bin" table files "$t"
has "files carry stats" "$work/out" 'numRecords'
expect "optimize (one file per partition already)" 0 "$bin" table optimize "$t"
has "optimize is a no-op" "$work/out" "nothing to compact"
expect "vacuum dry run" 0 "$bin" table vacuum "$t" --dry-run
has "vacuum keeps live files" "$work/out" "would delete 0 files"
expect "vacuum below retention refused" 1 "$bin" table vacuum "$t" --retention-hours 0
has "vacuum explains force" "$work/err" "force"
expect "checkpoint" 0 "$bin" table checkpoint "$t"
[ -f "$t/_delta_log/00000000000000000003.checkpoint.parquet" ] && ok "checkpoint file written" || bad "no checkpoint file"
expect "info after checkpoint" 0 "$bin" table info "$t"
has "same records through the checkpoint" "$work/out" '"numRecords":12'
echo '{"id":"not a number"}' >"$work/badrow.ndjson"
expect "append with a bad value fails" 1 "$bin" table append "$t" "$work/badrow.ndjson"
has "bad value names file, line and column" "$work/err" "badrow.ndjson:1: column id"
expect "not a table" 1 "$bin" table show "$work/nothing-here"
has "not a table message" "$work/err" "not a Delta table"
expect "unknown subcommand" 2 "$bin" table frobnicate "$t"
expect "missing table argument" 2 "$bin" table show
# merge: upsert by key with newer-wins, deletes, txn skip, files without the keys untouched
m=$work/m
mschema='{"type":"struct","fields":[{"name":"id","type":"long","nullable":true,"metadata":{}},{"name":"name","type":"string","nullable":true,"metadata":{}},{"name":"ts","type":"long","nullable":true,"metadata":{}}]}'
expect "create merge table" 0 "$bin" table create "$m" --schema "$mschema"
for b in 1 2; do
  : >"$work/m$b.ndjson"
  for i in 1 2 3; do echo "{\"id\":$((b * 10 + i)),\"name\":\"n$b-$i\",\"ts\":100}" >>"$work/m$b.ndjson"; done
  expect "append merge batch $b" 0 "$bin" table append "$m" "$work/m$b.ndjson"
done
printf '%s\n' '{"id":11,"name":"newer","ts":200}' '{"id":12,"name":"older","ts":50}' '{"id":13,"name":"equal","ts":100}' \
  '{"id":99,"name":"fresh","ts":1}' >"$work/up.ndjson"
echo '{"id":23}' >"$work/del.ndjson"
expect "merge" 0 "$bin" table merge "$m" --input "$work/up.ndjson" --key id --newer-wins ts --delete-input "$work/del.ndjson" --txn loader:1
has "merge counts" "$work/out" "1 inserted, 1 updated, 1 deleted, 2 skipped"
expect "merge replay skipped" 0 "$bin" table merge "$m" --input "$work/up.ndjson" --key id --txn loader:1
has "merge replay reported" "$work/out" "skipped"
expect "show after merge" 0 "$bin" table show "$m"
[ "$(wc -l <"$work/out")" = 6 ] && ok "merge leaves 6 rows" || bad "merge leaves $(wc -l <"$work/out") rows"
has "newer row replaced" "$work/out" '"id":11,"name":"newer","ts":200'
has "older row kept" "$work/out" '"id":12,"name":"n1-2","ts":100'
has "equal keeps the table's row" "$work/out" '"id":13,"name":"n1-3","ts":100'
has "unmatched key inserted" "$work/out" '"id":99,"name":"fresh"'
grep -q '"id":23' "$work/out" && bad "deleted key still there" || ok "deleted key gone"
expect "history after merge" 0 "$bin" table history "$m" --limit 1
has "merge commit" "$work/out" '"operation":"MERGE"'
echo '{"id":77,"name":"evolved","ts":1,"note":"n77"}' >"$work/evo.ndjson"
expect "append with --add-column" 0 "$bin" table append "$m" "$work/evo.ndjson" --add-column note:string --txn loader:2
expect "show evolved" 0 "$bin" table show "$m"
has "new column filled" "$work/out" '"id":77,"name":"evolved","ts":1,"note":"n77"'
has "old rows read the new column as null" "$work/out" '"id":11,"name":"newer","ts":200,"note":null'
expect "--add-column of an existing column refused" 1 "$bin" table append "$m" "$work/evo.ndjson" --add-column name:string
expect "merge without --key" 2 "$bin" table merge "$m" --input "$work/up.ndjson"
expect "merge with a bad key column" 1 "$bin" table merge "$m" --input "$work/up.ndjson" --key nope
has "bad key named" "$work/err" "nope"
expect "merge with a bad --txn" 2 "$bin" table merge "$m" --input "$work/up.ndjson" --key id --txn nocolon
echo "$fails failures"
[ "$fails" = 0 ]
