#!/usr/bin/env bash
# bench/s3/run.sh BUILD_DIR [FILES SIZE_MB THREADS PART_MB] - S3 driver throughput against a
# local MinIO (tools/s3server.sh), side by side with the AWS CLI (`aws s3 cp --recursive`,
# PyPI awscli pinned below, installed into build/venv-awscli) moving the same bytes.
# Default: two shapes of 1 GiB, 8 x 128 MiB (2 files in flight) and 64 x 16 MiB (4 files in
# flight), 8 MiB parts; fhirlake keeps THREADS x 4 parts/ranges in flight (s3.uploadConcurrency
# and s3.downloadConcurrency default 4), the AWS CLI gets the same number of requests in
# flight (s3.max_concurrent_requests). Prints a fhirlake/awscli ratio per shape and
# direction. FL_BENCH_BOTO3=1 adds boto3's transfer manager from build/venv.
# Loopback only: this measures client + server CPU, not a network.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build/release}
AWSCLI_VER=1.46.2
bin=$build/bench_s3
[ -x "$bin" ] || { echo "bench s3: $bin not built"; exit 1; }
if [ $# -ge 5 ]; then shapes=("$2 $3 $4 $5"); else shapes=("8 128 2 8" "64 16 4 8"); fi

venv=$root/build/venv-awscli
aws=$venv/bin/aws
if [ "$(cat "$venv/.awscli" 2>/dev/null)" != "$AWSCLI_VER" ]; then
  echo "bench s3: installing awscli==$AWSCLI_VER into $venv"
  python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check "awscli==$AWSCLI_VER" &&
    echo "$AWSCLI_VER" >"$venv/.awscli"
fi
[ -x "$aws" ] || { echo "bench s3: no AWS CLI; comparison skipped"; aws=; }

work=$(mktemp -d "${TMPDIR:-/tmp}/fl_bench_s3.XXXXXX")
trap 'bash "$root/tools/s3server.sh" stop "$work"; rm -rf "$work"' EXIT
bash "$root/tools/s3server.sh" start "$work" || { echo "bench s3: no S3 server"; exit 0; }
# shellcheck disable=SC1091
. "$work/env"
echo "bench s3: $S3_SERVER on loopback, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%F %H:%M UTC')"
[ -n "$aws" ] && echo "bench s3: $("$aws" --version 2>&1)"
rate() { awk -v k="$2" '$0 ~ k { print $NF == "MB/s" ? $(NF-1) : "" }' "$1" | head -1; }
for shape in "${shapes[@]}"; do
  read -r files size threads part <<<"$shape"
  out=$work/out.txt
  : >"$out"
  "$bin" "$files" "$size" "$threads" "$part" | tee -a "$out"
  "$bin" "$files" "$size" "$threads" "$part" unsigned | sed 's/^fhirlake /fhirlake-unsigned /' | tee -a "$out"
  if [ -n "$aws" ]; then
    bash "$root/bench/s3/awscli_bench.sh" "$aws" "$files" "$size" $((threads * 4)) "$part" | tee -a "$out"
    for dir in upload download; do
      a=$(rate "$out" "^fhirlake +$dir") u=$(rate "$out" "^fhirlake-unsigned +$dir") c=$(rate "$out" "^awscli +$dir")
      [ -n "$a" ] && [ -n "$c" ] && awk -v a="$a" -v u="$u" -v c="$c" -v d="$dir" -v s="$files x $size MB" \
        'BEGIN { printf "ratio    %-8s %s: fhirlake/awscli %.2fx (unsigned payload %.2fx)\n", d, s, a / c, u / c }'
    done
  fi
  py=$root/build/venv/bin/python
  if [ -n "${FL_BENCH_BOTO3:-}" ] && [ -x "$py" ] && "$py" -c "import boto3" 2>/dev/null; then
    "$py" "$root/bench/s3/boto3_bench.py" "$files" "$size" "$threads" "$part"
  fi
done
