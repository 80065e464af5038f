#!/usr/bin/env bash
# s3_faults.sh - the S3 driver through a fault-injecting proxy (tests/interop/s3_fault_proxy.py)
# in front of a real S3 server (tools/s3server.sh): 25% of requests get 503 SlowDown, 500,
# a dropped or lost connection, a stall past the client's low-speed timeout, or a truncated
# body. Puts, gets, ranges, lists, put-if-absent commits, a 12 MiB multipart upload and a
# batch delete must all complete with intact data. Skips (77) without a server.
set -uo pipefail
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
  --rate "${FL_S3_FAULT_RATE:-0.25}" --seed "${FL_S3_FAULT_SEED:-7}" --stall 3 --log "$work/faults.log" &
echo $! >"$ppid_file"
for _ in $(seq 1 50); do [ -s "$work/proxy.port" ] && break; sleep 0.1; done
[ -s "$work/proxy.port" ] || { echo "s3_faults: proxy did not start"; exit 1; }
export S3_ENDPOINT=http://127.0.0.1:$(cat "$work/proxy.port") S3_FAULTS=1
if ! "$bin"; then echo "s3_faults: FAILED; last faults:"; tail -20 "$work/faults.log"; exit 1; fi
echo "s3_faults: injected $(grep -vc '^ok ' "$work/faults.log") faults in $(wc -l <"$work/faults.log") requests ($S3_SERVER behind the proxy):"
cut -d' ' -f1 "$work/faults.log" | sort | uniq -c | tr '\n' ' '; echo
