"""How far apart two computations of the same numbers may be, and why.

Exact equality holds only where the same process repeats the same plan: the same kernels add the
same products in the same order. Another process (its own batch size and TensorFlow thread count),
another machine (oneDNN picks AVX2 or AVX-512 kernels), another plan (cut into other stages,
batched differently) or another Spark partitioning (MLlib adds per-partition sums in another
order) rounds differently, and these tolerances say by how much that may show.
"""

from __future__ import annotations

import numpy as np
import pytest

# Each float32 operation rounds by up to 6e-8 of its result, and a layer's outputs are dot
# products of thousands of terms stacked tens of layers deep. Measured on ResNet50, VGG16 and
# MobileNetV2 (batches of 3, 4 and 40, 1 or 2 threads, AVX, AVX2 and AVX-512 kernels), a layer's
# outputs differed by up to 4.3e-6 of its largest magnitude. Relative to that scale, not per
# value: outputs near zero are sums that cancel, and their own relative error reached 2e-3. 1e-4
# of the scale is 23 times the worst seen; a wrong layer, pooling or preprocessing is off by the
# scale itself. (A fixed 1e-4 was too tight at ResNet50's scale of 40, and void for MobileNetV2
# with random weights, whose outputs stay below 1e-8.)
FEATURE_SCALE = 1e-4

# A logistic or softmax probability moves by at most half as much as its logits (w·x), which
# carry the features' noise (above), wherever in [0, 1] it lies: hence an absolute bound.
# Measured between two processes: 1.3e-8 on an AVX2 machine, and 5.4e-7 here with the child
# process on AVX kernels (no FMA) against AVX-512; 1e-5 is 18 times the worst.
PROBABILITY = 1e-5

# Metrics count held-out predictions. Noise in the scores (up to 5e-7 measured, above; say 1e-6
# after a refit on noisy features) changes a class or a ranking only where a score lies that
# close to the threshold or to another score: with tens of held-out rows a chance of ~1e-4, and
# a metric that moved so would move by 1/n_test (AUC: 1/(positives·negatives)), not by 1e-9.
# What does differ with partitioning is the last bits of the sums MLlib's optimizers and
# evaluators (AUC's trapezoids) add per partition: ~1e-15 for values of order one.
METRIC = 1e-9


def assert_features_close(got, want, context: object = None) -> None:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, (context, got.shape, want.shape)
    scale = float(np.max(np.abs(want), initial=0.0))
    worst = float(np.max(np.abs(got - want), initial=0.0))
    assert worst <= FEATURE_SCALE * scale, (
        f"{context}: outputs differ by {worst:.3g}, more than {FEATURE_SCALE:g} of the layer's "
        f"largest magnitude {scale:.3g}"
    )


def same_metrics(rows):
    """`rows` (tuples in a list or a dict) as a comparand: floats within METRIC, the rest equal."""
    if isinstance(rows, dict):
        return {key: pytest.approx(row, abs=METRIC) for key, row in rows.items()}
    return [pytest.approx(row, abs=METRIC) for row in rows]
