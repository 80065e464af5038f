"""spark_interop.py - fhirlake's Delta tables against Apache Spark 4 + delta-spark.

Usage: spark_interop.py FHIRLAKE_BINARY SOURCE_DIR WORK_DIR IVY_DIR

One local Spark session (local[2], 1 GiB driver, UI off) runs every check:

fhirlake -> Spark
  fl-appends     `table create` (delta.checkpointInterval=5) + 26 `table append` commits (one
                 --overwrite, txn ids): classic checkpoints at 5..25; Spark reads the same rows
                 as `fhirlake table cat` and as the input, time travel (versionAsOf) equal to
                 `cat --version`, DESCRIBE HISTORY lists every version with fhirlake's
                 operations; Spark appends (version 27), fhirlake reads Spark's rows; fhirlake
                 appends again (checkpoint at 30 over Spark's commit), Spark reads it all.
  fl-evolution   `fhirlake export` with a view, then with the view plus a new column: the
                 table's schema gains a nullable column; Spark reads the same rows (old rows null).
  fl-merge       `fhirlake export --mode merge` twice (upsert by id): Spark reads the same rows,
                 one per id, the newer version of changed patients; DESCRIBE HISTORY works.
  fl-lifecycle   one table through the CLI (delta_lifecycle.py): 30 commits with checkpoints
                 10/20/30, `table merge` x2 (newer-wins, deletes, txn), OPTIMIZE, `append
                 --add-column`, VACUUM retention 0: Spark's rows == `table show` == expected
                 rows; versionAsOf the pre-merge version (before VACUUM) == `show --version`.
  fl-merge-partitioned  `table merge` on a table partitioned by string + date (row moved to
                 a new partition, null partition value): Spark rows and partition pruning.
Spark -> fhirlake
  sp-plain, sp-partitioned, sp-checkpoint (Spark's own checkpoint), sp-dv (deletion vectors +
  DELETE; `--read-dv`), sp-colmap (column mapping name + RENAME COLUMN): `fhirlake table cat`
  returns the rows Spark returns; fhirlake appends and Spark reads them back, or fhirlake
  refuses with an error naming the table feature (asserted).
export
  export-bulk    `fhirlake export` of tests/data/fhir/bulk-100 with tests/data/views/*.json:
                 Spark's row count per table == `fhirlake run` == numRecords, and Spark's rows
                 == `fhirlake table cat`.
Prints one line per check; exit 1 on any failure, 77 when Spark/delta jars cannot be obtained.
"""
import datetime
import decimal
import glob
import gzip
import json
import math
import os
import shutil
import subprocess
import sys
import time

FL, SRC, WORK, IVY = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import delta_lifecycle  # noqa: E402
BULK = os.path.join(SRC, "tests", "data", "fhir", "bulk-100")
VIEWS = os.path.join(SRC, "tests", "data", "views")
VIEW_NAMES = ["patients", "observations", "conditions", "encounters", "medication_requests"]
os.environ["TZ"] = "UTC"  # Spark hands timestamps to Python as naive local times
time.tzset()
os.makedirs(WORK, exist_ok=True)
failures = []
T0 = time.time()


# ---------------------------------------------------------------- helpers

def run(*args, check=0):
    p = subprocess.run([FL, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check is not None and p.returncode != check:
        raise AssertionError(f"fhirlake {' '.join(args)} -> {p.returncode} (wanted {check}): "
                             f"{p.stderr.strip()[:400]} {p.stdout.strip()[:200]}")
    return p


def fl_rows(path, *extra):
    out = run("table", "cat", path, *extra).stdout
    return [json.loads(x) for x in out.splitlines() if x.strip()]


def fl_show(path, *extra):
    return json.loads(run("table", "info", path, *extra).stdout)


def norm(v):
    """Spark (Python) or fhirlake (JSON) value -> one canonical JSON-able form."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        return int(v) if v.is_integer() and abs(v) < 2**53 else v
    if isinstance(v, int):
        return v
    if isinstance(v, decimal.Decimal):
        return format(v, "f")
    if isinstance(v, datetime.datetime):  # TimestampType (UTC session, TZ=UTC)
        return v.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [norm(x) for x in v]
    if hasattr(v, "asDict"):
        return norm(v.asDict(recursive=True))
    return v


def canon(rows):
    return sorted(json.dumps(norm(r), sort_keys=True) for r in rows)


def same_rows(what, a, b, an="spark", bn="fhirlake"):
    ca, cb = canon(a), canon(b)
    if ca != cb:
        oa, ob = sorted(set(ca) - set(cb))[:2], sorted(set(cb) - set(ca))[:2]
        raise AssertionError(f"{what}: {an} {len(ca)} rows vs {bn} {len(cb)}; only {an}: {oa}; only {bn}: {ob}")
    return len(ca)


def sp_rows(path, version=None):
    r = spark.read.format("delta")
    if version is not None:
        r = r.option("versionAsOf", version)
    return [row.asDict(recursive=True) for row in r.load(path).collect()]


def sql(q):
    return spark.sql(q).collect()


def write_ndjson(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


ONLY = [x for x in os.environ.get("FL_SPARK_ONLY", "").split(",") if x]  # debugging: run some checks


def case(name, fn):
    if ONLY and name not in ONLY:
        print(f"skip {name} (FL_SPARK_ONLY)")
        return
    t = time.time()
    try:
        detail = fn()
        print(f"ok   {name}: {detail} ({time.time() - t:.1f}s)", flush=True)
    except Exception as e:  # noqa: BLE001 - report each failure and go on
        failures.append(name)
        msg = str(e).strip().splitlines()
        print(f"FAIL {name}: {' | '.join(msg[:6])[:1500]}", flush=True)


def refusal_names(stderr, feature):
    return feature.lower() in stderr.lower()


# ---------------------------------------------------------------- Spark session

try:
    from delta import configure_spark_with_delta_pip
    from pyspark.sql import SparkSession
    from pyspark.sql import types as T
except ImportError as e:
    print(f"spark_interop: pyspark/delta-spark not importable ({e}); skipping")
    sys.exit(77)

builder = (SparkSession.builder.master("local[2]").appName("fhirlake-spark-interop")
           .config("spark.driver.memory", "1g")
           .config("spark.sql.shuffle.partitions", "2")
           .config("spark.default.parallelism", "2")
           .config("spark.ui.enabled", "false")
           .config("spark.ui.showConsoleProgress", "false")
           .config("spark.sql.catalogImplementation", "in-memory")
           .config("spark.sql.warehouse.dir", os.path.join(WORK, "warehouse"))
           .config("spark.sql.session.timeZone", "UTC")
           # a short-lived driver on a shared 2-core box: C1 JIT only, one GC thread
           .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC -XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
           .config("spark.sql.adaptive.enabled", "false")
           .config("spark.databricks.delta.stateReconstructionValidation.enabled", "false")
           .config("spark.jars.ivy", IVY)
           .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
           .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
           .config("spark.databricks.delta.snapshotPartitions", "2")
           .config("spark.databricks.delta.retentionDurationCheck.enabled", "false")
           .config("spark.sql.sources.parallelPartitionDiscovery.parallelism", "2"))  # VACUUM listing tasks
try:
    spark = configure_spark_with_delta_pip(builder).getOrCreate()
except Exception as e:  # noqa: BLE001
    text = str(e)
    if "resolve" in text.lower() or "download" in text.lower() or "Java gateway" in text:
        print(f"spark_interop: cannot start Spark with delta-spark jars (Maven Central / Java): "
              f"{text.strip().splitlines()[0][:300]}; skipping")
        sys.exit(77)
    raise
spark.sparkContext.setLogLevel("ERROR")
print(f"     spark {spark.version}, session up in {time.time() - T0:.1f}s", flush=True)


# ---------------------------------------------------------------- fhirlake -> Spark

WIDE_SCHEMA = {"type": "struct", "fields": [
    {"name": "id", "type": "string", "nullable": False, "metadata": {}},
    {"name": "n", "type": "long", "nullable": True, "metadata": {}},
    {"name": "x", "type": "double", "nullable": True, "metadata": {}},
    {"name": "ok", "type": "boolean", "nullable": True, "metadata": {}},
    {"name": "d", "type": "date", "nullable": True, "metadata": {}},
    {"name": "ts", "type": "timestamp", "nullable": True, "metadata": {}},
    {"name": "amt", "type": "decimal(12,3)", "nullable": True, "metadata": {}},
    {"name": "tags", "type": {"type": "array", "elementType": "string", "containsNull": True},
     "nullable": True, "metadata": {}},
    {"name": "addr", "type": {"type": "struct", "fields": [
        {"name": "city", "type": "string", "nullable": True, "metadata": {}},
        {"name": "zip", "type": "integer", "nullable": True, "metadata": {}}]},
     "nullable": True, "metadata": {}},
    {"name": "day", "type": "string", "nullable": True, "metadata": {}},
]}


def wide_row(k):
    """Input row (NDJSON) and its expected canonical form."""
    r = {"id": f"r{k:05d}", "n": None if k % 7 == 0 else k * 3, "x": k / 4, "ok": k % 2 == 0,
         "d": f"2024-0{1 + k % 9}-1{k % 10}",
         "ts": None if k % 6 == 0 else f"2024-03-0{1 + k % 9}T1{k % 10}:2{k % 10}:00.{k % 1000:03d}Z",
         "amt": None if k % 5 == 0 else f"{k}.{k % 1000:03d}", "tags": [f"t{k % 3}"] * (k % 3),
         "addr": None if k % 5 == 0 else {"city": f"city{k % 4}", "zip": 1000 + k},
         "day": None if k % 11 == 0 else f"2024-01-0{1 + k % 3}"}
    want = dict(r)
    if r["ts"]:
        want["ts"] = r["ts"][:-1] + "000Z"
    return r, want


FLW = os.path.join(WORK, "fl_appends")


def fl_appends():
    shutil.rmtree(FLW, ignore_errors=True)
    run("table", "create", FLW, "--schema", json.dumps(WIDE_SCHEMA), "--partition-by", "day",
        "--property", "delta.checkpointInterval=5")
    expected = {}
    for b in range(26):
        rows = [wide_row(b * 100 + i) for i in range(8)]
        nd = os.path.join(WORK, f"fla{b}.ndjson")
        write_ndjson(nd, [r for r, _ in rows])
        args = ["table", "append", FLW, nd, "--app-id", "spark-interop", "--txn-version", str(b)]
        if b == 3:
            args.append("--overwrite")
            expected = {}
        run(*args)
        expected.update({w["id"]: w for _, w in rows})
    logd = os.path.join(FLW, "_delta_log")
    cps = sorted(int(os.path.basename(p)[:20]) for p in glob.glob(os.path.join(logd, "*.checkpoint.parquet")))
    assert cps == [5, 10, 15, 20, 25], f"checkpoints at {cps}, wanted 5..25"
    assert json.load(open(os.path.join(logd, "_last_checkpoint")))["version"] == 25
    assert fl_show(FLW)["version"] == 26
    theirs = sp_rows(FLW)
    n = same_rows("v26", theirs, fl_rows(FLW))
    same_rows("v26 vs input", theirs, list(expected.values()), bn="input")
    # time travel: before and after the overwrite, and from a checkpoint + commits
    for v in (2, 12):
        same_rows(f"versionAsOf {v}", sp_rows(FLW, v), fl_rows(FLW, "--version", str(v)))
    hist = sql(f"DESCRIBE HISTORY delta.`{FLW}`")
    ours = [json.loads(x) for x in run("table", "history", FLW).stdout.splitlines() if x.strip()]
    hv = sorted((h["version"], h["operation"]) for h in hist)
    ov = sorted((h["version"], h["operation"]) for h in ours)
    assert hv == ov and len(hv) == 27, f"DESCRIBE HISTORY {hv[:4]}.. ({len(hv)}) vs fhirlake {ov[:4]}.. ({len(ov)})"
    # Spark appends (schema taken from the table), fhirlake reads Spark's rows
    df0 = spark.read.format("delta").load(FLW)
    srows = []
    for i in range(6):
        k = 90000 + i
        _, w = wide_row(k)
        srows.append(w)
    sdf = spark.createDataFrame([_to_spark_wide(w) for w in srows], df0.schema)
    sdf.write.format("delta").mode("append").save(FLW)
    expected.update({w["id"]: w for w in srows})
    s27 = fl_show(FLW)
    assert s27["version"] == 27, f"fhirlake sees version {s27['version']} after Spark's append"
    same_rows("after Spark append: fhirlake vs input", fl_rows(FLW), list(expected.values()), an="fhirlake", bn="input")
    # fhirlake appends over Spark's commit (checkpoint at 30), Spark reads everything
    cp_written = False
    for b in range(26, 29):
        rows = [wide_row(b * 100 + i) for i in range(8)]
        nd = os.path.join(WORK, f"fla{b}.ndjson")
        write_ndjson(nd, [r for r, _ in rows])
        out = run("table", "append", FLW, nd, "--app-id", "spark-interop", "--txn-version", str(b)).stdout
        cp_written |= "checkpoint written" in out
        expected.update({w["id"]: w for _, w in rows})
    assert cp_written and os.path.exists(os.path.join(logd, f"{30:020d}.checkpoint.parquet")), "no checkpoint at 30"
    final = sp_rows(FLW)
    same_rows("v30: spark vs input", final, list(expected.values()), bn="input")
    same_rows("v30", final, fl_rows(FLW))
    # filters Spark answers with data skipping on fhirlake's file stats (min/max/nullCount)
    exp = list(expected.values())
    df = spark.read.format("delta").load(FLW)
    probes = [
        ("ts <= timestamp'2024-03-02 11:21:00.801'",
         lambda r: r["ts"] is not None and r["ts"] <= "2024-03-02T11:21:00.801000Z"),
        ("ts = timestamp'2024-03-01 15:25:00.305'", lambda r: r["ts"] == "2024-03-01T15:25:00.305000Z"),
        ("amt > 1500.5", lambda r: r["amt"] is not None and decimal.Decimal(r["amt"]) > decimal.Decimal("1500.5")),
        ("d <= date'2024-04-14'", lambda r: r["d"] <= "2024-04-14"),
        ("id between 'r00500' and 'r01203'", lambda r: "r00500" <= r["id"] <= "r01203"),
        ("addr.zip > 2100", lambda r: r["addr"] is not None and r["addr"]["zip"] > 2100),
        ("day is null", lambda r: r["day"] is None),
    ]
    for cond, fn in probes:
        got, want = df.where(cond).count(), sum(1 for r in exp if fn(r))
        assert got == want > 0, f"Spark filter {cond}: {got} rows, input has {want}"
    return (f"{n} rows at v26 identical (checkpoints 5..25, versionAsOf 2/12, DESCRIBE HISTORY 27 versions); "
            f"Spark append v27 read by fhirlake; fhirlake v28-30 (+checkpoint) read by Spark: {len(final)} rows, {len(probes)} filtered counts exact")


def _to_spark_wide(w):
    return (w["id"], w["n"], float(w["x"]), w["ok"], datetime.date.fromisoformat(w["d"]),
            None if w["ts"] is None else datetime.datetime.strptime(w["ts"], "%Y-%m-%dT%H:%M:%S.%fZ"),
            None if w["amt"] is None else decimal.Decimal(w["amt"]), w["tags"],
            None if w["addr"] is None else (w["addr"]["city"], w["addr"]["zip"]), w["day"])


def patients(n=None):
    with gzip.open(os.path.join(BULK, "Patient.000.ndjson.gz"), "rt") as f:
        rows = [json.loads(x) for x in f.read().splitlines() if x.strip()]
    return rows if n is None else rows[:n]


def view(name, cols):
    return {"resourceType": "ViewDefinition", "name": name, "status": "active", "resource": "Patient",
            "select": [{"column": [{"name": c, "path": p, "type": t} for c, p, t in cols]}]}


def fl_evolution():
    to = os.path.join(WORK, "evo")
    shutil.rmtree(to, ignore_errors=True)
    pats = patients()
    a, b = os.path.join(WORK, "evo_a.ndjson"), os.path.join(WORK, "evo_b.ndjson")
    write_ndjson(a, pats[:60])
    write_ndjson(b, pats[60:])
    base = [("id", "getResourceKey()", "id"), ("gender", "gender", "code")]
    v1, v2 = os.path.join(WORK, "evo_v1.json"), os.path.join(WORK, "evo_v2.json")
    json.dump(view("evo", base), open(v1, "w"))
    json.dump(view("evo", base + [("birth_date", "birthDate", "date")]), open(v2, "w"))
    run("export", "--view", v1, "--input", a, "--to", to, "--threads", "2", "-q")
    path = os.path.join(to, "evo")
    before = [f.name for f in spark.read.format("delta").load(path).schema.fields]
    run("export", "--view", v2, "--input", b, "--to", to, "--threads", "2", "-q")
    df = spark.read.format("delta").load(path)
    cols = [f.name for f in df.schema.fields]
    assert "birth_date" not in before and "birth_date" in cols, f"schema before {before}, after {cols}"
    assert dict((f.name, f.nullable) for f in df.schema.fields)["birth_date"], "added column not nullable"
    theirs = [r.asDict(recursive=True) for r in df.collect()]
    n = same_rows("evolved", theirs, fl_rows(path))
    nulls = sum(1 for r in theirs if r["birth_date"] is None)
    want_null = sum(1 for p in pats[:60]) + sum(1 for p in pats[60:] if "birthDate" not in p)
    assert n == len(pats) and nulls == want_null, f"{n} rows, {nulls} null birth_date (wanted {len(pats)}, {want_null})"
    old = spark.read.format("delta").option("versionAsOf", fl_show(path)["version"] - 1).load(path)
    assert "birth_date" not in old.columns and old.count() == 60
    return f"{before} -> {cols}; {n} rows identical, {nulls} old rows null; pre-evolution version has 60 rows"


def fl_merge():
    to = os.path.join(WORK, "merge")
    shutil.rmtree(to, ignore_errors=True)
    pv = os.path.join(VIEWS, "patients.json")
    run("export", "--view", pv, "--input", BULK, "--to", to, "--mode", "merge", "--threads", "2", "-q")
    path = os.path.join(to, "patients")
    pats = patients(3)
    a_new = dict(pats[0], gender="unknown", meta={"lastUpdated": "2030-02-01T00:00:00Z"})
    b_new = dict(pats[1], gender="other", meta={"lastUpdated": "2030-01-05T00:00:00Z"})
    brand = dict(pats[2], id="spark-new-1", meta={"lastUpdated": "2030-01-01T00:00:00Z"})
    inc = os.path.join(WORK, "merge_inc.ndjson")
    write_ndjson(inc, [a_new, b_new, brand])
    run("export", "--view", pv, "--input", inc, "--to", to, "--mode", "merge", "--threads", "2", "-q")
    theirs = sp_rows(path)
    n = same_rows("merged", theirs, fl_rows(path))
    ids = [r["id"] for r in theirs]
    assert len(ids) == len(set(ids)) == 101, f"{len(ids)} rows, {len(set(ids))} ids (wanted 101 unique)"
    by = {r["id"]: r for r in theirs}
    assert by[pats[0]["id"]]["gender"] == "unknown" and by[pats[1]["id"]]["gender"] == "other", "merge lost an update"
    assert "spark-new-1" in by
    hist = sql(f"DESCRIBE HISTORY delta.`{path}`")
    ops = sorted((h["version"], h["operation"]) for h in hist)
    assert [v for v, _ in ops] == list(range(fl_show(path)["version"] + 1)), ops
    return f"{n} rows identical, updates and insert visible; DESCRIBE HISTORY {ops}"


def fl_spark_ops():
    """Spark's MERGE INTO, ADD COLUMNS, OPTIMIZE and VACUUM on a fhirlake table; fhirlake follows."""
    path = os.path.join(WORK, "fl_ops")
    shutil.rmtree(path, ignore_errors=True)
    schema = {"type": "struct", "fields": [
        {"name": "id", "type": "long", "nullable": False, "metadata": {}},
        {"name": "v", "type": "string", "nullable": True, "metadata": {}},
        {"name": "p", "type": "string", "nullable": True, "metadata": {}}]}
    laps, t0 = [], time.time()

    def lap(what):
        nonlocal t0
        laps.append(f"{what} {time.time() - t0:.0f}s")
        t0 = time.time()
    run("table", "create", path, "--schema", json.dumps(schema), "--partition-by", "p")
    want = {}
    for b in range(4):
        rows = [{"id": b * 10 + j, "v": f"v{b}-{j}", "p": f"p{j % 2}"} for j in range(10)]
        nd = os.path.join(WORK, f"ops{b}.ndjson")
        write_ndjson(nd, rows)
        run("table", "append", path, nd)
        want.update({r["id"]: dict(r) for r in rows})
    # MERGE INTO: update ids 5..14, insert 100..104
    src = [(k, f"m{k}", f"p{k % 2}") for k in list(range(5, 15)) + list(range(100, 105))]
    spark.createDataFrame(src, "id long, v string, p string").createOrReplaceTempView("src")
    sql(f"MERGE INTO delta.`{path}` t USING src s ON t.id = s.id "
        f"WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN INSERT *")
    for k, v, p in src:
        want[k] = {"id": k, "v": v, "p": p}
    lap("merge")
    same_rows("after Spark MERGE", fl_rows(path), list(want.values()), an="fhirlake", bn="expected")
    # Spark adds a column; fhirlake appends rows that fill it
    sql(f"ALTER TABLE delta.`{path}` ADD COLUMNS (note string)")
    for r in want.values():
        r["note"] = None
    nd = os.path.join(WORK, "ops_note.ndjson")
    extra = [{"id": 200 + j, "v": f"n{j}", "p": "p1", "note": f"note{j}"} for j in range(3)]
    write_ndjson(nd, extra)
    run("table", "append", path, nd)
    want.update({r["id"]: r for r in extra})
    same_rows("after Spark ADD COLUMNS + fhirlake append", sp_rows(path), list(want.values()), bn="expected")
    lap("add-columns")
    nfiles = len(run("table", "files", path).stdout.splitlines())
    sql(f"OPTIMIZE delta.`{path}`")
    after = len(run("table", "files", path).stdout.splitlines())
    assert after < nfiles, f"OPTIMIZE: {nfiles} -> {after} files"
    lap("optimize")
    sql(f"VACUUM delta.`{path}` RETAIN 0 HOURS")
    lap("vacuum")
    on_disk = [q for q in glob.glob(os.path.join(path, "**", "*.parquet"), recursive=True) if "_delta_log" not in q]
    assert len(on_disk) == after, f"VACUUM left {len(on_disk)} data files, {after} live"
    n = same_rows("after OPTIMIZE + VACUUM", fl_rows(path), list(want.values()), an="fhirlake", bn="expected")
    same_rows("after OPTIMIZE + VACUUM", sp_rows(path), fl_rows(path))
    hist = [h["operation"] for h in sorted(sql(f"DESCRIBE HISTORY delta.`{path}`"), key=lambda h: h["version"])]
    ours = [json.loads(x)["operation"] for x in run("table", "history", path).stdout.splitlines() if x.strip()][::-1]
    assert hist == ours, f"DESCRIBE HISTORY {hist} vs fhirlake history {ours}; {', '.join(laps)}"
    return f"MERGE INTO, ADD COLUMNS (+ fhirlake append), OPTIMIZE ({nfiles} -> {after} files), VACUUM: {n} rows identical; history {ours}; {', '.join(laps)}"


def fl_lifecycle():
    lc = delta_lifecycle.Lifecycle(FL, WORK)
    tt = []

    def before_vacuum(path, version, expected):
        theirs = sp_rows(path, version)
        same_rows(f"versionAsOf {version} vs show --version", theirs, lc.show(version))
        tt.append(f"v{version} {same_rows(f'versionAsOf {version} vs expected', theirs, list(expected.values()), bn='expected')} rows")

    exp = lc.build(before_vacuum)
    theirs = sp_rows(lc.path)
    same_rows("v30 after vacuum vs show", theirs, lc.show())
    n = same_rows("v30 after vacuum vs expected", theirs, list(exp.values()), bn="expected")
    ops = [h["operation"] for h in sorted(sql(f"DESCRIBE HISTORY delta.`{lc.path}`"), key=lambda h: h["version"])]
    assert len(ops) == 31 and ops.count("MERGE") == 2 and "OPTIMIZE" in ops, f"DESCRIBE HISTORY {ops}"
    assert "note" in spark.read.format("delta").load(lc.path).columns
    return f"{n} rows == table show == expected; versionAsOf {', '.join(tt)} before vacuum; history {len(ops)} versions; {lc.log[-1]}"


def fl_merge_partitioned():
    """`table merge` on a table partitioned by string + date: Spark finds every row in the
    right partition (moved row, null partition value) and prunes by the new partition."""
    path = os.path.join(WORK, "pmerge")
    shutil.rmtree(path, ignore_errors=True)
    schema = {"type": "struct", "fields": [
        {"name": "id", "type": "long", "nullable": False, "metadata": {}},
        {"name": "v", "type": "string", "nullable": True, "metadata": {}},
        {"name": "p", "type": "string", "nullable": True, "metadata": {}},
        {"name": "dd", "type": "date", "nullable": True, "metadata": {}}]}
    run("table", "create", path, "--schema", json.dumps(schema), "--partition-by", "p,dd")
    exp = {}
    for b in range(4):
        rows = [{"id": b * 10 + i, "v": "old", "p": f"p{b}", "dd": f"2024-01-0{1 + b}"} for i in range(5)]
        nd = os.path.join(WORK, f"pm{b}.ndjson")
        write_ndjson(nd, rows)
        run("table", "append", path, nd)
        exp.update({r["id"]: r for r in rows})
    ups = [{"id": 1, "v": "new", "p": "p0", "dd": "2024-01-01"},
           {"id": 12, "v": "moved", "p": "p9", "dd": "2024-02-29"},
           {"id": 99, "v": "ins", "p": None, "dd": "2024-03-01"}]
    nd, dl = os.path.join(WORK, "pm_up.ndjson"), os.path.join(WORK, "pm_del.ndjson")
    write_ndjson(nd, ups)
    write_ndjson(dl, [{"id": 23}])
    out = run("table", "merge", path, "--input", nd, "--key", "id", "--delete-input", dl).stdout
    exp.update({r["id"]: r for r in ups})
    del exp[23]
    theirs = sp_rows(path)
    same_rows("partitioned merge vs show", theirs, fl_rows(path))
    n = same_rows("partitioned merge vs expected", theirs, list(exp.values()), bn="expected")
    df = spark.read.format("delta").load(path)
    k = df.where("p = 'p9' and dd = date'2024-02-29'").count()
    z = df.where("p is null").collect()
    assert k == 1 and len(z) == 1 and z[0]["id"] == 99, (k, z)
    return f"{n} rows == table show == expected; pruned reads find the moved row and the null partition; {out.strip()}"


# ---------------------------------------------------------------- Spark -> fhirlake

SP_SCHEMA = T.StructType([
    T.StructField("id", T.LongType(), False),
    T.StructField("name", T.StringType(), True),
    T.StructField("x", T.DoubleType(), True),
    T.StructField("ts", T.TimestampType(), True),
    T.StructField("d", T.DateType(), True),
    T.StructField("amt", T.DecimalType(10, 2), True),
    T.StructField("tags", T.ArrayType(T.StringType(), True), True),
    T.StructField("s", T.StructType([T.StructField("a", T.StringType(), True),
                                     T.StructField("b", T.IntegerType(), True)]), True),
    T.StructField("part", T.StringType(), True),
    T.StructField("yr", T.IntegerType(), True),
])


def sp_gen(lo, n):
    out = []
    for k in range(lo, lo + n):
        out.append((k, None if k % 9 == 0 else f"name-{k}", k * 0.5,
                    None if k % 4 == 0 else datetime.datetime(2024, 1 + k % 12, 1 + k % 28, k % 24, k % 60, k % 60, (k * 1013) % 1000000),
                    datetime.date(2020 + k % 5, 1 + k % 12, 1 + k % 28),
                    None if k % 6 == 0 else decimal.Decimal(f"{k}.{k % 100:02d}"),
                    None if k % 5 == 0 else [f"t{j}" for j in range(k % 3)],
                    None if k % 7 == 0 else (f"s{k % 3}", k), f"p{k % 3}", 2020 + k % 2))
    return out


def fl_ndjson_rows(lo, n):
    """The same rows as sp_gen, as NDJSON for `fhirlake table append`."""
    out = []
    for t in sp_gen(lo, n):
        r = dict(zip([f.name for f in SP_SCHEMA.fields], t))
        r["ts"] = None if r["ts"] is None else r["ts"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        r["d"] = r["d"].isoformat()
        r["amt"] = None if r["amt"] is None else str(r["amt"])
        r["s"] = None if r["s"] is None else {"a": r["s"][0], "b": r["s"][1]}
        out.append(r)
    return out


def fl_append_then_spark(path, lo, n, *extra_read):
    """fhirlake appends n rows; Spark and fhirlake then read the same rows."""
    nd = os.path.join(WORK, os.path.basename(path) + "_fl.ndjson")
    write_ndjson(nd, fl_ndjson_rows(lo, n))
    before = len(fl_rows(path, *extra_read))
    run("table", "append", path, nd)
    theirs = sp_rows(path)
    same_rows("after fhirlake append", theirs, fl_rows(path, *extra_read))
    assert len(theirs) == before + n, f"Spark reads {len(theirs)} rows after append, wanted {before + n}"
    got = {r["id"] for r in theirs}
    assert all(k in got for k in range(lo, lo + n))
    return len(theirs)


def sp_plain():
    path = os.path.join(WORK, "sp_plain")
    shutil.rmtree(path, ignore_errors=True)
    spark.createDataFrame(sp_gen(0, 50), SP_SCHEMA).write.format("delta").mode("overwrite").save(path)
    spark.createDataFrame(sp_gen(50, 30), SP_SCHEMA).write.format("delta").mode("append").save(path)
    n = same_rows("spark-written", sp_rows(path), fl_rows(path))
    assert n == 80 and fl_show(path)["version"] == 1
    m = fl_append_then_spark(path, 1000, 7)
    return f"{n} rows identical; fhirlake append -> Spark reads {m} rows"


def sp_partitioned():
    path = os.path.join(WORK, "sp_part")
    shutil.rmtree(path, ignore_errors=True)
    w = spark.createDataFrame(sp_gen(0, 60), SP_SCHEMA).write.format("delta").partitionBy("part", "yr")
    w.mode("overwrite").save(path)
    spark.createDataFrame(sp_gen(60, 20), SP_SCHEMA).write.format("delta").partitionBy("part", "yr").mode("append").save(path)
    s = fl_show(path)
    assert s["partitionColumns"] == ["part", "yr"], s["partitionColumns"]
    n = same_rows("spark-partitioned", sp_rows(path), fl_rows(path))
    m = fl_append_then_spark(path, 2000, 9)
    # Spark's partition pruning finds fhirlake's files
    k = spark.read.format("delta").load(path).where("part = 'p1' and yr = 2021").count()
    want = sum(1 for r in fl_rows(path) if r["part"] == "p1" and r["yr"] == 2021)
    assert k == want and k > 0, (k, want)
    return f"{n} rows identical (partitions part,yr); fhirlake append -> Spark reads {m}; pruned read {k} rows"


def sp_checkpoint():
    path = os.path.join(WORK, "sp_cp")
    shutil.rmtree(path, ignore_errors=True)
    sql(f"CREATE TABLE delta.`{path}` (id BIGINT, name STRING, part STRING) USING delta "
        f"PARTITIONED BY (part) TBLPROPERTIES ('delta.checkpointInterval'='3')")
    for i in range(7):
        sql(f"INSERT INTO delta.`{path}` VALUES " + ", ".join(f"({i * 10 + j}, 'n{i}-{j}', 'p{j % 2}')" for j in range(5)))
    sql(f"DELETE FROM delta.`{path}` WHERE id = 11")  # a remove (no DVs on this table)
    logd = os.path.join(path, "_delta_log")
    cps = sorted(int(os.path.basename(p)[:20]) for p in glob.glob(os.path.join(logd, "*.checkpoint*.parquet")))
    assert cps and cps[-1] == 6, f"Spark checkpoints {cps}"
    s = fl_show(path)
    assert s["version"] == 8, s["version"]
    n = same_rows("spark checkpoint", sp_rows(path), fl_rows(path))
    assert n == 34
    nd = os.path.join(WORK, "sp_cp.ndjson")
    write_ndjson(nd, [{"id": 500 + j, "name": f"fl{j}", "part": f"p{j % 2}"} for j in range(4)])
    run("table", "append", path, nd)
    theirs = sp_rows(path)
    same_rows("after fhirlake append", theirs, fl_rows(path))
    assert len(theirs) == 38
    return f"Spark checkpoints {cps}; v8 {n} rows identical; fhirlake append (v9) -> Spark reads {len(theirs)}"


def sp_dv():
    path = os.path.join(WORK, "sp_dv")
    shutil.rmtree(path, ignore_errors=True)
    sql(f"CREATE TABLE delta.`{path}` (id BIGINT, name STRING, amt DECIMAL(10,2)) USING delta "
        f"TBLPROPERTIES ('delta.enableDeletionVectors'='true')")
    spark.range(0, 300, numPartitions=1).selectExpr("id", "concat('n', id) as name",
                                                    "cast(id / 4 as decimal(10,2)) as amt") \
        .write.format("delta").mode("append").save(path)
    sql(f"DELETE FROM delta.`{path}` WHERE id % 7 = 0")
    files = [json.loads(x) for x in run("table", "files", path, "--version", "2", check=None).stdout.splitlines() if x.strip()]
    log = open(os.path.join(path, "_delta_log", f"{2:020d}.json")).read()
    assert "deletionVector" in log, "Spark's DELETE did not write a deletion vector"
    p = run("table", "cat", path, check=None)
    assert p.returncode != 0 and refusal_names(p.stderr, "deletionVectors"), \
        f"cat without --read-dv: rc {p.returncode}, {p.stderr.strip()[:200]}"
    theirs = sp_rows(path)
    n = same_rows("DV table", theirs, fl_rows(path, "--read-dv"))
    s = fl_show(path, "--read-dv")
    assert n == 300 - 43 and s.get("numLiveRecords") == n, (n, s.get("numLiveRecords"), s.get("numDeletedRows"))
    nd = os.path.join(WORK, "sp_dv.ndjson")
    write_ndjson(nd, [{"id": 1000 + j, "name": f"fl{j}", "amt": f"{j}.25"} for j in range(5)])
    p = run("table", "append", path, nd, check=None)
    if p.returncode != 0:
        assert refusal_names(p.stderr, "deletionVectors"), f"append refused without naming the feature: {p.stderr.strip()}"
        assert len(sp_rows(path)) == n
        return f"{n} live rows identical with --read-dv ({len(files)} files); append refused: {p.stderr.strip()[:120]}"
    theirs = sp_rows(path)
    same_rows("DV table after fhirlake append", theirs, fl_rows(path, "--read-dv"))
    assert len(theirs) == n + 5, len(theirs)
    return (f"{n} live rows identical with --read-dv (refused without it); fhirlake append -> Spark reads "
            f"{len(theirs)} (DV kept)")


def sp_colmap():
    path = os.path.join(WORK, "sp_cm")
    shutil.rmtree(path, ignore_errors=True)
    sql(f"CREATE TABLE delta.`{path}` (id BIGINT, name STRING, part STRING) USING delta PARTITIONED BY (part) "
        f"TBLPROPERTIES ('delta.columnMapping.mode'='name')")
    sql(f"INSERT INTO delta.`{path}` VALUES " + ", ".join(f"({j}, 'n{j}', 'p{j % 2}')" for j in range(20)))
    sql(f"ALTER TABLE delta.`{path}` RENAME COLUMN name TO full_name")
    sql(f"ALTER TABLE delta.`{path}` RENAME COLUMN part TO region")
    sql(f"INSERT INTO delta.`{path}` VALUES " + ", ".join(f"({j}, 'm{j}', 'p{j % 2}')" for j in range(20, 30)))
    theirs = sp_rows(path)
    assert set(theirs[0]) == {"id", "full_name", "region"}, theirs[0]
    p = run("table", "cat", path, check=None)
    plain = "refused" if p.returncode != 0 and refusal_names(p.stderr, "columnMapping") else \
        f"rc {p.returncode}: {p.stderr.strip()[:150]}"
    assert plain == "refused", f"cat without --read-dv on a column-mapped table: {plain}"
    n = same_rows("column mapping", theirs, fl_rows(path, "--read-dv"))
    assert n == 30
    v = fl_show(path, "--read-dv")["version"]
    nd = os.path.join(WORK, "sp_cm.ndjson")
    write_ndjson(nd, [{"id": 100, "full_name": "fl", "region": "p0"}])
    p = run("table", "append", path, nd, check=None)
    assert p.returncode != 0 and refusal_names(p.stderr, "columnMapping"), \
        f"append to a column-mapped table: rc {p.returncode} {p.stderr.strip()[:200]} {p.stdout.strip()[:100]}"
    assert fl_show(path, "--read-dv")["version"] == v
    same_rows("column mapping after refused append", sp_rows(path), theirs, bn="spark before")
    return f"{n} rows identical after 2 renames (--read-dv); append refused: {p.stderr.strip()[:140]}"


# ---------------------------------------------------------------- export end to end

def export_bulk():
    to = os.path.join(WORK, "export")
    shutil.rmtree(to, ignore_errors=True)
    args = []
    for v in VIEW_NAMES:
        args += ["--view", os.path.join(VIEWS, v + ".json")]
    run("export", *args, "--input", BULK, "--to", to, "--threads", "2", "-q")
    ndjson = sorted(glob.glob(os.path.join(BULK, "*.ndjson.gz")))
    counts = []
    for v in VIEW_NAMES:
        path = os.path.join(to, v)
        p = run("run", "--view", os.path.join(VIEWS, v + ".json"), *ndjson)
        want = len([x for x in p.stdout.splitlines() if x.strip()])
        theirs = sp_rows(path)
        n = same_rows(v, theirs, fl_rows(path))
        s = fl_show(path)
        assert n == want == s["numRecords"], f"{v}: Spark {n}, fhirlake run {want}, numRecords {s['numRecords']}"
        assert want > 0
        counts.append(f"{v}={n}")
    return "Spark rows == fhirlake rows, counts == fhirlake run: " + ", ".join(counts)


case("fl-appends", fl_appends)
case("fl-evolution", fl_evolution)
case("fl-merge", fl_merge)
case("fl-lifecycle", fl_lifecycle)
case("fl-merge-partitioned", fl_merge_partitioned)
case("fl-spark-ops", fl_spark_ops)
case("sp-plain", sp_plain)
case("sp-partitioned", sp_partitioned)
case("sp-checkpoint", sp_checkpoint)
case("sp-dv", sp_dv)
case("sp-colmap", sp_colmap)
case("export-bulk", export_bulk)
spark.stop()
print(f"{len(failures)} failures ({time.time() - T0:.0f}s)")
sys.exit(1 if failures else 0)
