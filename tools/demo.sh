#!/usr/bin/env bash
# tools/demo.sh FHIRLAKE_BIN - the `make demo` job: the Bulk Data sample shipped in
# tests/data/fhir/bulk-100 (100 Synthea patients, manifest.json) through five realistic
# ViewDefinitions (tests/data/views) into local Delta tables under build/demo, then a look
# at the result: the table summary, a few rows, the history, and a rerun that changes
# nothing (exactly-once). Takes a few seconds.
set -euo pipefail
bin=${1:-build/release/fhirlake}
root=$(cd "$(dirname "$0")/.." && pwd)
demo=$root/build/demo
data=$root/tests/data/fhir/bulk-100
views=$root/tests/data/views
rm -rf "$demo"
mkdir -p "$demo"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s#$root/##g"; "$@"; }

"$bin" version
vargs=()
for v in patients observations conditions encounters medication_requests; do vargs+=(--view "$views/$v.json"); done

say "1. export: Bulk Data folder -> one Delta table per view (all cores, one commit per table)"
run "$bin" export "${vargs[@]}" --input "$data" --to "$demo/lake" --summary-json "$demo/summary.json"

say "2. the patients table (fhirlake table info)"
"$bin" table info "$demo/lake/patients" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print("version", s["version"], "| rows", s["numRecords"], "| files", s["numFiles"], "| txns", list(s["txns"]))
print("columns:", ", ".join(f["name"] + ":" + (f["type"] if isinstance(f["type"], str) else f["type"]["type"]) for f in s["schema"]["fields"]))'

say "3. a few rows of observations (blood pressure components come out as rows)"
f=$("$bin" table files "$demo/lake/observations" | head -1 | sed 's/.*"path":"\([^"]*\)".*/\1/')
"$bin" parquet cat "$demo/lake/observations/$f" > "$demo/observations.ndjson"
python3 - "$demo/observations.ndjson" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
pick = [r for r in rows if r["code"] == "85354-9"][:3] + [r for r in rows if r["code"] == "8302-2"][:1]
for r in pick:
    print("%s..  patient %s..  %-16s component %-7s value %s %s" % (r["id"][:8], r["patient_id"][:8],
          r["code_display"], r["component_code"], r["value"], r["unit"]))
EOF

say "4. history of the observations table (_delta_log)"
for c in "$demo"/lake/observations/_delta_log/*.json; do
  python3 - "$c" <<'EOF'
import json, sys
acts = [json.loads(l) for l in open(sys.argv[1])]
ci = next(a["commitInfo"] for a in acts if "commitInfo" in a)
adds = [a["add"] for a in acts if "add" in a]
txn = [a["txn"] for a in acts if "txn" in a]
print(f"version {int(sys.argv[1][-25:-5])}: {ci.get('operation')}, {len(adds)} file(s), "
      f"{sum(json.loads(a['stats'])['numRecords'] for a in adds)} rows" + (f", txn {txn[0]['appId']}" if txn else ""))
EOF
done

say "5. the same export again: nothing changes (the txn id is already in every table)"
run "$bin" export "${vargs[@]}" --input "$data" --to "$demo/lake" --quiet && echo "(exit 0)"
"$bin" export "${vargs[@]}" --input "$data" --to "$demo/lake" | sed -n 1,2p

say "6. the row counts match 'fhirlake run' over the same files"
for v in patients observations; do
  a=$("$bin" table info "$demo/lake/$v" | sed -n 's/.*"numRecords":\([0-9]*\).*/\1/p')
  b=$("$bin" run --view "$views/$v.json" "$data"/*.ndjson.gz | wc -l)
  echo "$v: table $a rows, fhirlake run $b rows"
done

say "7. continuous: fhirlake serve + a Data Lakehouse destination (Aidbox-style REST)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port/fhir"
rm -rf "$demo/server" && mkdir -p "$demo/server"
"$bin" serve --listen "127.0.0.1:$port" --db "sqlite:$demo/server/fhir.db" >"$demo/server/serve.log" 2>&1 &
srv=$!
trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
post() { curl -fsS -X "$1" -H 'Content-Type: application/fhir+json' "$base/$2" ${3:+--data "$3"}; }
echo "server on $base (SQLite at $demo/server/fhir.db)"
post POST AidboxSubscriptionTopic '{"resourceType":"AidboxSubscriptionTopic","url":"http://example.org/topics/patients","status":"active","trigger":[{"resource":"Patient","supportedInteraction":["create","update","delete"]}]}' >/dev/null
post POST ViewDefinition '{"resourceType":"ViewDefinition","name":"patient_flat","resource":"Patient","status":"active","select":[{"column":[{"name":"id","path":"getResourceKey()"},{"name":"ts","path":"meta.lastUpdated","type":"instant"},{"name":"gender","path":"gender"}]},{"forEach":"name.where(use = '"'"'official'"'"').first()","column":[{"name":"family","path":"family"},{"name":"given","path":"given.join('"'"' '"'"')"}]}]}' >/dev/null
dest=$(post POST AidboxTopicDestination '{"resourceType":"AidboxTopicDestination","status":"active","topic":"http://example.org/topics/patients","kind":"data-lakehouse-at-least-once","parameter":[{"name":"writeMode","valueString":"external-direct"},{"name":"viewDefinition","valueString":"patient_flat"},{"name":"tablePath","valueString":"'"$demo"'/server/lake/patient_flat"},{"name":"batchSize","valueInteger":10},{"name":"sendIntervalMs","valueInteger":300}]}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "destination $dest -> $demo/server/lake/patient_flat"
pid=$(post POST Patient '{"resourceType":"Patient","gender":"female","name":[{"use":"official","family":"Smith","given":["Anna"]}]}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
post PUT "Patient/$pid" '{"resourceType":"Patient","id":"'"$pid"'","gender":"female","name":[{"use":"official","family":"Smith-Jones","given":["Anna","Maria"]}]}' >/dev/null
post DELETE "Patient/$pid" >/dev/null || true
echo "created, updated and deleted Patient/$pid; waiting for delivery..."
for _ in $(seq 1 50); do
  q=$(curl -fs "$base/AidboxTopicDestination/$dest/\$status" | python3 -c 'import json,sys; p={x["name"]:x for x in json.load(sys.stdin)["parameter"]}; print(p.get("messagesDelivered",{}).get("valueInteger",0))' 2>/dev/null || echo 0)
  [ "$q" -ge 3 ] 2>/dev/null && break; sleep 0.2
done
curl -fs "$base/AidboxTopicDestination/$dest/\$status" > "$demo/server/status.json"
python3 - "$demo/server/status.json" <<'PY'
import json, sys
params = json.load(open(sys.argv[1]))["parameter"]
def val(x):
    return next((v for k, v in x.items() if k.startswith("value")), None)
print("$status: " + ", ".join("%s=%s" % (x["name"], val(x)) for x in params if "part" not in x))
PY
echo "rows in the Delta table (append-only, is_deleted marks the delete):"
"$bin" table show "$demo/server/lake/patient_flat"
kill $srv 2>/dev/null; wait $srv 2>/dev/null; trap - EXIT
echo "server stopped"

echo
echo "tables are in $demo/lake and $demo/server/lake (read them with delta-rs, DuckDB, Spark); summary in $demo/summary.json"
