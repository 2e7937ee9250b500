"""Plain Spark SQL goes to Spark untouched, through the Python API and the vista-sql command."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

# Starts a JVM in a child process (shell, server, kernel, cluster daemons) or in this one.
pytestmark = pytest.mark.spark

VISTA_SQL = str(Path(sys.executable).with_name("vista-sql"))


def _script(demo_dir: Path) -> str:
    return (
        "CREATE OR REPLACE TEMPORARY VIEW pngs USING binaryFile "
        f"OPTIONS (path '{demo_dir / 'images'}', pathGlobFilter '*.png');\n"
        "SET spark.sql.shuffle.partitions = 3;\n"
        "SELECT count(*) AS n, min(length) > 0 AS nonempty FROM pngs"
    )


def test_plain_statements_run_through_the_session(vista, spark, demo_dir):
    frame = vista.sql(_script(demo_dir))
    assert [tuple(r) for r in frame.collect()] == [(40, True)]
    assert spark.conf.get("spark.sql.shuffle.partitions") == "3"
    rows = vista.sql("SET spark.sql.shuffle.partitions").collect()
    assert [tuple(r) for r in rows] == [("spark.sql.shuffle.partitions", "3")]
    spark.conf.set("spark.sql.shuffle.partitions", "4")


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [VISTA_SQL, *args], input=stdin, capture_output=True, text=True, timeout=240
    )


@pytest.fixture(scope="module")
def cli_batch(demo_dir, tmp_path_factory):
    script = tmp_path_factory.mktemp("cli") / "plain.sql"
    script.write_text(_script(demo_dir) + ";\n")
    return _run("-f", str(script), "--output", "csv")


def test_cli_runs_a_file_of_plain_statements(cli_batch):
    assert cli_batch.returncode == 0, cli_batch.stderr
    rows = list(csv.reader(io.StringIO(cli_batch.stdout)))
    assert rows[-2:] == [["n", "nonempty"], ["40", "True"]]
    assert "Traceback" not in cli_batch.stderr


def test_cli_syntax_error_is_one_line_with_position_and_caret(demo_dir):
    result = _run("-e", "SELECT 1;\nTRANSFER FEATURES FROM resnet50 LAYER (avg_pool)")
    assert result.returncode == 1
    # Exactly these three lines: no JVM start-up chatter (jdk.incubator.vector) before them.
    assert result.stderr.splitlines() == [
        "error: 2:33: expected LAYERS but found 'LAYER'",
        "  TRANSFER FEATURES FROM resnet50 LAYER (avg_pool)",
        "  " + " " * 32 + "^",
    ]
    assert result.stdout.strip().endswith("1 row")  # the statement before the error ran


@pytest.mark.parametrize("debug", [False, True])
def test_cli_file_error_names_the_file_and_hides_traceback_unless_debug(tmp_path, debug):
    script = tmp_path / "bad.sql"
    script.write_text(
        "SELECT 1;\n"
        "TRANSFER FEATURES FROM resnet5 WEIGHTS RANDOM LAYERS (avg_pool)\n"
        "  ON images (id, content) JOIN products USING (id) TRAIN logistic_regression (LABEL y);\n"
    )
    result = _run("-f", str(script), *(["--debug"] if debug else []))
    assert result.returncode == 1
    assert f"error: {script}:2:24: unknown CNN 'resnet5'; did you mean 'resnet50'?" in result.stderr
    assert ("Traceback" in result.stderr) == debug
    # The JVM's own output is kept for --debug.
    assert ("WARNING: Using incubator modules" in result.stderr) == debug
