"""Jupyter: the magics in IPython's own shell, and the quickstart notebook on a real kernel."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from matplotlib.container import ErrorbarContainer
from nbclient import NotebookClient
from traitlets.config import Config

from vista_sql.interfaces.display import PlanText, metrics_figure
from vista_sql.interfaces.jupyter import VistaMagicError

# Starts a JVM in a child process (shell, server, kernel, cluster daemons) or in this one.
pytestmark = pytest.mark.spark

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"

TRANSFER = """\
TRANSFER FEATURES FROM mobilenetv2 WEIGHTS RANDOM LAYERS (block_15_add, global_average_pooling2d)
  ON images AS i (id, content) JOIN products AS p USING (id)
  TRAIN logistic_regression (LABEL is_popular, max_iter = 5)
  EVALUATE SPLIT 0.25"""


@pytest.fixture(scope="module")
def ipython(spark, demo_views, tmp_path_factory):
    # IPython takes over __main__ and the display and exception hooks, and keeps a profile and
    # history on disk: all of it goes back, or into a scratch folder, after these tests.
    saved = sys.modules["__main__"], sys.displayhook, sys.excepthook
    patch = pytest.MonkeyPatch()
    patch.setenv("IPYTHONDIR", str(tmp_path_factory.mktemp("ipython")))
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    shell.user_ns["spark"] = spark
    shell.run_line_magic("load_ext", "vista_sql")
    yield shell
    InteractiveShell.clear_instance()
    sys.modules["__main__"], sys.displayhook, sys.excepthook = saved
    patch.undo()


def _run(shell, cell: str):
    with capture_output() as captured:
        result = shell.run_cell(cell)
    return result, captured


def test_cell_magic_runs_every_statement_and_returns_the_last_as_pandas(ipython):
    result, _ = _run(
        ipython,
        "%%vista_sql --spark spark\n"
        "CREATE OR REPLACE TEMPORARY VIEW small AS SELECT id FROM products WHERE id <= 3;\n"
        "SELECT id, id * 10 AS tens FROM small ORDER BY id",
    )
    assert result.success, result.error_in_exec
    assert isinstance(result.result, pd.DataFrame)
    assert result.result.to_dict("list") == {"id": [1, 2, 3], "tens": [10, 20, 30]}


def test_line_magic_uses_the_active_session_stores_with_o_and_fills_in_variables(ipython):
    ipython.user_ns["suffix"] = "png"
    cell = "%vista_sql -o found SELECT regexp_extract('a/123.png', '([0-9]{3})[.]{{suffix}}$', 1) n"
    result, _ = _run(ipython, cell)
    assert result.success, result.error_in_exec
    # Braces of the SQL regex untouched, {{suffix}} replaced by the notebook variable.
    assert ipython.user_ns["found"].to_dict("list") == {"n": ["123"]}


def test_explain_renders_as_preformatted_text(ipython):
    result, _ = _run(ipython, f"%%vista_sql\nEXPLAIN {TRANSFER}")
    assert isinstance(result.result, PlanText)
    assert "strategy: staged, join before inference" in result.result
    formatted, _ = ipython.display_formatter.format(result.result)
    assert formatted["text/html"].startswith("<pre>== vista_sql plan ==")
    assert formatted["text/plain"].startswith("== vista_sql plan ==")  # no quotes, real newlines


def test_errors_are_one_line_without_a_traceback(ipython):
    result, captured = _run(
        ipython, "%%vista_sql\nSELECT 1;\n" + TRANSFER.replace("LAYERS", "LAYER")
    )
    assert isinstance(result.error_in_exec, VistaMagicError)
    assert captured.stdout.strip() == "VistaSyntaxError: 2:51: expected LAYERS but found 'LAYER'"
    result, captured = _run(ipython, "%vista_sql --spark nothing SELECT 1")
    assert captured.stdout.strip() == "UsageError: --spark nothing: no such variable"
    result, captured = _run(ipython, "%vista_sql SELECT missing_column FROM products")
    assert captured.stdout.startswith("VistaExecutionError: 1:8: [UNRESOLVED_COLUMN")
    assert len(captured.stdout.strip().splitlines()) == 1
    # Raised by Spark only while the rows are fetched, after the statement was accepted.
    result, captured = _run(ipython, "%vista_sql SELECT raise_error('boom') AS x")
    assert isinstance(result.error_in_exec, VistaMagicError)
    assert len(captured.stdout.strip().splitlines()) == 1 and "boom" in captured.stdout
    assert "Traceback" not in captured.stdout


# A result shaped like TRANSFER's (the notebook test plots a real one): known numbers to check.
RESULT = """\
%%vista_sql --spark spark --plot -o metrics
SELECT * FROM VALUES
  ('(structured only)', 3, 30L, 10L, 0.7D, 0.6D, 0.8D, 0.65D, 0.75D, 1.0D),
  ('block_15_add', 643, 30L, 10L, 0.8D, 0.7D, 0.9D, 0.78D, 0.9D, 2.0D),
  ('global_average_pooling2d', 1283, 30L, 10L, 0.9D, 0.85D, 0.95D, 0.88D, 0.95D, 1.5D)
  AS t(layer, feature_dim, n_train, n_test, accuracy, accuracy_low, accuracy_high, f1, auc,
       seconds)"""


def test_plot_draws_metric_bars_by_layer_and_the_baseline_as_lines(ipython):
    result, captured = _run(ipython, RESULT)
    assert result.success, result.error_in_exec
    frame = ipython.user_ns["metrics"]
    images = [o for o in captured.outputs if "image/png" in o.data]
    assert len(images) == 1 and images[0].data["image/png"].startswith("iVBORw0KGgo")  # PNG

    axes = metrics_figure(frame).axes[0]
    assert [t.get_text() for t in axes.get_xticklabels()] == [
        "block_15_add",
        "global_average_pooling2d",
    ]
    # Exact: RESULT's literals, not computed metrics; Spark and Python both read a decimal
    # literal as its nearest double, and the plot draws that double.
    heights = sorted(round(p.get_height(), 6) for p in axes.patches)
    assert heights == [0.78, 0.8, 0.88, 0.9, 0.9, 0.95]  # accuracy, F1, AUC of each image layer
    baselines = [line for line in axes.get_lines() if line.get_linestyle() == "--"]
    assert sorted(line.get_ydata()[0] for line in baselines) == [0.65, 0.7, 0.75]
    # Only accuracy carries its interval here: one set of error bars, from _low to _high.
    errors = [c for c in axes.containers if isinstance(c, ErrorbarContainer)]
    assert len(errors) == 1
    segments = errors[0].lines[2][0].get_segments()
    assert sorted((round(a[1], 6), round(b[1], 6)) for a, b in segments) == [
        (0.7, 0.9),
        (0.85, 0.95),
    ]


def test_plot_of_a_result_without_metrics_is_a_one_line_error(ipython):
    result, captured = _run(ipython, "%vista_sql --plot SELECT 1 AS layer")
    assert isinstance(result.error_in_exec, VistaMagicError)
    assert captured.stdout.strip() == (
        "UsageError: --plot needs a TRANSFER result; this one has no accuracy, f1, auc"
    )


def test_quickstart_notebook_runs_top_to_bottom_on_a_real_kernel(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # The kernel runs in a scratch folder (Spark writes spark-warehouse/ there); the notebook
    # finds the project through the installed package.
    client = NotebookClient(
        notebook,
        timeout=240,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    outputs = [(cell, output) for cell in notebook.cells for output in cell.get("outputs", [])]
    assert not [o for _, o in outputs if o.output_type == "error"]

    def cell_outputs(start: str) -> list:
        return [o for c, o in outputs if c.source.startswith(start)]

    transfer = cell_outputs("%%vista_sql --plot -o results")
    html = [o.data.get("text/html", "") for o in transfer if "data" in o]
    assert any("<progress value='200' max='200'" in h for h in html)  # per-stage bars, done
    assert any("image/png" in o.get("data", {}) for o in transfer)  # the plot
    assert any("global_average_pooling2d" in h and "<table" in h for h in html)  # the result
    explain = cell_outputs("%%vista_sql\nEXPLAIN")
    assert explain[0].data["text/html"].startswith("<pre>== vista_sql plan ==")
    read_back = "".join(o.get("text", "") for o in cell_outputs("saved = spark.read.parquet"))
    assert "200 rows of 1280 floats" in read_back


def test_vista_sql_warnings_reach_the_running_cell_once(ipython):
    ipython.run_line_magic("load_ext", "vista_sql")  # loading twice must not print twice
    cell = "import logging; logging.getLogger('vista_sql').warning('skipped 2 rows (key 7: bad)')"
    result, captured = _run(ipython, cell)
    assert result.success
    assert captured.stderr.splitlines() == ["warning: skipped 2 rows (key 7: bad)"]


def test_plot_of_several_cnns_names_each_bar_by_cnn_and_layer(ipython):
    cell = """\
%%vista_sql --spark spark -o several
SELECT * FROM VALUES
  (CAST(NULL AS STRING), '(structured only)', 0.7D, 0.65D, 0.75D),
  ('mobilenetv2', 'fc', 0.8D, 0.78D, 0.9D),
  ('alexnet', 'fc', 0.9D, 0.88D, 0.95D)
  AS t(cnn, layer, accuracy, f1, auc)"""
    result, _ = _run(ipython, cell)
    assert result.success, result.error_in_exec
    axes = metrics_figure(ipython.user_ns["several"]).axes[0]
    labels = [t.get_text() for t in axes.get_xticklabels()]
    assert labels == ["mobilenetv2 · fc", "alexnet · fc"]


def test_out_of_memory_in_a_worker_reads_as_in_the_shell(ipython):
    # A real MemoryError: NumPy refuses a petabyte at once (tests/reliability/test_out_of_memory
    # drives every kind; this is the notebook's way of showing one).
    def numpy_petabyte(_):
        import numpy

        return float(numpy.ones(10**15, dtype="uint8").sum())

    ipython.user_ns["spark"].udf.register("numpy_petabyte", numpy_petabyte, "double")
    result, captured = _run(ipython, "%vista_sql SELECT numpy_petabyte(id) FROM range(1)")
    assert isinstance(result.error_in_exec, VistaMagicError)
    assert captured.stdout.strip() == (
        "PythonException: out of memory: NumPy could not allocate an array (MemoryError) in a "
        "Python worker; give the Python workers more memory (spark.executor.pyspark.memory, or "
        "the machine's or container's)"
    )
