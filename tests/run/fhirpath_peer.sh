#!/usr/bin/env bash
# tests/run/fhirpath_peer.sh FHIRLAKE - differential test against fhirpath.js 4.10.1.
# Evaluates every expression of tests/data/fhirpath/peer/exprs.tsv over the first 300
# Patients/Observations/Encounters of the bulk-100 sample with `fhirlake fhirpath` and with
# fhirpath.js (R4 model; installed with npm into $FL_BUILD_DIR/fp-peer), and requires the
# same result for every resource: numbers compared by value (1.0 = 1), and an error on
# both sides counts as agreement. Exit 77 (skipped) when node/npm or the package are missing.
set -uo pipefail
bin=$1
src=${FL_SOURCE_DIR:?}
build=${FL_BUILD_DIR:?}
command -v node >/dev/null && command -v npm >/dev/null && command -v python3 >/dev/null || exit 77
peer=$build/fp-peer
if [ ! -d "$peer/node_modules/fhirpath" ]; then
  # bounded: an offline machine must skip quickly, not wait on npm retries
  mkdir -p "$peer" && (cd "$peer" && timeout 180 npm install --no-audit --no-fund --silent --fetch-retries=1 fhirpath@4.10.1 >/dev/null 2>&1) || exit 77
fi
[ -d "$peer/node_modules/fhirpath" ] || exit 77
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in Patient Observation Encounter; do
  zcat "$src/tests/data/fhir/bulk-100/$t.000.ndjson.gz" | head -300 > "$work/$t.ndjson"
done
exprs=$src/tests/data/fhirpath/peer/exprs.tsv
NODE_PATH=$peer/node_modules node "$src/tests/data/fhirpath/peer/peer.js" "$exprs" "$work" > "$work/theirs" || exit 1
: > "$work/ours"
while IFS=$'\t' read -r type expr; do
  [ -n "$expr" ] || continue
  n=$(wc -l < "$work/$type.ndjson")
  # NDJSON mode prints one line per resource: the result, or {"error": ...}; a compile
  # error prints nothing, which stands for an error on every resource
  "$bin" fhirpath "$expr" --input "$work/$type.ndjson" > "$work/one" 2>/dev/null
  got=$(wc -l < "$work/one")
  if [ "$got" -eq 0 ]; then
    for ((k = 0; k < n; k++)); do echo ERROR; done >> "$work/ours"
  elif [ "$got" -eq "$n" ]; then
    sed 's/^{"error":.*/ERROR/' "$work/one" >> "$work/ours"
  else
    echo "fhirpath_peer: '$expr' printed $got lines for $n resources"; exit 1
  fi
done < "$exprs"
python3 - "$exprs" "$work/ours" "$work/theirs" "$work" <<'PY'
import json, sys
exprs = [l.rstrip('\n').split('\t') for l in open(sys.argv[1]) if '\t' in l]
ours = open(sys.argv[2]).read().split('\n')
theirs = open(sys.argv[3]).read().split('\n')
counts = {t: sum(1 for _ in open('%s/%s.ndjson' % (sys.argv[4], t))) for t in {e[0] for e in exprs}}
def norm(s):
    if s == 'ERROR':
        return s
    v = json.loads(s, parse_float=float, parse_int=float)
    return json.dumps(v, sort_keys=True)
pos, bad, total = 0, 0, 0
for t, e in exprs:
    diffs = 0
    for k in range(counts[t]):
        a, b = ours[pos], theirs[pos]
        pos += 1
        total += 1
        if norm(a) != norm(b):
            diffs += 1
            if diffs <= 2:
                print('DIFF %s [%s #%d]: fhirlake %s / fhirpath.js %s' % (e, t, k + 1, a[:160], b[:160]))
    bad += diffs > 0
print('%d expressions, %d evaluations, %d expressions differ' % (len(exprs), total, bad))
sys.exit(1 if bad else 0)
PY
