"""DESCRIBE CNN golden snapshots and the CNN SQL functions usable in any Spark SQL."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from tolerances import PROBABILITY, assert_features_close

from vista_sql.catalog import images, models, pooling
from vista_sql.catalog.weights import WeightsRef
from vista_sql.interfaces.display import render

GOLDEN = Path(__file__).with_name("golden")


@pytest.mark.parametrize("cnn", ["resnet50", "vgg16"])
def test_describe_cnn_matches_its_golden_snapshot(vista, cnn):
    frame = vista.sql(f"DESCRIBE CNN {cnn}")
    text = render(frame.columns, [tuple(r) for r in frame.collect()]) + "\n"
    golden = GOLDEN / f"describe_{cnn}.txt"
    if os.environ.get("VISTA_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text(), (
        f"regenerate with VISTA_UPDATE_GOLDEN=1 if intended: {golden}"
    )


def test_vista_features_and_vista_predict_in_plain_sql(vista, spark, demo_views):
    vista.sql("CREATE OR REPLACE CNN tiny FROM mobilenetv2 WEIGHTS RANDOM SEED 5")
    rows = vista.sql(
        """
        SELECT id, vista_features('tiny', 'out_relu', content) AS f,
               vista_predict('tiny', content) AS top,
               vista_features('tiny', 'out_relu', CAST('junk' AS BINARY)) AS bad
        FROM images WHERE id <= 3 ORDER BY id
        """
    ).collect()
    assert [r.id for r in rows] == [1, 2, 3]
    ref = models.ModelRef("tiny", zoo="mobilenetv2", weights=WeightsRef("random", seed=5))
    model = models.model_for(ref).model
    payloads = {r.id: bytes(r.content) for r in spark.table("images").where("id <= 3").collect()}
    batch = ref.preprocess(np.stack([images.decode(payloads[i], (224, 224)) for i in (1, 2, 3)]))
    import keras

    # One model for both outputs: each Keras model traced costs seconds.
    both = keras.Model(model.input, [model.get_layer("out_relu").output, model.output])
    direct, probabilities = (np.asarray(x) for x in both.predict_on_batch(batch))
    got = np.array([r.f for r in rows], dtype=np.float32)
    assert got.shape == (3, 2 * 2 * 1280)
    # Spark's Python workers run the CNN with their own batches and thread count.
    assert_features_close(got, pooling.pool(direct), "out_relu")
    for row, expected in zip(rows, probabilities, strict=True):
        assert len(row.top) == 5 and row.bad is None
        scores = [entry.probability for entry in row.top]
        assert scores == sorted(scores, reverse=True)  # one row's scores: one computation
        assert scores[0] == pytest.approx(float(expected.max()), abs=PROBABILITY)
        assert all(isinstance(entry.label, str) and entry.label for entry in row.top)
    vista.sql("DROP CNN tiny")


def test_pool_none_flattens(vista, demo_views):
    # The width is the point: 62,720 features a row, so few rows and iterations keep it cheap.
    rows = vista.sql(
        "CREATE OR REPLACE TEMPORARY VIEW flat_images AS SELECT * FROM images WHERE id <= 12; "
        "TRANSFER FEATURES FROM mobilenetv2 WEIGHTS RANDOM LAYERS (out_relu) POOL NONE "
        "ON flat_images (id, content) JOIN products USING (id) "
        "TRAIN logistic_regression (LABEL is_popular, max_iter = 2)"
    ).collect()
    assert rows[1].feature_dim == 3 + 7 * 7 * 1280
