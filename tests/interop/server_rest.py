#!/usr/bin/env python3
"""server_rest.py BASE_URL - REST conformance checks for `fhirlake serve` (test-only).

Runs against a live server (SQLite or PostgreSQL store) using only the Python standard
library. Covers CRUD with versions/ETag/If-Match/Location/Last-Modified, Prefer, history
(instance/type/system, _since, _count, next links), search (_id, _lastUpdated, _sort,
_count, paging), transaction (urn:uuid resolution, atomic rollback) and batch Bundles,
CapabilityStatement, /health and the OperationOutcome errors. Prints one line per failed
check and a summary; exit status 1 if anything failed.
"""
import http.client
import json
import re
import sys
import time
import urllib.parse
import uuid

BASE = sys.argv[1].rstrip("/")
U = urllib.parse.urlsplit(BASE)
HOST, PORT, PATH = U.hostname, U.port, U.path
RUN = uuid.uuid4().hex[:8]  # keeps ids unique when the same store is reused
ok = 0
bad = 0


def check(cond, what, extra=""):
    global ok, bad
    if cond:
        ok += 1
    else:
        bad += 1
        print(f"FAIL: {what} {extra}"[:2000])


def req(method, path, body=None, headers=None, raw=None):
    """One request; path is relative to the FHIR base unless it starts with http or //."""
    conn = http.client.HTTPConnection(HOST, PORT, timeout=30)
    h = {"Accept": "application/fhir+json"}
    if body is not None or raw is not None:
        h["Content-Type"] = "application/fhir+json"
    h.update(headers or {})
    if path.startswith("http"):
        p = urllib.parse.urlsplit(path)
        url = p.path + ("?" + p.query if p.query else "")
    elif path.startswith("//"):
        url = path[1:]
    else:
        url = PATH + path
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    conn.request(method, url, body=data, headers=h)
    r = conn.getresponse()
    text = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    conn.close()
    js = None
    if text:
        try:
            js = json.loads(text)
        except ValueError:
            js = None
    return r.status, hdrs, js


def diag(js):
    try:
        return js["issue"][0]["diagnostics"]
    except (TypeError, KeyError, IndexError):
        return ""


def is_outcome(js, code=None):
    return isinstance(js, dict) and js.get("resourceType") == "OperationOutcome" and (
        code is None or js["issue"][0]["code"] == code)


LU_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

# ---------------------------------------------------------------- metadata, health
st, h, js = req("GET", "/metadata")
check(st == 200 and js["resourceType"] == "CapabilityStatement" and js["fhirVersion"] == "4.0.1", "metadata")
check(h.get("content-type", "").startswith("application/fhir+json"), "metadata content-type", h)
types = {r["type"] for r in js["rest"][0]["resource"]}
check("Patient" in types and "Observation" in types, "metadata lists types")
st, h, js = req("GET", "//health")
check(st == 200 and js["status"] == "ok", "health", js)

# ---------------------------------------------------------------- create / read
pat = {"resourceType": "Patient", "id": "ignored", "name": [{"family": "Lake" + RUN}], "active": True}
st, h, js = req("POST", "/Patient", pat)
check(st == 201, "create status", st)
pid = js["id"]
check(pid != "ignored" and re.match(r"^[0-9a-f-]{36}$", pid), "server-assigned UUID id", pid)
check(js["meta"]["versionId"] == "1" and LU_RE.match(js["meta"]["lastUpdated"]), "create meta", js.get("meta"))
check(h.get("etag") == 'W/"1"', "create ETag", h.get("etag"))
check(h.get("location", "").endswith(f"/Patient/{pid}/_history/1"), "create Location", h.get("location"))
check(re.match(r"^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$", h.get("last-modified", "")), "Last-Modified",
      h.get("last-modified"))
check(js["name"][0]["family"] == "Lake" + RUN and js["active"] is True, "create keeps content")

st, h, js = req("GET", f"/Patient/{pid}")
check(st == 200 and js["id"] == pid and h.get("etag") == 'W/"1"', "read", st)

# ---------------------------------------------------------------- update / If-Match
upd = dict(js, active=False)
st, h, js = req("PUT", f"/Patient/{pid}", upd, {"If-Match": 'W/"1"'})
check(st == 200 and js["meta"]["versionId"] == "2" and h.get("etag") == 'W/"2"', "update with If-Match", st)
st, h, js = req("PUT", f"/Patient/{pid}", upd, {"If-Match": 'W/"1"'})
check(st == 412 and is_outcome(js, "conflict") and "If-Match" in diag(js), "stale If-Match -> 412", (st, diag(js)))
st, h, js = req("PUT", f"/Patient/{pid}", upd, {"If-Match": "banana"})
check(st == 400 and "If-Match" in diag(js), "malformed If-Match -> 400", (st, diag(js)))
st, h, js = req("DELETE", f"/Patient/{pid}", headers={"If-Match": 'W/"7"'})
check(st == 412, "delete with stale If-Match -> 412", st)

cid = "c-" + RUN
st, h, js = req("PUT", f"/Patient/{cid}", {"resourceType": "Patient", "id": cid})
check(st == 201 and js["id"] == cid and js["meta"]["versionId"] == "1", "create-on-update -> 201", st)
st, h, js = req("PUT", f"/Patient/{cid}", {"resourceType": "Patient", "id": "other"})
check(st == 400 and "does not match" in diag(js), "PUT id mismatch -> 400", diag(js))
st, h, js = req("PUT", f"/Patient/{cid}", {"resourceType": "Patient"})
check(st == 400 and "no id" in diag(js), "PUT without id -> 400", diag(js))
st, h, js = req("POST", "/Patient", {"resourceType": "Observation", "status": "final"})
check(st == 400 and "does not match" in diag(js) and "Observation" in diag(js), "resourceType mismatch -> 400",
      diag(js))
st, h, js = req("POST", "/Patient", raw=b'{"resourceType": "Patient",\n  "active": tru }')
check(st == 400 and is_outcome(js, "invalid") and "line 2, column" in diag(js), "invalid JSON -> 400 line/col",
      diag(js))
st, h, js = req("POST", "/Patient", raw=b"")
check(st == 400 and "empty" in diag(js), "empty body -> 400", diag(js))
st, h, js = req("POST", "/Patient", raw=b"<Patient/>", headers={"Content-Type": "application/fhir+xml"})
check(st == 415 and is_outcome(js), "XML -> 415", st)

# ---------------------------------------------------------------- Prefer
st, h, js = req("POST", "/Patient", {"resourceType": "Patient"}, {"Prefer": "return=minimal"})
check(st == 201 and js is None and "location" in h, "Prefer: return=minimal", (st, js))
st, h, js = req("POST", "/Patient", {"resourceType": "Patient"}, {"Prefer": "return=OperationOutcome"})
check(st == 201 and is_outcome(js), "Prefer: return=OperationOutcome", st)

# ---------------------------------------------------------------- errors on routes
st, h, js = req("GET", "/Foo/1")
check(st == 404 and "unknown resource type 'Foo'" in diag(js), "unknown type -> 404", diag(js))
st, h, js = req("GET", "/Patient/$everything")
check(st == 404 and "unknown operation" in diag(js), "unknown operation -> 404", diag(js))
st, h, js = req("POST", "/$export")
check(st == 404 and "unknown operation" in diag(js), "unknown system operation -> 404", diag(js))
st, h, js = req("PATCH", f"/Patient/{pid}", {"op": "x"})
check(st == 405 and is_outcome(js), "PATCH -> 405", st)
st, h, js = req("GET", "/Patient/no-such-" + RUN)
check(st == 404 and is_outcome(js, "not-found") and "not found" in diag(js), "missing -> 404", diag(js))
st, h, js = req("GET", "/Patient/bad_id!")
check(st == 400 and "invalid id" in diag(js), "invalid id -> 400", diag(js))
st, h, js = req("POST", "/Patient", {"resourceType": "Patient"}, {"If-None-Exist": "identifier=x"})
check(st == 400 and "If-None-Exist" in diag(js), "conditional create -> 400", diag(js))
st, h, js = req("PUT", "/Patient?identifier=x", {"resourceType": "Patient"})
check(st == 400 and "conditional update" in diag(js), "conditional update -> 400", diag(js))
st, h, js = req("GET", "//nothing-here")
check(st == 404 and is_outcome(js), "outside the base -> 404", st)

# ---------------------------------------------------------------- delete / vread
st, h, js = req("DELETE", f"/Patient/{cid}")
check(st == 204 and js is None, "delete -> 204", st)
st, h, js = req("GET", f"/Patient/{cid}")
check(st == 410 and is_outcome(js, "deleted"), "read deleted -> 410", st)
st, h, js = req("DELETE", f"/Patient/{cid}")
check(st == 204, "delete again -> 204", st)
st, h, js = req("GET", f"/Patient/{cid}/_history/1")
check(st == 200 and js["meta"]["versionId"] == "1", "vread v1", st)
st, h, js = req("GET", f"/Patient/{cid}/_history/2")
check(st == 410, "vread deleted version -> 410", st)
st, h, js = req("GET", f"/Patient/{cid}/_history/9")
check(st == 404, "vread missing version -> 404", st)
st, h, js = req("GET", f"/Patient/{cid}/_history/x")
check(st == 400, "vread bad version -> 400", st)

# ---------------------------------------------------------------- history
st, h, js = req("GET", f"/Patient/{cid}/_history")
check(st == 200 and js["type"] == "history" and len(js["entry"]) == 2, "instance history", st)
e = js["entry"]
check(e[0]["request"]["method"] == "DELETE" and "resource" not in e[0], "history newest first, delete entry")
check(e[1]["request"]["method"] == "PUT" and e[1]["resource"]["meta"]["versionId"] == "1", "history v1 entry")
st, h, js = req("GET", "/Patient/never-" + RUN + "/_history")
check(st == 404, "history of a missing resource -> 404", st)

htype = "Basic"
t_before = None
ids = []
for i in range(5):
    st, h, js = req("POST", "/Basic", {"resourceType": "Basic", "code": {"text": RUN}})
    ids.append(js["id"])
    if i == 2:
        t_before = js["meta"]["lastUpdated"]
    time.sleep(0.005)


def collect(first, key):
    seen, pages, url = [], 0, first
    while url and pages < 50:
        st, h, js = req("GET", url)
        if st != 200:
            check(False, "paging request", (url, st, diag(js)))
            break
        pages += 1
        seen += [key(en) for en in js.get("entry", [])]
        url = next((l["url"] for l in js["link"] if l["relation"] == "next"), None)
    return seen, pages


hist, pages = collect(f"/Basic/_history?_count=2", lambda en: (en["fullUrl"].split("/")[-1],
                                                              en["response"]["etag"]))
mine = [x for x in hist if x[0] in ids]
check(len(mine) == 5 and len(set(mine)) == 5, "type history paging collects all", mine)
check(pages >= 3, "type history used next links", pages)
st, h, js = req("GET", "/Basic/_history?_since=" + urllib.parse.quote(t_before))
since_ids = {en["resource"]["id"] for en in js["entry"]}
check(set(ids[2:]) <= since_ids and ids[0] not in since_ids, "_since filter", (since_ids, ids))
st, h, js = req("GET", "/_history?_count=3")
check(st == 200 and js["type"] == "history" and len(js["entry"]) == 3 and
      any(l["relation"] == "next" for l in js["link"]), "system history", st)
st, h, js = req("GET", "/_history?_since=notadate")
check(st == 400 and "_since" in diag(js), "bad _since -> 400", diag(js))

# ---------------------------------------------------------------- search
st, h, js = req("GET", f"/Basic?_id={ids[0]},{ids[3]}")
got = sorted(en["resource"]["id"] for en in js["entry"])
check(st == 200 and js["type"] == "searchset" and got == sorted([ids[0], ids[3]]) and js["total"] == 2,
      "_id search", got)
check(all(en["search"]["mode"] == "match" and en["fullUrl"].endswith(en["resource"]["id"]) for en in js["entry"]),
      "searchset entries")
st, h, js = req("GET", f"/Basic?_id={','.join(ids)}&_lastUpdated=ge{urllib.parse.quote(t_before)}")
got = {en["resource"]["id"] for en in js["entry"]}
check(got == set(ids[2:]), "_lastUpdated=ge", (got, ids))
st, h, js = req("GET", f"/Basic?_id={','.join(ids)}&_lastUpdated=lt{urllib.parse.quote(t_before)}")
got = {en["resource"]["id"] for en in js["entry"]}
check(got == set(ids[:2]), "_lastUpdated=lt", got)
st, h, js = req("GET", f"/Basic?_id={','.join(ids)}&_lastUpdated=gt2000-01-01&_lastUpdated=le2999")
check(st == 200 and len(js["entry"]) == 5, "_lastUpdated=gt&le (AND)", st)
st, h, js = req("GET", f"/Basic?_id={','.join(ids)}&_lastUpdated=eq1999")
check(st == 200 and js["total"] == 0, "_lastUpdated=eq year", st)
st, h, js = req("GET", f"/Basic?_id={','.join(ids)}&_sort=-_lastUpdated")
got = [en["resource"]["id"] for en in js["entry"]]
check(got == list(reversed(ids)), "_sort=-_lastUpdated", got)
st, h, js = req("GET", f"/Basic?_id={','.join(ids)}&_sort=_lastUpdated")
got = [en["resource"]["id"] for en in js["entry"]]
check(got == ids, "_sort=_lastUpdated", got)
paged, pages = collect(f"/Basic?_id={','.join(ids)}&_count=2&_sort=-_lastUpdated",
                       lambda en: en["resource"]["id"])
check(paged == list(reversed(ids)) and pages == 3, "search paging via next links", (paged, pages))
st, h, js = req("GET", f"/Basic?_id={','.join(ids)}&_count=0")
check(st == 200 and js["total"] == 5 and not js.get("entry"), "_count=0 -> total only", js.get("total"))
st, h, js = req("GET", f"/Basic?_id={','.join(ids)}&_summary=count")
check(st == 200 and js["total"] == 5 and not js.get("entry"), "_summary=count", js.get("total"))
st, h, js = req("GET", "/Basic?_id=%00bad,no%20such")
check(st == 200 and js["total"] == 0, "_id with invalid ids -> empty searchset", (st, diag(js)))
st, h, js = req("GET", f"/Basic?_id=%00,{ids[0]}")
check(st == 200 and js["total"] == 1, "_id mixing invalid and valid ids", (st, diag(js)))
st, h, js = req("GET", "/Basic?_sort=name")
check(st == 400 and "_sort" in diag(js), "unsupported _sort -> 400", diag(js))
st, h, js = req("GET", "/Basic?_lastUpdated=sa2020")
check(st == 400 and "prefix" in diag(js), "unsupported prefix -> 400", diag(js))
st, h, js = req("GET", "/Basic?_count=-1")
check(st == 400, "negative _count -> 400", st)
st, h, js = req("GET", f"/Basic?_id={ids[0]}&name=x")
check(st == 200 and js["total"] == 1, "unknown parameter ignored (lenient)", st)
st, h, js = req("GET", f"/Basic?_id={ids[0]}&name=x", headers={"Prefer": "handling=strict"})
check(st == 400 and "name" in diag(js), "unknown parameter with handling=strict -> 400", diag(js))
st, h, js = req("POST", "/Basic/_search", raw=f"_id={ids[1]}".encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"})
check(st == 200 and js["total"] == 1, "POST _search", st)
st, h, js = req("GET", f"/Basic?_cursor=garbage")
check(st == 400 and "cursor" in diag(js), "bad cursor -> 400", diag(js))

# ---------------------------------------------------------------- transaction
pu, ou = "urn:uuid:" + str(uuid.uuid4()), "urn:uuid:" + str(uuid.uuid4())
tx = {"resourceType": "Bundle", "type": "transaction", "entry": [
    {"fullUrl": ou, "resource": {"resourceType": "Observation", "status": "final", "code": {"text": RUN},
                                 "subject": {"reference": pu}}, "request": {"method": "POST", "url": "Observation"}},
    {"fullUrl": pu, "resource": {"resourceType": "Patient", "name": [{"family": "Tx" + RUN}]},
     "request": {"method": "POST", "url": "Patient"}},
    {"resource": {"resourceType": "Patient", "id": "tx-" + RUN}, "request": {"method": "PUT", "url": "Patient/tx-" + RUN}},
    {"request": {"method": "GET", "url": f"Patient/{pid}"}},
]}
st, h, js = req("POST", "", tx)
check(st == 200 and js.get("type") == "transaction-response" and len(js["entry"]) == 4, "transaction", (st, diag(js)))
if st == 200:
    r = [en["response"] for en in js["entry"]]
    check(r[0]["status"].startswith("201") and r[1]["status"].startswith("201") and r[2]["status"].startswith("201")
          and r[3]["status"].startswith("200"), "transaction statuses", r)
    new_pid = r[1]["location"].split("/")[1]
    new_oid = r[0]["location"].split("/")[1]
    st, h, o = req("GET", f"/Observation/{new_oid}")
    check(st == 200 and o["subject"]["reference"] == f"Patient/{new_pid}", "urn:uuid reference resolved",
          o.get("subject") if o else st)
    check(js["entry"][3]["resource"]["id"] == pid, "transaction GET returns the resource")

# atomicity: a failing entry rolls back the whole Bundle
st, h, js = req("GET", f"/Basic?_count=0")
before = js["total"]
bad_tx = {"resourceType": "Bundle", "type": "transaction", "entry": [
    {"resource": {"resourceType": "Basic", "code": {"text": "rollback"}}, "request": {"method": "POST", "url": "Basic"}},
    {"resource": {"resourceType": "Patient", "id": pid}, "request": {"method": "PUT", "url": f"Patient/{pid}",
                                                                     "ifMatch": 'W/"99"'}},
]}
st, h, js = req("POST", "", bad_tx)
check(st == 412 and is_outcome(js) and "entry[1]" in diag(js) and "nothing was written" in diag(js),
      "failing transaction -> 412 naming the entry", (st, diag(js)))
st, h, js = req("GET", f"/Basic?_count=0")
check(js["total"] == before, "transaction rolled back (no Basic created)", (before, js["total"]))
st, h, js = req("GET", f"/Patient/{pid}")
check(js["meta"]["versionId"] == "2", "transaction rolled back (Patient unchanged)", js["meta"])
bad_tx2 = {"resourceType": "Bundle", "type": "transaction", "entry": [
    {"resource": {"resourceType": "Basic"}, "request": {"method": "POST", "url": "Basic"}},
    {"resource": {"resourceType": "Nope"}, "request": {"method": "POST", "url": "Nope"}},
]}
st, h, js = req("POST", "", bad_tx2)
check(st == 400 and "entry[1]" in diag(js) and "Nope" in diag(js), "invalid entry -> 400", diag(js))
st, h, js = req("GET", f"/Basic?_count=0")
check(js["total"] == before, "invalid transaction wrote nothing", js["total"])
st, h, js = req("POST", "", {"resourceType": "Bundle", "type": "collection"})
check(st == 400 and "transaction" in diag(js), "Bundle.type collection -> 400", diag(js))
st, h, js = req("POST", "", {"resourceType": "Patient"})
check(st == 400 and "Bundle" in diag(js), "non-Bundle to base -> 400", diag(js))

# ---------------------------------------------------------------- batch
batch = {"resourceType": "Bundle", "type": "batch", "entry": [
    {"resource": {"resourceType": "Basic", "code": {"text": "batch"}}, "request": {"method": "POST", "url": "Basic"}},
    {"request": {"method": "GET", "url": "Patient/no-such-" + RUN}},
    {"resource": {"resourceType": "Basic"}, "request": {"method": "PUT", "url": "Basic/x y"}},
]}
st, h, js = req("POST", "", batch)
check(st == 200 and js["type"] == "batch-response", "batch", (st, diag(js)))
if st == 200:
    r = [en["response"] for en in js["entry"]]
    check(r[0]["status"].startswith("201") and r[1]["status"].startswith("404") and r[2]["status"].startswith("400"),
          "batch entry statuses", r)
    check(is_outcome(r[1].get("outcome")), "batch error outcome", r[1])
st, h, js = req("GET", f"/Basic?_count=0")
check(js["total"] == before + 1, "batch committed its good entry", (before, js["total"]))


# ---------------------------------------------------------------- body limit (server runs with --max-body-mb 1)
import socket


def raw_post(path, body, chunked=False):
    s = socket.create_connection((HOST, PORT), timeout=30)
    head = f"POST {PATH}{path} HTTP/1.1\r\nHost: {HOST}:{PORT}\r\nContent-Type: application/fhir+json\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {len(body)}\r\n\r\n"
    data = head.encode() + (f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n" if chunked else body)
    try:
        s.sendall(data)
    except OSError:
        pass  # the server may answer 413 and close before reading everything
    resp = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            resp += chunk
            if b"\r\n\r\n" in resp and resp.split(b"\r\n\r\n", 1)[1].rstrip().endswith(b"}"):
                break
    except OSError:
        pass
    s.close()
    m = re.match(rb"HTTP/1\.1 (\d+)", resp)
    return (int(m.group(1)) if m else 0), resp


big = b'{"resourceType":"Basic","id":"' + b"x" * (1536 * 1024) + b'"}'
st, resp = raw_post("/Basic", big)
check(st == 413 and b"too-long" in resp and b"max-body-mb" in resp, "body over limit -> 413", (st, resp[:300]))
st, resp = raw_post("/Basic", big, chunked=True)
check(st == 413 and b"too-long" in resp, "chunked body over limit -> 413", (st, resp[:300]))
mid = {"resourceType": "Basic", "code": {"text": "y" * (600 * 1024)}}
st, h, js = req("POST", "/Basic", mid)
check(st == 201 and len(js["code"]["text"]) == 600 * 1024, "600 KiB body under the 1 MiB limit -> 201", st)
st, h, js = req("GET", f"/Patient/{cid}/_history?_since=2999-01-01")
check(st == 200 and not js.get("entry"), "instance history with _since in the future -> empty 200", st)
st, resp = raw_post("/Basic", b'{"resourceType":"Basic"}', chunked=True)
check(st == 201, "chunked body under limit -> 201", (st, resp[:300]))

# ---------------------------------------------------------------- topics, destinations, events, $status
topic = {"resourceType": "AidboxSubscriptionTopic", "url": "http://example.org/topic/" + RUN, "status": "active",
         "trigger": [{"resource": "Observation", "supportedInteraction": ["create", "update", "delete"],
                      "fhirPathCriteria": "%current.status = 'final' or %previous.status = 'final'"}]}
st, h, js = req("POST", "/AidboxSubscriptionTopic", topic)
check(st == 201, "create AidboxSubscriptionTopic", (st, diag(js)))
bad_topic = dict(topic, trigger=[{"resource": "Observation", "fhirPathCriteria": "%current.status = "}])
st, h, js = req("POST", "/AidboxSubscriptionTopic", bad_topic)
check(st == 400 and "fhirPathCriteria does not compile" in diag(js), "bad fhirPathCriteria -> 400", diag(js))
dest = {"resourceType": "AidboxTopicDestination", "status": "active", "topic": topic["url"],
        "kind": "kafka-at-least-once", "content": "full-resource",
        "parameter": [{"name": "batchSize", "valueUnsignedInt": 50}]}
st, h, js = req("POST", "/AidboxTopicDestination", dest)
check(st == 201, "create AidboxTopicDestination", (st, diag(js)))
if st == 201:
    st, h, js = req("PUT", f"/AidboxTopicDestination/{js['id']}", js)
    check(st == 405 and "immutable" in diag(js), "AidboxTopicDestination PUT -> 405", (st, diag(js)))


def queued(dest_id):
    st, h, js = req("GET", f"/AidboxTopicDestination/{dest_id}/$status")
    if st != 200:
        return None
    return next(p["valueInteger"] for p in js["parameter"] if p["name"] == "messagesQueued")


st, h, js = req("POST", "/AidboxTopicDestination", dest)
did = js["id"] if st == 201 else None
check(did and queued(did) == 0, "$status of a new destination", st)
st, h, js = req("POST", "/Observation", {"resourceType": "Observation", "status": "final", "code": {"text": RUN}})
oid = js["id"]
check(queued(did) == 1, "matching create is queued (same transaction)", queued(did))
req("POST", "/Observation", {"resourceType": "Observation", "status": "preliminary"})
check(queued(did) == 1, "criteria false -> not queued", queued(did))
req("DELETE", f"/Observation/{oid}")
check(queued(did) == 2, "delete of a final Observation is queued (%previous)", queued(did))
st, h, js = req("DELETE", f"/AidboxTopicDestination/{did}")
st, h, js = req("GET", f"/AidboxTopicDestination/{did}/$status")
check(st == 410, "$status of a deleted destination -> 410", st)
st, h, js = req("POST", "/AidboxTopicDestination", dict(dest, content="everything"))
check(st == 400 and "content" in diag(js), "bad destination content -> 400", diag(js))

# ---------------------------------------------------------------- concurrency
import threading

shared = "conc-" + RUN
statuses = []
lock = threading.Lock()


def hammer():
    for _ in range(25):
        st, h, js = req("PUT", f"/Patient/{shared}", {"resourceType": "Patient", "id": shared})
        with lock:
            statuses.append(st)


threads = [threading.Thread(target=hammer) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
check(sorted(set(statuses)) in ([200, 201], [201, 200], [200], [201]) and statuses.count(201) == 1,
      "8 concurrent writers: one create, the rest updates", sorted(set(statuses)))
st, h, js = req("GET", f"/Patient/{shared}")
check(st == 200 and js["meta"]["versionId"] == "200", "8 x 25 concurrent updates -> version 200", js and js.get("meta"))
st, h, js = req("GET", f"/Patient/{shared}/_history?_count=1000")
versions = sorted(int(e["resource"]["meta"]["versionId"]) for e in js["entry"])
check(versions == list(range(1, 201)), "history has every version exactly once", versions[:5])

# ---------------------------------------------------------------- metrics
conn = http.client.HTTPConnection(HOST, PORT, timeout=30)
conn.request("GET", "/metrics")
r = conn.getresponse()
text = r.read().decode()
conn.close()
check(r.status == 200 and r.getheader("Content-Type", "").startswith("text/plain"), "/metrics", r.status)
m = re.search(r'^fhirlake_http_requests_total\{code="201"\} (\d+)$', text, re.M)
check(m and int(m.group(1)) >= 10, "/metrics counts 201s", m and m.group(0))
check(re.search(r'^fhirlake_http_request_duration_seconds_count \d+$', text, re.M), "/metrics histogram")

print(f"server_rest: {ok} checks passed, {bad} failed")
sys.exit(1 if bad else 0)
