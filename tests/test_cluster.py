"""The demo statement on real Spark daemons gives the metrics it gives in local mode.

One test starts a standalone master and two 1-core workers on 127.0.0.1 and runs
`vista-sql --master spark://...`; the other starts a Spark Connect server and runs
`vista-sql --remote sc://...`. Both runs are child processes (the test process keeps its one local
session for the reference run), and every daemon they start is stopped by pid, also on failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import demo_views_sql
from spark_daemons import Daemons
from test_optimizer_rules import _query, _stats
from tolerances import same_metrics

from vista_sql.errors import VistaPlanningError
from vista_sql.optimizer import planner
from vista_sql.optimizer.config import GIB, MIB, Resources
from vista_sql.statements import explain, facts

# Starts a JVM in a child process (shell, server, kernel, cluster daemons) or in this one.
pytestmark = pytest.mark.spark

# What these tests prove is that daemons and Connect give local mode's metrics: any CNN, a few
# images (both classes are among ids 1-20) and a few iterations of the learner do. The small ONNX
# graph of tests/onnx_models.py keeps TensorFlow out of every executor's Python worker, the Connect
# server's and the drivers' (ONNX Runtime: 57 MB and a fraction of a second to start), and every
# iteration is a Spark job, which costs far more on daemons than in local mode.
LAYERS = "`/maxpool/MaxPool_output_0`, `/layer1/layer1.0/relu/Relu_output_0`"
FEW = "CREATE OR REPLACE TEMPORARY VIEW few_images AS SELECT * FROM images WHERE id <= 20;\n"
TRANSFER = f"""
TRANSFER FEATURES FROM MODEL '{{model}}' LAYERS ({LAYERS})
  ON few_images AS i (id, content) JOIN products AS p USING (id)
  TRAIN logistic_regression (LABEL is_popular, max_iter = 5)
  EVALUATE SPLIT 0.25
  OPTIONS (preprocess = 'torch')
"""
# Executors get 2 GB of heap: with Spark's default memoryOverhead that is the smallest executor
# the optimizer finds room in for ResNet50 (TensorFlow, task buffers and 512 MB of storage), and
# room enough for the ONNX graph of these tests.
EXECUTOR = {"spark.executor.memory": "2g", "spark.driver.memory": "1g"}


def _cluster_plan(executors: int, cores: int, memory: int):
    res = Resources(cores, memory, nodes=executors, executor=True, source="given")
    return planner.plan(_query(), statistics=_stats(rows=20_000), resources=res, slots=cores)


def test_a_cluster_is_planned_per_executor():
    plan = _cluster_plan(executors=3, cores=4, memory=8 * GIB)
    config = plan.config
    assert config.memory.os_reserve == 0 and config.memory.total == 8 * GIB
    assert config.partitions % (config.parallelism * 3) == 0
    assert config.tf_threads == 4 // config.parallelism
    text = explain.render(plan, 1)
    assert "cluster: 3 executor(s) × 4 core(s), 8.0 GB each (given)" in text


def test_partitions_fill_every_executors_task_slots():
    for executors in (1, 5):
        config = _cluster_plan(executors, cores=2, memory=4 * GIB).config
        assert config.partitions % (config.parallelism * executors) == 0


def test_too_small_executors_fail_naming_executor_memory():
    with pytest.raises(VistaPlanningError) as caught:
        _cluster_plan(executors=2, cores=1, memory=1 * GIB)
    message = str(caught.value)
    assert "the executor needs" in message and "spark.executor.memoryOverhead" in message


def test_memory_sizes_read_as_spark_reads_them():
    assert facts.jvm_bytes("2g") == 2 * GIB
    assert facts.jvm_bytes("512m") == 512 * MIB
    assert facts.jvm_bytes("1024") == 1024 * MIB  # a bare number is MiB for executor memory
    assert facts.jvm_bytes(None, default_mib=1024) == GIB


def _metrics(rows) -> dict[str, tuple]:
    # Compared across processes: other partitions, batches and TensorFlow threads, so the counts
    # must match and the metrics agree to the summation order of their floats (same_metrics).
    return {row["layer"]: tuple(v for k, v in row.items() if k != "seconds") for row in rows}


@pytest.fixture(scope="module")
def transfer(onnx_block) -> str:
    return TRANSFER.format(model=onnx_block)


@pytest.fixture(scope="module")
def local_run(vista, demo_views, transfer):
    """The statement in local mode: its metrics and the rows each stage inferred."""
    vista.sql(FEW)
    frame = vista.sql(transfer)
    metrics = _metrics([row.asDict() for row in frame.collect()])
    return metrics, _inferred(vista.last_metrics["inferred"])


def _inferred(counts: dict) -> dict[str, list]:
    return {str(stage): list(value) for stage, value in counts.items()}


# What `vista-sql --remote` does (cli.main), keeping the session to report what it inferred.
CONNECT_CHILD = """
import json, sys
from vista_sql.interfaces import cli
from vista_sql.spark.session import remote_session
from vista_sql.session import VistaSession

session = VistaSession(remote_session(sys.argv[1], {}))
ok = cli.Shell(session, "json", debug=False).run_script(sys.stdin.read())
print(json.dumps({"inferred": session.last_metrics.get("inferred")}))
sys.exit(0 if ok else 1)
"""


CLI = [sys.executable, "-m", "vista_sql.interfaces.cli", "--output", "json"]


def _run(command: list[str], tmp_path, stdin: str | None = None) -> list[dict]:
    """Run a child vista_sql process; returns the JSON lines it printed."""
    env = {**os.environ, "VISTA_SQL_HISTORY": str(tmp_path / "history")}
    done = subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def _conf(settings: dict[str, str]) -> list[str]:
    return [item for key, value in settings.items() for item in ("--conf", f"{key}={value}")]


@pytest.mark.cluster
def test_standalone_cluster_matches_local(local_run, transfer, demo_dir, tmp_path):
    with Daemons(tmp_path / "spark") as daemons:
        master = daemons.standalone(workers=2, cores=1, memory="2g")
        script = demo_views_sql(demo_dir) + FEW + f"EXPLAIN {transfer};\n{transfer};"
        lines = _run([*CLI, "--master", master, *_conf(EXECUTOR), "-e", script], tmp_path)
        # Both workers ran an executor: the CNN stages ran on them, not in the driver.
        executors = list((tmp_path / "spark" / "work").glob("app-*/*/stderr"))
    plan = next(line["plan"] for line in lines if "plan" in line)
    assert "cluster: 2 executor(s) × 1 core(s)" in plan, plan
    assert "parallelism 1," in plan, plan
    assert len(executors) == 2, executors
    assert _metrics([line for line in lines if "layer" in line]) == same_metrics(local_run[0])


@pytest.mark.cluster
def test_spark_connect_matches_local(local_run, transfer, demo_dir, tmp_path):
    with Daemons(tmp_path / "spark") as daemons:
        remote = daemons.connect_server("local[2]", {"spark.driver.memory": "2g"})
        script = demo_views_sql(demo_dir) + FEW + f"{transfer};"
        lines = _run([sys.executable, "-c", CONNECT_CHILD, remote], tmp_path, stdin=script)
    assert _metrics([line for line in lines if "layer" in line]) == same_metrics(local_run[0])
    # Counted in the stage tables over Connect, by accumulators locally: the same rows.
    inferred = next(line["inferred"] for line in lines if "inferred" in line)
    assert inferred == local_run[1]
