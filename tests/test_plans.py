"""Every logical × physical plan gives the same features and metrics, equal to one direct run of
the CNN (Keras, or ONNX Runtime) with the same pooling; Spark's accumulators show how many images
each plan pushes through the CNN."""

from __future__ import annotations

import numpy as np
import onnx_models
import pytest
from tolerances import assert_features_close, same_metrics

from vista_sql.plan.manifest import layer_path

# The residual case is the small ONNX graph of tests/onnx_models.py (a ResNet stem and one basic
# block): its block's ReLU lies inside the block (the skip connection crosses the cut), so a cut
# there hands two tensors over, through Spark as any CNN's; the three layers are a cut before the
# block, the cut inside it and the classifier after the add that takes both tensors. What the
# test proves does not depend on the CNN's size or runtime; that Keras stages cut inside
# residual, dense and inception blocks equal their models is test_catalog's. AlexNet, a Keras
# chain, keeps a second runtime and architecture: pool5 → fc6 is its convolutions-to-dense cut.
BLOCK = "onnx_block"
CASES = {
    BLOCK: "`/maxpool/MaxPool_output_0`, `/layer1/layer1.0/relu/Relu_output_0`, `logits`",
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
# once; the join and storage choices do not depend on the CNN and the block covers all six.
PER_CNN = {
    BLOCK: COMBINATIONS,
    "alexnet": [COMBINATIONS[0], COMBINATIONS[3], COMBINATIONS[5]],
}
IMAGES = 10


def _run(vista, cnn, source, out, plan, placement, join, persist):
    frame = vista.sql(
        f"""
        CREATE OR REPLACE TEMPORARY VIEW plan_images AS SELECT * FROM images WHERE id <= {IMAGES};
        TRANSFER FEATURES FROM {source} LAYERS ({CASES[cnn]})
          ON plan_images AS i (id, content) JOIN products AS p USING (id)
          WHERE p.price > 0
          TRAIN logistic_regression (LABEL is_popular, max_iter = 2)
          EVALUATE SPLIT 0.4 METRICS (accuracy)
          MATERIALIZE INTO '{out}'
          OPTIONS (plan = '{plan}', join_placement = '{placement}', join = '{join}',
                   persist = '{persist}', partitions = 1, reuse = false
                   {", preprocess = 'torch'" if cnn == BLOCK else ""})
        """
    )
    metrics = [tuple(r) for r in frame.drop("seconds").collect()]
    return metrics, dict(vista.last_metrics["inferred"])


def _decoded(spark, size) -> tuple[list, np.ndarray]:
    from vista_sql.catalog import images

    payloads = {r.id: bytes(r.content) for r in spark.table("plan_images").collect()}
    keys = sorted(payloads)
    return keys, np.stack([images.decode(payloads[k], size) for k in keys])


def _direct_keras(spark, cnn, layers) -> tuple[list, list]:
    import keras

    from vista_sql.catalog import models
    from vista_sql.catalog.weights import WeightsRef

    ref = models.ModelRef(cnn, zoo=cnn, weights=WeightsRef("random", seed=0))
    model = models.model_for(ref).model
    keys, batch = _decoded(spark, tuple(model.input_shape[1:3]))
    # One model for every layer: each Keras model traced costs seconds.
    outputs = [model.get_layer(layer).output for layer in layers]
    return keys, keras.Model(model.input, outputs).predict_on_batch(ref.preprocess(batch))


def _direct_onnx(spark, path, layers) -> tuple[list, list]:
    keys, batch = _decoded(spark, (32, 32))
    batch = (batch / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]  # torchvision's
    direct = onnx_models.run_onnx(path, np.ascontiguousarray(batch.transpose(0, 3, 1, 2), "f4"))
    # Channels last, as vista_sql stores every CNN's features.
    outputs = [direct[layer] for layer in layers]
    return keys, [o.transpose(0, 2, 3, 1) if o.ndim == 4 else o for o in outputs]


def _assert_equal_to_a_direct_run(spark, cnn, path, layers, out):
    from vista_sql.catalog import pooling

    keys, directs = _direct_onnx(spark, path, layers) if path else _direct_keras(spark, cnn, layers)
    for layer, direct in zip(layers, directs, strict=True):
        stored = _features(spark, out, layer)
        got = np.stack([stored[k] for k in keys])
        assert_features_close(got, pooling.pool(np.asarray(direct)), layer)


def _features(spark, out, layer):
    rows = spark.read.parquet(str(layer_path(out, layer))).collect()
    return {r.id: np.asarray(r.features, np.float32) for r in rows}


@pytest.mark.parametrize("cnn", sorted(CASES))
def test_all_plans_agree_and_only_lazy_recomputes(
    vista, spark, demo_views, onnx_block, tmp_path, cnn
):
    layers = [name.strip().strip("`") for name in CASES[cnn].split(",")]
    path = onnx_block if cnn == BLOCK else None
    source = f"MODEL '{path}'" if path else f"{cnn} WEIGHTS RANDOM"
    results = {}
    for combination in PER_CNN[cnn]:
        out = tmp_path / "-".join(combination)
        results[combination] = (*_run(vista, cnn, source, out, *combination), out)

    reference_metrics, _, reference_out = results[PER_CNN[cnn][0]]
    _assert_equal_to_a_direct_run(spark, cnn, path, layers, reference_out)
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
