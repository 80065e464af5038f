#!/usr/bin/env bash
# bench/delta/run.sh BUILD_DIR [COMMITS ROWS] - Delta commit throughput and snapshot load
# time, fhirlake vs delta-rs (deltalake from build/venv), side by side:
#  - write: COMMITS appends of one ROWS-row Parquet file each (fhirlake: one txn + fsync'ed
#    put-if-absent per commit; delta-rs: write_deltalake(mode="append") per commit);
#  - load: open the latest snapshot of each table (best of 5), for fhirlake's table with
#    checkpoints (every 10 commits), without checkpoints, and for delta-rs's own table.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:-build/release}
commits=${2:-1000}
rows=${3:-10}
case "$build" in /*) ;; *) build=$src/$build ;; esac
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFL_BUILD_FUZZ=OFF >/dev/null
fi
cmake --build "$build" --target bench_delta -j2 >/dev/null
grep -E '^CMAKE_(C_COMPILER|BUILD_TYPE):' "$build/CMakeCache.txt" | sed 's/^/# /'
work=$(mktemp -d /tmp/fl_bench_delta.XXXXXX)
trap 'rm -rf "$work"' EXIT
bin=$build/bench_delta
val() { grep "^$1 " | awk '{print $2}'; }

w_cp=$("$bin" write "$work/fl_cp" "$commits" "$rows")
w_nocp=$("$bin" write "$work/fl_nocp" "$commits" "$rows" nocheckpoint)
l_cp=$("$bin" load "$work/fl_cp" 5)
l_nocp=$("$bin" load "$work/fl_nocp" 5)
fl_cps=$(echo "$w_cp" | val commits_per_sec)
fl_load_cp=$(echo "$l_cp" | val load_ms_best)
fl_load_nocp=$(echo "$l_nocp" | val load_ms_best)

py=$src/build/venv/bin/python
if [ -x "$py" ] && "$py" -c "import deltalake" 2>/dev/null; then
  read -r drs_cps drs_load drs_load_fl drs_load_nocp <<<"$("$py" - "$work" "$commits" "$rows" <<'PY'
import sys, time
import deltalake, pyarrow as pa
work, commits, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
path = work + "/drs"
t0 = time.perf_counter()
for c in range(commits):
    t = pa.table({"id": pa.array([c * rows + r for r in range(rows)], pa.int64()),
                  "name": pa.array([f"name-{c}-{r}" for r in range(rows)]),
                  "ts": pa.array([1700000000000000 + r for r in range(rows)], pa.timestamp("us", tz="UTC"))})
    deltalake.write_deltalake(path, t, mode="append")
cps = commits / (time.perf_counter() - t0)
def best_load(p):
    best = 1e9
    for _ in range(5):
        t0 = time.perf_counter(); dt = deltalake.DeltaTable(p); _ = dt.file_uris(); best = min(best, time.perf_counter() - t0)
    return best * 1000
print(f"{cps:.1f} {best_load(path):.2f} {best_load(work + '/fl_cp'):.2f} {best_load(work + '/fl_nocp'):.2f}")
PY
)"
else
  drs_cps=NA drs_load=NA drs_load_fl=NA drs_load_nocp=NA
fi
echo "commits=$commits rows_per_commit=$rows"
printf "%-52s %12s %12s\n" "" fhirlake delta-rs
printf "%-52s %12s %12s\n" "commits/s (one data file per commit)" "$fl_cps" "$drs_cps"
printf "%-52s %12s %12s\n" "load latest, each tool's own table (ms)" "$fl_load_cp" "$drs_load"
printf "%-52s %12s %12s\n" "load latest, fhirlake's table (ms)" "$fl_load_cp" "$drs_load_fl"
printf "%-52s %12s %12s\n" "load latest, fhirlake's table, no checkpoints (ms)" "$fl_load_nocp" "$drs_load_nocp"
ms_per() { awk -v c="$1" 'BEGIN{ if (c == "NA") print "NA"; else printf "%.2f", 1000 / c }'; }
printf "%-52s %12s %12s\n" "append-commit latency, mean (ms)" "$(ms_per "$fl_cps")" "$(ms_per "$drs_cps")"
if [ "$drs_cps" != NA ]; then
  awk -v a="$fl_cps" -v b="$drs_cps" 'BEGIN{printf "ratio commits/s fhirlake/delta-rs: %.2fx\n", a/b}'
  awk -v a="$fl_load_cp" -v b="$drs_load_fl" 'BEGIN{printf "ratio load time on the same table delta-rs/fhirlake: %.2fx\n", b/a}'
  awk -v a="$fl_load_nocp" -v b="$drs_load_nocp" 'BEGIN{printf "ratio load time, no checkpoints, delta-rs/fhirlake: %.2fx\n", b/a}'
fi
