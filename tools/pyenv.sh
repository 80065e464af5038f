#!/usr/bin/env bash
# tools/pyenv.sh - create build/venv with the Python packages the tests and benchmarks
# use as independent peers (pyarrow, DuckDB, delta-rs, ...). Test/bench only: nothing in
# the product needs Python. Idempotent: reinstalls only when requirements change.
# If PyPI cannot be reached the interop tests skip (exit 77) rather than fail.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${FL_VENV:-$root/build/venv}
req=$root/tests/interop/requirements.txt
stamp=$venv/.req.sha
[ -f "$req" ] || exit 0
sum=$(sha256sum "$req" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then exit 0; fi
echo "pyenv: installing test peers into $venv"
python3 -m venv "$venv" || { echo "pyenv: cannot create venv" >&2; exit 0; }
for i in 1 2 3; do
  if "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"; then
    echo "$sum" > "$stamp"; exit 0
  fi
  echo "pyenv: pip failed (try $i)" >&2; sleep $((i * 5))
done
echo "pyenv: could not install test peers; interop tests will skip" >&2
exit 0
