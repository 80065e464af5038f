"""pathling_export.py IN_DIR OUT_DIR COUNTS_JSON VIEW.json... - the same ViewDefinitions through
Pathling (Spark local mode, local[2], driver memory 4g, UI off): read the NDJSON folder, run each
view with DataSource.view(json=...), write each result as a Delta table, record the row counts
(read back from the Delta table) and the seconds each view took."""
import json
import os
import sys
import time

from pyspark.sql import SparkSession
from pathling import PathlingContext
from pathling._version import __java_version__, __scala_version__, __delta_version__

src, out, counts_path, views = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
t0 = time.time()
spark = (
    SparkSession.builder.master(os.environ.get("PL_MASTER", "local[2]"))
    .config("spark.driver.memory", os.environ.get("PL_DRIVER_MEMORY", "4g"))
    .config("spark.ui.enabled", "false")
    .config("spark.ui.showConsoleProgress", "false")
    .config(
        "spark.jars.packages",
        f"au.csiro.pathling:library-runtime:{__java_version__},"
        f"io.delta:delta-spark_{__scala_version__}:{__delta_version__}",
    )
    .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
    .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("WARN")
pc = PathlingContext.create(spark, enable_terminology=False)
data = pc.read.ndjson(src)
counts, secs = {}, {"startup": round(time.time() - t0, 2)}
for v in views:
    t = time.time()
    text = open(v).read()
    name = json.loads(text)["name"]
    path = os.path.join(out, name)
    data.view(json=text).write.format("delta").mode("overwrite").save(path)
    counts[name] = spark.read.format("delta").load(path).count()
    secs[name] = round(time.time() - t, 2)
json.dump({"rows": counts, "seconds": secs}, open(counts_path, "w"))
print(json.dumps({"rows": counts, "seconds": secs}))
