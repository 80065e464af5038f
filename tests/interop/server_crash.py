#!/usr/bin/env python3
"""server_crash.py FHIRLAKE DB TABLE [KILLS] - exactly-once delivery across crashes.

Starts `fhirlake serve` on a fixed free port with a data-lakehouse destination (view: id,
version, is_deleted), then keeps 3 writers creating, updating and deleting patients while
the server is SIGKILLed KILLS times (default 20) at random moments (0.2-0.8 s apart) and
restarted on the same store. At the end the server runs until the queue is empty. Every
committed version (the store's history, which includes writes whose response was lost in
a crash) must be in the Delta table exactly once, and nothing else; every write the
clients saw acknowledged (201/200 with its version) must be among them. Run with the
venv python (delta-rs).
"""
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

import fhir_http

BIN, DB, TABLE = sys.argv[1], sys.argv[2], sys.argv[3]
KILLS = int(sys.argv[4]) if len(sys.argv) > 4 else 20
s = socket.socket()
s.bind(("127.0.0.1", 0))
PORT = s.getsockname()[1]
s.close()
BASE = f"http://127.0.0.1:{PORT}/fhir"
LOG = open(os.environ.get("CRASH_LOG", "/dev/null"), "ab")
failures = 0


def check(cond, what, detail=""):
    global failures
    print(("ok   " if cond else "FAIL ") + what + ("" if cond else f": {detail}"))
    failures += 0 if cond else 1


def req(method, path, body=None, timeout=10):
    return fhir_http.req(BASE, method, path, body, timeout)


def start():
    p = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{PORT}", "--db", DB], stderr=LOG)
    for _ in range(200):
        if req("GET", "/metadata", timeout=2)[0] == 200:
            return p
        time.sleep(0.05)
    raise SystemExit("server did not start")


srv = start()
topic = "http://example.org/crash-" + str(int(time.time()))
st, _ = req("POST", "/AidboxSubscriptionTopic", {"resourceType": "AidboxSubscriptionTopic", "url": topic,
                                                 "status": "active", "trigger": [{"resource": "Patient"}]})
check(st == 201, "topic", st)
st, _ = req("POST", "/ViewDefinition", {
    "resourceType": "ViewDefinition", "name": "patient_versions", "resource": "Patient", "status": "active",
    "select": [{"column": [{"name": "id", "path": "id"}, {"name": "version", "path": "meta.versionId"},
                           {"name": "gender", "path": "gender"}]}]})
check(st == 201, "view", st)
st, js = req("POST", "/AidboxTopicDestination", {
    "resourceType": "AidboxTopicDestination", "status": "active", "topic": topic,
    "kind": "data-lakehouse-at-least-once",
    "parameter": [{"name": "viewDefinition", "valueString": "patient_versions"},
                  {"name": "tablePath", "valueString": TABLE},
                  {"name": "batchSize", "valueInteger": 25}, {"name": "sendIntervalMs", "valueInteger": 50}]})
check(st == 201, "destination", st)
did = js["id"] if st == 201 else "none"


def status():
    st, js = req("GET", f"/AidboxTopicDestination/{did}/$status")
    return {p["name"]: p.get("valueInteger", p.get("valueString")) for p in js["parameter"]} if st == 200 else {}


# the initial export (of nothing) first: changes before its snapshot are collapsed into the
# current state by design, and this test counts every version
for _ in range(200):
    if status().get("initialExportStatus") == "completed":
        break
    time.sleep(0.05)
check(status().get("initialExportStatus") == "completed", "initial export completed", status())

stop = threading.Event()
ids, lock = [], threading.Lock()
acked = set()  # (id, version) of writes answered 200/201


def writer(seed):
    rnd = random.Random(seed)
    while not stop.is_set():
        with lock:
            pick = rnd.choice(ids) if ids and rnd.random() < 0.6 else None
        if pick is None:
            st, js = req("POST", "/Patient", {"resourceType": "Patient", "gender": "female"})
            if st == 201:
                with lock:
                    ids.append(js["id"])
                    acked.add((js["id"], js["meta"]["versionId"]))
        elif rnd.random() < 0.1:
            req("DELETE", f"/Patient/{pick}")
        else:
            st, js = req("PUT", f"/Patient/{pick}", {"resourceType": "Patient", "id": pick,
                                                      "gender": rnd.choice(["male", "female", "other"])})
            if st in (200, 201) and js:
                with lock:
                    acked.add((js["id"], js["meta"]["versionId"]))
        if not ids:
            time.sleep(0.01)


threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
for t in threads:
    t.start()
kills = 0
died = []  # exit statuses other than our SIGKILL: the server ended by itself between kills
while kills < KILLS:
    time.sleep(random.uniform(0.2, 0.8))
    srv.send_signal(signal.SIGKILL)
    if srv.wait() != -signal.SIGKILL:
        died.append(srv.returncode)
    kills += 1
    srv = start()
stop.set()
for t in threads:
    t.join()


def queued():
    return status().get("messagesQueued")


t0 = time.time()
while time.time() - t0 < 90 and queued() != 0:
    time.sleep(0.3)
check(queued() == 0, f"queue drained after {kills} SIGKILLs", queued())

# every committed version, from the store's history
committed, st = fhir_http.history_versions(BASE)
check(st == 200, "history", st)
committed = {(i, str(v), d) for (i, v, d) in committed}  # the table's version column is a string
srv.send_signal(signal.SIGTERM)
check(srv.wait() == 0, "server exits 0 on SIGTERM after the crashes", srv.returncode)

from deltalake import DeltaTable  # noqa: E402

rows = DeltaTable(TABLE).to_pyarrow_table().to_pylist()
keys = [(r["id"], r["version"], r["is_deleted"]) for r in rows]
print(f"{len(committed)} committed versions, {len(rows)} table rows, {kills} kills")
check(len(committed) > 50, "enough writes", len(committed))
check(len(keys) == len(set(keys)), "no row twice", len(keys) - len(set(keys)))
check(set(keys) == committed, "table = committed versions",
      (sorted(committed - set(keys))[:5], sorted(set(keys) - committed)[:5]))
live = {(i, v) for (i, v, d) in keys if d == 0}
check(acked <= live, f"all {len(acked)} acknowledged writes in the table", sorted(acked - live)[:5])
check(kills == KILLS and not died, f"{KILLS} SIGKILLs, each of a running server", died)
sys.stdout.flush()
os._exit(1 if failures else 0)
