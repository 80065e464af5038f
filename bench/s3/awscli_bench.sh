#!/usr/bin/env bash
# bench/s3/awscli_bench.sh AWS FILES SIZE_MB CONCURRENCY PART_MB - the AWS CLI (`aws s3 cp
# --recursive`) moving the same bytes as bench_s3: FILES files of SIZE_MB MiB from a tmpfs
# directory to s3://$S3_BUCKET/<prefix>/ and back into another tmpfs directory (checked with
# cmp), with CONCURRENCY requests in flight (s3.max_concurrent_requests) and PART_MB parts.
# Bench peer only. Prints the same line format as bench_s3 (MB = 10^6 bytes).
set -uo pipefail
aws=$1 files=$2 size=$3 conc=$4 part=$5
tmp=$(mktemp -d /dev/shm/fl_awscli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src" "$tmp/dst"
for i in $(seq 0 $((files - 1))); do
  head -c $((size << 20)) /dev/urandom >"$tmp/src/$(printf 'file-%04d.bin' "$i")"
done
cat >"$tmp/config" <<EOF
[default]
region = us-east-1
s3 =
  max_concurrent_requests = $conc
  multipart_threshold = ${part}MB
  multipart_chunksize = ${part}MB
  addressing_style = path
EOF
export AWS_CONFIG_FILE=$tmp/config AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
prefix=awscli-bench-$$-$RANDOM
url=s3://$S3_BUCKET/$prefix/
now() { date +%s.%N; }
t0=$(now)
"$aws" s3 cp --recursive --only-show-errors --endpoint-url "$S3_ENDPOINT" "$tmp/src/" "$url" || exit 1
t1=$(now)
"$aws" s3 cp --recursive --only-show-errors --endpoint-url "$S3_ENDPOINT" "$url" "$tmp/dst/" || exit 1
t2=$(now)
for f in "$tmp/src"/*; do cmp -s "$f" "$tmp/dst/$(basename "$f")" || { echo "awscli: $f differs"; exit 1; }; done
"$aws" s3 rm --recursive --only-show-errors --endpoint-url "$S3_ENDPOINT" "$url" >/dev/null
awk -v f="$files" -v s="$size" -v c="$conc" -v p="$part" -v t0="$t0" -v t1="$t1" -v t2="$t2" 'BEGIN {
  mb = f * s * 1048576 / 1e6
  printf "awscli   upload   %d x %d MB, %d requests in flight, part %d MB: %.2f s, %.1f MB/s\n", f, s, c, p, t1 - t0, mb / (t1 - t0)
  printf "awscli   download %d x %d MB, %d requests in flight: %.2f s, %.1f MB/s\n", f, s, c, t2 - t1, mb / (t2 - t1)
}'
