#!/usr/bin/env bash
# bench/delta/merge.sh BUILD_DIR [FILES ROWS_PER_FILE MERGE_ROWS TOUCHED] - MERGE (upsert by id),
# fhirlake `table merge` vs delta-rs `DeltaTable.merge` (deltalake from build/venv), on two
# copies of the same table (FILES files of ROWS_PER_FILE rows, ids sequential so each file
# holds one id range): MERGE_ROWS source rows, half updates of ids spread over TOUCHED files
# (default 2), half new ids; 3 runs each on fresh copies, median wall time (fhirlake includes process start).
# Both results are checked to hold the same rows.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:-build/release}
files=${2:-40}
rows=${3:-25000}
mrows=${4:-10000}
touched=${5:-2}
case "$build" in /*) ;; *) build=$src/$build ;; esac
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFL_BUILD_FUZZ=OFF >/dev/null
fi
cmake --build "$build" --target fhirlake -j2 >/dev/null
grep -E '^CMAKE_(C_COMPILER|BUILD_TYPE):' "$build/CMakeCache.txt" | sed 's/^/# /'
py=$src/build/venv/bin/python
if [ ! -x "$py" ] || ! "$py" -c "import deltalake" 2>/dev/null; then
  echo "merge bench: no build/venv with deltalake (tools/pyenv.sh)"; exit 1
fi
work=$(mktemp -d /tmp/fl_bench_merge.XXXXXX)
trap 'rm -rf "$work"' EXIT
exec "$py" - "$build/fhirlake" "$work" "$files" "$rows" "$mrows" "$touched" <<'PY'
import json, os, shutil, statistics, subprocess, sys, time
import deltalake, pyarrow as pa
fl, work, files, rows, mrows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
touched = max(1, min(files, int(sys.argv[6])))
base = os.path.join(work, "base")
schema = {"type": "struct", "fields": [
    {"name": "id", "type": "string", "nullable": False, "metadata": {}},
    {"name": "n", "type": "long", "nullable": True, "metadata": {}},
    {"name": "v", "type": "string", "nullable": True, "metadata": {}}]}
subprocess.run([fl, "table", "create", base, "--schema", json.dumps(schema)], check=True, capture_output=True)
for f in range(files):
    nd = os.path.join(work, "in.ndjson")
    with open(nd, "w") as o:
        for r in range(rows):
            k = f * rows + r
            o.write(json.dumps({"id": f"id{k:09d}", "n": k, "v": f"value-{k}"}) + "\n")
    subprocess.run([fl, "table", "append", base, nd], check=True, capture_output=True)
half = mrows // 2
tfiles = [f * files // touched for f in range(touched)]
per = max(1, half // touched)
upd = [f * rows + r for f in tfiles for r in range(0, rows, max(1, rows // per))][:half]
src_rows = [{"id": f"id{k:09d}", "n": -k, "v": "updated"} for k in upd]
src_rows += [{"id": f"new{k:09d}", "n": k, "v": "inserted"} for k in range(mrows - len(src_rows))]
nd = os.path.join(work, "merge.ndjson")
with open(nd, "w") as o:
    for r in src_rows:
        o.write(json.dumps(r) + "\n")
src_tbl = pa.table({"id": [r["id"] for r in src_rows], "n": pa.array([r["n"] for r in src_rows], pa.int64()),
                    "v": [r["v"] for r in src_rows]})

def run_fl(path):
    t0 = time.perf_counter()
    p = subprocess.run([fl, "table", "merge", path, "--input", nd, "--key", "id"], check=True, capture_output=True, text=True)
    return time.perf_counter() - t0, p.stdout.strip()

def run_drs(path):
    t0 = time.perf_counter()
    dt = deltalake.DeltaTable(path)
    m = (dt.merge(src_tbl, predicate="t.id = s.id", source_alias="s", target_alias="t")
         .when_matched_update_all().when_not_matched_insert_all().execute())
    return time.perf_counter() - t0, m

def content(path):
    t = deltalake.DeltaTable(path).to_pyarrow_table()
    return sorted(zip(t.column("id").to_pylist(), t.column("n").to_pylist(), t.column("v").to_pylist()))

tf, td, last = [], [], {}
for i in range(3):
    for tool, fn, acc in (("fl", run_fl, tf), ("drs", run_drs, td)):
        p = os.path.join(work, f"{tool}{i}")
        shutil.copytree(base, p)
        dt_s, info = fn(p)
        acc.append(dt_s)
        last[tool] = (p, info)
same = content(last["fl"][0]) == content(last["drs"][0])
print(f"table: {files} files x {rows} rows; merge: {len(upd)} updates (ids in {touched} files) + {mrows - len(upd)} inserts")
print(f"fhirlake: {last['fl'][1]}")
m = last["drs"][1]
print(f"delta-rs: files removed {m.get('num_target_files_removed')}, added {m.get('num_target_files_added')}, "
      f"updated {m.get('num_target_rows_updated')}, inserted {m.get('num_target_rows_inserted')}")
print(f"{'':32} {'fhirlake':>10} {'delta-rs':>10}")
print(f"{'merge wall time, median of 3 (s)':32} {statistics.median(tf):10.3f} {statistics.median(td):10.3f}")
print(f"runs fhirlake {', '.join(f'{x:.3f}' for x in tf)}; delta-rs {', '.join(f'{x:.3f}' for x in td)}")
print(f"ratio delta-rs/fhirlake: {statistics.median(td) / statistics.median(tf):.2f}x; same rows: {same}")
sys.stdout.flush()
os._exit(0 if same else 1)
PY
