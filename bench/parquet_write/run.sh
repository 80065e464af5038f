#!/usr/bin/env bash
# bench/parquet_write/run.sh BUILD_DIR [ROWS] - fhirlake's Parquet writer vs pyarrow and
# DuckDB (single thread) on the same 2 M FHIR-Observation-like rows, snappy and zstd(3).
# Use a Release build (make bench builds build/release). Prints rows/s, MB/s (of the
# CSV-equivalent input), file sizes and the ratios; checks every file holds the same rows.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/release}
rows=${2:-2000000}
bench=$build/bench_parquet_write
py=$root/build/venv/bin/python
[ -x "$bench" ] || { echo "no $bench (build first)"; exit 1; }
[ -x "$py" ] || { echo "no $py (run tools/pyenv.sh)"; exit 1; }
work=$(mktemp -d /tmp/fl_bench_pqw.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$bench" --rows "$rows" --csv "$work/rows.csv"
"$bench" --rows "$rows" --dir "$work" --codecs snappy,zstd | tee "$work/fhirlake.jsonl"
"$py" "$root/bench/parquet_write/peers.py" "$work/rows.csv" "$work" "$work/fhirlake.jsonl"
