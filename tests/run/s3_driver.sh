#!/usr/bin/env bash
# s3_driver.sh - the S3 driver against a real S3-compatible server on 127.0.0.1.
# Starts MinIO (or moto's server as fallback) with tools/s3server.sh, runs the online part of
# unit_store_test_s3_driver (put/get/range/head, list pagination with max-keys=2, delete
# batches, an 8-process put-if-absent race, 12 MiB multipart with 5 MiB parts, wrong
# secret), then checks that no multipart upload was left behind. Stops the server on exit.
# Skips (77) when no server can be started.
set -uo pipefail
src=${FL_SOURCE_DIR:?}
bld=${FL_BUILD_DIR:?}
bin=$bld/unit_store_test_s3_driver
[ -x "$bin" ] || { echo "s3_driver: $bin not built"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/fl_s3_driver.XXXXXX")
cleanup() { bash "$src/tools/s3server.sh" stop "$work"; rm -rf "$work"; }
trap cleanup EXIT
bash "$src/tools/s3server.sh" start "$work"
rc=$?
[ $rc -eq 3 ] && { echo "s3_driver: no S3 server available; skipping"; exit 77; }
[ $rc -eq 0 ] || exit 1
# shellcheck disable=SC1091
. "$work/env"
echo "s3_driver: server $S3_SERVER at $S3_ENDPOINT"
"$bin" || { echo "s3_driver: driver tests failed (server log: $(tail -5 "$work/server.log"))"; exit 1; }

# no orphaned multipart uploads (aborted and failed uploads must be cleaned up)
uploads=$(curl -s --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
  -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$S3_ENDPOINT/$S3_BUCKET?uploads=")
# (written "uploads=": libcurl 7.88's --aws-sigv4 mis-signs a valueless "?uploads")
if ! echo "$uploads" | grep -q "<ListMultipartUploadsResult"; then
  echo "s3_driver: cannot list multipart uploads: $uploads"; exit 1
fi
if echo "$uploads" | grep -q "<Upload>"; then
  echo "s3_driver: multipart uploads left behind:"; echo "$uploads"; exit 1
fi
echo "s3_driver: ok ($S3_SERVER), no multipart uploads left"
