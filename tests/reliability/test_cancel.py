"""Ctrl-C in the middle of MATERIALIZE INTO leaves no temporary directory and no partial layer."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from vista_sql.plan.materialize_target import MANIFEST

VISTA_SQL = str(Path(sys.executable).with_name("vista-sql"))
LAYERS = ("block_14_add", "block_15_add", "out_relu", "global_average_pooling2d")


def _script(demo_dir: Path, out: Path) -> str:
    return f"""
        CREATE TEMPORARY VIEW files USING binaryFile
          OPTIONS (path '{demo_dir / "images"}', pathGlobFilter '*.png');
        CREATE TEMPORARY VIEW images AS
          SELECT CAST(regexp_extract(path, '([0-9]+)[.]png$', 1) AS INT) AS id, content FROM files;
        CREATE TEMPORARY VIEW products USING parquet
          OPTIONS (path '{demo_dir / "products.parquet"}');
        TRANSFER FEATURES FROM mobilenetv2 WEIGHTS RANDOM LAYERS ({", ".join(LAYERS)})
          ON images AS i (id, content) JOIN products USING (id)
          TRAIN logistic_regression (LABEL is_popular)
          MATERIALIZE INTO '{out}' OPTIONS (plan = 'staged');
    """


def _temporaries(out: Path) -> list[str]:
    return [str(p) for p in out.rglob("*") if ".tmp-" in p.name] if out.exists() else []


def test_ctrl_c_while_a_layer_is_written_leaves_no_temporary_or_partial_layer(demo_dir, tmp_path):
    out = tmp_path / "features"
    script = tmp_path / "cancel.sql"
    script.write_text(_script(demo_dir, out))
    shell = subprocess.Popen(
        [VISTA_SQL, "--master", "local[2]", "-f", str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    caught = None
    try:
        deadline = time.monotonic() + 300
        while shell.poll() is None and time.monotonic() < deadline:
            caught = next(iter(_temporaries(out)), None)
            if caught:
                shell.send_signal(signal.SIGINT)
                break
            time.sleep(0.005)
        stdout, stderr = shell.communicate(timeout=120)
    finally:
        if shell.poll() is None:
            shell.kill()
    assert caught, f"the statement ended before a layer was being written: {stderr[-500:]}"
    assert shell.returncode == 130, stderr[-500:]
    assert stderr.strip().splitlines()[-1] == "cancelled"
    assert _temporaries(out) == []
    manifest = out / MANIFEST
    recorded = set(json.loads(manifest.read_text())["layers"]) if manifest.exists() else set()
    written = {p.name for p in out.iterdir() if p.is_dir()} if out.exists() else set()
    assert written <= recorded, "a layer directory that the manifest does not list as complete"
    assert written < set(LAYERS)
    for layer in written:
        assert (out / layer / "_SUCCESS").exists()
