"""Staged CNN UDFs compute the same pooled features as direct Keras models on the same images."""

from __future__ import annotations

import numpy as np
import pytest

from vista_sql.catalog import images, pooling, staging, weights, zoo

CASES = {
    # conv4_block6_2_relu sits inside a residual block: its stage hands two tensors onward.
    "resnet50": ["conv4_block6_2_relu", "conv4_block6_out", "conv5_block1_out", "avg_pool"],
    "vgg16": ["block5_pool", "fc1", "fc2"],
}


def _direct_features(cnn: str, layer: str, payloads: list[bytes]) -> np.ndarray:
    import keras

    spec = zoo.lookup(cnn)
    model = weights.build(spec, weights.WeightsRef("random", seed=0))
    batch = spec.preprocess(np.stack([images.decode(p, spec.input_size) for p in payloads]))
    direct = keras.Model(model.input, model.get_layer(layer).output)
    return pooling.pool(np.asarray(direct.predict(batch, verbose=0)))


@pytest.mark.parametrize("cnn", sorted(CASES))
def test_staged_udf_features_equal_direct_keras(vista, spark, demo_views, tmp_path, cnn):
    layers = CASES[cnn]
    out = tmp_path / "features"
    vista.sql(
        f"""
        CREATE OR REPLACE TEMPORARY VIEW few_images AS SELECT * FROM images WHERE id <= 6;
        TRANSFER FEATURES FROM {cnn} WEIGHTS RANDOM SEED 0 LAYERS ({", ".join(reversed(layers))})
          ON few_images AS i (id, content) JOIN products AS p USING (id)
          TRAIN logistic_regression (LABEL is_popular)
          MATERIALIZE INTO '{out}'
        """
    )
    payloads = {r.id: bytes(r.content) for r in spark.table("few_images").collect()}
    keys = sorted(payloads)
    model = weights.build(zoo.lookup(cnn), weights.WeightsRef("random", seed=0))
    for layer in layers:
        stored = {
            r.id: np.asarray(r.features, np.float32)
            for r in spark.read.parquet(str(out / layer)).collect()
        }
        assert sorted(stored) == keys
        expected = _direct_features(cnn, layer, [payloads[k] for k in keys])
        got = np.stack([stored[k] for k in keys])
        shape = tuple(model.get_layer(layer).output.shape[1:])
        assert got.shape == (len(keys), pooling.pooled_dim(shape))
        assert np.max(np.abs(got - expected)) <= 1e-4, layer


def test_cut_inside_a_residual_block_hands_on_both_tensors():
    model = weights.build(zoo.lookup("resnet50"), weights.WeightsRef("random", seed=0))
    cuts = staging.plan_cuts(model, ["conv4_block6_2_relu", "conv4_block6_out"])
    assert len(cuts[0].frontier) == 2  # the block's branch and its skip connection
    assert cuts[1].inputs == tuple(cuts[0].outputs[i] for i in cuts[0].frontier)
    assert cuts[1].frontier == ()


def test_random_weights_are_identical_across_builds_and_differ_by_seed():
    spec = zoo.lookup("mobilenetv2")
    first = weights.build(spec, weights.WeightsRef("random", seed=1)).get_weights()
    again = weights.build(spec, weights.WeightsRef("random", seed=1)).get_weights()
    other = weights.build(spec, weights.WeightsRef("random", seed=2)).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))
