"""pathling_export.py IN_DIR OUT_DIR COUNTS_JSON VIEW.json... - the same ViewDefinitions through
Pathling (Spark local mode, all cores): read the NDJSON folder, run each view with
DataSource.view(json=...), write each result as a Delta table, record the row counts."""
import json
import os
import sys

from pathling import PathlingContext

src, out, counts_path, views = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
pc = PathlingContext.create(enable_delta=True, enable_terminology=False)
data = pc.read.ndjson(src)
counts = {}
for v in views:
    text = open(v).read()
    name = json.loads(text)["name"]
    path = os.path.join(out, name)
    data.view(json=text).write.format("delta").mode("overwrite").save(path)
    counts[name] = pc.spark.read.format("delta").load(path).count()
json.dump(counts, open(counts_path, "w"))
