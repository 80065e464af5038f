#!/usr/bin/env python3
"""peers.py CSV DIR [fhirlake.jsonl] - write the benchmark rows with pyarrow and DuckDB
(single thread) and print one JSON line per tool/codec, then a comparison table with the
fhirlake lines. The CSV (from bench_parquet_write --csv) is loaded untimed into an Arrow
table (timestamps, dates, DECIMAL(18,4), list<string> rebuilt exactly); only writing the
Parquet file is timed. CPU seconds (process time) are the primary figure because the
benchmark box is shared; wall seconds are printed too."""
import decimal
import json
import os
import sys
import time

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

csv_path, out_dir = sys.argv[1], sys.argv[2]
pa.set_cpu_count(1)
pa.set_io_thread_count(1)

types = {"id": pa.string(), "subject": pa.string(), "status": pa.string(), "code": pa.string(), "unit": pa.string(),
         "note": pa.string(), "effective_us": pa.int64(), "issued_days": pa.int32(), "value_dec": pa.int64(),
         "value": pa.float64(), "count": pa.int64(), "category": pa.string()}
raw = pcsv.read_csv(csv_path, convert_options=pcsv.ConvertOptions(column_types=types, strings_can_be_null=True,
                                                                  quoted_strings_can_be_null=False))
tbl = pa.table({
    "id": raw["id"], "subject": raw["subject"], "status": raw["status"], "code": raw["code"], "unit": raw["unit"],
    "note": raw["note"],
    "effective": pc.cast(raw["effective_us"], pa.timestamp("us", tz="UTC")),
    "issued": pc.cast(raw["issued_days"], pa.date32()),
    "value_dec": pa.chunked_array([pa.array([decimal.Decimal(v).scaleb(-4) for v in ch.to_pylist()], pa.decimal128(18, 4))
                      for ch in raw["value_dec"].chunks]),
    "value": raw["value"], "count": raw["count"],
    "category": pc.split_pattern(raw["category"], "|"),
})
csv_bytes = os.path.getsize(csv_path)
rows = tbl.num_rows
results = []


def emit(tool, codec, wall, cpu, path):
    r = {"tool": tool, "codec": codec, "rows": rows, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
         "rows_per_s": round(rows / cpu), "mb_per_s": round(csv_bytes / cpu / 1e6, 1), "file_bytes": os.path.getsize(path)}
    results.append(r)
    print(json.dumps(r), flush=True)


for codec in ["snappy", "zstd"]:
    path = os.path.join(out_dir, f"pyarrow_{codec}.parquet")
    kw = dict(compression=codec)
    if codec == "zstd":
        kw["compression_level"] = 3
    w0, c0 = time.perf_counter(), time.process_time()
    pq.write_table(tbl, path, **kw)
    emit("pyarrow", codec, time.perf_counter() - w0, time.process_time() - c0, path)

con = duckdb.connect()
con.execute("SET threads=1")
con.register("arrow_tbl", tbl)
con.execute("CREATE TABLE t AS SELECT * FROM arrow_tbl")
for codec in ["snappy", "zstd"]:
    path = os.path.join(out_dir, f"duckdb_{codec}.parquet")
    lvl = ", COMPRESSION_LEVEL 3" if codec == "zstd" else ""
    w0, c0 = time.perf_counter(), time.process_time()
    con.execute(f"COPY t TO '{path}' (FORMAT parquet, COMPRESSION {codec}, ROW_GROUP_SIZE 1048576{lvl})")
    emit("duckdb", codec, time.perf_counter() - w0, time.process_time() - c0, path)

# the same rows must come out of every file
ref = pq.read_table(os.path.join(out_dir, "pyarrow_snappy.parquet"))
for name in sorted(os.listdir(out_dir)):
    if name.startswith("fhirlake_") and name.endswith(".parquet"):
        got = pq.read_table(os.path.join(out_dir, name)).cast(ref.schema)  # names of list items, nullability
        if not got.equals(ref):
            print(f"MISMATCH: {name} differs from pyarrow's rows", file=sys.stderr)
            sys.exit(1)

if len(sys.argv) > 3:
    with open(sys.argv[3]) as fh:
        fl = [json.loads(line) for line in fh if line.strip()]
    print()
    print(f"{'codec':7} {'tool':9} {'rows/s':>10} {'MB/s':>7} {'file MB':>8} {'cpu s':>6} {'wall s':>7}"
          f" {'speed vs duckdb':>16} {'size vs duckdb':>15} {'speed vs pyarrow':>17} {'size vs pyarrow':>16}")
    for codec in ["snappy", "zstd"]:
        by = {r["tool"]: r for r in results + fl if r["codec"] == codec}
        for tool in ["fhirlake", "duckdb", "pyarrow"]:
            r = by.get(tool)
            if not r:
                continue
            d, p = by.get("duckdb"), by.get("pyarrow")
            print(f"{codec:7} {tool:9} {r['rows_per_s']:>10,} {r['mb_per_s']:>7} {r['file_bytes'] / 1e6:>8.1f}"
                  f" {r['cpu_s']:>6.2f} {r['wall_s']:>7.2f}"
                  f" {r['rows_per_s'] / d['rows_per_s']:>15.2f}x {r['file_bytes'] / d['file_bytes']:>14.3f}x"
                  f" {r['rows_per_s'] / p['rows_per_s']:>16.2f}x {r['file_bytes'] / p['file_bytes']:>15.3f}x")
