"""delta_lifecycle.py - one Delta table through fhirlake's whole write lifecycle, CLI only.

Shared by delta_interop.py (delta-rs) and spark_interop.py (Spark 4 + delta-spark); pure
Python, no peer imports. build() runs, on one table:
  v0      `table create` (delta.checkpointInterval=10)
  v1-26   26 `table append` commits with txn ids (checkpoints at 10 and 20); a replayed
          batch is skipped
  v27     `table merge --newer-wins seq --delete-input ... --txn`: newer rows replace,
          older/equal ones are skipped, unmatched keys inserted, two keys deleted; the
          replayed merge is skipped
  v28     `table optimize` (every small file compacted)
  v29     `table append --add-column note:string` (schema evolution, nullable column)
  v30     a second `table merge` that rewrites a pre-evolution file and an evolved one
          (checkpoint at 30)
  then    the peer's time-travel check (callback) while the old files still exist,
          `table vacuum --retention-hours 0 --force`, and the check that only live data
          files remain.
Expected rows are computed here from the inputs (a model of the merge rules), in the JSON
form `fhirlake table show` prints, and compared with `table show` at every step.
"""
import glob
import json
import os
import shutil
import subprocess

SCHEMA = {"type": "struct", "fields": [
    {"name": "id", "type": "string", "nullable": False, "metadata": {}},
    {"name": "n", "type": "long", "nullable": True, "metadata": {}},
    {"name": "seq", "type": "long", "nullable": True, "metadata": {}},
    {"name": "v", "type": "string", "nullable": True, "metadata": {}},
    {"name": "d", "type": "date", "nullable": True, "metadata": {}},
    {"name": "t", "type": "timestamp", "nullable": True, "metadata": {}},
    {"name": "amt", "type": "decimal(12,3)", "nullable": True, "metadata": {}},
]}
PRE_MERGE_VERSION = 26


def row(k, seq=100, v=None, note=None, with_note=False):
    """(NDJSON input row, expected `table show` row)."""
    r = {"id": f"r{k:05d}", "n": None if k % 7 == 0 else k * 3, "seq": seq, "v": v or f"v{k}",
         "d": f"2024-0{1 + k % 9}-1{k % 10}",
         "t": None if k % 6 == 0 else f"2024-03-0{1 + k % 9}T1{k % 10}:2{k % 10}:00.{k % 1000:03d}Z",
         "amt": None if k % 5 == 0 else f"{k}.{k % 1000:03d}"}
    want = dict(r)
    if r["t"]:
        want["t"] = r["t"][:-1] + "000Z"
    if with_note:
        r["note"] = note
        want["note"] = note
    return r, want


def _write(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def _canon(rows):
    return sorted(json.dumps(r, sort_keys=True) for r in rows)


class Lifecycle:
    def __init__(self, fl_bin, work):
        self.fl, self.work = fl_bin, work
        self.path = os.path.join(work, "lifecycle")
        self.log = []

    def run(self, *args, want_rc=0):
        p = subprocess.run([self.fl, "table", *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if p.returncode != want_rc:
            raise AssertionError(f"fhirlake table {' '.join(args)} -> {p.returncode}: {p.stderr.strip()[:400]}")
        return p.stdout

    def show(self, version=None):
        extra = [] if version is None else ["--version", str(version)]
        return [json.loads(x) for x in self.run("show", self.path, *extra).splitlines() if x.strip()]

    def expect_show(self, what, expected, version=None):
        a, b = _canon(self.show(version)), _canon(expected.values())
        if a != b:
            only_a, only_b = sorted(set(a) - set(b))[:2], sorted(set(b) - set(a))[:2]
            raise AssertionError(f"{what}: table show {len(a)} rows vs expected {len(b)}; "
                                 f"only show {only_a}; only expected {only_b}")

    def nd(self, name, rows):
        p = os.path.join(self.work, f"lc_{name}.ndjson")
        _write(p, rows)
        return p

    def build(self, before_vacuum):
        """Run the lifecycle; before_vacuum(path, version, expected_rows) is the peer's
        time-travel check at the pre-merge version (its files still exist then). Returns
        the final expected rows (id -> row) and a short summary."""
        shutil.rmtree(self.path, ignore_errors=True)
        self.run("create", self.path, "--schema", json.dumps(SCHEMA), "--property", "delta.checkpointInterval=10")
        exp = {}
        for b in range(26):
            rows = [row(b * 10 + i) for i in range(10)]
            out = self.run("append", self.path, self.nd(f"a{b}", [r for r, _ in rows]), "--txn", f"lifecycle:{b}")
            assert "committed version" in out, out
            exp.update({w["id"]: w for _, w in rows})
        out = self.run("append", self.path, self.nd("a25", [row(250 + i)[0] for i in range(10)]), "--txn",
                       "lifecycle:25")
        assert "skipped" in out, f"replayed append not skipped: {out}"
        logd = os.path.join(self.path, "_delta_log")
        cps = sorted(int(os.path.basename(p)[:20]) for p in glob.glob(os.path.join(logd, "*.checkpoint.parquet")))
        assert cps == [10, 20], f"checkpoints {cps}"
        self.expect_show("v26", exp)
        pre_merge = {k: dict(v) for k, v in exp.items()}

        # v27 MERGE: newer-wins on seq, deletes by key, idempotent by txn
        ups = [row(3, seq=200, v="newer")[0], row(15, seq=50, v="older")[0], row(27, seq=100, v="equal")[0],
               row(134, seq=300, v="newer")[0], row(9000, seq=1)[0], row(9001, seq=1)[0]]
        dels = [{"id": "r00048"}, {"id": "r00250"}, {"id": "r77777"}]
        args = ["merge", self.path, "--input", self.nd("m1", ups), "--key", "id", "--newer-wins", "seq",
                "--delete-input", self.nd("m1_del", dels), "--txn", "lifecycle-merge:1"]
        out = self.run(*args)
        assert "committed version 27: 2 inserted, 2 updated, 2 deleted, 2 skipped" in out, out
        for k in (3, 134):
            exp[f"r{k:05d}"] = row(k, seq=200 if k == 3 else 300, v="newer")[1]
        for k in (9000, 9001):
            exp[f"r{k:05d}"] = row(k, seq=1)[1]
        for k in ("r00048", "r00250"):
            del exp[k]
        assert "skipped" in self.run(*args), "replayed merge not skipped"
        self.expect_show("v27 (merge)", exp)

        # v28 OPTIMIZE
        out = self.run("optimize", self.path)
        assert "committed version 28" in out, out
        self.expect_show("v28 (optimize)", exp)

        # v29 schema evolution: a nullable column, old rows read it as null
        ev = [row(5000 + i, seq=1, note=f"note{i}", with_note=True) for i in range(5)]
        out = self.run("append", self.path, self.nd("evo", [r for r, _ in ev]), "--add-column", "note:string",
                       "--txn", "lifecycle:26")
        assert "committed version 29" in out, out
        for w in exp.values():
            w["note"] = None
        exp.update({w["id"]: w for _, w in ev})
        self.expect_show("v29 (evolution)", exp)

        # v30 MERGE over the evolved schema: rewrites the compacted (pre-evolution) file and
        # the evolved file; checkpoint at 30
        ups2 = [row(100, seq=500, v="m2", note="merged-note", with_note=True)[0],
                row(5001, seq=9, v="m2", note="n2", with_note=True)[0]]
        out = self.run("merge", self.path, "--input", self.nd("m2", ups2), "--key", "id", "--newer-wins", "seq",
                       "--txn", "lifecycle-merge:2")
        assert "committed version 30: 0 inserted, 2 updated" in out and "checkpoint written" in out, out
        exp["r00100"] = row(100, seq=500, v="m2", note="merged-note", with_note=True)[1]
        exp["r05001"] = row(5001, seq=9, v="m2", note="n2", with_note=True)[1]
        self.expect_show("v30 (merge after evolution)", exp)
        self.expect_show("time travel v26 (fhirlake)", pre_merge, PRE_MERGE_VERSION)

        before_vacuum(self.path, PRE_MERGE_VERSION, pre_merge)

        # VACUUM with retention 0 (override of the 7-day safety check)
        def data_files():
            return {os.path.relpath(p, self.path) for p in glob.glob(os.path.join(self.path, "**", "*.parquet"),
                                                                     recursive=True) if "_delta_log" not in p}
        before = data_files()
        out = self.run("vacuum", self.path, "--retention-hours", "0", "--force")
        assert out.startswith("deleted "), out
        live = [json.loads(x)["path"] for x in self.run("files", self.path).splitlines() if x.strip()]
        on_disk = data_files()
        assert len(on_disk) == len(live), f"after vacuum {len(on_disk)} data files on disk, {len(live)} live"
        assert on_disk == set(live) and len(before) > len(live), \
            f"vacuum: {len(before)} data files before, kept {sorted(on_disk - set(live))[:2]}, " \
            f"lost live {sorted(set(live) - on_disk)[:2]}"
        self.expect_show("after vacuum", exp)
        self.log.append(f"v30, {len(exp)} rows, checkpoints 10/20/30, {out.strip()}")
        return exp
