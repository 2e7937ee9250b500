"""The bootstrap intervals, paired tests and SAVE BEST AS's choice on held-out predictions given
as values: no JVM, no CNN (make test-fast). tests/test_transfer.py checks the same columns of a
real TRANSFER against scikit-learn and SciPy."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

from vista_sql.ml import saved, uncertainty


def _held(labels, predictions, keys=None, score=None) -> uncertainty.HeldOut:
    keys = np.arange(len(labels)) if keys is None else np.asarray(keys, dtype=object)
    return uncertainty.HeldOut(
        keys, np.asarray(labels, float), np.asarray(predictions, float), score
    )


def test_resamples_drawn_block_by_block_are_the_rows_of_one_seeded_draw():
    # Blocks only bound memory: 4,000 rows need two blocks of 500 resamples, drawn in turn from
    # one generator, which is what one (1000, 4000) draw from the same seed gives.
    rows = 2 * uncertainty.BLOCK_CELLS // uncertainty.RESAMPLES
    rng = np.random.default_rng(3)
    held = _held(rng.integers(0, 2, rows), rng.integers(0, 2, rows))
    whole = np.random.default_rng(7).integers(0, rows, size=(uncertainty.RESAMPLES, rows))
    expected = (held.label[whole] == held.prediction[whole]).mean(axis=1)
    assert np.array_equal(uncertainty.per_resample("accuracy", held, 7), expected)


def test_mcnemar_counts_only_the_rows_where_the_two_disagree():
    labels = [1] * 12
    layer = [1] * 10 + [0, 0]  # right on 10
    baseline = [0] * 3 + [1] * 9  # right on 9: the layer alone on 3 rows, the baseline on 2
    p = uncertainty.p_value("accuracy", _held(labels, layer), _held(labels, baseline), seed=1)
    assert p == pytest.approx(min(1.0, 2 * stats.binom.cdf(2, 5, 0.5)), abs=1e-15)
    same = uncertainty.p_value("accuracy", _held(labels, layer), _held(labels, layer), seed=1)
    assert same == 1.0


def test_pairs_are_matched_by_key():
    layer = _held([1, 0, 1], [1, 0, 0], keys=["b", "c", "d"])
    baseline = _held([0, 1, 0, 1], [0, 1, 1, 1], keys=["a", "b", "c", "d"])
    mine, theirs = uncertainty.paired(layer, baseline)
    assert mine.key.tolist() == theirs.key.tolist() == ["b", "c", "d"]
    assert theirs.prediction.tolist() == [1.0, 1.0, 1.0]


def _candidate(layer: str, f1: float, held) -> saved.Candidate:
    result = SimpleNamespace(scores={"f1": f1}, held_out=held, model=object())
    return saved.Candidate("cnn", SimpleNamespace(seed=4), SimpleNamespace(name=layer), result)


def test_save_best_keeps_the_cheapest_layer_within_the_best_ones_interval():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 40)
    noisy = np.where(rng.random(40) < 0.8, truth, 1 - truth)  # right on ≈ 80 %
    deep = _candidate("deep", 0.82, _held(truth, noisy))
    shallow = _candidate("shallow", 0.80, _held(truth, noisy))
    far = _candidate("far", 0.30, _held(truth, 1 - truth))
    flops = {"deep": 4e9, "shallow": 1e9, "far": 1e8}

    cheapest = saved.Best("f1", "cheapest", flops=lambda c: flops[c.layer.name])
    for candidate in (shallow, deep, far):
        cheapest.offer(candidate)
    chosen, selection = cheapest.choose()
    low, high = selection["best"]["interval"]
    assert low <= 0.80 <= high and not low <= 0.30  # 'far' is outside, however cheap
    assert chosen is shallow and selection["best"]["layer"] == "deep"
    assert selection["reason"].endswith("is within the interval and 75 % cheaper: saved shallow")

    strict = saved.Best("f1", "best", flops=lambda c: flops[c.layer.name])
    for candidate in (shallow, deep, far):
        strict.offer(candidate)
    chosen, selection = strict.choose()
    assert chosen is deep and "reason" not in selection


def test_cross_validation_interval_is_students_t_over_the_folds():
    folds = np.array([0.71, 0.78, 0.74])
    low, high = uncertainty.fold_interval(folds)
    want = stats.t.interval(0.95, 2, loc=folds.mean(), scale=stats.sem(folds))
    assert (low, high) == pytest.approx(want, abs=1e-12)
