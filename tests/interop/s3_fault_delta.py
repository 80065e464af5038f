#!/usr/bin/env python3
"""s3_fault_delta.py - fhirlake exports and commits to s3:// through the fault proxy, while a
watcher reads the same tables straight from the server: exports complete correctly and no
partial commit is ever visible. Test-only peer, stdlib only.

    s3_fault_delta.py FHIRLAKE_BINARY SOURCE_DIR WORK_DIR

Environment: S3_ENDPOINT = the fault proxy (tests/interop/s3_fault_proxy.py), S3_DIRECT = the
server itself, S3_BUCKET, AWS_*. The fhirlake processes under test get the proxy endpoint and
FL_S3_LOW_SPEED_TIME_S=1 (so a stalled answer trips the client's own timeout); the watcher
and the final checks go to S3_DIRECT. Checks:
 1. `fhirlake export` of the Bulk Data sample through five views: exit 0, every table's rows
    equal those of the same export into a local directory; a rerun changes nothing;
 2. 12 sequential `table append`s of 30 rows plus one of ~60k rows (a multi-part data file):
    each exits 0 and reports the next version (no commit lands twice or is lost);
 3. throughout 1 and 2 the watcher polls each table (info + show at that version): every
    state it sees is a complete commit: export tables have 0 rows or all of them, the
    append table at version v holds exactly batches 1..v.
"""
import json
import os
import subprocess
import sys
import threading
import time

FL, SRC, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
BUCKET = os.environ["S3_BUCKET"]
PROXY = dict(os.environ, AWS_ENDPOINT_URL_S3=os.environ["S3_ENDPOINT"], FL_S3_LOW_SPEED_TIME_S="1")
DIRECT = dict(os.environ, AWS_ENDPOINT_URL_S3=os.environ["S3_DIRECT"])
BULK = os.path.join(SRC, "tests", "data", "fhir", "bulk-100")
VIEWS = ["patients", "observations", "conditions", "encounters", "medication_requests"]
VARGS = [a for v in VIEWS for a in ("--view", os.path.join(SRC, "tests", "data", "views", v + ".json"))]
ROOT = "s3://%s/faults-%d" % (BUCKET, os.getpid())
APPEND = ROOT + "/appends"
SCHEMA = {"type": "struct", "fields": [
    {"name": "id", "type": "string", "nullable": False, "metadata": {}},
    {"name": "batch", "type": "long", "nullable": False, "metadata": {}},
    {"name": "pad", "type": "string", "nullable": True, "metadata": {}}]}
failures = []


def check(ok, msg):
    print(("ok   " if ok else "FAIL ") + msg)
    if not ok:
        failures.append(msg)
    sys.stdout.flush()


def run(env, *args):
    return subprocess.run([FL, *args], env=env, capture_output=True, text=True)


def rows_of(env, url, version=None):
    sel = ["--version", str(version)] if version is not None else []
    p = run(env, "table", "show", url, "--limit", "100000000", *sel)
    if p.returncode != 0:
        return None
    return sorted(p.stdout.splitlines())


class Watcher(threading.Thread):
    """Reads the tables straight from the server until stopped; records every state seen."""

    def __init__(self, expect_export, batches):
        super().__init__(daemon=True)
        self.expect_export, self.batches = expect_export, batches
        self.stop, self.seen, self.bad = False, 0, []

    def look(self, url, judge):
        p = run(DIRECT, "table", "info", url)
        if p.returncode != 0:
            return  # no table yet
        v = json.loads(p.stdout)["version"]
        rows = rows_of(DIRECT, url, v)
        if rows is None:
            self.bad.append("%s version %d is listed but cannot be read" % (url, v))
            return
        self.seen += 1
        why = judge(v, rows)
        if why:
            self.bad.append("%s version %d: %s" % (url, v, why))

    def run(self):
        while not self.stop:
            for view in VIEWS:
                want = self.expect_export[view]
                self.look("%s/%s" % (ROOT, view),
                          lambda v, rows, want=want: None if rows in ([], want) else
                          "%d rows visible, expected 0 or %d" % (len(rows), len(want)))

            def judge(v, rows):
                ids = sorted(json.loads(r)["id"] for r in rows)
                want = sorted(i for b in range(1, v + 1) for i in self.batches.get(b, []))
                return None if ids == want else "%d rows visible, batches 1..%d hold %d" % (len(ids), v, len(want))
            self.look(APPEND, judge)
            time.sleep(0.05)


def main():
    local = os.path.join(WORK, "local")
    p = run(DIRECT, "export", *VARGS, "--input", BULK, "--to", local, "--threads", "2", "--export-id", "f", "-q")
    if p.returncode != 0:
        raise SystemExit("local export failed: " + p.stderr)
    expect = {v: rows_of(DIRECT, os.path.join(local, v)) for v in VIEWS}
    # an unreadable (None) or empty reference would let the comparisons below pass vacuously
    check(all(expect[v] for v in VIEWS), "local reference export: every table readable and non-empty (%s)" %
          ", ".join("%s=%s" % (v, None if expect[v] is None else len(expect[v])) for v in VIEWS))
    batches = {}
    w = Watcher(expect, batches)
    w.start()

    t0 = time.monotonic()
    p = run(PROXY, "export", *VARGS, "--input", BULK, "--to", ROOT, "--threads", "2", "--export-id", "f", "-q")
    check(p.returncode == 0, "export through the fault proxy exits 0 (%.1f s)%s" %
          (time.monotonic() - t0, "" if p.returncode == 0 else ": " + p.stderr.strip()[-300:]))
    same = [v for v in VIEWS if rows_of(DIRECT, "%s/%s" % (ROOT, v)) == expect[v]]
    check(len(same) == len(VIEWS), "exported rows equal the local export's in %d/%d tables (%s)" %
          (len(same), len(VIEWS), ", ".join("%s=%d" % (v, len(expect[v])) for v in VIEWS)))
    p = run(PROXY, "export", *VARGS, "--input", BULK, "--to", ROOT, "--threads", "2", "--export-id", "f")
    check(p.returncode == 0 and p.stdout.count("nothing changed") == len(VIEWS),
          "rerun through the proxy changes nothing%s" % ("" if p.returncode == 0 else ": " + p.stderr[-300:]))

    p = run(PROXY, "table", "create", APPEND, "--schema", json.dumps(SCHEMA))
    check(p.returncode == 0, "create through the proxy%s" % ("" if p.returncode == 0 else ": " + p.stderr[-300:]))
    n_small, big = 12, 60000
    for b in range(1, n_small + 2):
        n = 30 if b <= n_small else big
        ids = ["b%02d-%06d" % (b, i) for i in range(n)]
        path = os.path.join(WORK, "b%d.ndjson" % b)
        with open(path, "w") as f:
            for i, rid in enumerate(ids):
                # big batch: incompressible padding so the data file needs several parts
                pad = os.urandom(200).hex() if n == big else "x"
                f.write(json.dumps({"id": rid, "batch": b, "pad": pad}) + "\n")
        batches[b] = ids
        t0 = time.monotonic()
        p = run(PROXY, "table", "append", APPEND, path)
        ok = p.returncode == 0 and p.stdout.startswith("committed version %d:" % b)
        if not ok or b > n_small:
            check(ok, "append %d (%d rows) through the proxy -> version %d (%.1f s)%s" %
                  (b, n, b, time.monotonic() - t0, "" if ok else ": " + (p.stdout + p.stderr).strip()[-300:]))
    files = [json.loads(x) for x in run(DIRECT, "table", "files", APPEND).stdout.splitlines() if x.strip()]
    biggest = max(f["size"] for f in files) if files else 0
    check(biggest > 8 << 20, "the big append's data file is %.1f MiB (> one 8 MiB part: multipart upload)" %
          (biggest / 1048576))
    info = json.loads(run(DIRECT, "table", "info", APPEND).stdout)
    want = sorted(i for ids in batches.values() for i in ids)
    got = sorted(json.loads(r)["id"] for r in rows_of(DIRECT, APPEND))
    check(info["version"] == n_small + 1 and got == want,
          "append table: version %s, %d rows (expected %d, no loss, no duplicate)" % (info["version"], len(got),
                                                                                  len(want)))
    time.sleep(0.3)
    w.stop = True
    w.join()
    for b in w.bad[:5]:
        print("     " + b)
    check(not w.bad and w.seen > 20, "watcher: %d table states read straight from the server, %d partial" %
          (w.seen, len(w.bad)))
    return 1 if failures else 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)
