#!/usr/bin/env bash
# s3_concurrency.sh FHIRLAKE_BINARY - 8 fhirlake writer processes x 50 commits each to one
# s3:// Delta table on a real S3 server (MinIO, or moto as fallback; tools/s3server.sh),
# coordinated only by conditional PUT (If-None-Match: *) of the log objects: 400 commits,
# versions contiguous, no row lost or duplicated, delta-rs agrees
# (tests/interop/s3_concurrency.py). Skips (77) without a server or deltalake.
set -uo pipefail
bin=$1
src=${FL_SOURCE_DIR:?}
py=$src/build/venv/bin/python
if [ ! -x "$py" ] || ! "$py" -c "import deltalake, pyarrow, boto3" 2>/dev/null; then
  echo "s3_concurrency: no venv with deltalake/pyarrow/boto3 (run tools/pyenv.sh); skipping"; exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/fl_s3_conc.XXXXXX")
trap 'bash "$src/tools/s3server.sh" stop "$work"; rm -rf "$work"' EXIT
bash "$src/tools/s3server.sh" start "$work"
rc=$?
[ $rc -eq 3 ] && { echo "s3_concurrency: no S3 server available; skipping"; exit 77; }
[ $rc -eq 0 ] || exit 1
# shellcheck disable=SC1091
. "$work/env"
echo "s3_concurrency: server $S3_SERVER at $S3_ENDPOINT"
"$py" "$src/tests/interop/s3_concurrency.py" "$bin"
