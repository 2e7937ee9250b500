"""Evaluation of a fitted model on held-out rows with MLlib's evaluators."""

from __future__ import annotations

import numpy as np
from pyspark import StorageLevel
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
    """(scores by MLlib's evaluators, the held-out predictions collected for ml/uncertainty)."""
    # Each evaluator is a pass over the predictions: make the model score the rows only once.
    kept = [c for c in (key, label, "prediction", "rawPrediction") if c in predictions.columns]
    predictions = predictions.select(*kept).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        scores: dict[str, float | None] = {}
        for metric in chosen:
            binary = METRICS[task][metric][0] == "binary"
            usable = not binary or (classes == 2 and "rawPrediction" in kept)
            score = evaluator(task, metric, label).evaluate(predictions) if usable else None
            scores[metric] = score
        binary_score = task == "classification" and classes == 2 and "rawPrediction" in kept
        return scores, _held_out(predictions, key, label, binary_score)
    finally:
        predictions.unpersist()


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
