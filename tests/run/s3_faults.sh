#!/usr/bin/env bash
# s3_faults.sh FHIRLAKE_BINARY - S3 through a fault-injecting proxy (tests/interop/s3_fault_proxy.py)
# in front of a real S3 server (tools/s3server.sh): 25% of requests get 503 SlowDown, 503
# ServiceUnavailable, 500, a dropped or lost connection, an 8 s stall (past the client's 1 s low-speed
# timeout, also after an upload), or a truncated body.
#  1. the driver (unit_store_test_s3_driver): puts, gets, ranges, lists, put-if-absent
#     commits, a 12 MiB multipart upload and a batch delete complete with intact data;
#  2. the CLI (tests/interop/s3_fault_delta.py): `fhirlake export` and a series of `table
#     append`s (one with a multi-part data file) complete correctly while a watcher reading
#     straight from the server never sees a partial commit.
# Skips (77) without a server.
set -uo pipefail
fl=${1:-}
src=${FL_SOURCE_DIR:?}
bld=${FL_BUILD_DIR:?}
bin=$bld/unit_store_test_s3_driver
[ -x "$bin" ] || { echo "s3_faults: $bin not built"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/fl_s3_faults.XXXXXX")
ppid_file=$work/proxy.pid
cleanup() {
  [ -f "$ppid_file" ] && kill "$(cat "$ppid_file")" 2>/dev/null && sleep 0.3
  [ -n "${FL_S3_KEEP_LOG:-}" ] && cp "$work/faults.log" "$FL_S3_KEEP_LOG"
  bash "$src/tools/s3server.sh" stop "$work"; rm -rf "$work"
}
trap cleanup EXIT
bash "$src/tools/s3server.sh" start "$work"
rc=$?
[ $rc -eq 3 ] && { echo "s3_faults: no S3 server available; skipping"; exit 77; }
[ $rc -eq 0 ] || exit 1
# shellcheck disable=SC1091
. "$work/env"
python3 "$src/tests/interop/s3_fault_proxy.py" --upstream "$S3_ENDPOINT" --port-file "$work/proxy.port" \
  --rate "${FL_S3_FAULT_RATE:-0.25}" --seed "${FL_S3_FAULT_SEED:-7}" --stall "${FL_S3_FAULT_STALL:-8}" --log "$work/faults.log" &
echo $! >"$ppid_file"
for _ in $(seq 1 50); do [ -s "$work/proxy.port" ] && break; sleep 0.1; done
[ -s "$work/proxy.port" ] || { echo "s3_faults: proxy did not start"; exit 1; }
export S3_DIRECT=$S3_ENDPOINT S3_ENDPOINT=http://127.0.0.1:$(cat "$work/proxy.port") S3_FAULTS=1
summary() { # from-line label; fails when the part sent nothing through the proxy or met no fault
  tail -n +"$1" "$work/faults.log" >"$work/part.log"
  local n f
  n=$(wc -l <"$work/part.log"); f=$(grep -vc '^ok ' "$work/part.log")
  echo "s3_faults: $2: injected $f faults in $n requests ($S3_SERVER behind the proxy):"
  cut -d' ' -f1 "$work/part.log" | sort | uniq -c | tr '\n' ' '; echo
  [ "$f" -gt 0 ] && [ "$f" -lt "$n" ] || { echo "s3_faults: FAIL: $2 was not tested through faults"; exit 1; }
}
if ! "$bin"; then echo "s3_faults: FAILED; last faults:"; tail -20 "$work/faults.log"; exit 1; fi
summary 1 "driver"
[ -n "$fl" ] && [ -x "$fl" ] || { echo "s3_faults: no fhirlake binary given; CLI part not run"; exit 1; }
from=$(( $(wc -l <"$work/faults.log") + 1 ))
if ! python3 "$src/tests/interop/s3_fault_delta.py" "$fl" "$src" "$work"; then
  echo "s3_faults: CLI part FAILED; last faults:"; tail -20 "$work/faults.log"; exit 1
fi
summary "$from" "fhirlake export/append"
