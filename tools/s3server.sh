#!/usr/bin/env bash
# tools/s3server.sh - start/stop a real S3-compatible server on 127.0.0.1 for tests (test-only).
#
#   tools/s3server.sh start DIR    start a server with its data under DIR, create bucket
#                                  "fhirlake-test", write DIR/env (S3_ENDPOINT, S3_BUCKET,
#                                  S3_SERVER, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION)
#   tools/s3server.sh stop DIR     stop it (by the pid recorded in DIR/pid)
#   tools/s3server.sh build        only build/cache the MinIO binary
#
# First choice is MinIO (full SigV4 verification, If-None-Match: * on PutObject and
# CompleteMultipartUpload), built once from the Go module proxy into build/tools/minio and
# also cached in ~/.cache/fhirlake/ so a fresh clone on the same machine does not rebuild.
# Fallback is moto's server from build/venv (tools/pyenv.sh installs moto[server]), which
# implements conditional writes but does not verify signatures. FL_S3_SERVER=minio|moto
# forces one. Exit status of start: 0 started, 3 no server available (callers skip).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
MINIO_MOD=github.com/minio/minio
MINIO_VER=v0.0.0-20260212201848-7aac2a2c5b7c # last community commit on the module proxy
bin=$root/build/tools/minio
cache=${XDG_CACHE_HOME:-$HOME/.cache}/fhirlake/minio-$MINIO_VER
user=fhirlake-test
pass=fhirlake-test-secret-0123456789
bucket=fhirlake-test

log() { echo "s3server: $*" >&2; }

build_minio() {
  mkdir -p "$root/build/tools"
  # one builder at a time (ctest runs several S3 scripts in parallel)
  exec 9>"$root/build/tools/.minio.lock"
  flock 9
  local rc=0
  if [ ! -x "$bin" ]; then
    if [ -x "$cache" ]; then
      cp "$cache" "$bin.tmp.$$" && mv -f "$bin.tmp.$$" "$bin"
    elif ! command -v go >/dev/null; then
      log "no Go toolchain; cannot build MinIO"; rc=1
    else
      log "building MinIO $MINIO_VER from the Go module proxy (one time, a few minutes)"
      local gobin; gobin=$(mktemp -d "$root/build/tools/gobin.XXXXXX")
      if GOMAXPROCS=2 GOFLAGS=-p=1 GOBIN=$gobin timeout 1500 \
           go install "$MINIO_MOD@$MINIO_VER" >"$root/build/tools/minio-build.log" 2>&1; then
        mv -f "$gobin/minio" "$bin"
        mkdir -p "$(dirname "$cache")" && cp "$bin" "$cache.tmp.$$" && mv -f "$cache.tmp.$$" "$cache"
      else
        log "MinIO build failed (see build/tools/minio-build.log)"; rc=1
      fi
      rm -rf "$gobin"
    fi
  fi
  flock -u 9
  exec 9>&-
  return $rc
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_http() { # url
  for _ in $(seq 1 150); do
    if curl -s -o /dev/null -m 1 "$1"; then return 0; fi
    sleep 0.2
  done
  return 1
}

make_bucket() { # endpoint
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" \
         --user "$user:$pass" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$1/$bucket")
  [ "$code" = 200 ] || { log "create bucket: HTTP $code"; return 1; }
}

start() {
  local dir=$1 kind=${FL_S3_SERVER:-}
  mkdir -p "$dir"
  local port; port=$(free_port)
  if [ -z "$kind" ] || [ "$kind" = minio ]; then
    if build_minio; then kind=minio; elif [ "$kind" = minio ]; then return 3; fi
  fi
  if [ -z "$kind" ] || [ "$kind" = moto ]; then
    if [ -x "$root/build/venv/bin/moto_server" ]; then kind=moto; else
      log "neither MinIO nor moto_server available"; return 3; fi
  fi
  if [ "$kind" = minio ]; then
    mkdir -p "$dir/data"
    MINIO_ROOT_USER=$user MINIO_ROOT_PASSWORD=$pass MINIO_BROWSER=off MINIO_UPDATE=off \
      "$bin" server "$dir/data" --address "127.0.0.1:$port" --quiet >"$dir/server.log" 2>&1 &
    echo $! >"$dir/pid"
    wait_http "http://127.0.0.1:$port/minio/health/live" || { log "MinIO did not start"; stop "$dir"; return 3; }
  else
    "$root/build/venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$dir/server.log" 2>&1 &
    echo $! >"$dir/pid"
    wait_http "http://127.0.0.1:$port/" || { log "moto did not start"; stop "$dir"; return 3; }
  fi
  make_bucket "http://127.0.0.1:$port" || { stop "$dir"; return 3; }
  cat >"$dir/env" <<EOF
export S3_SERVER=$kind
export S3_ENDPOINT=http://127.0.0.1:$port
export S3_BUCKET=$bucket
export AWS_ACCESS_KEY_ID=$user
export AWS_SECRET_ACCESS_KEY=$pass
export AWS_REGION=us-east-1
EOF
  log "$kind on 127.0.0.1:$port (bucket $bucket)"
}

stop() {
  local dir=$1
  [ -f "$dir/pid" ] || return 0
  local pid; pid=$(cat "$dir/pid")
  kill "$pid" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
  rm -f "$dir/pid"
}

case "${1:-}" in
  start) [ $# -eq 2 ] || { echo "usage: $0 start DIR" >&2; exit 2; }; start "$2" ;;
  stop) [ $# -eq 2 ] || { echo "usage: $0 stop DIR" >&2; exit 2; }; stop "$2" ;;
  build) build_minio ;;
  *) echo "usage: $0 start|stop DIR | build" >&2; exit 2 ;;
esac
