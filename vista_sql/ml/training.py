"""Fitting the downstream model for one layer (or the structured-only baseline) and scoring it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pyspark.ml.feature import VectorAssembler
from pyspark.ml.functions import array_to_vector
from pyspark.sql import functions as F

from vista_sql.ml import metrics, models

VECTOR, IMAGE_VECTOR = "__vista_vector", "__vista_image_vector"
log = logging.getLogger("vista_sql")


@dataclass(frozen=True)
class TrainingResult:
    feature_dim: int
    n_train: int
    n_test: int
    accuracy: float | None
    f1: float | None
    auc: float | None


def fit_and_score(
    frame,
    *,
    structured: list[str],
    image_features: str | None,
    image_dim: int,
    label: str,
    is_test: str,
    learner_name: str,
    params: tuple[tuple[str, object], ...],
    classes: int,
) -> TrainingResult:
    """Train on rows where `is_test` is false, evaluate on the rest."""
    inputs = list(structured)
    if image_features is not None:
        frame = frame.withColumn(IMAGE_VECTOR, array_to_vector(F.col(image_features)))
        inputs.append(IMAGE_VECTOR)
    train = frame.filter(~F.col(is_test))
    test = frame.filter(F.col(is_test))
    # One job for the sizes of both sides and the label values seen in training.
    sides = {
        row[0]: (row[1], row[2])
        for row in frame.groupBy(is_test)
        .agg(F.count(F.lit(1)), F.countDistinct(label))
        .collect()
    }
    (n_train, train_labels), (n_test, _) = sides.get(False, (0, 0)), sides.get(True, (0, 0))
    dim = len(structured) + image_dim
    if not inputs or n_train == 0 or n_test == 0:
        return TrainingResult(dim, n_train, n_test, None, None, None)
    if train_labels < 2:
        log.warning("the training rows hold a single label value: no model, metrics left empty")
        return TrainingResult(dim, n_train, n_test, None, None, None)
    assembler = VectorAssembler(inputCols=inputs, outputCol=VECTOR)
    estimator = models.lookup(learner_name).estimator_class()(
        featuresCol=VECTOR, labelCol=label, **dict(params)
    )
    fitted = estimator.fit(assembler.transform(train))
    scored = metrics.classification(fitted.transform(assembler.transform(test)), label, classes)
    return TrainingResult(dim, n_train, n_test, scored["accuracy"], scored["f1"], scored["auc"])
