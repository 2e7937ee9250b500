"""How sure a metric is: 95 % bootstrap intervals and paired tests against the baseline.

Every layer and the structured-only baseline are scored on the same held-out rows (one seeded
split per statement). Their predictions are collected once, sorted by key, and resampled with
the same seeded row indices for every layer, so intervals are comparable across rows of the
result and a layer's difference from the baseline is paired row by row. Nothing here runs a
Spark job: the held-out rows are few (a fraction of the joined rows) and already scored.

The metrics are computed over all resamples at once (one array per resample), the same
definitions as MLlib's evaluators: accuracy; weighted F1, precision and recall (each class's
score weighted by its share of the true labels); AUC by ranks with ties averaged
(Mann-Whitney), which is the trapezoidal ROC area MLlib computes; RMSE, MAE and R².
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

RESAMPLES = 1000
LEVEL = 0.95


@dataclass(frozen=True)
class HeldOut:
    """One model's predictions on the held-out rows, in key order."""

    key: np.ndarray
    label: np.ndarray  # float64: the class index or the regression target
    prediction: np.ndarray  # float64
    score: np.ndarray | None  # the positive class's raw score, for AUC (binary classifiers)


# Resamples are drawn and scored a block at a time: all 1,000 at once would hold 1,000 copies of
# the held-out rows (at 40,000 rows, 320 MB of indices alone).
BLOCK_CELLS = 2_000_000


def _draws(rows: int, seed: int):
    """(resamples, rows) row indices drawn with replacement, block by block; the same blocks for
    every layer of a statement, since they depend only on the row count and the seed."""
    rng = np.random.default_rng(seed)
    per_block = max(1, BLOCK_CELLS // max(rows, 1))
    for start in range(0, RESAMPLES, per_block):
        yield rng.integers(0, rows, size=(min(per_block, RESAMPLES - start), rows))


def per_resample(metric: str, held: HeldOut, seed: int) -> np.ndarray:
    """The metric on each of the RESAMPLES resamples (NaN where undefined, e.g. AUC with one
    class drawn)."""
    return np.concatenate([_scored(metric, held, d) for d in _draws(len(held.label), seed)])


def point(metric: str, held: HeldOut) -> float | None:
    """The metric on the held-out rows themselves (None where undefined, e.g. AUC with one
    class held out)."""
    value = float(_scored(metric, held, np.arange(len(held.label))[None, :])[0])
    return None if np.isnan(value) else value


def _scored(metric: str, held: HeldOut, draws: np.ndarray) -> np.ndarray:
    y, p = held.label[draws], held.prediction[draws]
    if metric == "accuracy":
        return (y == p).mean(axis=1)
    if metric in ("f1", "weighted_precision", "weighted_recall"):
        return _weighted(metric, held, draws)
    if metric == "auc":
        return _auc(y, held.score[draws]) if held.score is not None else np.full(len(y), np.nan)
    error = p - y
    if metric == "rmse":
        return np.sqrt((error**2).mean(axis=1))
    if metric == "mae":
        return np.abs(error).mean(axis=1)
    if metric == "r2":
        total = ((y - y.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return 1.0 - (error**2).sum(axis=1) / total
    raise ValueError(f"no bootstrap for metric {metric!r}")


def _weighted(metric: str, held: HeldOut, draws: np.ndarray) -> np.ndarray:
    classes = np.union1d(held.label, held.prediction)
    k = len(classes)
    truth = np.searchsorted(classes, held.label)[draws]
    said = np.searchsorted(classes, held.prediction)[draws]
    cell = (np.arange(len(draws))[:, None] * k + truth) * k + said
    # Confusion counts of every resample, rows: true class, columns: predicted class.
    confusion = np.bincount(cell.ravel(), minlength=len(draws) * k * k).reshape(-1, k, k)
    hits = np.diagonal(confusion, axis1=1, axis2=2).astype(np.float64)
    support, predicted = confusion.sum(axis=2), confusion.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, hits / predicted, 0.0)
        recall = np.where(support > 0, hits / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    chosen = {"f1": f1, "weighted_precision": precision, "weighted_recall": recall}[metric]
    return (chosen * support).sum(axis=1) / draws.shape[1]


def _auc(y: np.ndarray, score: np.ndarray) -> np.ndarray:
    ranks = stats.rankdata(score, axis=1)
    positives = (y == 1).sum(axis=1).astype(np.float64)
    negatives = y.shape[1] - positives
    ranked = (ranks * (y == 1)).sum(axis=1) - positives * (positives + 1) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(positives * negatives > 0, ranked / (positives * negatives), np.nan)


def fold_interval(scores) -> tuple[float, float]:
    """CROSS VALIDATE k's interval for the chosen parameters: Student's t at LEVEL around the
    mean of the k fold scores (k - 1 degrees of freedom)."""
    scores = np.asarray(scores, dtype=np.float64)
    folds = len(scores)
    half = stats.t.ppf(1 - (1 - LEVEL) / 2, folds - 1) * scores.std(ddof=1) / np.sqrt(folds)
    return float(scores.mean() - half), float(scores.mean() + half)


def paired(first: HeldOut, second: HeldOut) -> tuple[HeldOut, HeldOut]:
    """Both restricted to the keys they share, in the same order."""
    if len(first.key) == len(second.key) and (first.key == second.key).all():
        return first, second
    shared = set(first.key.tolist()) & set(second.key.tolist())
    return _only(first, shared), _only(second, shared)


def _only(held: HeldOut, keys: set) -> HeldOut:
    kept = np.array([k in keys for k in held.key.tolist()], dtype=bool)
    score = held.score[kept] if held.score is not None else None
    return HeldOut(held.key[kept], held.label[kept], held.prediction[kept], score)


def interval(metric: str, held: HeldOut, seed: int) -> tuple[float | None, float | None]:
    """The percentile interval at LEVEL; None where no resample defines the metric."""
    values = per_resample(metric, held, seed)
    values = values[~np.isnan(values)]
    if not len(values):
        return None, None
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def p_value(metric: str, layer: HeldOut, baseline: HeldOut, seed: int) -> float | None:
    """Two-sided p-value that the layer and the baseline score the same on these rows:
    McNemar's exact test for accuracy (only the rows one gets right and the other wrong count),
    else the paired bootstrap (how often the resampled difference falls on either side of 0)."""
    if metric == "accuracy":
        layer_right = layer.prediction == layer.label
        baseline_right = baseline.prediction == baseline.label
        only_layer = int((layer_right & ~baseline_right).sum())
        only_baseline = int((~layer_right & baseline_right).sum())
        if only_layer + only_baseline == 0:
            return 1.0
        return float(stats.binomtest(only_layer, only_layer + only_baseline, 0.5).pvalue)
    difference = per_resample(metric, layer, seed) - per_resample(metric, baseline, seed)
    difference = difference[~np.isnan(difference)]
    if not len(difference):
        return None
    either = 2 * min((difference <= 0).mean(), (difference >= 0).mean())
    return float(min(1.0, either))
