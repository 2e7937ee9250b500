"""The CNN catalog without Spark: the zoo, exact staged cuts through DAGs, FLOPs, the roster."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from tolerances import assert_features_close

from vista_sql.catalog import flops, models, pooling, roster, staging, zoo
from vista_sql.catalog.weights import WeightsRef
from vista_sql.errors import VistaBindError

# Builds the zoo's Keras models in this process.
pytestmark = pytest.mark.cnn


def _ref(name: str) -> models.ModelRef:
    return models.ModelRef(name=name, zoo=name, weights=WeightsRef("random", seed=3))


def _inside_a_block(graph, after: str) -> str:
    """The first layer past `after` whose cut is crossed by more than one tensor."""
    names = graph.listed
    return next(n for n in names[names.index(after) + 1 :] if staging.crossing_count(graph, n) > 1)


# Four layers each, one of them inside a residual / dense / inception block.
CASES = {
    "resnet50": ("conv4_block6_out", ["conv5_block1_out", "avg_pool"]),
    "densenet121": ("pool3_pool", ["pool4_pool", "avg_pool"]),
    "inceptionv3": ("mixed6", ["mixed8", "avg_pool"]),
    "mobilenetv2": ("block_11_add", ["block_15_add", "global_average_pooling2d"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_stages_equal_direct_keras_and_never_recompute(name):
    ref = _ref(name)
    cnn = models.model_for(ref)
    model = cnn.model
    first, rest = CASES[name]
    inside = _inside_a_block(cnn.graph, first)
    layers = staging.ordered_layers(cnn.graph, [*rest, inside, first])
    assert layers.index(inside) == 1 and len(layers) == 4
    cuts = staging.plan_cuts(cnn.graph, layers)
    assert len(cuts[1].inputs) == 1 and len(cuts[1].frontier) > 1  # the cut inside the block

    rng = np.random.default_rng(0)
    height, width = cnn.input_size
    batch = ref.preprocess(rng.random((2, height, width, 3), dtype=np.float32) * 255)
    # One model for every cut's direct output: each Keras model traced costs seconds.
    every_cut = [model.get_layer(cut.layer).output for cut in cuts]
    directs = keras.Model(model.input, every_cut).predict_on_batch(batch)
    carried: list[np.ndarray] = [batch]
    stage_flops = 0
    for cut, direct in zip(cuts, directs, strict=True):
        stage = cnn.stage(cut)
        stage_flops += stage.flops()
        assert stage.flops() == staging.stage_flops(cnn.graph, cut)
        outputs = stage.predict(carried)
        got = pooling.pool(np.asarray(outputs[cut.feature_outputs[0]]))
        want = pooling.pool(np.asarray(direct))
        # A stage is a model of its own: kernels fused across the cut may round differently.
        assert_features_close(got, want, cut.layer)
        carried = [np.asarray(outputs[i]) for i in cut.frontier]
    one_pass = keras.Model(model.input, model.get_layer(layers[-1]).output)
    assert stage_flops == flops.total_flops(one_pass) > 0
    assert stage_flops == staging.layer_flops(cnn.graph, layers[-1])


@pytest.mark.parametrize("name", sorted(zoo.ZOO))
def test_every_zoo_cnn_builds_offline_with_its_roster(name):
    spec = zoo.lookup(name.upper())  # names are case-insensitive
    ref = _ref(spec.name)
    cnn = models.model_for(ref)
    assert tuple(cnn.model.inputs[0].shape[1:3]) == spec.input_size == cnn.input_size
    names = set(cnn.graph.listed)
    assert set(spec.roster) <= names
    rows = {r.layer: r for r in roster.describe(ref, cnn.graph)}
    mflops = [rows[layer].mflops for layer in spec.roster]
    assert mflops == sorted(mflops) and mflops[0] > 0  # deeper cut points cost more
    assert all(rows[layer].in_roster for layer in spec.roster)


def test_known_flop_counts():
    # Published figures: ResNet50 ≈ 3.9 GMACs, VGG16 ≈ 15.5 GMACs per 224×224 image.
    resnet = models.model_for(_ref("resnet50")).graph.total_flops() / 2e9
    vgg = models.model_for(_ref("vgg16")).graph.total_flops() / 2e9
    assert 3.8 < resnet < 4.0 and 15.3 < vgg < 15.6


def test_bytes_per_record_follow_vista_equation_one():
    assert roster.record_bytes(2048) == round(1.2 * (8 + 8 + 4 * 2048))


def test_pooling_modes():
    batch = np.arange(2 * 5 * 5 * 3, dtype=np.float32).reshape(2, 5, 5, 3)
    assert pooling.pool(batch, pooling.Pooling("max", 2)).shape == (2, 12)
    assert pooling.pool(batch, pooling.Pooling("avg", 3)).shape == (2, 27)
    assert pooling.pool(batch, pooling.Pooling("none", 1)).shape == (2, 75)
    top_left = pooling.pool(batch, pooling.Pooling("avg", 2))[0, :3]
    # Integer inputs: every partial sum is exact in float32, so any summation order gives the
    # same mean, to the bit.
    np.testing.assert_array_equal(top_left, batch[0, :3, :3, :].mean(axis=(0, 1)))
    assert pooling.pooled_dim((7, 7, 2048), pooling.Pooling("none", 1)) == 7 * 7 * 2048


def test_unknown_cnn_and_missing_files_are_one_line_errors(tmp_path):
    with pytest.raises(VistaBindError, match="unknown CNN 'resnet5'; did you mean 'resnet50'"):
        zoo.lookup("resnet5")
    garbage = tmp_path / "broken.keras"
    garbage.write_bytes(b"not a zip file at all")
    for path, fragment in [
        (str(garbage), f"cannot load model '{garbage}'"),
        (str(tmp_path / "missing.h5"), "does not exist"),
    ]:
        with pytest.raises(VistaBindError) as caught:
            models.build(models.ModelRef("m", path=path))
        assert fragment in str(caught.value) and "\n" not in str(caught.value)
