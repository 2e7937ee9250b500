"""Under a tight memory budget the optimizer's plan finishes where a naive configuration crashes.

The budget: 4 GB of address space per Python worker (`spark.executor.pyspark.memory`, which
PySpark applies as RLIMIT_AS, like a container's limit), in a session of its own. MobileNetV2 in
a worker peaks near 3.3 GB of address space at the optimizer's inference batch of 32; the naive
configuration (Eager, two concurrent TensorFlow tasks, a batch of 512, deserialized caching)
needs several times that and its workers die. The same statement, same data, same session.

The demo's 40 images are each used 4 times under new keys: a batch is never padded, so the naive
configuration's one task meets a batch of 160, already five times the optimizer's and past the
budget; every further copy would cost the optimizer's plan more inference, and prove nothing more.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

# Starts a JVM in a child process (shell, server, kernel, cluster daemons) or in this one.
pytestmark = pytest.mark.spark

BUDGET = "4g"
# One attempt per task (vista_sql's local sessions give two, to survive a lost worker): the naive
# configuration fails the same way every time, and each attempt waits 10 s in TensorFlow's
# allocator (its BFC allocator retries a failed allocation that long before it raises) after a
# new worker has imported TensorFlow and built the CNN again: 20 s of the test's 66 s.
MASTER = "local[2,1]"
# The learner only has to finish: a few iterations (each one a Spark job) do.
STATEMENT = (
    "TRANSFER FEATURES FROM mobilenetv2 WEIGHTS RANDOM LAYERS (out_relu) "
    "ON images AS i (id, content) JOIN products USING (id) "
    "TRAIN logistic_regression (LABEL is_popular, max_iter = 5) {options}"
)
NAIVE = (
    "OPTIONS (plan = 'eager', parallelism = 2, batch_size = 512, persist = 'deser', partitions = 1)"
)
COPIES = 4

CHILD = """
import json, sys
from vista_sql import VistaSession
from vista_sql.errors import VistaError

demo, master, budget = sys.argv[1:4]
statements, copies = json.loads(sys.argv[4]), sys.argv[5]
vista = VistaSession(master=master, conf={"spark.executor.pyspark.memory": budget})
vista.sql(f'''
    CREATE TEMPORARY VIEW files USING binaryFile
      OPTIONS (path '{demo}/images', pathGlobFilter '*.png');
    CREATE TEMPORARY VIEW copies AS SELECT id AS copy FROM range({copies});
    CREATE TEMPORARY VIEW images AS
      SELECT CAST(regexp_extract(path, '([0-9]+)[.]png$', 1) AS INT) * 100 + copy AS id, content
      FROM files CROSS JOIN copies;
''')
once = vista.spark.read.parquet(f"{demo}/products.parquet")
products = once.crossJoin(vista.spark.table("copies"))
products = products.withColumn("id", products.id * 100 + products.copy).drop("copy")
products.createOrReplaceTempView("products")
for statement in statements:
    try:
        rows = vista.sql(statement).collect()
        outcome = {"rows": [[r.layer, r.n_train + r.n_test] for r in rows]}
    except VistaError as error:
        outcome = {"error": str(error)}
    print("OUTCOME " + json.dumps(outcome), flush=True)
from vista_sql.spark.session import stop
stop(vista.spark)
"""


def test_the_optimizers_plan_finishes_where_a_naive_configuration_crashes(demo_dir):
    # The naive run first, so the optimizer's plan gets no worker it left warm.
    statements = [STATEMENT.format(options=NAIVE), STATEMENT.format(options="")]
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(demo_dir), MASTER, BUDGET, json.dumps(statements)]
        + [str(COPIES)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    naive, optimized = [
        json.loads(line.removeprefix("OUTCOME "))
        for line in child.stdout.splitlines()
        if line.startswith("OUTCOME ")
    ]
    # How a worker meets its limit differs by machine (TensorFlow's ResourceExhaustedError, a
    # C++ std::bad_alloc that aborts the worker, NumPy's MemoryError): the line reads the same.
    assert re.fullmatch(
        r"out of memory in CNN stage 1 of 1 \(out_relu\)( \(most likely\))?: [^;]+"
        r"; lower OPTIONS \(batch_size = n, parallelism = n\) or give "
        r"the Python workers more memory \(spark.executor.pyspark.memory, now 4g, or the "
        r"machine's or container's\)",
        naive.get("error", ""),
    ), naive
    rows = 40 * COPIES
    assert optimized == {"rows": [["(structured only)", rows], ["out_relu", rows]]}
    assert "Traceback" not in child.stderr and "\tat " not in child.stderr
