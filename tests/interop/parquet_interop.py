#!/usr/bin/env python3
"""parquet_interop.py - fhirlake's Parquet writer and reader against pyarrow and DuckDB.

  written DIR            files fhirlake wrote (with <name>.jsonl = the source rows) are read
                         by pyarrow and DuckDB and must equal the source rows; statistics
                         must match the data (pyarrow) and be visible to DuckDB.
  read FHIRLAKE DIR      pyarrow writes files of the supported subset into DIR;
                         `fhirlake parquet cat` must print the same rows pyarrow reads.
  testing FHIRLAKE DATA  parquet-testing files: every file pyarrow reads is compared with
                         fhirlake's reading (except the documented list); the refused list
                         must fail with a clean message; every bad_data file must fail
                         cleanly (exit 1, no crash).

Rows are compared in a canonical JSON form (see fl_pq_format_row in parquet.h):
timestamps/dates/times as raw integers, decimals as strings, binary as "0x<hex>",
NaN/inf as strings, maps as [[k, v], ...].
"""
import decimal
import glob
import json
import math
import os
import struct
import subprocess
import sys

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

FAIL = []


def fail(msg):
    FAIL.append(msg)
    print("FAIL:", msg, file=sys.stderr)


# ---------------------------------------------------------------- canonical form

def norm_type(t):
    if isinstance(t, pa.ExtensionType):
        return norm_type(t.storage_type)
    if pa.types.is_timestamp(t) or pa.types.is_date64(t) or pa.types.is_time64(t) or pa.types.is_duration(t):
        return pa.int64()
    if pa.types.is_date32(t) or pa.types.is_time32(t):
        return pa.int32()
    if pa.types.is_dictionary(t):
        return norm_type(t.value_type)
    if pa.types.is_struct(t):
        return pa.struct([pa.field(t.field(i).name, norm_type(t.field(i).type)) for i in range(t.num_fields)])
    if pa.types.is_map(t):
        return pa.map_(norm_type(t.key_type), norm_type(t.item_type))
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return pa.list_(norm_type(t.value_type))
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    return t


def fmt_decimal(d, scale):
    with decimal.localcontext() as ctx:
        ctx.prec = 200
        unscaled = int(d.scaleb(scale))
    neg = unscaled < 0
    digits = str(abs(unscaled))
    if scale > 0:
        digits = digits.rjust(scale + 1, "0")
        digits = digits[:-scale] + "." + digits[-scale:]
    return ("-" if neg else "") + digits


def canon(v, t):
    if v is None:
        return None
    if isinstance(t, pa.ExtensionType):
        t = t.storage_type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_decimal(t):
        return fmt_decimal(v, t.scale)
    if pa.types.is_float16(t):
        return "0x" + struct.pack("<e", float(v)).hex()
    if pa.types.is_floating(t):
        v = float(v)
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return v
    if pa.types.is_binary(t) or pa.types.is_fixed_size_binary(t) or pa.types.is_large_binary(t):
        return "0x" + bytes(v).hex()
    if pa.types.is_struct(t):
        return {t.field(i).name: canon(v.get(t.field(i).name), t.field(i).type) for i in range(t.num_fields)}
    if pa.types.is_map(t):
        return [[canon(k, t.key_type), canon(x, t.item_type)] for k, x in v]
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return [canon(x, t.value_type) for x in v]
    return v


def canon_table(tbl):
    cols = []
    for i, f in enumerate(tbl.schema):
        col = tbl.column(i)
        nt = norm_type(f.type)
        if pa.types.is_float16(f.type):  # compare raw bits (NaN payloads survive)
            bits = [None if c is None else "0x" + struct.pack("<H", c).hex()
                    for c in pa.chunked_array([ch.view(pa.uint16()) for ch in col.chunks], pa.uint16()).to_pylist()]
            cols.append((f.name, pa.string(), bits))
            continue
        if nt != f.type:
            if isinstance(f.type, pa.ExtensionType):
                col = pa.chunked_array([c.storage for c in col.chunks], type=f.type.storage_type)
            col = col.cast(nt) if col.type != nt else col
        cols.append((f.name, nt, col.to_pylist()))
    rows = []
    for r in range(tbl.num_rows):
        rows.append({name: canon(vals[r], nt) for name, nt, vals in cols})
    return rows


def same(a, b):
    """Deep equality where 0 == -0.0 == 0 and ints equal floats of the same value."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or (type(a) is type(b) and a == b)
    return a == b


def compare(label, want, got):
    if len(want) != len(got):
        fail(f"{label}: {len(want)} rows expected, {len(got)} read")
        return False
    for i, (w, g) in enumerate(zip(want, got)):
        if not same(w, g):
            fail(f"{label}: row {i} differs\n  want {json.dumps(w)[:800]}\n  got  {json.dumps(g)[:800]}")
            return False
    return True


def duck_table(path):
    con = duckdb.connect()
    con.execute("SET threads=1")
    return con.sql(f"SELECT * FROM read_parquet('{path}')").to_arrow_table()


# ---------------------------------------------------------------- written by fhirlake

def check_written(d):
    files = sorted(glob.glob(os.path.join(d, "*.parquet")))
    if not files:
        fail(f"no files in {d}")
    nduck = 0
    for f in files:
        name = os.path.basename(f)[:-8]
        with open(os.path.join(d, name + ".jsonl")) as fh:
            want = [json.loads(line) for line in fh]
        try:
            tbl = pq.read_table(f)
            compare(f"pyarrow {name}", want, canon_table(tbl))
        except Exception as e:  # noqa: BLE001
            fail(f"pyarrow cannot read {name}: {e}")
            continue
        md = pq.ParquetFile(f).metadata
        if not md.created_by.startswith("fhirlake version "):
            fail(f"{name}: created_by is {md.created_by!r}")
        try:
            compare(f"duckdb {name}", want, canon_table(duck_table(f)))
            nduck += 1
        except Exception as e:  # noqa: BLE001
            fail(f"duckdb cannot read {name}: {e}")
        if name.startswith("flat_"):
            check_stats(f, name)
    print(f"written: {len(files)} files read by pyarrow, {nduck} by DuckDB")


def check_stats(f, name):
    """pyarrow's view of our statistics must match the data of each row group; DuckDB must
    see the same min/max in parquet_metadata() and prune with them."""
    pf = pq.ParquetFile(f)
    md = pf.metadata
    checked = 0
    for rg in range(md.num_row_groups):
        data = pf.read_row_group(rg)
        for ci in range(md.num_columns):
            col = md.row_group(rg).column(ci)
            st = col.statistics
            arr = data.column(col.path_in_schema)
            nulls = arr.null_count
            if norm_type(arr.type) != arr.type:
                arr = arr.cast(norm_type(arr.type))
            if st is None or not st.has_null_count or st.null_count != nulls:
                fail(f"{name} rg {rg} {col.path_in_schema}: null_count {st and st.null_count} != {nulls}")
                continue
            t = arr.type
            vals = arr.drop_null()
            if pa.types.is_floating(t):
                vals = vals.filter(pc.invert(pc.is_nan(vals)))
            if len(vals) == 0:
                continue
            if not st.has_min_max:
                fail(f"{name} rg {rg} {col.path_in_schema}: no min/max")
                continue
            if pa.types.is_binary(t) or pa.types.is_fixed_size_binary(t) or pa.types.is_string(t):
                py = vals.to_pylist()
                if pa.types.is_string(t):
                    py = [s.encode() for s in py]
                lo, hi = min(py), max(py)
                smin, smax = st.min, st.max
                if isinstance(smin, str):
                    smin, smax = smin.encode(), smax.encode()
                if pa.types.is_decimal(t):
                    lo, hi = min(vals.to_pylist()), max(vals.to_pylist())
                else:
                    # values longer than 1 KiB are truncated in the footer (exact=false):
                    # the min is a prefix of the true min, the max sorts after the true max
                    if len(lo) > 1024 and lo.startswith(smin) and len(smin) <= 1024:
                        lo = smin
                    if len(hi) > 1024 and smax > hi and len(smax) <= 1024:
                        hi = smax
            elif pa.types.is_decimal(t):
                lo, hi = min(vals.to_pylist()), max(vals.to_pylist())
                smin, smax = st.min, st.max
            else:
                mm = pc.min_max(vals)
                lo, hi = mm["min"].as_py(), mm["max"].as_py()
                if pa.types.is_unsigned_integer(t) or pa.types.is_boolean(t) or pa.types.is_floating(t):
                    smin, smax = st.min, st.max
                else:  # dates/timestamps: physical values (logical ones may not fit datetime)
                    smin, smax = st.min_raw, st.max_raw
            if smin != lo or smax != hi:
                fail(f"{name} rg {rg} {col.path_in_schema}: stats [{smin!r:.80}, {smax!r:.80}] != data [{lo!r:.80}, {hi!r:.80}]")
            checked += 1
    con = duckdb.connect()
    n = con.execute(f"SELECT count(*) FROM parquet_metadata('{f}') WHERE stats_min_value IS NOT NULL AND stats_max_value IS NOT NULL").fetchone()[0]
    if n == 0:
        fail(f"{name}: DuckDB sees no min/max statistics")
    # pruning: a filter above every row group's max reads zero rows and must agree with the data
    mx = con.execute(f"SELECT max(i64) FROM read_parquet('{f}')").fetchone()[0]
    cnt = con.execute(f"SELECT count(*) FROM read_parquet('{f}') WHERE i64 >= {mx}").fetchone()[0]
    want = pc.sum(pc.greater_equal(pq.read_table(f, columns=["i64"]).column(0), mx)).as_py()
    if cnt != want:
        fail(f"{name}: DuckDB filter count {cnt} != {want}")
    if checked == 0:
        fail(f"{name}: no statistics checked")


# ---------------------------------------------------------------- read by fhirlake

def fhirlake_rows(fhirlake, path, extra=()):
    p = subprocess.run([fhirlake, "parquet", "cat", *extra, path], capture_output=True, text=True)
    if p.returncode != 0:
        return None, p.stderr.strip()
    return [json.loads(line) for line in p.stdout.splitlines()], None


def pyarrow_files(d):
    """Tables pyarrow writes for the reader test: (name, table, write kwargs)."""
    n = 300
    rnd = [((i * 2654435761) % 1000003) for i in range(n)]
    strs = ["", "a", "ünïcødé", "日本語", "😀", "x" * 3000, "final", None]
    flat = pa.table({
        "b": pa.array([None if i % 7 == 0 else i % 2 == 0 for i in range(n)]),
        "i8": pa.array([(r % 256) - 128 for r in rnd], pa.int8()),
        "i16": pa.array([(r % 65536) - 32768 for r in rnd], pa.int16()),
        "i32": pa.array([None if i % 5 == 0 else r - 500000 for i, r in enumerate(rnd)], pa.int32()),
        "i64": pa.array([r * 10**12 - 2**62 if i % 3 else 2**63 - 1 - i for i, r in enumerate(rnd)], pa.int64()),
        "u8": pa.array([r % 256 for r in rnd], pa.uint8()),
        "u32": pa.array([r * 4000 % 2**32 for r in rnd], pa.uint32()),
        "u64": pa.array([(r * 2**44) % 2**64 for r in rnd], pa.uint64()),
        "f32": pa.array([float("nan") if i % 17 == 0 else r / 7.0 for i, r in enumerate(rnd)], pa.float32()),
        "f64": pa.array([float("-inf") if i % 19 == 0 else -r / 3.0 for i, r in enumerate(rnd)], pa.float64()),
        "s": pa.array([strs[i % len(strs)] for i in range(n)], pa.string()),
        "bin": pa.array([bytes([i % 256, 0, 255]) if i % 4 else None for i in range(n)], pa.binary()),
        "fx": pa.array([bytes([i % 256] * 4) for i in range(n)], pa.binary(4)),
        "d": pa.array([r - 500000 for r in rnd], pa.date32()),
        "ts_us": pa.array([r * 10**9 for r in rnd], pa.timestamp("us", tz="UTC")),
        "ts_ms": pa.array([r * 10**6 for r in rnd], pa.timestamp("ms")),
        "ts_ns": pa.array([r * 10**12 + 7 for r in rnd], pa.timestamp("ns")),
        "t_us": pa.array([r * 1000 % 86400000000 for r in rnd], pa.time64("us")),
        "t_ms": pa.array([r % 86400000 for r in rnd], pa.time32("ms")),
        "dec9": pa.array([decimal.Decimal(r - 500000).scaleb(-2) for r in rnd], pa.decimal128(9, 2)),
        "dec18": pa.array([decimal.Decimal(r * 10**9 - 5).scaleb(-5) for r in rnd], pa.decimal128(18, 5)),
        "dec38": pa.array([decimal.Decimal(-r * 10**25 - 1).scaleb(-10) for r in rnd], pa.decimal128(38, 10)),
        "dict": pa.array(["code-%d" % (r % 5) for r in rnd]).dictionary_encode(),
    })
    nested = pa.table({
        "id": pa.array(["id%d" % i for i in range(n)]),
        "l": pa.array([None if i % 9 == 0 else [j for j in range(i % 4)] for i in range(n)], pa.list_(pa.int64())),
        "ls": pa.array([[None if (i + j) % 5 == 0 else "s%d" % j for j in range(i % 3)] for i in range(n)], pa.list_(pa.string())),
        "st": pa.array([None if i % 6 == 0 else {"a": i, "b": "x%d" % i if i % 4 else None, "c": [float(i), -0.0]} for i in range(n)],
                       pa.struct([("a", pa.int32()), ("b", pa.string()), ("c", pa.list_(pa.float64()))])),
        "m": pa.array([None if i % 8 == 0 else [("k%d" % j, j if j % 2 else None) for j in range(i % 4)] for i in range(n)],
                      pa.map_(pa.string(), pa.int32())),
        "ll": pa.array([[[i, j] if j % 2 else None for j in range(i % 3)] for i in range(n)], pa.list_(pa.list_(pa.int16()))),
        "ml": pa.array([[("k", [{"x": i}])] if i % 2 else [] for i in range(n)],
                       pa.map_(pa.string(), pa.list_(pa.struct([("x", pa.int64())])))),
    })
    out = []
    for codec in ["NONE", "SNAPPY", "GZIP", "ZSTD", "LZ4", "BROTLI"]:
        out.append((f"pa_flat_{codec.lower()}", flat, dict(compression=codec)))
    out.append(("pa_flat_v2", flat, dict(data_page_version="2.0", compression="SNAPPY")))
    out.append(("pa_flat_v2_zstd", flat, dict(data_page_version="2.0", compression="ZSTD")))
    out.append(("pa_flat_nodict_small_pages", flat, dict(use_dictionary=False, data_page_size=512, row_group_size=70)))
    out.append(("pa_flat_delta", flat.select(["i32", "i64", "s", "bin"]),
                dict(use_dictionary=False, column_encoding={"i32": "DELTA_BINARY_PACKED", "i64": "DELTA_BINARY_PACKED",
                                                            "s": "DELTA_BYTE_ARRAY", "bin": "DELTA_LENGTH_BYTE_ARRAY"})))
    out.append(("pa_flat_bss", flat.select(["f32", "f64", "i32", "i64", "fx"]),
                dict(use_dictionary=False, column_encoding="BYTE_STREAM_SPLIT")))
    out.append(("pa_flat_int96", flat.select(["ts_ns", "i32"]), dict(use_deprecated_int96_timestamps=True)))
    for codec in ["SNAPPY", "ZSTD"]:
        out.append((f"pa_nested_{codec.lower()}", nested, dict(compression=codec, row_group_size=100)))
    out.append(("pa_nested_v2", nested, dict(data_page_version="2.0", data_page_size=300)))
    return out


def check_meta(fhirlake, path, name):
    """`fhirlake parquet meta` must report pyarrow's row-group statistics."""
    p = subprocess.run([fhirlake, "parquet", "meta", path], capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"meta {name}: {p.stderr}")
        return 0
    md = pq.ParquetFile(path).metadata
    arrow = pq.read_schema(path)
    ok = 0
    for line in p.stdout.splitlines():
        m = json.loads(line)
        rg = m["row_group"]
        cols = [md.row_group(rg).column(i) for i in range(md.num_columns)]
        col = next(c for c in cols if c.path_in_schema == m["column"])
        st = col.statistics
        t = arrow.field(m["column"]).type
        if pa.types.is_dictionary(t):
            t = t.value_type
        if st is None:
            continue
        if st.has_null_count and m["null_count"] != st.null_count:
            fail(f"meta {name} rg {rg} {m['column']}: null_count {m['null_count']} != {st.null_count}")
        if not st.has_min_max:
            continue
        if "min" not in m:
            if pa.types.is_float16(t):
                continue  # no defined sort order for us
            fail(f"meta {name} rg {rg} {m['column']}: no min/max, pyarrow has [{st.min!r}, {st.max!r}]")
            continue
        if pa.types.is_timestamp(t) or pa.types.is_date(t) or pa.types.is_time(t):
            want = [st.min_raw, st.max_raw]
        else:
            want = [canon(st.min, t), canon(st.max, t)]
        if not same(want, [m["min"], m["max"]]):
            fail(f"meta {name} rg {rg} {m['column']}: fhirlake [{m['min']!r:.60}, {m['max']!r:.60}] != pyarrow {want!r:.130}")
        else:
            ok += 1
    return ok


SKIP_BROTLI = "compression codec BROTLI is not supported"


def check_read(fhirlake, d):
    os.makedirs(d, exist_ok=True)
    n = 0
    for name, tbl, kw in pyarrow_files(d):
        path = os.path.join(d, name + ".parquet")
        pq.write_table(tbl, path, **kw)
        got, errmsg = fhirlake_rows(fhirlake, path)
        if kw.get("compression") == "BROTLI":
            if got is not None or SKIP_BROTLI not in (errmsg or ""):
                fail(f"{name}: BROTLI should be refused clearly, got {errmsg!r}")
            continue
        if got is None:
            fail(f"fhirlake cannot read {name}: {errmsg}")
            continue
        compare(f"fhirlake reading {name}", canon_table(pq.read_table(path)), got)
        n += 1
    # the reader's view of pyarrow's footer statistics (used to skip row groups)
    nstat = 0
    for name in ["pa_flat_snappy", "pa_flat_nodict_small_pages", "pa_flat_v2"]:
        nstat += check_meta(fhirlake, os.path.join(d, name + ".parquet"), name)
    # projection: a subset of columns, nested paths
    path = os.path.join(d, "pa_nested_snappy.parquet")
    got, errmsg = fhirlake_rows(fhirlake, path, ["--columns", "id,st.b,m"])
    if got is None:
        fail(f"projection: {errmsg}")
    else:
        want = canon_table(pq.read_table(path, columns=["id", "st", "m"]))
        for w in want:
            if w["st"] is not None:
                w["st"] = {"b": w["st"]["b"]}
        compare("fhirlake projection", want, got)
    print(f"read: {n} pyarrow-written files read identically by fhirlake; {nstat} column-chunk statistics equal")


# ---------------------------------------------------------------- parquet-testing

# Files fhirlake refuses on purpose (reason in tests/data/parquet/EXPECTED.md).
REFUSED = {
    "large_string_map.brotli.parquet": "BROTLI",
    "nation.dict-malformed.parquet": "past the chunk end",
}
# Files pyarrow cannot compare with (reason in EXPECTED.md); fhirlake must still read them.
NOT_COMPARED = set()


def check_testing(fhirlake, data):
    compared = refused = 0
    for f in sorted(glob.glob(os.path.join(data, "data", "*.parquet"))):
        name = os.path.basename(f)
        got, errmsg = fhirlake_rows(fhirlake, f)
        if name in REFUSED:
            if got is not None or REFUSED[name] not in (errmsg or ""):
                fail(f"{name}: expected a refusal mentioning {REFUSED[name]!r}, got {errmsg!r}")
            else:
                refused += 1
            continue
        if got is None:
            fail(f"fhirlake cannot read {name}: {errmsg}")
            continue
        if name in NOT_COMPARED:
            continue
        try:
            tbl = pq.read_table(f)
        except Exception as e:  # noqa: BLE001
            print(f"  (pyarrow cannot read {name}: {str(e)[:120]}; fhirlake read {len(got)} rows)")
            continue
        if compare(f"parquet-testing {name}", canon_table(tbl), got):
            compared += 1
    # CSV expectations of the delta-encoding files
    for csvf in sorted(glob.glob(os.path.join(data, "data", "*_expect.csv"))):
        pf = csvf.replace("_expect.csv", ".parquet")
        got, errmsg = fhirlake_rows(fhirlake, pf)
        import csv
        with open(csvf) as fh:
            rd = csv.reader(fh)
            header = next(rd)
            rows = list(rd)
        if got is None or len(got) != len(rows):
            fail(f"{os.path.basename(pf)}: csv expects {len(rows)} rows, fhirlake: {errmsg or len(got)}")
            continue
        bad = 0
        for i, (row, g) in enumerate(zip(rows, got)):
            # the file's column names end in ':' and the csv's have stray spaces: go by position
            for h, cell, v in zip(header, row, list(g.values())):
                sv = "" if v is None else str(v)
                if sv != cell:
                    bad += 1
                    if bad < 3:
                        fail(f"{os.path.basename(pf)} row {i} {h}: csv {cell!r}, fhirlake {v!r}")
        if bad == 0:
            compared += 1
    nbad = 0
    for f in sorted(glob.glob(os.path.join(data, "bad_data", "*.parquet"))):
        p = subprocess.run([fhirlake, "parquet", "cat", f], capture_output=True, text=True)
        name = os.path.basename(f)
        if p.returncode not in (0, 1) or "Sanitizer" in p.stderr or "runtime error" in p.stderr:
            fail(f"bad_data {name}: crashed (exit {p.returncode}): {p.stderr[-300:]}")
        elif p.returncode == 1 and not p.stderr.startswith("fhirlake:"):
            fail(f"bad_data {name}: unclear error {p.stderr[:200]!r}")
        else:
            nbad += 1
            print(f"  bad_data {name}: exit {p.returncode} {p.stderr.strip()[:150]}")
    print(f"testing: {compared} files/expectations compared equal, {refused} refused as documented, "
          f"{nbad} bad_data files handled without crashing")


def main():
    mode = sys.argv[1]
    if mode == "written":
        check_written(sys.argv[2])
    elif mode == "read":
        check_read(sys.argv[2], sys.argv[3])
    elif mode == "testing":
        check_testing(sys.argv[2], sys.argv[3])
    else:
        print(__doc__)
        return 2
    if FAIL:
        print(f"{len(FAIL)} failure(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
