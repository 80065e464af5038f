#!/usr/bin/env bash
# bench/export_vs_pathling/run.sh BUILD_DIR [COPIES] - `fhirlake export` vs Pathling on the
# Bulk Data sample multiplied to ~1,000 patients (COPIES=10, re-issued ids): the five views of
# tests/data/views into Delta tables by both, same row counts checked per table; wall time,
# CPU time and peak RSS of each whole process tree (bench/export_vs_pathling/measure.py) and
# the ratios. Pathling runs from build/pathling-venv (pip install pathling) in Spark local
# mode; it needs a Java runtime new enough for its jars (see bench/README.md).
set -uo pipefail
build=${1:-build/release}
copies=${2:-10}
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/bench/export_vs_pathling
work=$root/build/bench-export
bin=$build/fhirlake
[ -x "$bin" ] || { echo "export_vs_pathling: no $bin (make build)"; exit 1; }
mkdir -p "$work"
if [ ! -f "$work/in-$copies.done" ]; then
  rm -rf "$work/in"
  python3 "$here/multiply.py" "$root/tests/data/fhir/bulk-100" "$work/in" "$copies" || exit 1
  touch "$work/in-$copies.done"
fi
views=()
for v in patients observations conditions encounters medication_requests; do views+=("$root/tests/data/views/$v.json"); done
vargs=()
for v in "${views[@]}"; do vargs+=(--view "$v"); done
mb=$(du -sm "$work/in" | cut -f1)

rm -rf "$work/fl"
python3 "$here/measure.py" "$work/fl-measure.json" "$bin" export "${vargs[@]}" --input "$work/in" --to "$work/fl" \
  --quiet --summary-json "$work/fl-summary.json" || { echo "export_vs_pathling: fhirlake export failed"; exit 1; }

# Pathling: needs build/pathling-venv and a JVM that runs its jars
pl_status=ok
py=$root/build/pathling-venv/bin/python
java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
if [ "${java_major:-0}" -lt 21 ]; then
  pl_status="Pathling 9.4.0 (the only library-runtime on Maven Central) needs Java 21; java here is ${java_major:-missing}"
elif [ ! -x "$py" ] || ! "$py" -c "import pathling" 2>/dev/null; then
  python3 -m venv "$root/build/pathling-venv" && "$root/build/pathling-venv/bin/pip" install -q "pathling==9.4.0" ||
    pl_status="pip install pathling failed"
fi
if [ "$pl_status" = ok ]; then
  rm -rf "$work/pl"
  if ! python3 "$here/measure.py" "$work/pl-measure.json" "$py" "$here/pathling_export.py" "$work/in" "$work/pl" \
       "$work/pl-counts.json" "${views[@]}" > "$work/pl.log" 2>&1; then
    pl_status="Pathling failed (log: $work/pl.log): $(grep -m1 -o 'UnsupportedClassVersionError[^(]*([^)]*)' "$work/pl.log" || tail -1 "$work/pl.log")"
  fi
fi

python3 - "$work" "$mb" "$pl_status" <<'PY'
import json, os, sys
work, mb, pl_status = sys.argv[1], sys.argv[2], sys.argv[3]
fl = json.load(open(os.path.join(work, "fl-measure.json")))
summ = json.load(open(os.path.join(work, "fl-summary.json")))
rows = {t["name"]: t["rows"] for t in summ["tables"]}
print(f"input: {summ['inputFiles']} files, {mb} MB, {summ['resources']} resources")
print(f"fhirlake: wall {fl['wall']:.2f} s, cpu {fl['cpu']:.2f} s, peak rss {fl['peak_rss'] / 2**20:.0f} MiB; rows " +
      ", ".join(f"{k}={v}" for k, v in rows.items()))
if pl_status != "ok":
    print(f"pathling: not measured: {pl_status}")
    sys.exit(0)
pl = json.load(open(os.path.join(work, "pl-measure.json")))
counts = json.load(open(os.path.join(work, "pl-counts.json")))
same = all(counts.get(k) == v for k, v in rows.items())
print(f"pathling: wall {pl['wall']:.2f} s, cpu {pl['cpu']:.2f} s, peak rss {pl['peak_rss'] / 2**20:.0f} MiB; rows " +
      ", ".join(f"{k}={v}" for k, v in counts.items()))
print(f"row counts per table equal: {same}")
print(f"ratios (pathling / fhirlake): wall {pl['wall'] / fl['wall']:.1f}x, cpu {pl['cpu'] / fl['cpu']:.1f}x, "
      f"peak rss {pl['peak_rss'] / fl['peak_rss']:.1f}x")
sys.exit(0 if same else 1)
PY
