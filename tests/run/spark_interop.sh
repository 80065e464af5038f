#!/usr/bin/env bash
# spark_interop.sh - fhirlake Delta tables vs Apache Spark 4 + delta-spark, both directions
# (tests/interop/spark_interop.py): fhirlake-written tables (26+ commits with checkpoints,
# schema evolution, merge export, and the CLI lifecycle table of delta_lifecycle.py: table
# merge, optimize, --add-column, vacuum 0, pre-merge time travel) read by Spark with
# identical rows, DESCRIBE HISTORY, Spark
# appends read back by fhirlake; Spark-written tables (plain, partitioned, Spark checkpoint,
# deletion vectors, column mapping) read by fhirlake and appended to (or refused by feature
# name); the bulk export read by Spark. One local Spark session (local[2], 1 GiB driver).
# Installs its peer with tools/sparkenv.sh (build/venv-spark; delta jars from Maven Central
# cached in build/ivy-spark). Skips (77) only when PySpark/delta-spark/Java or the jars
# cannot be obtained. Costs: first run ~450 MB pip + ~8 MB jars; see docs/internals/INTEROP.md.
set -uo pipefail
bin=$1
src=${FL_SOURCE_DIR:?}
bash "$src/tools/sparkenv.sh"
py=$src/build/venv-spark/bin/python
if ! command -v java >/dev/null 2>&1; then
  echo "spark_interop: no java on PATH (Spark 4 needs Java 17+); skipping"
  exit 77
fi
if [ ! -x "$py" ] || ! "$py" -c "import pyspark, delta" 2>/dev/null; then
  echo "spark_interop: no build/venv-spark with pyspark + delta-spark (tools/sparkenv.sh could not install them); skipping"
  exit 77
fi
work=${FL_BUILD_DIR:?}/spark-interop
rm -rf "$work"
mkdir -p "$work"
# Spark's console progress bar and Ivy resolution chatter go to stderr; keep the log readable.
export TZ=UTC PYSPARK_PYTHON=$py SPARK_LOCAL_IP=127.0.0.1
exec "$py" "$src/tests/interop/spark_interop.py" "$bin" "$src" "$work" "$src/build/ivy-spark"
