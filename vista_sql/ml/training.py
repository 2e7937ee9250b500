"""Fitting the downstream model for one layer (or the structured-only baseline) and scoring it.

The held-out rows are chosen by a seeded hash of the key, stratified by label for
classification, so every layer and the baseline see the same split. `param IN (...)` grids and
EVALUATE CROSS VALIDATE k run MLlib's CrossValidator on the training rows only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pyspark.ml.feature import VectorAssembler
from pyspark.ml.functions import array_to_vector
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
from pyspark.sql import Window
from pyspark.sql import functions as F

from vista_sql.ml import metrics, models

VECTOR, IMAGE_VECTOR = "__vista_vector", "__vista_image_vector"
DEFAULT_FOLDS = 3
log = logging.getLogger("vista_sql")


@dataclass(frozen=True)
class TrainingSpec:
    learner: str
    params: tuple[tuple[str, object], ...]  # MLlib names; models.Grid values are searched
    metrics: tuple[str, ...]
    folds: int | None  # EVALUATE CROSS VALIDATE k
    split: float
    seed: int


@dataclass(frozen=True)
class TrainingResult:
    feature_dim: int
    n_train: int
    n_test: int
    scores: dict
    best_params: str | None = None
    # The fitted MLlib model and the assembler's input columns in order (for SAVE BEST AS).
    model: object = field(default=None, compare=False, repr=False)
    inputs: tuple[str, ...] = ()


def stratified(frame, *, key: str, label: str, is_test: str, split: float, seed: int):
    """Re-draw the split within each label value: the same rows for every layer."""
    order = Window.partitionBy(label).orderBy(F.xxhash64(F.col(key), F.lit(seed)), F.col(key))
    rank = F.row_number().over(order)
    size = F.count(F.lit(1)).over(Window.partitionBy(label))
    return frame.withColumn(is_test, rank <= F.round(size * F.lit(split)))


def _estimator(learner: models.Learner, fixed: dict, width: int, classes: int):
    cls = learner.estimator_class()
    if learner.name == "one_vs_rest":
        from pyspark.ml.classification import LogisticRegression

        return cls(
            featuresCol=VECTOR,
            labelCol=fixed.pop("labelCol"),
            classifier=LogisticRegression(maxIter=10, regParam=0.01, elasticNetParam=0.5),
            **fixed,
        )
    if learner.name == "mlp":
        fixed["layers"] = [width, models.MLP_HIDDEN, max(2, classes)]
    return cls(featuresCol=VECTOR, **fixed)


def fit_and_score(
    frame,
    *,
    structured: list[str],
    image_features: str | None,
    image_dim: int,
    key: str,
    label: str,
    is_test: str,
    spec: TrainingSpec,
    classes: int,
) -> TrainingResult:
    """Train on rows where `is_test` is false, evaluate on the rest."""
    learner = models.lookup(spec.learner)
    inputs = list(structured)
    if image_features is not None:
        frame = frame.withColumn(IMAGE_VECTOR, array_to_vector(F.col(image_features)))
        inputs.append(IMAGE_VECTOR)
    frame = frame.where(F.col(label).isNotNull())
    if learner.task == "classification":
        frame = stratified(
            frame, key=key, label=label, is_test=is_test, split=spec.split, seed=spec.seed
        )
    # One job for the sizes of both sides and the label values each holds.
    sides = {
        row[0]: (row[1], row[2])
        for row in frame.groupBy(is_test).agg(F.count(F.lit(1)), F.countDistinct(label)).collect()
    }
    (n_train, train_labels), (n_test, test_labels) = (
        sides.get(False, (0, 0)),
        sides.get(True, (0, 0)),
    )
    dim = len(structured) + image_dim
    empty = TrainingResult(dim, n_train, n_test, dict.fromkeys(spec.metrics))
    if not inputs or n_train == 0 or n_test == 0:
        return empty
    if learner.task == "classification":
        if train_labels < 2:
            log.warning("the training rows hold a single label value: no model, metrics left empty")
            return empty
        if test_labels < train_labels:
            log.warning(
                "the test split holds %d of the %d label values; metrics miss the others",
                test_labels,
                train_labels,
            )
    train, test = frame.filter(~F.col(is_test)), frame.filter(F.col(is_test))
    assembler = VectorAssembler(inputCols=inputs, outputCol=VECTOR)
    fixed = {k: v for k, v in spec.params if not isinstance(v, models.Grid)}
    grid = {k: v for k, v in spec.params if isinstance(v, models.Grid)}
    estimator = _estimator(learner, {**fixed, "labelCol": label}, dim, classes)
    best = None
    if grid or spec.folds:
        builder = ParamGridBuilder()
        for name, values in grid.items():
            builder = builder.addGrid(estimator.getParam(name), list(values))
        maps = builder.build()
        primary = spec.metrics[0]
        search = CrossValidator(
            estimator=estimator,
            estimatorParamMaps=maps,
            evaluator=metrics.evaluator(learner.task, primary, label),
            numFolds=spec.folds or DEFAULT_FOLDS,
            seed=spec.seed,
        )
        fitted = search.fit(assembler.transform(train))
        scores = fitted.avgMetrics
        larger = metrics.LARGER_IS_BETTER.get(primary, True)
        index = max(range(len(scores)), key=lambda i: scores[i] if larger else -scores[i])
        best = ", ".join(f"{p.name}={v}" for p, v in maps[index].items()) or None
        model = fitted.bestModel
    else:
        model = estimator.fit(assembler.transform(train))
    predictions = model.transform(assembler.transform(test))
    scored = metrics.evaluate(predictions, learner.task, label, spec.metrics, classes)
    return TrainingResult(dim, n_train, n_test, scored, best, model=model, inputs=tuple(inputs))
