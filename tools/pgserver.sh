#!/usr/bin/env bash
# tools/pgserver.sh start|stop|restart|url DIR - a throwaway PostgreSQL server for tests.
# start: initdb in DIR/data (as the unprivileged `postgres` user when run as root, since
# initdb refuses root), listen on 127.0.0.1 on a free port, no fsync, trust auth for the
# local user `fhirlake`, create database `fhirlake`; prints the URL (also in DIR/url).
# stop: fast shutdown; restart: fast stop + start on the same port. Exit 3 when no PostgreSQL server binaries are installed
# (tools/deps.sh installs the `postgresql` package).
set -euo pipefail
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|restart|url DIR" >&2; exit 2; }
bindir=""
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
  [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { bindir=$d; break; }
done
if [ -z "$bindir" ] && command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
  bindir=$(dirname "$(command -v initdb)")
fi
[ -n "$bindir" ] || { echo "pgserver: no PostgreSQL server binaries (install package postgresql)" >&2; exit 3; }

as_user() { # run a command as the owner of the cluster
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$cmd" in
start)
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then
    getent passwd postgres >/dev/null || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
    chown postgres "$dir"
  fi
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  as_user "$bindir/initdb" -D "$dir/data" -U fhirlake -A trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  as_user "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  as_user "$bindir/createdb" -h 127.0.0.1 -p "$port" -U fhirlake fhirlake
  echo "postgres://fhirlake@127.0.0.1:$port/fhirlake" > "$dir/url"
  cat "$dir/url"
  ;;
stop)
  [ -d "$dir/data" ] || exit 0
  as_user "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  ;;
restart)
  as_user "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 60 restart >/dev/null
  ;;
url)
  cat "$dir/url"
  ;;
*)
  echo "usage: $0 start|stop|restart|url DIR" >&2; exit 2 ;;
esac
