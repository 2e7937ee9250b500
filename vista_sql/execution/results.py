"""The rows of a TRANSFER's result: per layer (and the structured-only baseline) its size, each
metric with its 95 % bootstrap interval, and how it compares with the baseline.

Intervals and comparisons come from the held-out predictions each fit collected (ml/uncertainty):
every row resamples the same held-out rows with the statement's seed, so intervals line up and
`vs_baseline` (the first metric's difference from the baseline's) and its `p_value` are paired.
"""

from __future__ import annotations

from dataclasses import dataclass

from vista_sql.ml import models, training, uncertainty
from vista_sql.plan.vocabulary import StageInput

BASELINE = "(structured only)"


def result_schema(q) -> str:
    """layer, feature_dim, n_train, n_test, each metric with _low and _high, vs_baseline,
    p_value, [best_params], seconds."""
    columns = ["layer string", "feature_dim int", "n_train long", "n_test long"]
    for metric in q.metrics:
        columns += [f"{metric} double", f"{metric}_low double", f"{metric}_high double"]
    columns += ["vs_baseline double", "p_value double"]
    if q.folds or any(isinstance(v, models.Grid) for _, v in q.params):
        columns.append("best_params string")
    return ", ".join([*columns, "seconds double"])


@dataclass(frozen=True)
class Fitted:
    """One finished fit, before the baseline it is compared with is known."""

    layer: str
    result: training.TrainingResult
    seconds: float


def rows(fitted: list[Fitted], baseline: training.TrainingResult | None, q) -> list[tuple]:
    """`fitted` as rows of result_schema(q); `baseline` is the structured-only fit (None when it
    has no model: then nothing is compared)."""
    return [_row(f, baseline, q) for f in fitted]


def _row(fitted: Fitted, baseline: training.TrainingResult | None, q) -> tuple:
    result = fitted.result
    row: list = [fitted.layer, result.feature_dim, result.n_train, result.n_test]
    for metric, score in result.scores.items():
        low, high = (None, None)
        if metric in result.fold_intervals:
            low, high = result.fold_intervals[metric]  # CROSS VALIDATE k: the folds' interval
        elif score is not None and result.held_out is not None:
            low, high = uncertainty.interval(metric, result.held_out, q.seed)
        row += [score, low, high]
    row += _compared(fitted, baseline, q)
    if q.folds or any(isinstance(v, models.Grid) for _, v in q.params):
        row.append(result.best_params)
    return (*row, round(fitted.seconds, 2))


def _compared(fitted: Fitted, baseline: training.TrainingResult | None, q) -> list:
    first = q.metrics[0]
    mine = fitted.result
    if (
        fitted.layer == BASELINE
        or baseline is None
        or mine.held_out is None
        or baseline.held_out is None
        or mine.scores.get(first) is None
        or baseline.scores.get(first) is None
    ):
        return [None, None]
    difference = mine.scores[first] - baseline.scores[first]
    # Rows whose image could not be decoded are held out for the baseline only: pair the rest.
    layer, base = uncertainty.paired(mine.held_out, baseline.held_out)
    return [difference, uncertainty.p_value(first, layer, base, q.seed)]


def inference_shares(plan, stage) -> list[float]:
    """Each of a stage's layers' share of its inference time: the FLOPs between it and the
    layer before it (the stage's input for the first), as a fraction of the stage's FLOPs."""
    flops = {x.name: x.cumulative_flops for x in plan.workload.layers} if plan.workload else {}
    names = [layer.name for layer in stage.layers]
    if len(names) == 1 or not all(name in flops for name in names):
        return [1.0 / len(names)] * len(names)
    order = [x.name for x in plan.workload.layers]
    first = order.index(names[0])
    start = flops[order[first - 1]] if stage.reads != StageInput.IMAGES and first else 0.0
    ends = [flops[name] for name in names]
    steps = [max(0.0, b - a) for a, b in zip([start, *ends[:-1]], ends, strict=True)]
    total = sum(steps)
    return [step / total for step in steps] if total > 0 else [1.0 / len(names)] * len(names)


HELD_OUT_VIEW = "vista_held_out"


def show_held_out(spark, per_cnn: dict[str, dict]) -> None:
    """The temporary view `vista_held_out`: every row's held-out predictions (cnn, layer, key,
    label, prediction, score), what its intervals and p-value were computed from; the next
    TRANSFER replaces it. `score` is the positive class's raw score (binary classifiers)."""
    rows = [
        (cnn if len(per_cnn) > 1 and layer != BASELINE else None, layer, str(key), *values)
        for cnn, layers in per_cnn.items()
        for layer, held in layers.items()
        if held is not None
        for key, *values in zip(
            held.key.tolist(),
            held.label.tolist(),
            held.prediction.tolist(),
            held.score.tolist() if held.score is not None else [None] * len(held.key),
            strict=True,
        )
    ]
    schema = "cnn string, layer string, key string, label double, prediction double, score double"
    spark.createDataFrame(rows, schema).createOrReplaceTempView(HELD_OUT_VIEW)
