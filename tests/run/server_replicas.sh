#!/usr/bin/env bash
# server_replicas.sh FHIRLAKE - two `fhirlake serve` replicas on one PostgreSQL database
# (tools/pgserver.sh) deliver one data-lakehouse destination: writes through both replicas,
# one replica stopped half-way (the other takes the destination's lease over); every
# committed version must be in the Delta table exactly once and each resource's rows in
# write order (tests/interop/server_replicas.py). Skips (77) without PostgreSQL binaries or the venv.
set -uo pipefail
bin=$1
src=${FL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
py=$src/build/venv/bin/python
[ -x "$py" ] && "$py" -c 'import deltalake' 2>/dev/null || { echo "no venv with deltalake (tools/pyenv.sh); skipping"; exit 77; }
tmp=$(mktemp -d)
chmod 755 "$tmp"
pids=()
pg=0
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  [ $pg = 1 ] && bash "$src/tools/pgserver.sh" stop "$tmp/pg" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
url=$(bash "$src/tools/pgserver.sh" start "$tmp/pg" 2>"$tmp/pg.err"); rc=$?
[ $rc = 3 ] && { echo "PostgreSQL not installed; skipping"; exit 77; }
[ $rc = 0 ] || { echo "FAIL: could not start PostgreSQL:"; cat "$tmp/pg.err"; exit 1; }
pg=1

# shellcheck source=lib/serve.sh
. "$src/tests/run/lib/serve.sh"  # start_server LOG ARGS... -> SPID, PORT
start_server "$tmp/r1.log" --db "$url" || exit 1
P1=$PORT S1=$SPID
start_server "$tmp/r2.log" --db "$url" || exit 1
P2=$PORT S2=$SPID
fail=0
"$py" "$src/tests/interop/server_replicas.py" "http://127.0.0.1:$P1/fhir" "http://127.0.0.1:$P2/fhir" "$tmp/table" "$S1" \
  || { fail=1; tail -n 20 "$tmp/r1.log" "$tmp/r2.log"; }
wait "$S1"; rc1=$?
kill -TERM "$S2"; wait "$S2"; rc2=$?
pids=()
[ $rc1 = 0 ] && [ $rc2 = 0 ] || { echo "FAIL: server exit status $rc1 / $rc2 after SIGTERM"; fail=1; }
[ $fail = 0 ] && echo "server_replicas: passed"
exit $fail
