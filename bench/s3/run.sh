#!/usr/bin/env bash
# bench/s3/run.sh BUILD_DIR [FILES SIZE_MB THREADS PART_MB] - S3 driver throughput against a
# local MinIO (tools/s3server.sh), compared with boto3's transfer manager (the engine of
# `aws s3 cp`) from build/venv. Default: 8 files x 128 MB = 1 GiB, 2 files in flight,
# 8 MB parts. Loopback only: this measures client + server CPU, not a network.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build/release}
files=${2:-8} size=${3:-128} threads=${4:-2} part=${5:-8}
bin=$build/bench_s3
[ -x "$bin" ] || { echo "bench s3: $bin not built"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/fl_bench_s3.XXXXXX")
trap 'bash "$root/tools/s3server.sh" stop "$work"; rm -rf "$work"' EXIT
bash "$root/tools/s3server.sh" start "$work" || { echo "bench s3: no S3 server"; exit 0; }
# shellcheck disable=SC1091
. "$work/env"
echo "bench s3: $S3_SERVER on loopback, $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
"$bin" "$files" "$size" "$threads" "$part"
"$bin" "$files" "$size" "$threads" "$part" unsigned
py=$root/build/venv/bin/python
if [ -x "$py" ] && "$py" -c "import boto3" 2>/dev/null; then
  "$py" "$root/bench/s3/boto3_bench.py" "$files" "$size" "$threads" "$part"
else
  echo "bench s3: boto3 not in build/venv (tools/pyenv.sh); comparison skipped"
fi
