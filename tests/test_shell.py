"""The vista-sql shell as a person uses it: a real process on a pseudo-terminal, and in batch."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from vista_sql.interfaces.display import render

# Starts a JVM in a child process (shell, server, kernel, cluster daemons) or in this one.
pytestmark = pytest.mark.spark

VISTA_SQL = str(Path(sys.executable).with_name("vista-sql"))
PROMPT = "vista-sql> "
UP = "\x1b[A"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

VIEWS = """\
CREATE OR REPLACE TEMPORARY VIEW digit_files USING binaryFile
  OPTIONS (path '{images}', pathGlobFilter '*.png');
CREATE OR REPLACE TEMPORARY VIEW images AS
  SELECT CAST(regexp_extract(path, '([0-9]+)[.]png$', 1) AS INT) AS id, content FROM digit_files;
CREATE OR REPLACE TEMPORARY VIEW products USING parquet OPTIONS (path '{products}');
"""


def _views(demo_dir: Path) -> list[str]:
    text = VIEWS.format(images=demo_dir / "images", products=demo_dir / "products.parquet")
    return [" ".join(s.split()) + ";" for s in text.split(";") if s.strip()]


@pytest.fixture(scope="module")
def shell(demo_dir, tmp_path_factory):
    """One interactive vista-sql on a 40x160 terminal; history from an earlier 'session'."""
    history = tmp_path_factory.mktemp("shell") / "history"
    history.write_text("SELECT 'from last time' AS earlier;\n")
    env = {**os.environ, "VISTA_SQL_HISTORY": str(history), "TERM": "xterm"}
    child = pexpect.spawn(
        VISTA_SQL,
        ["--master", "local[2]"],
        env=env,
        encoding="utf-8",
        timeout=120,
        dimensions=(40, 160),
    )
    child.expect_exact(PROMPT)
    for statement in _views(demo_dir):
        child.sendline(statement)
        child.expect_exact(PROMPT)
    yield child, history
    if child.isalive():
        child.terminate(force=True)


def _run(child, line: str) -> str:
    """Send a line, return the clean text printed before the next prompt."""
    child.sendline(line)
    child.expect_exact(PROMPT)
    return ANSI.sub("", child.before).replace("\r", "")


def test_history_from_an_earlier_session_is_recalled_with_the_up_arrow(shell):
    child, _ = shell
    # The views just typed are newer; the earlier session's entry is four steps up.
    out = _run(child, UP * 4)
    assert "from last time" in out and "1 row" in out


def test_multi_line_statement_runs_once_ended_by_a_semicolon(shell):
    child, _ = shell
    child.sendline("SELECT count(*) AS n,")
    child.expect_exact("-> ")
    child.sendline("  min(id) AS first")
    child.expect_exact("-> ")
    out = _run(child, "FROM images;")
    assert re.search(r"\|\s+40 \|\s+1 \|", out), out
    # Recalled as one entry, it runs again as it is.
    out = _run(child, UP)
    assert "SELECT count(*) AS n, min(id) AS first FROM images;" in out
    assert re.search(r"\|\s+40 \|\s+1 \|", out), out


def test_syntax_error_is_one_line_with_a_caret_and_the_shell_goes_on(shell):
    child, _ = shell
    out = _run(child, "TRANSFER FEATURES FROM mobilenetv2 LAYER (out_relu);")
    assert "error: 1:36: expected LAYERS but found 'LAYER'" in out
    assert "\n  " + " " * 35 + "^" in out
    assert "Traceback" not in out
    assert "1 row" in _run(child, "SELECT 2 AS two;")


def test_help_describes_the_statement(shell):
    child, _ = shell
    out = _run(child, "help")
    assert "TRANSFER FEATURES FROM cnn" in out and "Ctrl-C" in out


def test_ctrl_c_cancels_a_running_transfer_and_the_session_stays_usable(shell):
    child, _ = shell
    # Any CNN shows the bars and can be cancelled; MobileNetV2 is built and reaches its first
    # bar in a fraction of ResNet50's time, and three stages leave the statement far from done.
    child.sendline(
        "TRANSFER FEATURES FROM mobilenetv2 WEIGHTS RANDOM "
        "LAYERS (block_13_expand_relu, block_15_add, out_relu) "
        "ON images AS i (id, content) JOIN products AS p USING (id) "
        "TRAIN logistic_regression (LABEL is_popular) OPTIONS (partitions = 8, plan = 'staged');"
    )
    # The first stage's bar counts images as partitions come out of the CNN.
    child.expect(r"stage 1/\d+ block_13_expand_relu.*?[1-9]\d*/40 images", timeout=180)
    child.sendintr()
    child.expect_exact("cancelled", timeout=60)
    child.expect_exact(PROMPT)
    assert "Traceback" not in child.before
    out = _run(child, "SELECT count(*) AS n FROM images JOIN products USING (id);")
    assert re.search(r"\|\s+40 \|", out), out
    out = _run(child, "SHOW TABLES;")
    assert "digit_files" in out and "__vista_" not in out  # stage tables released


def test_ctrl_d_exits_and_saves_each_statement_as_one_history_entry(shell):
    child, history = shell
    child.sendeof()
    child.expect(pexpect.EOF, timeout=60)
    child.close()
    assert child.exitstatus == 0
    entries = history.read_text().splitlines()
    assert entries[0] == "SELECT 'from last time' AS earlier;"
    assert "SELECT count(*) AS n, min(id) AS first FROM images;" in entries
    assert "help" in entries


# -- batch -------------------------------------------------------------------------------------


# A TRANSFER piped to CSV: tests/reliability/test_shell_faults.py (one child for both).


def test_json_output_is_one_object_per_row():
    rows = [(1, "x", None), (2, "y", 2.5)]
    text = render(["n", "s", "f"], rows, "json")
    assert [json.loads(line) for line in text.splitlines()] == [
        {"n": 1, "s": "x", "f": None},
        {"n": 2, "s": "y", "f": 2.5},
    ]


def test_remote_without_a_server_is_a_one_line_error():
    with socket.socket() as probe:  # a port on this machine with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = subprocess.run(
        [VISTA_SQL, "--remote", f"sc://127.0.0.1:{port}", "-e", "SELECT 1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: cannot use Spark Connect at sc://127.0.0.1:{port}: ")
    assert len(result.stderr.strip().splitlines()) == 1
