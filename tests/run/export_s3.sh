#!/usr/bin/env bash
# export_s3.sh FHIRLAKE_BINARY - `fhirlake export` into s3:// (MinIO, or moto as fallback,
# via tools/s3server.sh): the Bulk Data sample through the five views into Delta tables on
# S3, read by fhirlake and delta-rs (same rows as a local export), rerun changes nothing,
# merge and a plain Parquet output (tests/interop/export_s3.py).
# Skips (77) without a server or without deltalake in build/venv.
set -uo pipefail
bin=$1
src=${FL_SOURCE_DIR:?}
py=$src/build/venv/bin/python
if [ ! -x "$py" ] || ! "$py" -c "import deltalake, pyarrow" 2>/dev/null; then
  echo "export_s3: no venv with deltalake/pyarrow (run tools/pyenv.sh); skipping"; exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/fl_export_s3.XXXXXX")
trap 'bash "$src/tools/s3server.sh" stop "$work"; rm -rf "$work"' EXIT
bash "$src/tools/s3server.sh" start "$work"
rc=$?
[ $rc -eq 3 ] && { echo "export_s3: no S3 server available; skipping"; exit 77; }
[ $rc -eq 0 ] || exit 1
# shellcheck disable=SC1091
. "$work/env"
echo "export_s3: server $S3_SERVER at $S3_ENDPOINT"
"$py" "$src/tests/interop/export_s3.py" "$bin" "$src" "$work"
