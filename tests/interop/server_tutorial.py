#!/usr/bin/env python3
"""server_tutorial.py BASE TABLE [MODE] - the data-lakehouse destination tutorial over HTTP.

Follows Aidbox's "Data Lakehouse AidboxTopicDestination" tutorial against `fhirlake serve`:
topic on Patient, ViewDefinition `patient_flat` (forEach over the official name), a
data-lakehouse-at-least-once destination (writeMode external-direct) to TABLE; then one
patient is created, updated twice and deleted. The Delta table (read with delta-rs) must hold
the four append-only rows with is_deleted 0, 0, 0, 1 (the delete carrying the last values),
and $status must count 4 delivered, 0 queued.

MODE "export" instead seeds 2,000 patients before the destination exists and keeps writing
while the initial export runs: every resource's current state must appear exactly once from
the export and every later change exactly once.

Extra environment for s3:// tables: S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_REGION (given as destination parameters and to delta-rs). Run with the venv python.
"""
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request

BASE, TABLE = sys.argv[1], sys.argv[2]
MODE = sys.argv[3] if len(sys.argv) > 3 else "tutorial"
RUN = str(int(time.time() * 1000))
failures = 0


def check(cond, what, detail=""):
    global failures
    if cond:
        print(f"ok   {what}")
    else:
        failures += 1
        print(f"FAIL {what}: {detail}")


def req(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(BASE + path, data=data, method=method)
    if data is not None:
        r.add_header("Content-Type", "application/fhir+json")
    try:
        with urllib.request.urlopen(r, timeout=60) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw


def diag(js):
    try:
        return js["issue"][0]["diagnostics"]
    except Exception:
        return str(js)[:300]


def status(did):
    st, js = req("GET", f"/AidboxTopicDestination/{did}/$status")
    out = {}
    if st != 200:
        return out
    for p in js["parameter"]:
        v = [p[k] for k in p if k.startswith("value")]
        if v:
            out[p["name"]] = v[0]
        elif p["name"] == "lastErrorDetail":
            out.setdefault("errors", []).append({q["name"]: q.get("valueString", q.get("valueDateTime")) for q in p["part"]})
    return out


def storage_options():
    if not TABLE.startswith("s3://"):
        return None
    return {"AWS_ENDPOINT_URL": os.environ["S3_ENDPOINT"], "AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"], "AWS_REGION": os.environ.get("AWS_REGION", "us-east-1"),
            "AWS_ALLOW_HTTP": "true", "AWS_S3_ALLOW_UNSAFE_RENAME": "true"}


def read_table():
    from deltalake import DeltaTable
    dt = DeltaTable(TABLE, storage_options=storage_options())
    return dt, dt.to_pyarrow_table().to_pylist()


def dest_params(extra):
    p = [{"name": "writeMode", "valueString": "external-direct"},
         {"name": "viewDefinition", "valueString": "patient_flat"},
         {"name": "tablePath", "valueString": TABLE},
         {"name": "batchSize", "valueInteger": 50},
         {"name": "sendIntervalMs", "valueInteger": 300}] + extra
    if TABLE.startswith("s3://"):
        p += [{"name": "s3Endpoint", "valueString": os.environ["S3_ENDPOINT"]},
              {"name": "awsRegion", "valueString": os.environ.get("AWS_REGION", "us-east-1")},
              {"name": "awsAccessKeyId", "valueString": os.environ["AWS_ACCESS_KEY_ID"]},
              {"name": "awsSecretAccessKey", "valueString": os.environ["AWS_SECRET_ACCESS_KEY"]}]
    return p


def wait_for(cond, seconds=60):
    t0 = time.time()
    while time.time() - t0 < seconds:
        if cond():
            return True
        time.sleep(0.2)
    return False


# ---------------------------------------------------------------- topic and view
topic_url = "http://example.org/topics/patient-" + RUN
st, js = req("POST", "/AidboxSubscriptionTopic", {
    "resourceType": "AidboxSubscriptionTopic", "url": topic_url, "status": "active",
    "trigger": [{"resource": "Patient", "supportedInteraction": ["create", "update", "delete"]}]})
check(st == 201, "create AidboxSubscriptionTopic", (st, diag(js)))
view = {"resourceType": "ViewDefinition", "name": "patient_flat", "resource": "Patient", "status": "active",
        "select": [
            {"column": [{"name": "id", "path": "getResourceKey()"},
                        {"name": "ts", "path": "meta.lastUpdated", "type": "instant"},
                        {"name": "gender", "path": "gender"},
                        {"name": "birth_date", "path": "birthDate", "type": "date"}]},
            {"forEach": "name.where(use = 'official').first()",
             "column": [{"name": "family", "path": "family"},
                        {"name": "given", "path": "given.join(' ')"}]}]}
st, js = req("GET", "/ViewDefinition?_count=0")
st, js = req("POST", "/ViewDefinition", view)
check(st == 201, "create ViewDefinition patient_flat", (st, diag(js)))

# ---------------------------------------------------------------- create-time checks
st, js = req("POST", "/AidboxTopicDestination", {
    "resourceType": "AidboxTopicDestination", "status": "active", "topic": topic_url,
    "kind": "data-lakehouse-at-least-once", "parameter": dest_params([{"name": "tableName", "valueString": "x"}])})
check(st == 422 and "tableName" in diag(js), "unknown parameter -> 422 naming it", (st, diag(js)))


def patient(family, given, gender, birth):
    return {"resourceType": "Patient", "gender": gender, "birthDate": birth,
            "name": [{"use": "usual", "family": "Nick"},
                     {"use": "official", "family": family, "given": given}]}


if MODE == "tutorial":
    st, js = req("POST", "/AidboxTopicDestination", {
        "resourceType": "AidboxTopicDestination", "status": "active", "topic": topic_url,
        "kind": "data-lakehouse-at-least-once", "content": "full-resource", "parameter": dest_params([])})
    check(st == 201, "create data-lakehouse destination", (st, diag(js)))
    did = js["id"] if st == 201 else "none"
    check(wait_for(lambda: status(did).get("initialExportStatus") == "completed", 30),
          "initial export completed (empty)", status(did))

    st, js = req("POST", "/Patient", patient("Smith", ["John"], "male", "1980-01-01"))
    check(st == 201, "create patient", st)
    pid = js["id"]
    v = js
    v["gender"] = "other"
    st, v = req("PUT", f"/Patient/{pid}", v)
    check(st == 200, "update 1", st)
    v["birthDate"] = "1980-02-02"
    v["name"][1]["given"] = ["John", "Q"]
    st, v = req("PUT", f"/Patient/{pid}", v)
    check(st == 200, "update 2", st)
    st, _ = req("DELETE", f"/Patient/{pid}")
    check(st == 204, "delete", st)

    check(wait_for(lambda: status(did).get("messagesDelivered") == 4 and status(did).get("messagesQueued") == 0),
          "$status: 4 delivered, 0 queued", status(did))
    s = status(did)
    check(s.get("status") == "active" and s.get("messagesInProcess") == 0 and s.get("messagesDeliveryAttempts") == 0,
          "$status: active, nothing in process, no failed attempts", s)
    check("startTimestamp" in s and "initialExportProgress_rowsSent" in s, "$status has startTimestamp, rowsSent", s)
    dt, rows = read_table()
    rows = [r for r in rows if r["id"] == pid]
    rows.sort(key=lambda r: (r["ts"], r["is_deleted"]))
    check(len(rows) == 4, "table holds 4 rows for the patient", rows)
    if len(rows) == 4:
        check([r["is_deleted"] for r in rows] == [0, 0, 0, 1], "is_deleted 0,0,0,1", [r["is_deleted"] for r in rows])
        check([r["gender"] for r in rows] == ["male", "other", "other", "other"], "gender per version",
              [r["gender"] for r in rows])
        check(str(rows[0]["birth_date"]) == "1980-01-01" and str(rows[3]["birth_date"]) == "1980-02-02",
              "birth_date per version (delete row keeps the last values)", [str(r["birth_date"]) for r in rows])
        check(all(r["family"] == "Smith" for r in rows), "forEach on the official name (family)", rows)
        check([r["given"] for r in rows] == ["John", "John", "John Q", "John Q"], "given per version",
              [r["given"] for r in rows])
    fields = [f.name for f in dt.schema().fields]
    check(fields == ["id", "ts", "gender", "birth_date", "family", "given", "is_deleted"], "table columns", fields)
    txns = [a for a in dt.history()]
    check(any(h.get("operation") == "WRITE" for h in txns), "Delta history has WRITE commits", txns[:2])
    st, text = None, None
    with urllib.request.urlopen(BASE.rsplit("/fhir", 1)[0] + "/metrics") as resp:
        text = resp.read().decode()
    check(f'fhirlake_destination_messages_delivered_total{{destination="{did}"}} 4' in text,
          "/metrics per-destination delivered", [l for l in text.splitlines() if "destination" in l][:6])
    # a table missing the view's columns: the destination reports the missing names
    st, js = req("POST", "/ViewDefinition", dict(view, name="patient_flat2", select=view["select"] + [
        {"column": [{"name": "active", "path": "active"}]}]))
    st, js = req("POST", "/AidboxTopicDestination", {
        "resourceType": "AidboxTopicDestination", "status": "active", "topic": topic_url,
        "kind": "data-lakehouse-at-least-once",
        "parameter": [p for p in dest_params([{"name": "skipInitialExport", "valueBoolean": True}])
                      if p["name"] != "viewDefinition"] + [{"name": "viewDefinition", "valueString": "patient_flat2"}]})
    d2 = js["id"] if st == 201 else "none"
    check(wait_for(lambda: any("active" in e["message"] and "schemaEvolution" in e["message"]
                               for e in status(d2).get("errors", [])), 20),
          "table without the view's column -> lastErrorDetail names it", status(d2))
    check(status(d2).get("status") == "error" and status(d2).get("initialExportStatus") == "not_started",
          "that destination is in error", status(d2))
    req("DELETE", f"/AidboxTopicDestination/{d2}")
    st, js = req("POST", "/AidboxTopicDestination", {
        "resourceType": "AidboxTopicDestination", "status": "active", "topic": topic_url,
        "kind": "data-lakehouse-at-least-once",
        "parameter": [p for p in dest_params([{"name": "skipInitialExport", "valueBoolean": True},
                                              {"name": "schemaEvolution", "valueString": "add-columns"}])
                      if p["name"] != "viewDefinition"] + [{"name": "viewDefinition", "valueString": "patient_flat2"}]})
    d3 = js["id"] if st == 201 else "none"
    check(wait_for(lambda: status(d3).get("status") == "active" and status(d3).get("initialExportStatus") == "skipped", 20),
          "schemaEvolution=add-columns: active, export skipped", status(d3))
    dt, rows = read_table()
    check("active" in [f.name for f in dt.schema().fields], "column 'active' added", [f.name for f in dt.schema().fields])
    # both destinations now write to that table: patient_flat's rows get null in 'active'
    st, js = req("POST", "/Patient", dict(patient("Late", ["A"], "female", "2000-01-01"), active=True))
    late = js["id"] if st == 201 else None
    check(wait_for(lambda: len([r for r in read_table()[1] if r["id"] == late]) == 2, 30),
          "a later patient reaches the table through both destinations", late)
    lr = sorted([r["active"] for r in read_table()[1] if r["id"] == late], key=lambda v: (v is not None, v))
    check(lr == [None, True], "view without the column writes null, the other its value", lr)

elif MODE == "replicas":  # two servers on one PostgreSQL database, one destination
    BASE1, BASE2 = BASE, os.environ["BASE2"]
    st, js = req("POST", "/AidboxTopicDestination", {
        "resourceType": "AidboxTopicDestination", "status": "active", "topic": topic_url,
        "kind": "data-lakehouse-at-least-once",
        "parameter": dest_params([{"name": "skipInitialExport", "valueBoolean": True}])})
    check(st == 201, "create destination on replica 1", (st, diag(js)))
    did = js["id"] if st == 201 else "none"
    time.sleep(6)  # replica 2 loads it within its 5 s registry refresh

    def on(base, fn, *a):
        global BASE
        saved, BASE = BASE, base
        try:
            return fn(*a)
        finally:
            BASE = saved

    made = []
    for i in range(300):
        st, js = on(BASE1 if i % 2 else BASE2, req, "POST", "/Patient", patient(f"R{i}", ["X"], "male", "1970-01-01"))
        if st == 201:
            made.append(js["id"])
    check(len(made) == 300, "300 creates across both replicas", len(made))
    check(wait_for(lambda: status(did).get("messagesQueued") == 0, 60), "queue drained", status(did))
    s1, s2 = on(BASE1, status, did), on(BASE2, status, did)
    check(sorted([s1.get("status"), s2.get("status")]) == ["active", "standby"],
          "one replica delivers (lease), the other stands by", (s1.get("status"), s2.get("status")))
    check(s1.get("messagesDelivered", 0) + s2.get("messagesDelivered", 0) == 300, "300 delivered in total", (s1, s2))
    dt, rows = read_table()
    got = [r["id"] for r in rows]
    check(sorted(got) == sorted(made), "table holds each patient once", (len(got), len(set(got))))

elif MODE == "retry":  # a failing batch stays queued, is retried every second, errors recorded
    import shutil
    from datetime import datetime
    st, js = req("POST", "/AidboxTopicDestination", {
        "resourceType": "AidboxTopicDestination", "status": "active", "topic": topic_url,
        "kind": "data-lakehouse-at-least-once",
        "parameter": dest_params([{"name": "skipInitialExport", "valueBoolean": True}])})
    check(st == 201, "create destination", (st, diag(js)))
    did = js["id"] if st == 201 else "none"
    st, js = req("POST", "/Patient", patient("First", ["A"], "female", "1980-01-01"))
    first = js["id"] if st == 201 else None
    check(wait_for(lambda: status(did).get("messagesDelivered") == 1, 30), "first event delivered", status(did))
    s0 = status(did)
    check(s0.get("messagesDeliveryAttempts") == 0 and not s0.get("errors"),
          "no failed attempts, no errors yet (messagesDeliveryAttempts counts failed attempts)", s0)
    # break the table: its log becomes a plain file, so every commit attempt fails
    log = os.path.join(TABLE, "_delta_log")
    shutil.move(log, log + ".saved")
    open(log, "w").close()
    made = []
    for i in range(3):
        st, js = req("POST", "/Patient", patient(f"Blocked{i}", ["B"], "male", "1981-01-01"))
        if st == 201:
            made.append(js["id"])
    time.sleep(7.5)
    s1 = status(did)
    errs = s1.get("errors", [])
    print(f"retry mode: while broken: attempts={s1.get('messagesDeliveryAttempts')} queued={s1.get('messagesQueued')} "
          f"errors={len(errs)}: {errs[:1]}")
    check(s1.get("messagesQueued") == 3 and s1.get("messagesDelivered") == 1, "failed batch stays queued", s1)
    check(len(errs) == 5, "lastErrorDetail keeps the last 5 errors", len(errs))
    check(all("batch failed" in e.get("message", "") and e.get("timestamp") for e in errs),
          "each error has message + timestamp", errs[:2])
    ts = sorted(datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).timestamp() for e in errs)
    gaps = [b - a for a, b in zip(ts, ts[1:])]
    check(gaps and all(0.9 <= g <= 2.5 for g in gaps), "retried about every second (1 s backoff)", gaps)
    # each failed attempt counts its 3 events; after ~7 s there were >= 5 attempts
    check(s1.get("messagesDeliveryAttempts", 0) >= 15 and s1.get("messagesDeliveryAttempts", 0) % 3 == 0,
          "messagesDeliveryAttempts counts the failed attempts (in events)", s1.get("messagesDeliveryAttempts"))
    os.remove(log)
    shutil.move(log + ".saved", log)
    check(wait_for(lambda: status(did).get("messagesQueued") == 0, 30), "delivered once the table is back", status(did))
    s2 = status(did)
    check(s2.get("messagesDelivered") == 4 and s2.get("status") == "active", "4 delivered, active", s2)
    dt, rows = read_table()
    got = sorted(r["id"] for r in rows)
    check(got == sorted([first] + made), "each event in the table exactly once", got)

else:  # initial export with concurrent writers
    N = 2000
    ids = []
    bundle_entries = []
    for i in range(N):
        bundle_entries.append({"resource": patient(f"Fam{i}", [f"G{i}"], "female", "1990-01-01"),
                               "request": {"method": "POST", "url": "Patient"}})
    for k in range(0, N, 500):
        st, js = req("POST", "", {"resourceType": "Bundle", "type": "transaction", "entry": bundle_entries[k:k + 500]})
        check(st == 200, f"seed patients {k}..{k + 499}", (st, diag(js)))
        if st == 200:
            ids += [e["response"]["location"].split("/")[1] for e in js["entry"]]
    stop = threading.Event()
    changes = []  # (id, version) written after the destination exists
    lock = threading.Lock()

    def writer(seed):
        i = seed
        while not stop.is_set():
            pid = ids[(i * 7919) % len(ids)]
            i += 4
            st, js = req("GET", f"/Patient/{pid}")
            if st != 200:
                continue
            js["gender"] = "male" if js.get("gender") == "female" else "female"
            st, js2 = req("PUT", f"/Patient/{pid}", js)
            if st == 200:
                with lock:
                    changes.append((pid, int(js2["meta"]["versionId"])))

    threads = [threading.Thread(target=writer, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    st, js = req("POST", "/AidboxTopicDestination", {
        "resourceType": "AidboxTopicDestination", "status": "active", "topic": topic_url,
        "kind": "data-lakehouse-at-least-once", "parameter": dest_params([])})
    check(st == 201, "create destination over 2,000 patients", (st, diag(js)))
    did = js["id"] if st == 201 else "none"
    check(wait_for(lambda: status(did).get("initialExportStatus") in ("completed", "failed"), 120),
          "initial export finished", status(did))
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join()
    s = status(did)
    check(s.get("initialExportStatus") == "completed", "initial export completed", s)
    check(wait_for(lambda: status(did).get("messagesQueued") == 0, 60), "queue drained", status(did))
    # the current store state, per patient: (version, gender)
    final = {}
    for pid in ids:
        st, js = req("GET", f"/Patient/{pid}")
        final[pid] = (int(js["meta"]["versionId"]), js["gender"], js["meta"]["lastUpdated"])
    dt, rows = read_table()
    by_id = {}
    for r in rows:
        by_id.setdefault(r["id"], []).append(r)
    check(set(by_id) == set(ids), "every patient is in the table", len(set(ids) - set(by_id)))
    # rows are unique per (id, ts): nothing doubled
    keys = [(r["id"], str(r["ts"])) for r in rows]
    check(len(keys) == len(set(keys)), "no row twice", len(keys) - len(set(keys)))
    # the newest row of every patient is its current state
    bad = [pid for pid, rs in by_id.items() if max(rs, key=lambda r: r["ts"])["gender"] != final[pid][1]]
    check(not bad, "newest row = current state for every patient", bad[:5])
    # every change after the snapshot appears: a patient's row count = 1 (export) + changes after it,
    # which is between 1 and 1 + its writes during the run, and the sum of all rows is at least N
    with lock:
        writes = {}
        for pid, ver in changes:
            writes[pid] = writes.get(pid, 0) + 1
    over = [pid for pid, rs in by_id.items() if len(rs) > 1 + writes.get(pid, 0)]
    check(not over, "no patient has more rows than 1 + its changes", over[:5])
    versions_ok = all(final[pid][0] - 1 - (len(by_id[pid]) - 1) >= 0 for pid in ids)
    check(versions_ok, "rows per patient consistent with versions")
    print(f"export mode: {len(rows)} rows, {len(changes)} concurrent updates, rowsSent={s.get('initialExportProgress_rowsSent')}")
    check(s.get("initialExportProgress_rowsSent", 0) >= N, "rowsSent >= 2,000", s.get("initialExportProgress_rowsSent"))
    check(len(rows) == s.get("initialExportProgress_rowsSent", 0) + status(did).get("messagesDelivered", 0),
          "table rows = export rows + delivered events", (len(rows), status(did)))

    # $viewdefinition-export: async kick-off, status URL, one commit of the current state
    st, js = req("GET", "/ViewDefinition?_count=100")
    vid = [e["resource"]["id"] for e in js.get("entry", []) if e["resource"].get("name") == "patient_flat"][0]
    target = TABLE.rstrip("/") + "_vdx"
    kick = {"resourceType": "Parameters", "parameter": [
        {"name": "view", "part": [{"name": "viewReference", "valueReference": {"reference": f"ViewDefinition/{vid}"}}]},
        {"name": "kind", "valueString": "data-lakehouse"}] + [
        p for p in dest_params([]) if p["name"] in ("tablePath", "s3Endpoint", "awsRegion", "awsAccessKeyId",
                                                  "awsSecretAccessKey")]}
    kick["parameter"] = [dict(p, valueString=target) if p["name"] == "tablePath" else p for p in kick["parameter"]]
    st, js = req("POST", "/ViewDefinition/$viewdefinition-export", dict(kick, parameter=kick["parameter"][:2]))
    check(st == 400 and "tablePath" in diag(js), "$viewdefinition-export without tablePath -> 400", (st, diag(js)))
    r = urllib.request.Request(BASE + "/ViewDefinition/$viewdefinition-export", data=json.dumps(kick).encode(),
                               method="POST", headers={"Content-Type": "application/fhir+json", "Prefer": "respond-async"})
    with urllib.request.urlopen(r) as resp:
        st, loc = resp.status, resp.headers.get("Content-Location")
    check(st == 202 and loc and "/$viewdefinition-export/status/" in loc, "$viewdefinition-export kick-off -> 202", (st, loc))
    done = None
    for _ in range(300):
        with urllib.request.urlopen(loc) as resp:
            if resp.status == 200:
                done = json.loads(resp.read())
                break
        time.sleep(0.2)
    ps = {p["name"]: p for p in (done or {}).get("parameter", [])}
    check(done and ps["status"]["valueCode"] == "completed", "export status completed", done)
    if done:
        out = {q["name"]: list(q.values())[1] for q in ps["output"]["part"]}
        check(out.get("location") == target and ps["rowsExported"]["valueInteger"] == N, "output location, rows",
              (out, ps.get("rowsExported")))
        from deltalake import DeltaTable
        vrows = DeltaTable(target, storage_options=storage_options()).to_pyarrow_table().to_pylist()
        check(sorted(r["id"] for r in vrows) == sorted(ids), "export table: each patient once", len(vrows))
        check(all(r["gender"] == final[r["id"]][1] for r in vrows), "export table: current values", None)
    # $materialize (Aidbox's operation; here type=table into a Delta table), synchronous
    mt = TABLE.rstrip("/") + "_mat"
    st, js = req("POST", f"/ViewDefinition/{vid}/$materialize", {"resourceType": "Parameters", "parameter": [
        {"name": "type", "valueString": "view"}, {"name": "tablePath", "valueString": mt}]})
    check(st == 400 and "type=table" in diag(js), "$materialize type=view -> 400", (st, diag(js)))
    st, js = req("POST", f"/ViewDefinition/{vid}/$materialize", {"resourceType": "Parameters", "parameter": [
        {"name": "type", "valueString": "table"}, {"name": "tablePath", "valueString": mt}] + [
        p for p in dest_params([]) if p["name"] in ("s3Endpoint", "awsRegion", "awsAccessKeyId", "awsSecretAccessKey")]})
    ps = {p["name"]: p for p in (js or {}).get("parameter", [])} if st == 200 else {}
    check(st == 200 and ps.get("status", {}).get("valueCode") == "completed" and ps["rowsExported"]["valueInteger"] == N,
          "$materialize type=table -> 200, completed, 2,000 rows", (st, js))

print(f"{'FAILED' if failures else 'passed'}: {failures} failures")
sys.stdout.flush()
# os._exit: delta-rs' object-store runtime can abort in interpreter teardown after s3 reads
os._exit(1 if failures else 0)
