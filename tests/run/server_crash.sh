#!/usr/bin/env bash
# server_crash.sh FHIRLAKE - exactly-once delivery of a data-lakehouse destination across
# crashes: tests/interop/server_crash.py SIGKILLs `fhirlake serve` 20 times per store
# (FL_CRASH_KILLS) during a stream of creates/updates/deletes and checks that every
# committed version is in the Delta table exactly once. SQLite, then PostgreSQL (tools/pgserver.sh; skipped when not
# installed). Skips (77) without the venv (delta-rs).
set -uo pipefail
bin=$1
src=${FL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
py=$src/build/venv/bin/python
[ -x "$py" ] && "$py" -c 'import deltalake' 2>/dev/null || { echo "no venv with deltalake (tools/pyenv.sh); skipping"; exit 77; }
tmp=$(mktemp -d)
chmod 755 "$tmp"
pg=0
cleanup() {
  [ $pg = 1 ] && bash "$src/tools/pgserver.sh" stop "$tmp/pg" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
kills=${FL_CRASH_KILLS:-20}
echo "== SQLite"
CRASH_LOG=$tmp/sqlite.log "$py" "$src/tests/interop/server_crash.py" "$bin" "sqlite:$tmp/sq/fhir.db" "$tmp/t1" "$kills" \
  || { fail=1; tail -20 "$tmp/sqlite.log"; }
url=$(bash "$src/tools/pgserver.sh" start "$tmp/pg" 2>"$tmp/pg.err"); rc=$?
if [ $rc != 0 ] && [ $rc != 3 ]; then  # 3: not installed; anything else is a failure, not a skip
  echo "FAIL: could not start PostgreSQL:"; cat "$tmp/pg.err"; fail=1
elif [ $rc = 0 ]; then
  pg=1
  echo "== PostgreSQL"
  CRASH_LOG=$tmp/pg.log "$py" "$src/tests/interop/server_crash.py" "$bin" "$url" "$tmp/t2" "$kills" \
    || { fail=1; tail -20 "$tmp/pg.log"; }
else
  echo "== PostgreSQL not installed; skipped"
fi
[ $fail = 0 ] && echo "server_crash: all runs passed"
exit $fail
