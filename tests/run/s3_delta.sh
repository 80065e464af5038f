#!/usr/bin/env bash
# s3_delta.sh FHIRLAKE_BINARY - Delta tables on s3:// against a real S3 server (MinIO, or
# moto as fallback; tools/s3server.sh): fhirlake CLI create/append/checkpoint incl. 6
# concurrent writers, read and written back by delta-rs (tests/interop/s3_delta.py).
# Skips (77) without a server or without deltalake in build/venv.
set -uo pipefail
bin=$1
src=${FL_SOURCE_DIR:?}
py=$src/build/venv/bin/python
if [ ! -x "$py" ] || ! "$py" -c "import deltalake, pyarrow" 2>/dev/null; then
  echo "s3_delta: no venv with deltalake/pyarrow (run tools/pyenv.sh); skipping"; exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/fl_s3_delta.XXXXXX")
trap 'bash "$src/tools/s3server.sh" stop "$work"; rm -rf "$work"' EXIT
bash "$src/tools/s3server.sh" start "$work"
rc=$?
[ $rc -eq 3 ] && { echo "s3_delta: no S3 server available; skipping"; exit 77; }
[ $rc -eq 0 ] || exit 1
# shellcheck disable=SC1091
. "$work/env"
echo "s3_delta: server $S3_SERVER at $S3_ENDPOINT"
"$py" "$src/tests/interop/s3_delta.py" "$bin"
