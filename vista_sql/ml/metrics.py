"""Evaluation of a fitted model on held-out rows.

The held-out predictions are collected once (ml/uncertainty needs them for intervals anyway) and
every metric is computed from them in the driver, with the definitions of MLlib's evaluators.
Asking MLlib instead would cost one or two Spark jobs per metric per model, about a quarter of a
warm TRANSFER's jobs. MLlib's evaluators still drive CROSS VALIDATE (`evaluator`), and
tests/test_learners.py checks these numbers against them. One deliberate difference: MLlib's AUC
bins the scores when more than 1,000 distinct ones are held out; this AUC is always exact.
"""

from __future__ import annotations

import numpy as np
from pyspark.ml.evaluation import (
    BinaryClassificationEvaluator,
    MulticlassClassificationEvaluator,
    RegressionEvaluator,
)
from pyspark.ml.functions import vector_to_array
from pyspark.sql import functions as F

from vista_sql.errors import VistaBindError, did_you_mean
from vista_sql.ml import uncertainty

# Our name → (evaluator kind, MLlib metric name)
METRICS = {
    "classification": {
        "accuracy": ("multi", "accuracy"),
        "f1": ("multi", "f1"),
        "weighted_precision": ("multi", "weightedPrecision"),
        "weighted_recall": ("multi", "weightedRecall"),
        "auc": ("binary", "areaUnderROC"),
    },
    "regression": {
        "rmse": ("regression", "rmse"),
        "mae": ("regression", "mae"),
        "r2": ("regression", "r2"),
    },
}
DEFAULTS = {"classification": ("accuracy", "f1", "auc"), "regression": ("rmse", "mae", "r2")}
LARGER_IS_BETTER = {"rmse": False, "mae": False}


def choose(task: str, requested: list[str] | None) -> tuple[str, ...]:
    known = METRICS[task]
    if not requested:
        return DEFAULTS[task]
    for name in requested:
        if name.lower() not in known:
            raise VistaBindError(
                f"unknown metric '{name}' for {task}{did_you_mean(name, known)}; "
                f"known: {', '.join(known)}"
            )
    return tuple(dict.fromkeys(n.lower() for n in requested))


def evaluator(task: str, metric: str, label: str):
    kind, name = METRICS[task][metric]
    if kind == "binary":
        return BinaryClassificationEvaluator(
            labelCol=label, rawPredictionCol="rawPrediction", metricName=name
        )
    if kind == "regression":
        return RegressionEvaluator(labelCol=label, metricName=name)
    return MulticlassClassificationEvaluator(labelCol=label, metricName=name)


def evaluate(predictions, task: str, key: str, label: str, chosen, classes: int):
    """(each chosen metric's score, the held-out predictions collected for ml/uncertainty)."""
    binary_score = (
        task == "classification" and classes == 2 and "rawPrediction" in predictions.columns
    )
    held = _held_out(predictions, key, label, binary_score)
    scores: dict[str, float | None] = {}
    for metric in chosen:
        binary = METRICS[task][metric][0] == "binary"
        usable = len(held.label) and (not binary or held.score is not None)
        score = uncertainty.point(metric, held) if usable else None
        scores[metric] = score
    return scores, held


def _held_out(predictions, key: str, label: str, binary_score: bool) -> uncertainty.HeldOut:
    # The positive class's raw score is what BinaryClassificationEvaluator ranks for AUC.
    score = vector_to_array(F.col("rawPrediction"))[1] if binary_score else F.lit(None)
    rows = predictions.select(key, label, "prediction", score.alias("score")).collect()
    rows.sort(key=lambda row: row[0])
    return uncertainty.HeldOut(
        key=np.array([row[0] for row in rows], dtype=object),
        label=np.array([row[1] for row in rows], dtype=np.float64),
        prediction=np.array([row[2] for row in rows], dtype=np.float64),
        score=np.array([row[3] for row in rows], dtype=np.float64) if binary_score else None,
    )
