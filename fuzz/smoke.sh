#!/usr/bin/env bash
# fuzz/smoke.sh BIN MODE CORPUS WORKDIR - a short fuzz run used by `make test`.
# MODE libfuzzer: fuzz for FL_FUZZ_SECONDS (default 5) starting from the seed corpus
# (new inputs go to WORKDIR, the checked-in corpus is never modified).
# MODE replay: run every seed once (gcc builds without libFuzzer).
set -euo pipefail
bin=$1 mode=$2 corpus=$3 work=$4
secs=${FL_FUZZ_SECONDS:-5}
mkdir -p "$work/new" "$work/artifacts"
[ -d "$corpus" ] || mkdir -p "$corpus"
if [ "$mode" = libfuzzer ]; then
  dict=""
  [ -f "$corpus/../$(basename "$corpus").dict" ] && dict="-dict=$corpus/../$(basename "$corpus").dict"
  exec "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
       -artifact_prefix="$work/artifacts/" -print_final_stats=1 $dict "$work/new" "$corpus"
else
  exec "$bin" "$corpus"
fi
