#!/usr/bin/env bash
# server_rest.sh FHIRLAKE - REST conformance of `fhirlake serve` on the SQLite store:
# starts the server on a free loopback port (port 0, read back from its log) with a store
# in a temp dir, runs tests/interop/server_rest.py, then checks auth (basic, bearer), the
# non-loopback refusal and graceful shutdown on SIGTERM. The PostgreSQL run of the same
# script is tests/run/server_rest_pg.sh.
set -uo pipefail
bin=$1
src=${FL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
command -v python3 >/dev/null || { echo "python3 missing"; exit 77; }
fail=0

# shellcheck source=lib/serve.sh
. "$src/tests/run/lib/serve.sh"  # start_server LOG ARGS... -> SPID, PORT

stop_server() { # graceful stop must exit 0
  kill -TERM "$SPID"
  wait "$SPID"; local rc=$?
  if [ $rc -ne 0 ]; then echo "FAIL: server exit status $rc after SIGTERM"; fail=1; fi
}

echo "== SQLite store"
start_server "$tmp/s1.log" --db "sqlite:$tmp/data/fhir.db" --max-body-mb 1 || exit 1
python3 "$src/tests/interop/server_rest.py" "http://127.0.0.1:$PORT/fhir" || fail=1
stop_server
grep -q "SIGTERM received" "$tmp/s1.log" || { echo "FAIL: no shutdown message"; fail=1; }
[ -f "$tmp/data/fhir.db" ] || { echo "FAIL: sqlite file not created"; fail=1; }

echo "== restart on the same store keeps data"
start_server "$tmp/s1b.log" --db "sqlite:$tmp/data/fhir.db" || exit 1
n=$(curl -s "http://127.0.0.1:$PORT/fhir/Basic?_count=0" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
[ "${n:-0}" -ge 5 ] || { echo "FAIL: data lost across restart (Basic total $n)"; fail=1; }
stop_server

echo "== auth"
printf '# users\nalice:s3cret\n' > "$tmp/basic.txt"
printf 'tok-123\n' > "$tmp/bearer.txt"
start_server "$tmp/s2.log" --db sqlite::memory: --auth basic --auth-file "$tmp/basic.txt" || exit 1
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code "http://127.0.0.1:$PORT/fhir/Patient")" = 401 ] || { echo "FAIL: basic: no credentials not 401"; fail=1; }
[ "$(code -u alice:wrong "http://127.0.0.1:$PORT/fhir/Patient")" = 401 ] || { echo "FAIL: basic: wrong password not 401"; fail=1; }
[ "$(code -u alice:s3cret "http://127.0.0.1:$PORT/fhir/Patient")" = 200 ] || { echo "FAIL: basic: good credentials not 200"; fail=1; }
[ "$(code "http://127.0.0.1:$PORT/fhir/metadata")" = 200 ] || { echo "FAIL: metadata should be public"; fail=1; }
curl -s -i "http://127.0.0.1:$PORT/fhir/Patient" | grep -qi '^WWW-Authenticate: Basic' || { echo "FAIL: no WWW-Authenticate"; fail=1; }
stop_server
start_server "$tmp/s3.log" --db sqlite::memory: --auth bearer --auth-file "$tmp/bearer.txt" || exit 1
[ "$(code -H 'Authorization: Bearer nope' "http://127.0.0.1:$PORT/fhir/Patient")" = 401 ] || { echo "FAIL: bearer: bad token not 401"; fail=1; }
[ "$(code -H 'Authorization: Bearer tok-123' "http://127.0.0.1:$PORT/fhir/Patient")" = 200 ] || { echo "FAIL: bearer: good token not 200"; fail=1; }
stop_server

echo "== configuration errors"
out=$("$bin" serve --listen 0.0.0.0:0 --db sqlite::memory: 2>&1); rc=$?
{ [ $rc = 2 ] && grep -q "refusing to listen on non-loopback" <<<"$out"; } || { echo "FAIL: non-loopback without auth: rc=$rc $out"; fail=1; }
out=$("$bin" serve --auth basic --db sqlite::memory: 2>&1); rc=$?
{ [ $rc = 2 ] && grep -q "auth-file" <<<"$out"; } || { echo "FAIL: --auth without file: rc=$rc $out"; fail=1; }
out=$("$bin" serve --db mysql://x 2>&1); rc=$?
{ [ $rc = 2 ] && grep -q "expected sqlite" <<<"$out"; } || { echo "FAIL: bad --db: rc=$rc $out"; fail=1; }
start_server "$tmp/s4.log" --listen 0.0.0.0:0 --insecure --db sqlite::memory: || { echo "FAIL: --insecure did not allow 0.0.0.0"; fail=1; }
# (--listen given twice: the later 0.0.0.0 wins; --insecure allows it)
[ -n "$PORT" ] && stop_server

[ $fail = 0 ] && echo "server_rest: all passed" || echo "server_rest: FAILED"
exit $fail
