#!/usr/bin/env bash
# delta_interop.sh - fhirlake Delta tables vs delta-rs (deltalake from build/venv):
# golden tables read identically, tables written by each side read by the other.
# Skips (77) when the Python venv with the peers is missing.
set -uo pipefail
bin=$1
py=${FL_SOURCE_DIR}/build/venv/bin/python
if [ ! -x "$py" ] || ! "$py" -c "import deltalake, pyarrow" 2>/dev/null; then
  echo "delta_interop: no venv with deltalake/pyarrow (run tools/pyenv.sh); skipping"
  exit 77
fi
work=${FL_BUILD_DIR}/delta-interop
rm -rf "$work"
exec "$py" "${FL_SOURCE_DIR}/tests/interop/delta_interop.py" "$bin" "$FL_SOURCE_DIR" "$work"
