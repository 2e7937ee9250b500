"""Evaluation of a fitted model on held-out rows with MLlib's evaluators."""

from __future__ import annotations

from pyspark.ml.evaluation import BinaryClassificationEvaluator, MulticlassClassificationEvaluator


def classification(predictions, label_col: str, classes: int) -> dict[str, float | None]:
    def multi(metric: str) -> float:
        return MulticlassClassificationEvaluator(labelCol=label_col, metricName=metric).evaluate(
            predictions
        )

    auc = None
    if classes == 2:
        auc = BinaryClassificationEvaluator(
            labelCol=label_col, rawPredictionCol="rawPrediction", metricName="areaUnderROC"
        ).evaluate(predictions)
    return {"accuracy": multi("accuracy"), "f1": multi("f1"), "auc": auc}
