#!/usr/bin/env bash
# bench/server/run.sh BUILD_DIR [STORES] - `fhirlake serve` end to end: sustained creates/s
# and create -> row-visible-in-Delta latency (bench_server.c), on SQLite (WAL) and on
# PostgreSQL (tools/pgserver.sh in a temp dir, stopped afterwards; skipped if not installed).
# STORES: "sqlite pg" (default). Env: CONNS (16), SECS (20), SEND_MS (1000), BATCH (1000),
# THREADS (server --threads, default: the server's own default).
set -uo pipefail
build=${1:?usage: run.sh BUILD_DIR [STORES]}
stores=${2:-sqlite pg}
src=$(cd "$(dirname "$0")/../.." && pwd)
bin=$build/fhirlake
bench=$build/bench_server
[ -x "$bin" ] && [ -x "$bench" ] || { echo "build $bin and $bench first (cmake --build $build --target fhirlake bench_server)" >&2; exit 2; }
conns=${CONNS:-16}; secs=${SECS:-20}; send=${SEND_MS:-1000}; batch=${BATCH:-1000}
tmp=$(mktemp -d)
chmod 755 "$tmp"
srv=""
pg=0
cleanup() {
  [ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
  [ $pg = 1 ] && bash "$src/tools/pgserver.sh" stop "$tmp/pg" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
fail=0

run_one() { # NAME DBURL
  local name=$1 db=$2 p
  p=$(port)
  local targs=()
  [ -n "${THREADS:-}" ] && targs=(--threads "$THREADS")
  "$bin" serve --listen "127.0.0.1:$p" --db "$db" "${targs[@]}" 2>"$tmp/$name.log" &
  srv=$!
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$p/health" >/dev/null && break; sleep 0.05; done
  echo "== $name: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg), $conns connections, ${secs} s, sendIntervalMs $send, batchSize $batch"
  "$bench" "http://127.0.0.1:$p/fhir" "$tmp/$name-table" --conns "$conns" --seconds "$secs" --send-ms "$send" --batch "$batch" \
    || { fail=1; tail -5 "$tmp/$name.log"; }
  echo "load_average_after $(cut -d' ' -f1-3 /proc/loadavg)"
  kill "$srv"; wait "$srv" 2>/dev/null; srv=""
}

for s in $stores; do
  case $s in
  sqlite) run_one sqlite "sqlite:$tmp/sq/fhir.db" ;;
  pg)
    if url=$(bash "$src/tools/pgserver.sh" start "$tmp/pg" 2>/dev/null); then
      pg=1
      run_one pg "$url"
      bash "$src/tools/pgserver.sh" stop "$tmp/pg" >/dev/null 2>&1; pg=0
    else
      echo "== pg: PostgreSQL not available; skipped"
    fi ;;
  *) echo "unknown store $s" >&2; exit 2 ;;
  esac
done
exit $fail
