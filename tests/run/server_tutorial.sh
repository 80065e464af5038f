#!/usr/bin/env bash
# server_tutorial.sh FHIRLAKE - the data-lakehouse destination tutorial end to end:
# `fhirlake serve` + tests/interop/server_tutorial.py (topic, ViewDefinition patient_flat,
# destination to a Delta table, create / update / update / delete -> 4 append-only rows
# read back with delta-rs, $status counters, schema check and add-columns), on SQLite and
# on PostgreSQL (tools/pgserver.sh, skipped when not installed), to a local table and to
# s3:// on the local S3 server (tools/s3server.sh, skipped when unavailable); then the
# initial export of 2,000 patients with concurrent writers (SQLite and PostgreSQL), and two
# replicas on one PostgreSQL database delivering one destination (lease: one delivers);
# a failing batch (the table's log broken for a while): kept queued, retried every second,
# the last 5 errors in lastErrorDetail, delivered once when the table is back.
# Skips (77) when the venv with deltalake is missing.
set -uo pipefail
bin=$1
src=${FL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
py=$src/build/venv/bin/python
[ -x "$py" ] && "$py" -c 'import deltalake' 2>/dev/null || { echo "no venv with deltalake (tools/pyenv.sh); skipping"; exit 77; }
tmp=$(mktemp -d)
chmod 755 "$tmp"
pids=()
pg=0
s3=0
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  [ $pg = 1 ] && bash "$src/tools/pgserver.sh" stop "$tmp/pg" >/dev/null 2>&1
  [ $s3 = 1 ] && bash "$src/tools/s3server.sh" stop "$tmp/s3" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
fail=0

# shellcheck source=lib/serve.sh
. "$src/tests/run/lib/serve.sh"  # start_server LOG ARGS... -> SPID, PORT

stop_server() {
  kill -TERM "$SPID"
  wait "$SPID"; local rc=$?
  [ $rc = 0 ] || { echo "FAIL: server exit status $rc after SIGTERM"; fail=1; }
}

run() { # run NAME DB TABLE MODE
  echo "== $1"
  start_server "$tmp/$1.log" --db "$2" || { fail=1; return; }
  "$py" "$src/tests/interop/server_tutorial.py" "http://127.0.0.1:$PORT/fhir" "$3" "$4" || { fail=1; tail -20 "$tmp/$1.log"; }
  stop_server
}

run sqlite "sqlite:$tmp/sq/fhir.db" "$tmp/tables/patient_flat" tutorial
run sqlite-export "sqlite:$tmp/sq2/fhir.db" "file://$tmp/tables/patient_export" export
run sqlite-retry "sqlite:$tmp/sq4/fhir.db" "$tmp/tables/patient_retry" retry

url=$(bash "$src/tools/pgserver.sh" start "$tmp/pg" 2>"$tmp/pg.err"); rc=$?
if [ $rc != 0 ] && [ $rc != 3 ]; then  # 3: not installed; anything else is a failure, not a skip
  echo "FAIL: could not start PostgreSQL:"; cat "$tmp/pg.err"; fail=1
elif [ $rc = 0 ]; then
  pg=1
  run postgres "$url" "$tmp/tables/pg_patient_flat" tutorial
  echo "== postgres-replicas"
  start_server "$tmp/r1.log" --db "$url" && P1=$PORT && S1=$SPID && start_server "$tmp/r2.log" --db "$url" && {
    BASE2="http://127.0.0.1:$PORT/fhir" "$py" "$src/tests/interop/server_tutorial.py" "http://127.0.0.1:$P1/fhir" \
      "$tmp/tables/pg_replicas" replicas || { fail=1; tail -5 "$tmp/r1.log" "$tmp/r2.log"; }
    stop_server; SPID=$S1; stop_server
  } || fail=1
  bash "$src/tools/pgserver.sh" stop "$tmp/pg" >/dev/null 2>&1
  if url=$(bash "$src/tools/pgserver.sh" start "$tmp/pg2" 2>"$tmp/pg.err"); then
    pg=0
    run postgres-export "$url" "$tmp/tables/pg_patient_export" export
    bash "$src/tools/pgserver.sh" stop "$tmp/pg2" >/dev/null 2>&1
  else
    echo "FAIL: second PostgreSQL did not start:"; cat "$tmp/pg.err"; fail=1
  fi
  pg=0
else
  echo "== PostgreSQL not installed; skipped"
fi

rc=3
[ "${FL_SKIP_S3:-0}" != 1 ] && { bash "$src/tools/s3server.sh" start "$tmp/s3" >"$tmp/s3.err" 2>&1; rc=$?; }
if [ $rc = 0 ]; then
  s3=1
  set -a; . "$tmp/s3/env"; set +a
  run s3 "sqlite:$tmp/sq3/fhir.db" "s3://$S3_BUCKET/tutorial/patient_flat" tutorial
elif [ $rc = 3 ]; then  # none available (or FL_SKIP_S3=1)
  echo "== S3 server not available; s3:// run skipped"
else
  echo "FAIL: S3 server did not start:"; tail -5 "$tmp/s3.err"; fail=1
fi
[ $fail = 0 ] && echo "server_tutorial: all runs passed"
exit $fail
