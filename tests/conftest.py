"""Shared fixtures: one local SparkSession for the whole run and a small real demo dataset."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import demo_data  # noqa: E402
import growing  # noqa: E402

from vista_sql.spark import class_archive  # noqa: E402
from vista_sql.spark.session import java_options  # noqa: E402

DEMO_IMAGES = 40

# The short-lived JVMs the tests start in child processes (shells, kernels, cluster daemons,
# sessions of their own; children inherit this) compile with C1 only and collect with the serial
# collector: for seconds to a minute or two on a few rows, C2's compiling and G1's threads are
# most of their CPU. Measured on tests/test_plain_sql.py (5 JVMs): 106 s of JVM CPU became 50 s,
# the file's wall time 77 s became 59 s. The session JVM of each pytest process (`spark` below)
# runs the whole suite's statements, where C1's code is too slow; it keeps both compilers but
# gives C2 only methods four times as hot as by default. Over test_transfer + test_learners its
# compiler threads then used 74 s of CPU instead of 111 s, in the same wall time (191 s vs 193 s).
# It collects with the serial collector too: on a few rows, G1's concurrent and parallel threads
# cost more than they save. The machine's CPU over test_transfer + test_multi_cnn + test_plans:
# 141 CPU-s instead of 156 (parallel collector: 145); test_learners + test_reuse: 164 vs 178.
# Java's floating point is the same on every tier (strict since Java 17), so no result changes;
# `make demo`, the shell and bench/ keep the JVM's defaults.
JAVA_OPTIONS = "JDK_JAVA_OPTIONS"
CHILD_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
SESSION_JAVA_OPTIONS = (
    "-XX:Tier4InvocationThreshold=20000 -XX:Tier4MinInvocationThreshold=2400 "
    "-XX:Tier4CompileThreshold=30000 -XX:Tier4BackEdgeThreshold=160000 -XX:+UseSerialGC"
)
os.environ.setdefault(JAVA_OPTIONS, CHILD_JAVA_OPTIONS)
# Zoo CNNs' graphs (catalog/graph_cache) go to the checkout's build/, not the user's home; the
# tests' child processes inherit it and plan from what this run's first build wrote.
os.environ.setdefault("VISTA_SQL_CACHE", str(ROOT / "build" / "cache"))
FAST_TIER = os.environ.get("VISTA_SQL_TEST_TIER") == "fast"
# Spark's JVMs map a class-data archive where one exists (vista_sql/spark/class_archive.py): each
# child JVM of the tests starts about 3 s sooner. The run builds the archive for the children's
# options in the background (one pytest process builds it, under a lock; a child started before
# it is ready starts as before), and no process builds one when it exits.
os.environ.setdefault(class_archive.MODE_ENV, "use")


def pytest_sessionstart(session):
    config = session.config
    controller = not hasattr(config, "workerinput") and getattr(config.option, "numprocesses", 0)
    if FAST_TIER or controller:
        return
    # The command a process runs at exit to build its archive; the environment as it is before
    # the `spark` fixture swaps the JVM options for its own.
    children = dict(os.environ)
    builder = [sys.executable, "-m", class_archive.__name__, java_options(children)]
    threading.Thread(
        target=subprocess.run,
        args=(builder,),
        kwargs={"env": children, "stdin": subprocess.DEVNULL, "capture_output": True},
        name="class-archive",
        daemon=True,
    ).start()


# `make test` hands whole files to its two pytest processes in collection order
# (--no-loadscope-reorder). xdist's own order, most tests first, leaves the files of one to three
# long tests for last, and a process that is finishing a file takes the next one early: in one
# clean-clone run the one-test memory-pressure file (46 s) started on one process 12 s before the
# other ran out of files, and pytest ended 58 s after it. Longest first, the files left at the end
# are the short ones. Seconds from a clean-clone run of session 20; a file not listed runs after
# these, in collection order.
LONGEST_FIRST = (
    "test_learners.py",  # 96 s
    "test_reuse.py",  # 72
    "test_saved_models.py",  # 70
    "test_cluster.py",  # 67
    "test_plans.py",  # 62
    "test_refresh.py",  # 52
    "test_memory_pressure.py",  # 46
    "test_refresh_tables.py",  # 44
    "test_bad_images.py",  # 43
    "test_jupyter.py",  # 37
    "test_catalog.py",  # 37
    "test_user_models.py",  # 32
    "test_transfer.py",  # 32
    "test_onnx.py",  # 31
    "test_pg_endpoint.py",  # 30
    "test_multi_cnn.py",  # 28
    "test_plain_sql.py",  # 26
    "test_shell.py",  # 25
    "test_session_records.py",  # 24
    "test_shell_faults.py",  # 24
    "test_out_of_memory.py",  # 23
    "test_console.py",  # 22
    "test_class_labels.py",  # 19
    "test_bad_data.py",  # 18
    "test_cnn_statements.py",  # 17
    "test_class_archive.py",  # 17
    "test_bad_statements.py",  # 16
    "test_worker_kill.py",  # 16
    "test_dbapi.py",  # 15
    "test_results.py",  # 12
)


def pytest_collection_modifyitems(items):
    # Whatever asks for the session's SparkSession, directly or through another fixture, needs
    # the JVM; tests that start one in a child process say so with `pytestmark`.
    for item in items:
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.spark)
    rank = {name: place for place, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: files stay whole


@pytest.fixture(scope="session", autouse=FAST_TIER)
def _fast_tier_refuses_jvm_and_cnn():
    """`make test-fast` stays fast only if its tests are what their markers say: a test that
    starts a JVM or builds a CNN without its marker fails here instead of slowing the tier."""
    from vista_sql.catalog import backend
    from vista_sql.spark import jvm

    def refuse(what, marker):
        def refused(*args, **kwargs):
            raise AssertionError(f"make test-fast {what}: mark the test {marker}")

        return refused

    saved = jvm.launch, backend.keras
    jvm.launch = refuse("started a JVM", "spark")
    backend.keras = refuse("imported Keras to build a CNN", "cnn")
    yield
    jvm.launch, backend.keras = saved


@pytest.fixture(scope="session")
def spark():
    from vista_sql.spark.session import local_session

    child_options = os.environ.get(JAVA_OPTIONS)
    os.environ[JAVA_OPTIONS] = SESSION_JAVA_OPTIONS
    try:
        session = local_session("local[2]")
    finally:
        if child_options is None:
            del os.environ[JAVA_OPTIONS]
        else:
            os.environ[JAVA_OPTIONS] = child_options
    # Session records (a statement's features kept for the next) are tested on their own, in
    # tests/test_session_records.py: every other test counts and compares its own inference.
    session.conf.set("vista.session.records", "false")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def vista(spark):
    from vista_sql import VistaSession

    return VistaSession(spark)


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "data"
    demo_data.build(out, DEMO_IMAGES)
    return out


def demo_views_sql(demo_dir: Path) -> str:
    """Views `images` (id, content) and `products` over the demo files, as a user makes them."""
    return f"""
    CREATE OR REPLACE TEMPORARY VIEW digit_files USING binaryFile
      OPTIONS (path '{demo_dir / "images"}', pathGlobFilter '*.png');
    CREATE OR REPLACE TEMPORARY VIEW images AS
      SELECT CAST(regexp_extract(path, '([0-9]+)[.]png$', 1) AS INT) AS id, content
      FROM digit_files;
    CREATE OR REPLACE TEMPORARY VIEW products_raw USING parquet
      OPTIONS (path '{demo_dir / "products.parquet"}');
    CREATE OR REPLACE TEMPORARY VIEW products AS
      SELECT *, CASE WHEN price > 20 THEN 'expensive' ELSE 'cheap' END AS category
      FROM products_raw;
    """


@pytest.fixture(scope="session")
def demo_views(vista, demo_dir):
    vista.sql(demo_views_sql(demo_dir))
    return demo_dir


# -- images that grow between statements (tests/growing.py) --


@pytest.fixture(scope="session")
def onnx_block(tmp_path_factory):
    import onnx_models  # builds the graph with onnx: only for the tests that ask for it

    return onnx_models.resnet_basic_block(tmp_path_factory.mktemp("refresh") / "block.onnx")


@pytest.fixture()
def growing_folder(vista, demo_views, tmp_path):
    """A folder of the first demo images behind the view `growing` (tests/growing.py)."""
    folder = tmp_path / "images"
    folder.mkdir()
    for image in sorted(demo_views.joinpath("images").glob("*.png"))[: growing.FIRST]:
        shutil.copy(image, folder)
    vista.sql(growing.growing_views(folder))
    return folder
