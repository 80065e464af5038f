"""adapt_views.py OUT_DIR VIEW.json... - copies of the views that Pathling 9.4.0 also accepts.

Pathling checks a column's declared `type` against the FHIR type of its path and refuses a
mismatch; fhirlake takes the declared type as the output type. Two declarations in
tests/data/views differ from what Pathling derives, so the bench runs BOTH tools on copies
with these (and only these) changes; no path, filter, forEach or unionAll is touched, so the
rows are those of the original views:
  - `getResourceKey()` declared `id` -> `string` (Pathling: "has type STRING, expected ID")
  - `dosageInstruction.first().timing.repeat.frequency` declared `integer` -> no declared type
    (Pathling: "has type POSITIVEINT, expected INTEGER"; `positiveInt` is also accepted;
    both tools infer the integer from the FHIR model)
Prints each change made."""
import json
import os
import sys

CHANGES = {  # (path, declared type) -> type Pathling accepts
    ("getResourceKey()", "id"): "string",
    ("dosageInstruction.first().timing.repeat.frequency", "integer"): None,
}


def walk(selects):
    for s in selects:
        yield s
        yield from walk(s.get("select", []))
        yield from walk(s.get("unionAll", []))


out, views = sys.argv[1], sys.argv[2:]
os.makedirs(out, exist_ok=True)
for v in views:
    view = json.load(open(v))
    for s in walk(view["select"]):
        for c in s.get("column", []):
            key = (c["path"], c.get("type"))
            if key in CHANGES:
                new = CHANGES[key]
                print(f"adapt_views: {view['name']}.{c['name']}: type {c['type']} -> {new or '(none)'}")
                if new:
                    c["type"] = new
                else:
                    del c["type"]
    with open(os.path.join(out, os.path.basename(v)), "w") as f:
        json.dump(view, f, indent=1)
