#!/usr/bin/env bash
# export_e2e.sh - `fhirlake export` end to end (tests/interop/export_e2e.py): the Bulk
# Data sample through five realistic views into Delta, read back by fhirlake and delta-rs,
# rerun/--since/merge/deletes/bad lines/fail-fast/bad view/plain formats.
# Skips (77) when the Python venv with delta-rs is missing.
set -uo pipefail
bin=$1
py=${FL_SOURCE_DIR}/build/venv/bin/python
if [ ! -x "$py" ] || ! "$py" -c "import deltalake, pyarrow" 2>/dev/null; then
  echo "export_e2e: no venv with deltalake/pyarrow (run tools/pyenv.sh); skipping"
  exit 77
fi
work=${FL_BUILD_DIR}/export-e2e
rm -rf "$work"
exec "$py" "${FL_SOURCE_DIR}/tests/interop/export_e2e.py" "$bin" "$FL_SOURCE_DIR" "$work"
