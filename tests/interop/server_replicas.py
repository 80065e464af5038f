#!/usr/bin/env python3
"""server_replicas.py BASE1 BASE2 TABLE PID1 - two `fhirlake serve` replicas on one
PostgreSQL database deliver one data-lakehouse destination exactly once and in order.

A destination (view: id, version, gender; batchSize 20, sendIntervalMs 100) is created on
replica 1; after replica 2 has loaded it (5 s registry refresh), 4 writers create, update
and delete a pool of patients through both replicas (each request to a random replica, so
consecutive versions of one resource are written by different servers). Half-way through
replica 1 is stopped (SIGTERM to PID1; its lease is released and replica 2 takes the
destination over), the writers continue on replica 2. Then:
  * the table holds every committed version (the store's history) exactly once;
  * reading the table in commit order (the _delta_log commits in version order, the add
    actions of each commit in order, the rows of each Parquet file in order), the rows of
    each resource appear with strictly increasing (version, is_deleted): the order in which
    they were written.
Run with the venv python (delta-rs, pyarrow).
"""
import glob
import json
import os
import random
import signal
import sys
import threading
import time
import urllib.parse

from fhir_http import history_versions, req

BASE1, BASE2, TABLE, PID1 = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
RUN = str(int(time.time() * 1000))
failures = 0


def check(cond, what, detail=""):
    global failures
    print(("ok   " if cond else "FAIL ") + what + ("" if cond else f": {detail}"))
    failures += 0 if cond else 1


def status(base, did):
    st, js = req(base, "GET", f"/AidboxTopicDestination/{did}/$status")
    if st != 200:
        return {}
    return {p["name"]: p.get("valueInteger", p.get("valueString")) for p in js["parameter"] if "part" not in p}


topic = "http://example.org/replicas-" + RUN
st, _ = req(BASE1, "POST", "/AidboxSubscriptionTopic", {
    "resourceType": "AidboxSubscriptionTopic", "url": topic, "status": "active",
    "trigger": [{"resource": "Patient"}]})
check(st == 201, "topic", st)
st, _ = req(BASE1, "POST", "/ViewDefinition", {
    "resourceType": "ViewDefinition", "name": "patient_order", "resource": "Patient", "status": "active",
    "select": [{"column": [{"name": "id", "path": "id"}, {"name": "version", "path": "meta.versionId"},
                           {"name": "gender", "path": "gender"}]}]})
check(st == 201, "view", st)
st, js = req(BASE1, "POST", "/AidboxTopicDestination", {
    "resourceType": "AidboxTopicDestination", "status": "active", "topic": topic,
    "kind": "data-lakehouse-at-least-once",
    "parameter": [{"name": "viewDefinition", "valueString": "patient_order"},
                  {"name": "tablePath", "valueString": TABLE},
                  {"name": "skipInitialExport", "valueBoolean": True},
                  {"name": "batchSize", "valueInteger": 20}, {"name": "sendIntervalMs", "valueInteger": 100}]})
check(st == 201, "destination on replica 1", st)
did = js["id"] if st == 201 else "none"
t0 = time.time()
while time.time() - t0 < 15 and status(BASE2, did).get("status") not in ("active", "standby"):
    time.sleep(0.2)
check(status(BASE2, did).get("status") in ("active", "standby"), "replica 2 runs the destination too",
      status(BASE2, did))
s1, s2 = status(BASE1, did), status(BASE2, did)
check(sorted([s1.get("status"), s2.get("status")]) == ["active", "standby"], "one delivers, the other stands by",
      (s1.get("status"), s2.get("status")))

stop = threading.Event()
half = threading.Event()  # replica 1 is gone: write to replica 2 only
lock = threading.Lock()
ids = []
counts = {"ok": 0, "r1": 0, "r2": 0}


def writer(seed):
    rnd = random.Random(seed)
    while not stop.is_set():
        base = BASE2 if half.is_set() or rnd.random() < 0.5 else BASE1
        with lock:
            pick = rnd.choice(ids) if len(ids) >= 20 and rnd.random() < 0.8 else None
        if pick is None:
            st, js = req(base, "POST", "/Patient", {"resourceType": "Patient", "gender": "female"})
            if st == 201:
                with lock:
                    ids.append(js["id"])
        elif rnd.random() < 0.05:
            st, _ = req(base, "DELETE", f"/Patient/{pick}")
        else:
            st, _ = req(base, "PUT", f"/Patient/{pick}", {"resourceType": "Patient", "id": pick,
                                                          "gender": rnd.choice(["male", "female", "other"])})
        if st in (200, 201, 204):
            with lock:
                counts["ok"] += 1
                counts["r1" if base == BASE1 else "r2"] += 1


threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
for t in threads:
    t.start()
time.sleep(6)
s1 = status(BASE1, did)
check(s1.get("status") == "active", "replica 1 holds the lease when it is stopped (so the stop hands it over)", s1)
os.kill(PID1, signal.SIGTERM)  # graceful: its worker releases the lease
half.set()
time.sleep(6)
stop.set()
for t in threads:
    t.join()
print(f"writes: {counts['ok']} ({counts['r1']} through replica 1, {counts['r2']} through replica 2), "
      f"{len(ids)} patients; replica 1 was {s1.get('status')} before it stopped")
check(counts["r1"] > 50 and counts["r2"] > 50, "writes went through both replicas", counts)
t0 = time.time()
while time.time() - t0 < 60 and status(BASE2, did).get("messagesQueued") != 0:
    time.sleep(0.3)
s2 = status(BASE2, did)
check(s2.get("messagesQueued") == 0 and s2.get("status") == "active", "replica 2 took over and drained the queue", s2)

committed, st = history_versions(BASE2)
check(st == 200, "history", st)

# the table in commit order: commits by version, adds in order, rows of each file in order
import pyarrow.parquet as pq  # noqa: E402
from deltalake import DeltaTable  # noqa: E402

seq = []
commits = 0
for f in sorted(glob.glob(os.path.join(TABLE, "_delta_log", "*.json"))):
    commits += 1
    for line in open(f):
        a = json.loads(line)
        if "remove" in a:
            check(False, "append-only table (no remove actions)", f)
        if "add" in a:
            t = pq.read_table(os.path.join(TABLE, urllib.parse.unquote(a["add"]["path"])))
            seq += [(r["id"], int(r["version"]), r["is_deleted"]) for r in t.to_pylist()]
live = DeltaTable(TABLE).to_pyarrow_table().to_pylist()
check(len(live) == len(seq), "commit-order read = delta-rs read", (len(seq), len(live)))
print(f"{len(committed)} committed versions, {len(seq)} table rows in {commits} commits")
check(len(committed) > 200, "enough writes", len(committed))
check(len(seq) == len(set(seq)), "no row twice", len(seq) - len(set(seq)))
check(set(seq) == committed, "table = committed versions (exactly once)",
      (sorted(committed - set(seq))[:5], sorted(set(seq) - committed)[:5]))
last = {}
bad = []
for i, (rid, ver, dl) in enumerate(seq):
    if rid in last and (ver, dl) <= last[rid]:
        bad.append((rid, last[rid], (ver, dl), i))
    last[rid] = (ver, dl)
multi = sum(1 for rid in last if last[rid][0] > 1)
check(multi > 20, "resources with several versions", multi)
check(not bad, "each resource's rows in write order (version increasing by commit, then row)", bad[:5])
sys.stdout.flush()
os._exit(1 if failures else 0)
