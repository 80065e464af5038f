"""fhir_http.py - helpers shared by the `fhirlake serve` interop tests (server_crash.py,
server_replicas.py). Test-only, stdlib only.
"""
import json
import urllib.error
import urllib.request


def req(base, method, path, body=None, timeout=30):
    """One FHIR request to base + path -> (HTTP status, parsed JSON body or None). A
    connection failure (server down or killed) is status 0, so callers can count it."""
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        r.add_header("Content-Type", "application/fhir+json")
    try:
        with urllib.request.urlopen(r, timeout=timeout) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, None
    except (urllib.error.URLError, ConnectionError, OSError, TimeoutError):
        return 0, None


def history_versions(base, resource="Patient"):
    """Every committed version of the type's history, following the next links ->
    (set of (id, version as int, is_deleted 0/1), status: 200, or the status of the page
    that failed). A delete is keyed by the version before it: its Delta row carries the
    last version's values."""
    committed = set()
    url = f"/{resource}/_history?_count=1000"
    while url:
        st, js = req(base, "GET", url, timeout=60)
        if st != 200:
            return committed, st
        for e in js.get("entry", []):
            ver = int(e["response"]["etag"].split('"')[1])
            if "resource" in e:
                committed.add((e["resource"]["id"], ver, 0))
            else:
                committed.add((e["request"]["url"].split("/")[1], ver - 1, 1))
        nxt = [link["url"] for link in js.get("link", []) if link["relation"] == "next"]
        url = nxt[0].split("/fhir", 1)[1] if nxt else None
    return committed, 200
