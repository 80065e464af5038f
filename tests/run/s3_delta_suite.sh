#!/usr/bin/env bash
# s3_delta_suite.sh FHIRLAKE_BINARY - the Delta operations on one s3:// table against a real
# S3 server (MinIO, or moto as fallback; tools/s3server.sh): create, 26 appends with
# checkpoints, MERGE, schema evolution, OPTIMIZE, time travel by version and timestamp,
# VACUUM (dry run first), explicit checkpoint; after each step delta-rs reads the same rows
# from the bucket (tests/interop/s3_delta_suite.py). Skips (77) without a server or deltalake.
set -uo pipefail
bin=$1
src=${FL_SOURCE_DIR:?}
py=$src/build/venv/bin/python
if [ ! -x "$py" ] || ! "$py" -c "import deltalake, pyarrow, boto3" 2>/dev/null; then
  echo "s3_delta_suite: no venv with deltalake/pyarrow/boto3 (run tools/pyenv.sh); skipping"; exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/fl_s3_suite.XXXXXX")
trap 'bash "$src/tools/s3server.sh" stop "$work"; rm -rf "$work"' EXIT
bash "$src/tools/s3server.sh" start "$work"
rc=$?
[ $rc -eq 3 ] && { echo "s3_delta_suite: no S3 server available; skipping"; exit 77; }
[ $rc -eq 0 ] || exit 1
# shellcheck disable=SC1091
. "$work/env"
echo "s3_delta_suite: server $S3_SERVER at $S3_ENDPOINT"
"$py" "$src/tests/interop/s3_delta_suite.py" "$bin"
