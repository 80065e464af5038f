#!/usr/bin/env bash
# sof_cli.sh FHIRLAKE - runs every SQL-on-FHIR suite case end to end through
# `fhirlake run` (view file + NDJSON fixtures -> NDJSON rows) and checks the rows with an
# independent comparator written in Python (multiset rows, missing key = null, numbers by
# value). Two passes: --temporal-as-string (exact text) and the default Delta typing, where
# DATE/TIMESTAMP cells are checked against the expected text read by a Python version of
# the partial-date rule of docs/internals/VIEW.md. expectError cases must exit non-zero.
set -euo pipefail
bin=$1
src=${FL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
work=${FL_BUILD_DIR:-/tmp}/sof-cli
command -v python3 >/dev/null || { echo "python3 missing: skipped"; exit 77; }
rm -rf "$work" && mkdir -p "$work"
python3 - "$bin" "$src/tests/data/sql-on-fhir/tests" "$work" <<'PY'
import json, os, subprocess, sys, glob, datetime as dt, re

binary, tdir, work = sys.argv[1:4]

def ts_micros(s):
    m = re.fullmatch(r'(\d{4})(?:-(\d\d)(?:-(\d\d)(?:T(\d\d)(?::(\d\d)(?::(\d\d)(?:\.(\d+))?)?)?(Z|[+-]\d\d:\d\d)?)?)?)?', s)
    if not m: return None
    y, mo, d, h, mi, se, fr, tz = m.groups()
    t = dt.datetime(int(y), int(mo or 1), int(d or 1), int(h or 0), int(mi or 0), int(se or 0),
                    int((fr or '0')[:6].ljust(6, '0')), tzinfo=dt.timezone.utc)
    if tz and tz != 'Z':
        sign = 1 if tz[0] == '+' else -1
        t -= sign * dt.timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6]))
    return (t - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // dt.timedelta(microseconds=1)

def same(exp, got, typed):
    if exp is None or got is None: return exp is None and got is None
    if isinstance(exp, bool) or isinstance(got, bool): return exp is got
    if isinstance(exp, (int, float)) and isinstance(got, (int, float)): return float(exp) == float(got)
    if isinstance(exp, list):
        return isinstance(got, list) and len(exp) == len(got) and all(same(a, b, typed) for a, b in zip(exp, got))
    if isinstance(exp, str) and isinstance(got, str):
        if exp == got: return True
        if typed:   # DATE / TIMESTAMP columns: compare instants by the documented rule
            a, b = ts_micros(exp), ts_micros(got)
            return a is not None and a == b
        return False
    return False

def row_eq(exp, got, cols, typed):
    return all(same(exp.get(c), got.get(c), typed) for c in cols)

fails, total = [], 0
for mode, flags, typed in (("spec", ["--temporal-as-string"], False), ("default", [], True)):
    for f in sorted(glob.glob(os.path.join(tdir, "*.json"))):
        suite = json.load(open(f))
        fx = os.path.join(work, "fixtures.ndjson")
        with open(fx, "w") as out:
            for r in suite["resources"]:
                out.write(json.dumps(r) + "\n")
        for i, t in enumerate(suite["tests"]):
            total += 1
            name = "%s [%s] %s / %s" % (mode, os.path.basename(f), i, t["title"])
            vf = os.path.join(work, "view.json")
            json.dump(t["view"], open(vf, "w"))
            p = subprocess.run([binary, "run", "--view", vf, "--input", fx, "--format", "ndjson"] + flags,
                               capture_output=True, text=True)
            if t.get("expectError"):
                if p.returncode == 0: fails.append(name + ": expected an error, exit 0")
                elif p.returncode != 1: fails.append(name + ": exit %d (want 1)" % p.returncode)
                continue
            if p.returncode != 0:
                fails.append(name + ": exit %d: %s" % (p.returncode, p.stderr.strip()[:300])); continue
            rows = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
            cols = list(rows[0].keys()) if rows else []
            if "expectColumns" in t and rows and cols != t["expectColumns"]:
                fails.append(name + ": columns %s" % cols); continue
            if "expectCount" in t:
                if len(rows) != t["expectCount"]: fails.append(name + ": %d rows" % len(rows))
                continue
            exp = t["expect"]
            if len(exp) != len(rows):
                fails.append(name + ": expected %d rows, got %d" % (len(exp), len(rows))); continue
            keys = set(cols)
            for e in exp: keys |= set(e.keys())
            left = list(rows)
            for e in exp:
                hit = next((k for k, g in enumerate(left) if row_eq(e, g, keys, typed)), None)
                if hit is None:
                    fails.append(name + ": row %s not found in %s" % (json.dumps(e), json.dumps(left)[:300])); break
                left.pop(hit)
# The in-process runner (unit.view.test_sof_suite) writes its report into the build dir;
# when it is there and jsonschema is installed, check it against the suite's report schema.
rep = os.path.join(os.path.dirname(work), "sof-report.json")
try:
    import jsonschema
except ImportError:
    jsonschema = None
if jsonschema and os.path.exists(rep):
    schema = json.load(open(os.path.join(os.path.dirname(tdir), "test-report.schema.json")))
    try:
        jsonschema.validate(json.load(open(rep)), schema)
        print("report %s matches test-report.schema.json" % rep)
    except jsonschema.ValidationError as e:
        fails.append("report schema: %s" % e.message)
for x in fails: print("FAIL", x)
print("sof_cli: %d/%d cases passed" % (total - len(fails), total))
sys.exit(1 if fails else 0)
PY
