"""The shell under bad data and Ctrl-C, in one `vista-sql -f` run piped to CSV: `--conf` reaches
Spark, a TRANSFER prints only its rows, warnings and the skipped images are shown, and Ctrl-C in
the middle of MATERIALIZE INTO leaves no temporary directory and no partial layer."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vista_sql.plan.manifest import MANIFEST, layer_dir

# Starts a JVM in a child process (shell, server, kernel, cluster daemons) or in this one.
pytestmark = pytest.mark.spark

VISTA_SQL = str(Path(sys.executable).with_name("vista-sql"))
# What the script proves is the shell's output, its warnings and a cancelled write, not a CNN's
# features: the small ONNX graph (tests/onnx_models.py) keeps TensorFlow out of the shell and its
# Python workers. Its layer names hold '/', so a layer's directory is `layer_dir(name)`.
LAYERS = ("/maxpool/MaxPool_output_0", "/layer1/layer1.0/relu/Relu_output_0", "logits")


def _script(demo_dir: Path, block: Path, out: Path) -> str:
    layers = ", ".join(f"`{name}`" for name in LAYERS)
    return f"""
        CREATE TEMPORARY VIEW files USING binaryFile
          OPTIONS (path '{demo_dir / "images"}', pathGlobFilter '*.png');
        CREATE TEMPORARY VIEW images AS
          SELECT CAST(regexp_extract(path, '([0-9]+)[.]png$', 1) AS INT) AS id, content FROM files;
        CREATE TEMPORARY VIEW products USING parquet
          OPTIONS (path '{demo_dir / "products.parquet"}');
        SET spark.sql.shuffle.partitions;
        -- 20 images, one more that is not an image, 19 products without an image.
        CREATE TEMPORARY VIEW dirty AS
          SELECT * FROM images WHERE id <= 20 UNION ALL SELECT 21 AS id, X'00' AS content;
        -- A few iterations of the learner (each one a Spark job): its rows are what is checked.
        TRANSFER FEATURES FROM MODEL '{block}' LAYERS (logits)
          ON dirty AS i (id, content) JOIN products USING (id)
          TRAIN logistic_regression (LABEL is_popular, max_iter = 5)
          OPTIONS (preprocess = 'torch');
        SELECT * FROM vista_skipped;
        -- Interrupted while one of its layers is being written.
        TRANSFER FEATURES FROM MODEL '{block}' LAYERS ({layers})
          ON images AS i (id, content) JOIN products USING (id)
          TRAIN logistic_regression (LABEL is_popular)
          MATERIALIZE INTO '{out}' OPTIONS (preprocess = 'torch', plan = 'staged');
    """


def _temporaries(out: Path) -> list[str]:
    return [str(p) for p in out.rglob("*") if ".tmp-" in p.name] if out.exists() else []


def _when(paths: list[str], interrupted) -> str:
    """What was left and when each piece was made, against when SIGINT was sent and the shell
    ended: which part of the cancelled write made it."""
    sent, ended = interrupted["sent"], interrupted["ended"]
    lines = [f"SIGINT at 0.000 s, shell ended at {ended - sent:+.3f} s"]
    for path in paths:
        for made in [Path(path), *Path(path).rglob("*")]:
            lines.append(f"{os.stat(made).st_mtime - sent:+.3f} s {made}")
    return "\n".join(lines + [interrupted["stderr"][-1500:]])


@pytest.fixture(scope="module")
def interrupted(demo_dir, onnx_block, tmp_path_factory):
    """The script's run, sent SIGINT as soon as a temporary layer directory appears."""
    work = tmp_path_factory.mktemp("shell")
    out = work / "features"
    script = work / "faults.sql"
    script.write_text(_script(demo_dir, onnx_block, out))
    shell = subprocess.Popen(
        [VISTA_SQL, "--master", "local[2]", "--conf", "spark.sql.shuffle.partitions=3"]
        + ["--output", "csv", "-f", str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    caught, sent = None, None
    try:
        deadline = time.monotonic() + 400
        while shell.poll() is None and time.monotonic() < deadline:
            caught = next(iter(_temporaries(out)), None)
            if caught:
                shell.send_signal(signal.SIGINT)
                sent = time.time()
                break
            time.sleep(0.005)
        stdout, stderr = shell.communicate(timeout=120)
    finally:
        if shell.poll() is None:
            shell.kill()
    ended = time.time()
    return dict(
        out=out,
        caught=caught,
        code=shell.returncode,
        stdout=stdout,
        stderr=stderr,
        sent=sent,
        ended=ended,
    )


def test_a_transfer_piped_to_csv_prints_only_its_rows(interrupted):
    rows = list(csv.reader(io.StringIO(interrupted["stdout"])))
    assert rows[:2] == [["key", "value"], ["spark.sql.shuffle.partitions", "3"]]
    metrics = [f"{m}{end}" for m in ("accuracy", "f1", "auc") for end in ("", "_low", "_high")]
    assert rows[2] == ["layer", "feature_dim", "n_train", "n_test", *metrics, "vs_baseline"] + [
        "p_value",
        "seconds",
    ]
    assert [r[0] for r in rows[3:5]] == ["(structured only)", "logits"]
    # No progress bars, cursor codes or colour when nobody watches a terminal.
    assert "/20 images" not in interrupted["stderr"]
    assert "\x1b" not in interrupted["stdout"] + interrupted["stderr"]


def test_the_shell_shows_warnings_and_the_skipped_images(interrupted):
    warnings = [line for line in interrupted["stderr"].splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: left out 19 of 40 structured rows that match no image",
        "warning: skipped 1 rows whose image could not be decoded (key 21: not a recognised "
        "image format); all of them: SELECT * FROM vista_skipped",
    ]
    assert "key,reason\n21,not a recognised image format\n" in interrupted["stdout"]


def test_ctrl_c_while_a_layer_is_written_leaves_no_temporary_or_partial_layer(interrupted):
    out, stderr = interrupted["out"], interrupted["stderr"]
    assert interrupted["caught"], f"the statement ended before a layer was written: {stderr[-500:]}"
    assert interrupted["code"] == 130, stderr[-500:]
    assert stderr.strip().splitlines()[-1] == "cancelled"
    left = _temporaries(out)
    assert left == [], _when(left, interrupted)
    manifest = out / MANIFEST
    recorded = json.loads(manifest.read_text())["layers"] if manifest.exists() else {}
    complete = {entry.get("directory") or layer_dir(name) for name, entry in recorded.items()}
    written = {p.name for p in out.iterdir() if p.is_dir()} if out.exists() else set()
    assert written <= complete, "a layer directory that the manifest does not list as complete"
    assert written < {layer_dir(name) for name in LAYERS}
