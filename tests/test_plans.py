"""Every logical × physical plan gives the same features and metrics, equal to direct Keras
outputs with the same pooling; Spark's accumulators show how many images each plan pushes
through the CNN."""

from __future__ import annotations

import numpy as np
import pytest
from tolerances import assert_features_close, same_metrics

# block_15_expand_relu lies inside a residual block (block_15_add sums block_14_add with it),
# so a cut there hands two tensors over. What the test proves does not depend on a CNN's size:
# MobileNetV2 has residual blocks at a fraction of ResNet50's FLOPs. Three layers are a cut
# before the block, the cut inside it and the add that takes both tensors: a fourth (the pooling
# at the top) would add a stage and a fit per statement and no other kind of cut. AlexNet's
# pool5 → fc6 is its convolutions-to-dense cut; fc7 would only repeat a dense cut.
CASES = {
    "mobilenetv2": "block_14_add, block_15_expand_relu, block_15_add",
    "alexnet": "pool5, fc6",
}
COMBINATIONS = [
    ("staged", "before", "broadcast", "deser"),
    ("staged", "after", "shuffle", "ser"),
    ("lazy", "before", "shuffle", "deser"),
    ("lazy", "after", "broadcast", "ser"),
    ("eager", "before", "broadcast", "ser"),
    ("eager", "after", "shuffle", "deser"),
]
# A second architecture (a plain chain with dense layers, no skip connections) needs each plan
# once; the join and storage choices do not depend on the CNN and MobileNetV2 covers all six.
PER_CNN = {
    "mobilenetv2": COMBINATIONS,
    "alexnet": [COMBINATIONS[0], COMBINATIONS[3], COMBINATIONS[5]],
}
IMAGES = 10


def _run(vista, cnn, out, plan, placement, join, persist):
    frame = vista.sql(
        f"""
        CREATE OR REPLACE TEMPORARY VIEW plan_images AS SELECT * FROM images WHERE id <= {IMAGES};
        TRANSFER FEATURES FROM {cnn} WEIGHTS RANDOM LAYERS ({CASES[cnn]})
          ON plan_images AS i (id, content) JOIN products AS p USING (id)
          WHERE p.price > 0
          TRAIN logistic_regression (LABEL is_popular, max_iter = 2)
          EVALUATE SPLIT 0.4 METRICS (accuracy)
          MATERIALIZE INTO '{out}'
          OPTIONS (plan = '{plan}', join_placement = '{placement}', join = '{join}',
                   persist = '{persist}', partitions = 1, reuse = false)
        """
    )
    metrics = [tuple(r) for r in frame.drop("seconds").collect()]
    return metrics, dict(vista.last_metrics["inferred"])


def _assert_equal_to_direct_keras(spark, cnn, layers, out):
    import keras

    from vista_sql.catalog import images, models, pooling
    from vista_sql.catalog.weights import WeightsRef

    ref = models.ModelRef(cnn, zoo=cnn, weights=WeightsRef("random", seed=0))
    model = models.model_for(ref).model
    payloads = {r.id: bytes(r.content) for r in spark.table("plan_images").collect()}
    keys = sorted(payloads)
    size = tuple(model.input_shape[1:3])
    batch = ref.preprocess(np.stack([images.decode(payloads[k], size) for k in keys]))
    # One model for every layer: each Keras model traced costs seconds.
    outputs = [model.get_layer(layer).output for layer in layers]
    directs = keras.Model(model.input, outputs).predict_on_batch(batch)
    for layer, direct in zip(layers, directs, strict=True):
        stored = _features(spark, out, layer)
        got = np.stack([stored[k] for k in keys])
        assert_features_close(got, pooling.pool(np.asarray(direct)), layer)


def _features(spark, out, layer):
    rows = spark.read.parquet(str(out / layer)).collect()
    return {r.id: np.asarray(r.features, np.float32) for r in rows}


@pytest.mark.parametrize("cnn", sorted(CASES))
def test_all_plans_agree_and_only_lazy_recomputes(vista, spark, demo_views, tmp_path, cnn):
    layers = [name.strip() for name in CASES[cnn].split(",")]
    results = {}
    for combination in PER_CNN[cnn]:
        out = tmp_path / "-".join(combination)
        results[combination] = (*_run(vista, cnn, out, *combination), out)

    reference_metrics, _, reference_out = results[PER_CNN[cnn][0]]
    _assert_equal_to_direct_keras(spark, cnn, layers, reference_out)
    # Plans cut the CNN into other stages and batch the images differently: the same products
    # summed in another order, so features agree to float32 noise and metrics to their sums'.
    reference = {layer: _features(spark, reference_out, layer) for layer in layers}
    for combination, (metrics, _, out) in results.items():
        assert metrics == same_metrics(reference_metrics), combination
        for layer in layers:
            want, got = reference[layer], _features(spark, out, layer)
            assert sorted(got) == sorted(want)
            keys = sorted(want)
            stacked = np.stack([got[k] for k in keys]), np.stack([want[k] for k in keys])
            assert_features_close(*stacked, (combination, layer))

    for (plan, _, _, _), (_, inferred, _) in results.items():
        from_images = sum(count for reads, count in inferred.values() if reads == "images")
        from_tensors = sum(count for reads, count in inferred.values() if reads == "tensors")
        if plan == "staged":  # one pass per image per stage: images once, then tensors
            assert (from_images, from_tensors) == (IMAGES, IMAGES * (len(layers) - 1))
        elif plan == "lazy":  # every layer starts again from the raw images
            assert (from_images, from_tensors) == (IMAGES * len(layers), 0)
        else:
            assert (from_images, from_tensors) == (IMAGES, 0)
