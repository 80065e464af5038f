#!/usr/bin/env bash
# tools/sparkenv.sh - create build/venv-spark with PySpark 4 + delta-spark (test-only peer
# for tests/run/spark_interop.sh). Idempotent: reinstalls only when
# tests/interop/requirements-spark.txt changes. Never fails the build: if PyPI cannot be
# reached the Spark test skips (exit 77) with the reason.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${FL_SPARK_VENV:-$root/build/venv-spark}
req=$root/tests/interop/requirements-spark.txt
stamp=$venv/.req.sha
[ -f "$req" ] || exit 0
sum=$(sha256sum "$req" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then exit 0; fi
echo "sparkenv: installing PySpark + delta-spark into $venv (first run: ~450 MB download)"
python3 -m venv "$venv" || { echo "sparkenv: cannot create venv" >&2; exit 0; }
for i in 1 2 3; do
  if "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"; then
    echo "$sum" > "$stamp"; exit 0
  fi
  echo "sparkenv: pip failed (try $i)" >&2; sleep $((i * 5))
done
echo "sparkenv: could not install PySpark/delta-spark; spark_interop will skip" >&2
exit 0
