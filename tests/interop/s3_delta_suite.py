#!/usr/bin/env python3
"""s3_delta_suite.py - the Delta operations on one s3:// table (a local MinIO/moto), each step
checked against an independent model and against delta-rs reading the same bucket. Test-only.

    s3_delta_suite.py FHIRLAKE_BINARY

Environment from tools/s3server.sh (S3_ENDPOINT, S3_BUCKET, AWS_*). Steps, all through the
fhirlake CLI on s3://BUCKET/suite-PID/suite:
  create (schema of the test view, delta.checkpointInterval=10); 26 appends (checkpoints at
  10 and 20 must appear in the bucket); MERGE with `table merge --key id` (changed, new and
  deleted rows) and with `export --mode merge` (FHIR Patients upserted by id); schema evolution
  twice (an export through a view with one more column, then `table append --add-column`; old
  rows read null there);
  OPTIMIZE (one file afterwards); time travel by version and by timestamp (fhirlake
  `table show --version/--timestamp` and delta-rs `load_as_version`); VACUUM --dry-run
  (lists, deletes nothing) then VACUUM (exactly the listed objects disappear); explicit
  checkpoint (_last_checkpoint names it); one more append after it.
After every step: rows printed by `fhirlake table show` == rows delta-rs reads == the model.
"""
import datetime
import json
import os
import shutil
import re
import subprocess
import sys
import tempfile
import time

import boto3
import deltalake
from botocore.config import Config

BIN = sys.argv[1]
BUCKET = os.environ["S3_BUCKET"]
EP = os.environ["S3_ENDPOINT"]
ENV = dict(os.environ, AWS_ENDPOINT_URL_S3=EP)
SO = {"AWS_ENDPOINT_URL": EP, "AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
      "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"], "AWS_REGION": "us-east-1",
      "AWS_ALLOW_HTTP": "true", "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "false"}
S3C = boto3.client("s3", endpoint_url=EP, region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
WORK = tempfile.mkdtemp(prefix="fl_s3_suite_")
PREFIX = "suite-%d" % os.getpid()
ROOT = "s3://%s/%s" % (BUCKET, PREFIX)
URL = ROOT + "/suite"
KEY = PREFIX + "/suite/"
COLS1 = ["id", "gender", "family", "births", "is_deleted"]
COLS2 = ["id", "gender", "family", "births", "city", "is_deleted"]  # view columns, then is_deleted
COLS3 = COLS2 + ["note"]
failures = []
checks = 0


def view(cols_extra):
    cols = [{"name": "id", "path": "getResourceKey()", "type": "id"},
            {"name": "gender", "path": "gender", "type": "code"},
            {"name": "family", "path": "name.family.first()", "type": "string"},
            {"name": "births", "path": "multipleBirthInteger", "type": "integer"}]
    if cols_extra:
        cols.append({"name": "city", "path": "address.city.first()", "type": "string"})
    v = {"resourceType": "ViewDefinition", "name": "suite", "status": "active", "resource": "Patient",
         "select": [{"column": cols}]}
    path = os.path.join(WORK, "view%d.json" % len(cols))
    with open(path, "w") as f:
        json.dump(v, f)
    return path


def check(ok, msg):
    global checks
    checks += 1
    if ok:
        print("ok   " + msg)
    else:
        failures.append(msg)
        print("FAIL " + msg)
    return ok


def fl(*args, ok=True):
    p = subprocess.run([BIN, *args], env=ENV, capture_output=True, text=True)
    if ok and p.returncode != 0:
        raise SystemExit("fhirlake %s failed (%d): %s" % (" ".join(args[:2]), p.returncode, p.stderr))
    return p


def norm(rows, cols):
    return sorted(json.dumps({c: r.get(c) for c in cols}, sort_keys=True) for r in rows)


def fl_rows(cols, *sel):
    out = fl("table", "show", URL, "--limit", "1000000", *sel).stdout
    return norm([json.loads(x) for x in out.splitlines() if x.strip()], cols)


def rs_table(version=None):
    dt = deltalake.DeltaTable(URL, storage_options=SO)
    if version is not None:
        dt.load_as_version(version)
    return dt


def rs_rows(cols, version=None):
    return norm(rs_table(version).to_pyarrow_table().to_pylist(), cols)


def info(*sel):
    return json.loads(fl("table", "info", URL, *sel).stdout)


def same(step, model, cols, version=None):
    """fhirlake == delta-rs == model, at the latest or a given version."""
    sel = () if version is None else (("--version", str(version)) if isinstance(version, int)
                                      else ("--timestamp", str(int(version.timestamp() * 1000))))
    want = norm(model.values(), cols)
    a, b = fl_rows(cols, *sel), rs_rows(cols, version)
    return check(a == want and b == want,
                 "%s: fhirlake %d rows, delta-rs %d rows, model %d rows%s" %
                 (step, len(a), len(b), len(want), "" if a == want and b == want else " (differ)"))


def objects(sub=""):
    keys, tok = [], None
    while True:
        kw = {"Bucket": BUCKET, "Prefix": KEY + sub}
        if tok:
            kw["ContinuationToken"] = tok
        r = S3C.list_objects_v2(**kw)
        keys += [o["Key"][len(KEY):] for o in r.get("Contents", [])]
        if not r.get("IsTruncated"):
            return set(keys)
        tok = r["NextContinuationToken"]


def row(i, gender=None, family=None, city=None):
    return {"id": "p%04d" % i, "gender": gender or ["male", "female", "other", "unknown"][i % 4],
            "family": family or "Fam%d" % i, "births": i % 5 if i % 3 else None, "is_deleted": 0, "city": city}


def patient(r, updated):
    p = {"resourceType": "Patient", "id": r["id"], "meta": {"lastUpdated": updated}, "gender": r["gender"],
         "name": [{"family": r["family"]}]}
    if r["births"] is not None:
        p["multipleBirthInteger"] = r["births"]
    if r.get("city"):
        p["address"] = [{"city": r["city"]}]
    return p


def write(name, items):
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        for it in items:
            f.write(json.dumps(it) + "\n")
    return path


def main():
    v1, v2 = view(False), view(True)
    model, snaps = {}, {}

    # create: the schema is what the view produces (read from a local export of it)
    local = os.path.join(WORK, "local")
    fl("export", "--view", v1, "--input", write("p0.ndjson", [patient(row(0), "2024-01-01T00:00:00Z")]),
       "--to", local, "--quiet")
    schema = fl("table", "schema", os.path.join(local, "suite")).stdout.strip()
    fl("table", "create", URL, "--schema", schema, "--property", "delta.checkpointInterval=10")
    snaps[0] = dict(model)
    check(info()["version"] == 0 and "_delta_log/00000000000000000000.json" in objects("_delta_log/"),
          "create: version 0 on s3:// (%s)" % URL)
    same("create", model, COLS1)

    # 26 appends; checkpoints at 10 and 20 (delta.checkpointInterval=10)
    ts_mid = None
    for b in range(1, 27):
        batch = [row(b * 10 + k) for k in range(4)]
        for r in batch:
            model[r["id"]] = dict(r)
        out = fl("table", "append", URL, write("a%d.ndjson" % b, [{c: r[c] for c in COLS1} for r in batch])).stdout
        check(out.startswith("committed version %d" % b), "append %d: %s" % (b, out.strip()))
        snaps[b] = {k: dict(v) for k, v in model.items()}
        if b == 12:  # a gap around version 12 for time travel by timestamp
            time.sleep(1.2)
            ts_mid = datetime.datetime.now(datetime.timezone.utc)
            time.sleep(1.2)
        if b in (1, 9, 10, 11, 20, 26):
            same("after append %d" % b, model, COLS1)
    log = objects("_delta_log/")
    cps = sorted(k for k in log if k.endswith(".checkpoint.parquet"))
    check(cps == ["_delta_log/%020d.checkpoint.parquet" % 10, "_delta_log/%020d.checkpoint.parquet" % 20],
          "checkpoints written by appends: %s" % [c.split("/")[-1] for c in cps])
    lc = json.loads(S3C.get_object(Bucket=BUCKET, Key=KEY + "_delta_log/_last_checkpoint")["Body"].read())
    check(lc.get("version") == 20, "_last_checkpoint names version 20 (%s)" % lc.get("version"))

    # MERGE 1 (version 27): `table merge` upserts by id (5 changed, 3 new rows) and deletes 2 keys
    changed = [row(i, gender="other", family="Changed%d" % i) for i in (10, 11, 52, 133, 263)]
    new = [row(900 + i) for i in range(3)]
    gone = ["p0040", "p0171"]
    fl("table", "merge", URL, "--input", write("merge.ndjson", [{c: r[c] for c in COLS1} for r in changed + new]),
       "--key", "id", "--delete-input", write("del.ndjson", [{"id": i} for i in gone]))
    for r in changed + new:
        model[r["id"]] = dict(r)
    for i in gone:
        del model[i]
    s = info()
    check(s["version"] == 27 and s["numRecords"] == len(model),
          "table merge: version %s, %s records (model %d)" % (s["version"], s["numRecords"], len(model)))
    snaps[27] = {k: dict(v) for k, v in model.items()}
    same("after table merge", model, COLS1)

    # MERGE 2 (version 28): `export --mode merge` of FHIR Patients (upsert by resource id)
    changed = [row(i, gender="unknown", family="Exported%d" % i) for i in (12, 900, 263)]
    new = [row(920 + i) for i in range(2)]
    fl("export", "--view", v1, "--input", write("merge2.ndjson", [patient(r, "2030-01-01T00:00:00Z")
                                                                  for r in changed + new]),
       "--to", ROOT, "--mode", "merge", "--quiet")
    for r in changed + new:
        model[r["id"]] = dict(r)
    s = info()
    check(s["version"] == 28 and s["numRecords"] == len(model),
          "export --mode merge: version %s, %s records (model %d)" % (s["version"], s["numRecords"], len(model)))
    snaps[28] = {k: dict(v) for k, v in model.items()}
    same("after export merge", model, COLS1)

    # schema evolution (version 29): a view with one more column (city) appends; old rows: null
    evo = [row(950 + i, city="City%d" % i) for i in range(3)]
    fl("export", "--view", v2, "--input", write("evo.ndjson", [patient(r, "2024-02-01T00:00:00Z") for r in evo]),
       "--to", ROOT, "--quiet")
    for r in evo:
        model[r["id"]] = dict(r)
    rs_fields = [f.name for f in rs_table().schema().fields]
    check(rs_fields == COLS2 and info()["version"] == 29,
          "schema evolution: version 29, delta-rs sees columns %s" % rs_fields)
    snaps[29] = {k: dict(v) for k, v in model.items()}
    same("after schema evolution", model, COLS2)

    # schema evolution through the table CLI (version 30): append with --add-column note:string
    noted = [dict(row(960 + i), note="note%d" % i) for i in range(2)]
    out = fl("table", "append", URL, write("note.ndjson", [{c: r.get(c) for c in COLS3} for r in noted]),
             "--add-column", "note:string").stdout
    for r in noted:
        model[r["id"]] = dict(r)
    rs_fields = [f.name for f in rs_table().schema().fields]
    check(out.startswith("committed version 30") and rs_fields == COLS3,
          "table append --add-column note:string: %s; delta-rs sees columns %s" % (out.strip(), rs_fields))
    snaps[30] = {k: dict(v) for k, v in model.items()}
    same("after --add-column", model, COLS3)

    # OPTIMIZE (version 31)
    files_before = int(json.loads(fl("table", "stats", URL).stdout)["numFiles"])
    fl("table", "optimize", URL)
    st = json.loads(fl("table", "stats", URL).stdout)
    check(int(st["numFiles"]) == 1 and files_before > 1 and info()["version"] == 31,
          "optimize: %d files -> %s, version 31" % (files_before, st["numFiles"]))
    snaps[31] = {k: dict(v) for k, v in model.items()}
    same("after optimize", model, COLS3)

    # time travel by version (fhirlake and delta-rs, against the model's snapshot)
    for v in (0, 1, 10, 12, 20, 26, 27, 28):
        same("time travel to version %d" % v, snaps[v], COLS1, v)
    same("time travel to version 29", snaps[29], COLS2, 29)
    same("time travel to version 30", snaps[30], COLS3, 30)
    # by timestamp: between the commits of versions 12 and 13 -> version 12
    t12 = info("--timestamp", str(int(ts_mid.timestamp() * 1000)))["version"]
    check(t12 == 12, "fhirlake --timestamp between v12 and v13 resolves to version %s" % t12)
    same("time travel by timestamp %s" % ts_mid.isoformat(timespec="milliseconds"), snaps[12], COLS1, ts_mid)
    early = fl("table", "show", URL, "--timestamp", "1000", ok=False)
    check(early.returncode == 1 and early.stderr.startswith("fhirlake: ") and "Sanitizer" not in early.stderr,
          "time travel before the table existed is an error: %s" % early.stderr.strip()[:100])

    # VACUUM: dry run lists and deletes nothing; the real run deletes exactly those objects
    before = objects()
    dry = fl("table", "vacuum", URL, "--retention-hours", "0", "--force", "--dry-run").stdout.strip()
    data_before = {k for k in before if not k.startswith("_delta_log/")}
    live = {json.loads(x)["path"] for x in fl("table", "files", URL).stdout.splitlines() if x.strip()}
    expect_gone = data_before - live
    m = re.match(r"would delete (\d+) files \((\d+) bytes\); (\d+) files kept", dry)
    check(objects() == before and m is not None and int(m.group(1)) == len(expect_gone) and
          int(m.group(3)) == len(live) and len(expect_gone) >= 30,
          "vacuum --dry-run: \"%s\" (%d unreferenced, %d live), bucket unchanged" %
          (dry, len(expect_gone), len(live)))
    fl("table", "vacuum", URL, "--retention-hours", "0", "--force")
    after = objects()
    check(after == before - expect_gone,
          "vacuum: %d objects deleted, %d left, live data files kept" % (len(before - after), len(after)))
    same("after vacuum", model, COLS3)
    old = fl("table", "show", URL, "--version", "26", ok=False)
    check(old.returncode == 1 and old.stderr.startswith("fhirlake: ") and "Sanitizer" not in old.stderr,
          "after vacuum, version 26 (its files gone) fails cleanly: %s" %
          old.stderr.strip()[:120])

    # explicit checkpoint, then one more append on top of it
    v = info()["version"]
    fl("table", "checkpoint", URL)
    lc = json.loads(S3C.get_object(Bucket=BUCKET, Key=KEY + "_delta_log/_last_checkpoint")["Body"].read())
    check(lc.get("version") == v and "_delta_log/%020d.checkpoint.parquet" % v in objects("_delta_log/"),
          "explicit checkpoint at version %d (_last_checkpoint says %s)" % (v, lc.get("version")))
    same("after explicit checkpoint", model, COLS3)
    last = [row(990)]
    for r in last:
        model[r["id"]] = dict(r)
    fl("table", "append", URL, write("last.ndjson", [{c: r[c] for c in COLS1} for r in last]))
    check(info()["version"] == v + 1, "append after the checkpoint: version %d" % (v + 1))
    same("after append on the checkpoint", model, COLS3)
    print("s3_delta_suite: %d checks, %d failed" % (checks, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    code = main()
    shutil.rmtree(WORK, ignore_errors=True)
    # os._exit: delta-rs' runtime can abort in interpreter teardown after every check passed.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
