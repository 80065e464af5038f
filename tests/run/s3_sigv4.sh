#!/usr/bin/env bash
# s3_sigv4.sh - regenerate the SigV4 vectors with botocore from build/venv and compare them
# with the checked-in tests/unit/store/s3_sigv4_vectors.txt (which unit.store.test_aws_sigv4
# checks our signer against). Skips (77) when the venv has no botocore.
set -uo pipefail
src=${FL_SOURCE_DIR:?}
py=$src/build/venv/bin/python
[ -x "$py" ] || py=python3
if ! "$py" -c "import botocore" 2>/dev/null; then
  echo "s3_sigv4: botocore not installed (run tools/pyenv.sh); skipping"; exit 77
fi
exec "$py" "$src/tests/interop/s3_sigv4_vectors.py" --check "$src/tests/unit/store/s3_sigv4_vectors.txt"
