"""Staged cuts and seeded weights (the Spark side of the comparison with direct Keras outputs
runs for every plan in test_plans.py)."""

from __future__ import annotations

import numpy as np
import pytest

from vista_sql.catalog import staging, weights, zoo
from vista_sql.catalog.keras_cnn import keras_graph

# Builds Keras models in this process.
pytestmark = pytest.mark.cnn


def test_cut_inside_a_residual_block_hands_on_both_tensors():
    model = weights.build(zoo.lookup("resnet50"), weights.WeightsRef("random", seed=0))
    graph, _ = keras_graph(model)
    cuts = staging.plan_cuts(graph, ["conv4_block6_2_relu", "conv4_block6_out"])
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
