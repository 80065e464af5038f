#!/usr/bin/env bash
# server_rest_pg.sh FHIRLAKE - the REST conformance script (tests/interop/server_rest.py)
# against `fhirlake serve` on PostgreSQL: tools/pgserver.sh starts a throwaway cluster on
# 127.0.0.1 in a temp dir (as a non-root user) and stops it afterwards. Also runs the
# fhirdb unit scenarios on PostgreSQL (FL_TEST_PG_URL) and checks that two server
# replicas share one database.
# Skips (77) only when no PostgreSQL server binaries are installed.
set -uo pipefail
bin=$1
src=${FL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=$(mktemp -d)
chmod 755 "$tmp"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  bash "$src/tools/pgserver.sh" stop "$tmp/pg"
  rm -rf "$tmp"
}
trap cleanup EXIT
url=$(bash "$src/tools/pgserver.sh" start "$tmp/pg"); rc=$?
[ $rc = 3 ] && { echo "PostgreSQL not installed; skipping"; exit 77; }
[ $rc = 0 ] || { echo "FAIL: could not start PostgreSQL"; exit 1; }
echo "PostgreSQL at $url"
fail=0

# shellcheck source=lib/serve.sh
. "$src/tests/run/lib/serve.sh"  # start_server LOG ARGS... -> SPID, PORT

unit=${FL_BUILD_DIR:-}/unit_fhirdb_test_fhirdb
if [ -x "$unit" ]; then
  echo "== fhirdb unit scenarios on PostgreSQL"
  FL_TEST_PG_URL=$url "$unit" 2>&1 | tail -3
  [ "${PIPESTATUS[0]}" = 0 ] || { echo "FAIL: fhirdb unit tests on PostgreSQL"; fail=1; }
fi

echo "== REST conformance on PostgreSQL"
start_server "$tmp/s1.log" --db "$url" --max-body-mb 1 || exit 1
P1=$PORT; S1=$SPID
python3 "$src/tests/interop/server_rest.py" "http://127.0.0.1:$P1/fhir" || fail=1

# a second replica on the same database sees the first one's writes
start_server "$tmp/s2.log" --db "$url" || exit 1
P2=$PORT; S2=$SPID
id=$(curl -s -X POST -H 'Content-Type: application/fhir+json' -d '{"resourceType":"Patient"}' \
  "http://127.0.0.1:$P1/fhir/Patient" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
st=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P2/fhir/Patient/$id")
[ "$st" = 200 ] || { echo "FAIL: replica 2 cannot read $id ($st)"; fail=1; }

# topics and destinations made on one replica reach the other within the refresh period
py=python3
topic_url="http://example.org/replica-topic"
curl -s -o /dev/null -X POST -H 'Content-Type: application/fhir+json' "http://127.0.0.1:$P1/fhir/AidboxSubscriptionTopic" \
  -d "{\"resourceType\":\"AidboxSubscriptionTopic\",\"url\":\"$topic_url\",\"status\":\"active\",\"trigger\":[{\"resource\":\"Encounter\"}]}"
did=$(curl -s -X POST -H 'Content-Type: application/fhir+json' "http://127.0.0.1:$P1/fhir/AidboxTopicDestination" \
  -d "{\"resourceType\":\"AidboxTopicDestination\",\"status\":\"active\",\"topic\":\"$topic_url\",\"kind\":\"kafka-at-least-once\"}" \
  | $py -c 'import json,sys; print(json.load(sys.stdin)["id"])')
sleep 6
curl -s -o /dev/null -X POST -H 'Content-Type: application/fhir+json' "http://127.0.0.1:$P2/fhir/Encounter" \
  -d '{"resourceType":"Encounter","status":"finished","class":{"code":"AMB"}}'
q=$(curl -s "http://127.0.0.1:$P1/fhir/AidboxTopicDestination/$did/\$status" \
  | $py -c 'import json,sys; print([p["valueInteger"] for p in json.load(sys.stdin)["parameter"] if p["name"]=="messagesQueued"][0])')
[ "$q" = 1 ] || { echo "FAIL: write on replica 2 not queued for a destination made on replica 1 (queued=$q)"; fail=1; }

# a database restart is invisible to clients (pooled sessions reconnect); a database that is
# down gives 503 with a transient OperationOutcome and /health 503
bash "$src/tools/pgserver.sh" restart "$tmp/pg" || { echo "FAIL: pg restart"; fail=1; }
for i in 1 2 3; do
  st=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P1/fhir/Patient/$id")
  [ "$st" = 200 ] || { echo "FAIL: read after database restart: $st"; fail=1; }
done
bash "$src/tools/pgserver.sh" stop "$tmp/pg"
st=$(curl -s -o "$tmp/down.json" -w '%{http_code}' "http://127.0.0.1:$P1/fhir/Patient/$id")
{ [ "$st" = 503 ] && grep -q '"transient"' "$tmp/down.json"; } || { echo "FAIL: database down: $st $(cat "$tmp/down.json")"; fail=1; }
st=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P1/health")
[ "$st" = 503 ] || { echo "FAIL: /health with the database down: $st"; fail=1; }

for s in $S1 $S2; do
  kill -TERM "$s"; wait "$s" || { echo "FAIL: server exit status after SIGTERM"; fail=1; }
done
[ $fail = 0 ] && echo "server_rest_pg: all passed" || echo "server_rest_pg: FAILED"
exit $fail
