#!/usr/bin/env bash
# parquet_interop.sh FHIRLAKE - fhirlake's Parquet files against pyarrow and DuckDB, and
# pyarrow's / parquet-testing's files against fhirlake's reader
# (tests/interop/parquet_interop.py). Skips (77) when the test venv is missing.
set -euo pipefail
fhirlake=$1
py=${FL_SOURCE_DIR}/build/venv/bin/python
if [ ! -x "$py" ] || ! "$py" -c 'import pyarrow, duckdb' 2>/dev/null; then
  echo "parquet_interop: no pyarrow/duckdb venv (run tools/pyenv.sh); skipping"; exit 77
fi
gen=${FL_BUILD_DIR}/unit_parquet_test_interop_files
[ -x "$gen" ] || { echo "parquet_interop: $gen not built"; exit 1; }
work=${FL_BUILD_DIR}/parquet-interop
rm -rf "$work"; mkdir -p "$work"
FL_PQ_OUT="$work/written" "$gen" > "$work/gen.log" 2>&1 || { cat "$work/gen.log"; exit 1; }
"$py" "${FL_SOURCE_DIR}/tests/interop/parquet_interop.py" written "$work/written"
"$py" "${FL_SOURCE_DIR}/tests/interop/parquet_interop.py" read "$fhirlake" "$work/read"
"$py" "${FL_SOURCE_DIR}/tests/interop/parquet_interop.py" testing "$fhirlake" "${FL_SOURCE_DIR}/tests/data/parquet"
