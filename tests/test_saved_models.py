"""SAVE BEST AS keeps the winning pipeline on disk; another process predicts with it by name."""

from __future__ import annotations

import json
import subprocess
import sys

import onnx_models
import pytest
from python_workers import workers_of
from tolerances import PROBABILITY

from vista_sql.errors import VistaBindError
from vista_sql.execution.runner import BASELINE
from vista_sql.spark import workers

# Starts a JVM in a child process (shell, server, kernel, cluster daemons) or in this one.
pytestmark = pytest.mark.spark

TRANSFER = """TRANSFER FEATURES FROM mobilenetv2 WEIGHTS RANDOM SEED 3
  LAYERS (block_15_add, global_average_pooling2d)
  ON images AS i (id, content) JOIN products AS p USING (id)
  TRAIN logistic_regression (LABEL is_popular)
  EVALUATE METRICS (f1, accuracy)
  SAVE BEST AS popular"""
PREDICT = "PREDICT WITH popular ON images AS i (id, content) JOIN products AS p USING (id)"
# A saved model on an ONNX CNN: the new process runs it with ONNX Runtime from the file's path.
ONNX_TRANSFER = """TRANSFER FEATURES FROM MODEL '{path}'
  LAYERS (`/maxpool/MaxPool_output_0`, logits)
  ON images AS i (id, content) JOIN products AS p USING (id)
  TRAIN logistic_regression (LABEL is_popular)
  SAVE BEST AS onnx_popular OPTIONS (preprocess = 'torch')"""
ONNX_PREDICT = PREDICT.replace("WITH popular", "WITH onnx_popular")
UDF = (
    "SELECT id, vista_predict_model('popular', content, struct(weight, price, hint)) AS r "
    "FROM images JOIN products USING (id)"
)

# A new process: its own Spark and VistaSession, the same files and models directory. Both
# processes predict the first FIRST images: what the test proves is that the saved model reads
# back, and each prediction costs a CNN pass over every image it is given.
FIRST = 12
SCRIPT = """
import json, sys
from vista_sql import VistaSession
data, models, first = sys.argv[1], sys.argv[2], int(sys.argv[6])
vista = VistaSession(master="local[1]", conf={"vista.models.dir": models})
vista.sql(f'''
CREATE TEMPORARY VIEW digit_files USING binaryFile
  OPTIONS (path '{data}/images', pathGlobFilter '*.png');
CREATE TEMPORARY VIEW all_images AS
  SELECT CAST(regexp_extract(path, '([0-9]+)[.]png$', 1) AS INT) AS id, content FROM digit_files;
CREATE TEMPORARY VIEW first_images AS SELECT * FROM all_images WHERE id <= {first};
CREATE TEMPORARY VIEW products USING parquet OPTIONS (path '{data}/products.parquet')
''')
out = {
    "predict": [list(r) for r in vista.sql(sys.argv[3]).orderBy("id").collect()],
    "udf": [[r.id, r.r.prediction, r.r.probability]
            for r in vista.sql(sys.argv[4]).orderBy("id").collect()],
    "onnx": [list(r) for r in vista.sql(sys.argv[5]).orderBy("id").collect()],
}
print("RESULT " + json.dumps(out))
vista.spark.stop()
"""


@pytest.fixture(scope="module")
def models_dir(vista, demo_views, tmp_path_factory):
    root = tmp_path_factory.mktemp("saved_models")
    vista.sql(f"SET vista.models.dir = {root}")
    yield root
    vista.spark.conf.unset("vista.models.dir")


@pytest.fixture(scope="module")
def trained(vista, models_dir):
    return vista.sql(TRANSFER).collect()


def test_the_cheapest_layer_within_the_best_ones_interval_is_saved_with_its_metadata(
    trained, models_dir
):
    layers = [r for r in trained if r.layer != BASELINE]  # shallowest first: fewer FLOPs first
    best = max(layers, key=lambda r: r.f1)  # first of equals, as the statement keeps it
    tied = [r for r in layers if best.f1_low <= r.f1 <= best.f1_high]
    saved = min(tied, key=lambda r: (layers.index(r), -r.f1))
    meta = json.loads((models_dir / "popular" / "vista_model.json").read_text())
    # The very double the statement returned: JSON writes its shortest repr, which reads back exact.
    assert (meta["layer"], meta["metric"], meta["metrics"]["f1"]) == (saved.layer, "f1", saved.f1)
    selection = meta["selection"]
    assert (selection["rule"], selection["best"]["layer"]) == ("cheapest", best.layer)
    assert selection["best"]["interval"] == [best.f1_low, best.f1_high]
    assert ("reason" in selection) == (saved.layer != best.layer)
    assert meta["cnn"]["weights"] == {"kind": "random", "seed": 3, "path": None}
    assert meta["structured"] == ["hint", "price", "weight"] and meta["label"] == "is_popular"
    assert meta["learner"] == "logistic_regression" and meta["pooling"] == {
        "mode": "max",
        "grid": 2,
    }
    assert (models_dir / "popular" / "pipeline" / "metadata").is_dir()
    assert not [p for p in models_dir.iterdir() if p.name.startswith(".")]  # no temp left


def test_a_new_process_predicts_as_this_one(
    vista, spark, trained, models_dir, demo_views, tmp_path
):
    vista.sql(ONNX_TRANSFER.format(path=onnx_models.resnet_basic_block(tmp_path / "block.onnx")))
    spark.sql(
        f"CREATE OR REPLACE TEMPORARY VIEW first_images AS SELECT * FROM images WHERE id <= {FIRST}"
    )
    predict, onnx_predict, udf = (
        text.replace(" images ", " first_images ") for text in (PREDICT, ONNX_PREDICT, UDF)
    )
    onnx_here = [list(r) for r in vista.sql(onnx_predict).orderBy("id").collect()]
    here = vista.sql(predict)
    assert here.columns == ["id", "prediction", "probability"]
    here = [list(r) for r in here.orderBy("id").collect()]
    joined = spark.sql("SELECT count(*) FROM first_images JOIN products USING (id)").first()[0]
    assert len(here) == joined >= 10 and {r[1] for r in here} <= {0.0, 1.0}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            SCRIPT,
            str(demo_views),
            str(models_dir),
            predict,
            udf,
            onnx_predict,
            str(FIRST),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    there = json.loads(line[len("RESULT ") :])
    # The child's CNN features are its own float32 computation (local[1]: other batches and
    # thread counts; elsewhere perhaps other kernels): probabilities agree to float noise, and a
    # class may differ only where that noise straddles the 0.5 threshold.
    _agree(here, there["predict"])
    # The UDF applies the saved coefficients with numpy, in yet another summation order.
    _agree(here, there["udf"])
    _agree(onnx_here, there["onnx"])
    vista.sql("DROP SAVED MODEL onnx_popular")  # the other tests see only `popular`


def _agree(mine: list, theirs: list) -> None:
    assert [r[0] for r in theirs] == [r[0] for r in mine]
    for (key, cls, probability), (_, other_cls, other) in zip(mine, theirs, strict=True):
        assert other == pytest.approx(list(probability), abs=PROBABILITY), key
        assert other_cls == cls or abs(probability[1] - 0.5) <= PROBABILITY, key


def test_predict_with_leaves_the_sessions_python_workers_running(vista, spark, trained):
    vista.sql(PREDICT).collect()  # the CNN built in this pool's workers
    daemons = workers.touch(spark)
    before = workers_of(daemons)
    assert before
    # VectorAssembler in the saved pipeline used to read the first row to learn the features'
    # size: a LIMIT 1 over the CNN stage, whose worker then exits with input left unread, and
    # the next stage's worker imports TensorFlow and builds the CNN again.
    vista.sql(PREDICT).collect()
    assert before <= workers_of(daemons)


def test_explain_predict_shows_the_configuration_and_runs_nothing(vista, trained, models_dir):
    plan = vista.sql("EXPLAIN " + PREDICT).first()[0]
    lines = plan.splitlines()
    assert lines[0] == "== vista_sql prediction plan =="
    assert "saved model: popular (logistic_regression on mobilenetv2" in lines[1]
    config = lines[lines.index("== configuration ==") + 1]
    assert config.startswith("parallelism ") and "inference batch " in config
    assert "TensorFlow threads per task " in config and "partitions " in config
    assert any(line.startswith("memory per node: total ") for line in lines)
    assert any(line.startswith("statistics: ") for line in lines)
    sql = lines[lines.index("== Spark SQL ==") + 1]
    assert "vista_predict_popular_stage0" in sql and "REPARTITION" in sql


def test_errors_name_the_model_or_column(vista, trained, models_dir, demo_views):
    with pytest.raises(VistaBindError) as caught:
        vista.sql(PREDICT.replace("popular", "popluar"))
    assert "no saved model named 'popluar'" in caught.value.message
    assert (caught.value.line, caught.value.col) == (1, 14)
    with pytest.raises(VistaBindError) as caught:
        vista.sql(UDF.replace("'popular'", "'nothing'"))
    assert "no saved model named 'nothing'" in caught.value.message
    with pytest.raises(VistaBindError) as caught:
        vista.sql(UDF.replace("struct(weight, price, hint)", "struct(price AS weight, hint)"))
    assert "struct(...) lacks price" in caught.value.message
    assert caught.value.col == UDF.index("struct(") + 1
    with pytest.raises(VistaBindError) as caught:
        vista.sql(PREDICT.replace("USING (id)", "USING (sku)"))
    assert "unknown column 'sku'" in caught.value.message
    assert caught.value.col == PREDICT.index("USING (") + len("USING (") + 1


def test_show_and_drop_saved_models(vista, trained, models_dir):
    rows = vista.sql("SHOW SAVED MODELS").collect()
    assert [(r.name, r.learner, r.metric) for r in rows] == [
        ("popular", "logistic_regression", "f1")
    ]
    assert rows[0].cnn == "mobilenetv2, weights random (seed 3)"
    with pytest.raises(VistaBindError) as caught:
        vista.sql(TRANSFER)  # the name is taken
    assert "exists" in caught.value.message and (caught.value.line, caught.value.col) == (6, 16)
    vista.sql("DROP SAVED MODEL popular")
    assert vista.sql("SHOW SAVED MODELS").collect() == []
    vista.sql("DROP SAVED MODEL IF EXISTS popular")
    with pytest.raises(VistaBindError) as caught:
        vista.sql("DROP SAVED MODEL popular")
    assert "no saved model named 'popular'" in caught.value.message
    assert (caught.value.line, caught.value.col) == (1, 18)
