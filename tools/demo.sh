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
echo
echo "tables are in $demo/lake (read them with delta-rs, DuckDB, Spark); summary in $demo/summary.json"
