"""Cross-query reuse and resume: layers a MATERIALIZE INTO recorded are loaded (or continued from)
instead of recomputed, never when the images changed, and a statement whose driver was killed
picks up where it stopped with the same result as an undisturbed run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from killed_driver import kill_when
from tolerances import same_metrics

from vista_sql.execution.recorded import REUSE_PATHS
from vista_sql.plan.manifest import MANIFEST

# Starts a JVM in a child process (shell, server, kernel, cluster daemons) or in this one.
pytestmark = pytest.mark.spark

# ResNet50: deep enough that continuing from stored tensors beats recomputing even on 40 images
# (the cost model rates what AlexNet or MobileNetV2 would skip below reading their tensors back,
# and no option forces a resume). conv5_block1_out, between the other two, leaves the killed
# driver two stages to be caught in: dropping it saved no measurable time.
LAYERS = ("conv4_block6_out", "conv5_block1_out", "avg_pool")
VIEWS = """
CREATE OR REPLACE TEMPORARY VIEW {name}_files USING binaryFile
  OPTIONS (path '{images}', pathGlobFilter '*.png');
CREATE OR REPLACE TEMPORARY VIEW {name} AS
  SELECT CAST(regexp_extract(path, '([0-9]+)[.]png$', 1) AS INT) AS id, content FROM {name}_files;
CREATE OR REPLACE TEMPORARY VIEW reuse_products USING parquet OPTIONS (path '{products}');
"""
STATEMENT = """
TRANSFER FEATURES FROM {cnn} WEIGHTS RANDOM SEED 3 LAYERS ({layers})
  ON {images} AS i (id, content) JOIN reuse_products AS p USING (id)
  TRAIN logistic_regression (LABEL is_popular, max_iter = 5)
  EVALUATE SPLIT 0.25 METRICS (accuracy, auc)
  {tail}
"""


def _views(vista, demo_dir, copy: Path, name: str) -> str:
    if not copy.exists():
        shutil.copytree(demo_dir / "images", copy)
    sql = VIEWS.format(name=name, images=copy, products=demo_dir / "products.parquet")
    vista.sql(sql)
    return sql


def _statement(images="reuse_images", layers=LAYERS, tail="", cnn="resnet50") -> str:
    return STATEMENT.format(cnn=cnn, images=images, layers=", ".join(layers), tail=tail)


def _metrics(frame) -> list[tuple]:
    return [tuple(row) for row in frame.drop("seconds").collect()]


@pytest.fixture(autouse=True)
def no_recorded_paths(spark):
    """Each test offers only the targets it names, and leaves none behind for other modules."""
    spark.conf.set(REUSE_PATHS, "")
    yield
    spark.conf.set(REUSE_PATHS, "")


@pytest.fixture(scope="module")
def reference(vista, spark, demo_dir, tmp_path_factory):
    """An undisturbed run with reuse off, recorded in its own target."""
    base = tmp_path_factory.mktemp("reuse")
    views = _views(vista, demo_dir, base / "images", "reuse_images")
    target = base / "reference"
    frame = vista.sql(_statement(tail=f"MATERIALIZE INTO '{target}' OPTIONS (reuse = false)"))
    spark.conf.set(REUSE_PATHS, "")
    return base, views, target, _metrics(frame)


def test_a_later_statement_loads_every_recorded_layer_instead_of_inferring(vista, spark, reference):
    _, _, target, expected = reference
    spark.conf.set(REUSE_PATHS, str(target))
    explain = vista.sql("EXPLAIN " + _statement()).first()[0]
    for layer in LAYERS:
        assert f"Load {layer} from '{target / layer}'" in explain
        assert f"{layer} at '{target / layer}': loaded (" in explain
    # The same float32 features the reference wrote, but read back from its files, in their
    # partitions: MLlib sums them in another order.
    assert _metrics(vista.sql(_statement())) == same_metrics(expected)
    assert vista.last_metrics["inferred"] == {}
    assert set(vista.last_metrics["loaded"]) == set(LAYERS)


def test_a_record_of_changed_images_is_never_loaded_as_it_is(vista, spark, demo_dir, tmp_path):
    _views(vista, demo_dir, tmp_path / "images", "stale_images")
    statement = _statement("stale_images", ("block_1_expand_relu",), cnn="mobilenetv2")
    vista.sql(statement + f"MATERIALIZE INTO '{tmp_path / 'f'}'")
    explain = vista.sql("EXPLAIN " + statement).first()[0]
    assert "block_1_expand_relu at" in explain and ": loaded (" in explain
    changed = sorted((tmp_path / "images").glob("*.png"))[0]
    changed.write_bytes(sorted((tmp_path / "images").glob("*.png"))[1].read_bytes())
    explain = vista.sql("EXPLAIN " + statement).first()[0]
    # Refreshed or recomputed as the cost model finds cheaper (tests/test_refresh*.py), never
    # loaded with the changed image's old features.
    assert ": loaded (" not in explain and "Load block_1_expand_relu" not in explain
    vista.sql(statement)
    assert vista.last_metrics["loaded"] == {}
    assert sum(count for _, count in vista.last_metrics["inferred"].values()) > 0


def _recorded_layers(target: Path) -> dict:
    manifest = target / MANIFEST
    return json.loads(manifest.read_text())["layers"] if manifest.exists() else {}


def test_a_killed_driver_leaves_only_complete_layers_and_the_re_run_resumes(
    vista, spark, reference, tmp_path
):
    base, views, _, expected = reference
    target = tmp_path / "features"
    script = tmp_path / "job.sql"
    # Staged: the plan that hands tensors on from one layer to the next (and so can resume).
    statement = _statement(tail=f"MATERIALIZE INTO '{target}' OPTIONS (plan = 'staged')")
    script.write_text(views + statement + ";\n")
    # Killed as soon as a layer and the tensors it hands on are recorded: mid-statement.
    kill_when(
        script,
        lambda: any("handover" in e for e in _recorded_layers(target).values()),
        "a layer was recorded",
    )

    written = _recorded_layers(target)
    assert 1 <= len(written) < len(LAYERS)
    visible = {p.name for p in target.iterdir() if not p.name.startswith((".", "_"))}
    assert visible == set(written), "a layer not in the manifest is visible"
    for layer, entry in written.items():
        assert spark.read.parquet(str(target / layer)).count() == entry["rows"]

    frame = vista.sql(statement)
    # The layers the killed process wrote are its own float32 computation (another process's
    # batches and threads), and the re-run continues from its tensors.
    assert _metrics(frame) == same_metrics(expected)
    assert set(written) <= set(vista.last_metrics["loaded"])
    reads = {reads for reads, _ in vista.last_metrics["inferred"].values()}
    assert "images" not in reads, "the re-run went back to the images"
    assert set(_recorded_layers(target)) == set(LAYERS)
    leftovers = [p for p in target.rglob("*") if ".tmp-" in p.name]
    assert leftovers == []
