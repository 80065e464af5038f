#!/usr/bin/env python3
"""server_bench.py BASE_URL [N] [THREADS] - rough throughput of `fhirlake serve` (test-only).

Each client thread keeps one HTTP/1.1 keep-alive connection (stdlib http.client) and does
N/THREADS creates (POST Patient, ~300 bytes), then reads of those ids, then one transaction
Bundle of 100 entries, and prints requests/second for each phase. The client is Python, so
on a small machine it limits the figures; they are a floor, not the server's ceiling.
"""
import http.client
import json
import sys
import threading
import time
import urllib.parse

BASE = sys.argv[1].rstrip("/")
N = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
T = int(sys.argv[3]) if len(sys.argv) > 3 else 4
U = urllib.parse.urlsplit(BASE)

PAT = {"resourceType": "Patient", "active": True,
       "name": [{"family": "Benchmark", "given": ["Ada", "B"]}],
       "gender": "female", "birthDate": "1970-01-01",
       "identifier": [{"system": "urn:bench", "value": "x" * 40}],
       "address": [{"line": ["1 Main St"], "city": "Springfield", "postalCode": "12345"}]}


def phase(name, fn, count):
    errors = []
    ids = [[] for _ in range(T)]

    def worker(k):
        c = http.client.HTTPConnection(U.hostname, U.port, timeout=60)
        try:
            fn(c, k, ids[k])
        except Exception as e:  # report, do not hide
            errors.append(repr(e))
        c.close()

    t0 = time.perf_counter()
    th = [threading.Thread(target=worker, args=(k,)) for k in range(T)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    dt = time.perf_counter() - t0
    print(f"{name:12s} {count:6d} requests  {dt:7.2f} s  {count / dt:8.0f} req/s  errors={len(errors)}")
    if errors:
        print("  first error:", errors[0])
    return [i for part in ids for i in part]


body = json.dumps(PAT).encode()
hdr = {"Content-Type": "application/fhir+json", "Prefer": "return=minimal"}


def creates(c, k, out):
    for _ in range(N // T):
        c.request("POST", U.path + "/Patient", body=body, headers=hdr)
        r = c.getresponse()
        r.read()
        if r.status != 201:
            raise RuntimeError(f"create status {r.status}")
        out.append(r.getheader("Location").split("/_history")[0].rsplit("/", 1)[1])


made = phase("create", creates, N // T * T)
per = [made[i::T] for i in range(T)]


def reads(c, k, out):
    for pid in per[k]:
        c.request("GET", f"{U.path}/Patient/{pid}")
        r = c.getresponse()
        r.read()
        if r.status != 200:
            raise RuntimeError(f"read status {r.status}")


phase("read", reads, len(made))

tx = {"resourceType": "Bundle", "type": "transaction",
      "entry": [{"resource": PAT, "request": {"method": "POST", "url": "Patient"}} for _ in range(100)]}
txb = json.dumps(tx).encode()


def txs(c, k, out):
    for _ in range(5):
        c.request("POST", U.path, body=txb, headers={"Content-Type": "application/fhir+json"})
        r = c.getresponse()
        r.read()
        if r.status != 200:
            raise RuntimeError(f"transaction status {r.status}")


phase("tx(100)", txs, 5 * T)
print(f"(transaction phase: {5 * T} Bundles x 100 entries = {5 * T * 100} resources)")
