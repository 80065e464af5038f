#!/usr/bin/env python3
"""s3_concurrency.py - 8 writer processes x 50 commits each to one s3:// Delta table through
the fhirlake CLI; the S3 server's conditional PUT (If-None-Match: * on _delta_log/N.json:
412 = that version exists, take the next; 409 = retry) is the only coordination. Test-only.

    s3_concurrency.py FHIRLAKE_BINARY [WRITERS COMMITS ROWS]

Environment from tools/s3server.sh (S3_ENDPOINT, S3_BUCKET, AWS_*). Checks: every append
exits 0 and reports a version; the reported versions are exactly 1..W*C, each once; the log
objects in the bucket are exactly 0..W*C (contiguous, nothing past the end); every commit
file holds one add of ROWS records and a commitInfo whose readVersion is below its own
version; `fhirlake table show` and delta-rs read the same rows, every row id exactly once
and C*ROWS rows per writer, each writer's rows in its commit order.
"""
import json
import os
import shutil
import re
import subprocess
import sys
import tempfile
import threading
import time

import boto3
import deltalake
from botocore.config import Config

BIN = sys.argv[1]
W, C, R = (int(x) for x in (sys.argv[2:5] if len(sys.argv) > 4 else (8, 50, 2)))
BUCKET = os.environ["S3_BUCKET"]
EP = os.environ["S3_ENDPOINT"]
ENV = dict(os.environ, AWS_ENDPOINT_URL_S3=EP)
SO = {"AWS_ENDPOINT_URL": EP, "AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
      "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"], "AWS_REGION": "us-east-1",
      "AWS_ALLOW_HTTP": "true"}
S3C = boto3.client("s3", endpoint_url=EP, region_name="us-east-1",
                   config=Config(s3={"addressing_style": "path"}, max_pool_connections=32))
WORK = tempfile.mkdtemp(prefix="fl_s3_conc_")
PREFIX = "conc-%d/t" % os.getpid()
URL = "s3://%s/%s" % (BUCKET, PREFIX)
SCHEMA = {"type": "struct", "fields": [
    {"name": "id", "type": "string", "nullable": False, "metadata": {}},
    {"name": "writer", "type": "long", "nullable": False, "metadata": {}},
    {"name": "seq", "type": "long", "nullable": False, "metadata": {}}]}
failures = []


def check(ok, msg):
    print(("ok   " if ok else "FAIL ") + msg)
    if not ok:
        failures.append(msg)


def fl(*args):
    p = subprocess.run([BIN, "table", *args], env=ENV, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("fhirlake table %s failed (%d): %s" % (args[0], p.returncode, p.stderr))
    return p.stdout


def writer(w, results):
    for c in range(C):
        path = os.path.join(WORK, "w%d-c%d.ndjson" % (w, c))
        with open(path, "w") as f:
            for k in range(R):
                f.write(json.dumps({"id": "w%d-c%03d-r%d" % (w, c, k), "writer": w, "seq": c}) + "\n")
        try:
            p = subprocess.run([BIN, "table", "append", URL, path], env=ENV, capture_output=True, text=True)
        except OSError as e:
            results.append((w, c, -1, None, str(e)))
            continue
        m = re.match(r"committed version (\d+): 1 files, (\d+) rows", p.stdout)
        results.append((w, c, p.returncode, int(m.group(1)) if m else None, p.stderr.strip()[-300:]))


def main():
    fl("create", URL, "--schema", json.dumps(SCHEMA))
    results = []
    t0 = time.monotonic()
    threads = [threading.Thread(target=writer, args=(w, results)) for w in range(W)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.monotonic() - t0
    bad = [r for r in results if r[2] != 0 or r[3] is None]
    for r in bad[:5]:
        print("     writer %d commit %d: exit %d: %s" % (r[0], r[1], r[2], r[4]))
    check(not bad and len(results) == W * C,
          "%d writers x %d commits: %d appends exited 0 in %.1f s (%d failed)" %
          (W, C, len(results) - len(bad), secs, len(bad)))
    versions = sorted(r[3] for r in results if r[3] is not None)
    check(versions == list(range(1, W * C + 1)), "reported versions are exactly 1..%d, each once" % (W * C))
    # per writer, its own commits got increasing versions (each process starts after the last ended)
    mine = [[r[3] for r in results if r[0] == w and r[3] is not None] for w in range(W)]
    mono = all(m == sorted(m) for m in mine)
    check(mono, "each writer's versions increase with its commit order")

    keys, tok = [], None
    while True:
        kw = {"Bucket": BUCKET, "Prefix": PREFIX + "/_delta_log/"}
        if tok:
            kw["ContinuationToken"] = tok
        page = S3C.list_objects_v2(**kw)
        keys += [o["Key"].rsplit("/", 1)[1] for o in page.get("Contents", [])]
        if not page.get("IsTruncated"):
            break
        tok = page["NextContinuationToken"]
    commits = sorted(int(k[:20]) for k in keys if re.fullmatch(r"\d{20}\.json", k))
    check(commits == list(range(0, W * C + 1)), "log objects are exactly 0..%d.json (%d found, contiguous)" %
          (W * C, len(commits)))
    odd, behind = 0, 0
    for v in commits[1:]:
        acts = [json.loads(x) for x in S3C.get_object(Bucket=BUCKET, Key="%s/_delta_log/%020d.json" % (PREFIX, v))
                ["Body"].read().decode().splitlines() if x.strip()]
        adds = [a["add"] for a in acts if "add" in a]
        ci = [a["commitInfo"] for a in acts if "commitInfo" in a]
        if len(adds) != 1 or json.loads(adds[0]["stats"])["numRecords"] != R or len(ci) != 1 or \
                not ci[0].get("readVersion", -1) < v:
            odd += 1
        elif ci[0]["readVersion"] < v - 1:
            behind += 1
    check(odd == 0 and behind > 0, "every commit 1..%d holds one add of %d records and a commitInfo (readVersion < version); "
          "%d commits landed above readVersion+1 (lost a race, rebased)" % (W * C, R, behind))
    info = json.loads(fl("info", URL))
    check(info["version"] == W * C and info["numRecords"] == W * C * R,
          "table info: version %s, %s records" % (info["version"], info["numRecords"]))

    fl_rows = [json.loads(x) for x in fl("show", URL, "--limit", "10000000").splitlines() if x.strip()]
    rs_rows = deltalake.DeltaTable(URL, storage_options=SO).to_pyarrow_table().to_pylist()
    want = sorted(("w%d-c%03d-r%d" % (w, c, k), w, c) for w in range(W) for c in range(C) for k in range(R))
    for name, rows in (("fhirlake", fl_rows), ("delta-rs", rs_rows)):
        got = sorted((r["id"], r["writer"], r["seq"]) for r in rows)
        ids = [g[0] for g in got]
        per = [sum(1 for g in got if g[1] == w) for w in range(W)]
        check(got == want and len(set(ids)) == len(ids) and per == [C * R] * W,
              "%s reads %d rows (%d distinct ids), per writer %s, expected %d each" %
              (name, len(got), len(set(ids)), per, C * R))
    # version v's add holds exactly the rows that append reported as v
    by_version = {r[3]: (r[0], r[1]) for r in results if r[3] is not None}
    mism = 0
    for v in (1, W * C // 2, W * C):
        if v not in by_version:
            mism += 1
            continue
        w, c = by_version[v]
        rows = deltalake.DeltaTable(URL, version=v, storage_options=SO).to_pyarrow_table().to_pylist()
        prev = deltalake.DeltaTable(URL, version=v - 1, storage_options=SO).to_pyarrow_table().to_pylist()
        new = {r["id"] for r in rows} - {r["id"] for r in prev}
        mism += new != {"w%d-c%03d-r%d" % (w, c, k) for k in range(R)}
    check(mism == 0, "time travel: versions 1, %d, %d add exactly the reporting writer's rows" % (W * C // 2, W * C))
    print("s3_concurrency: %d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    code = main()
    shutil.rmtree(WORK, ignore_errors=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
