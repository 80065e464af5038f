# tests/run/lib/serve.sh - sourced by the tests/run/server_*.sh scripts (not a test itself:
# CMake registers only tests/run/*.sh). Needs $bin (the fhirlake binary) and a pids array.
#
# start_server LOG ARGS... - `fhirlake serve --listen 127.0.0.1:0 ARGS...`, stderr to LOG;
# sets SPID and PORT (read from the "serving http://HOST:PORT/" line) and adds SPID to pids.
# Returns 1, after printing LOG, when the server exits or prints no port within 10 s.
start_server() {
  local log=$1; shift
  : >"$log"
  "$bin" serve --listen 127.0.0.1:0 "$@" 2>"$log" &
  SPID=$!
  pids+=("$SPID")
  PORT=""
  for _ in $(seq 1 100); do
    PORT=$(sed -n 's/.*serving http:\/\/[^ ]*:\([0-9][0-9]*\)\/.*/\1/p' "$log" | head -1)
    [ -n "$PORT" ] && return 0
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
  done
  echo "server did not start:"; cat "$log"; return 1
}
