"""Fitting the downstream model for one layer (or the structured-only baseline) and scoring it.

The held-out rows are chosen by a seeded hash of the key, stratified by label for
classification, so every layer and the baseline see the same split. `param IN (...)` grids and
EVALUATE CROSS VALIDATE k run MLlib's CrossValidator on the training rows only.

Training makes a dozen passes over its rows (sizes, the fit's iterations, each metric), so the
rows are assembled into MLlib's (vector, label, split flag) once and persisted; the split itself
is drawn once per statement from the keys alone, never by re-sorting wide rows: on the driver
from the keys the statement's checks collected (`split_of_rows`), or by Spark (`draw_split`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from pyspark import StorageLevel
from pyspark.ml.feature import VectorAssembler, VectorSizeHint
from pyspark.ml.functions import array_to_vector
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
from pyspark.sql import Window
from pyspark.sql import functions as F
from pyspark.sql.types import LongType

from vista_sql.ml import metrics, models, uncertainty
from vista_sql.spark import remote

VECTOR, IMAGE_VECTOR = "__vista_vector", "__vista_image_vector"
_HASH = "__vista_hash"
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
    # The held-out rows' predictions, for intervals and the comparison with the baseline.
    held_out: uncertainty.HeldOut | None = field(default=None, compare=False, repr=False)
    # CROSS VALIDATE k: each metric's interval from the chosen parameters' k fold scores.
    fold_intervals: dict = field(default_factory=dict)


def split_order(key: str, seed: int):
    """The seeded hash that orders a label's rows for the split (then the key, on a tie)."""
    return F.xxhash64(F.col(key), F.lit(seed))


def stratified(frame, *, key: str, label: str, is_test: str, split: float, seed: int):
    """Re-draw the split within each label value: the same rows for every layer."""
    order = Window.partitionBy(label).orderBy(split_order(key, seed), F.col(key))
    rank = F.row_number().over(order)
    size = F.count(F.lit(1)).over(Window.partitionBy(label))
    return frame.withColumn(is_test, rank <= F.round(size * F.lit(split)))


@dataclass(frozen=True)
class Split:
    """`stratified`'s split, kept as the last held-out row of each label value in its order.

    A row is held out when its (hash, key) sorts at or before its label's bound, so applying the
    split is a projection with one bound per label value: no shuffle, no sort.
    """

    bounds: tuple[tuple[object, int, object], ...]  # (label, hash, key)
    seed: int


def draw_split(frame, *, key: str, label: str, split: float, seed: int) -> Split:
    """One job over the keys and labels of `frame` (labelled rows only)."""
    keys = frame.where(F.col(label).isNotNull()).select(key, label)
    order = Window.partitionBy(label).orderBy(split_order(key, seed), F.col(key))
    size = F.count(F.lit(1)).over(Window.partitionBy(label))
    last = keys.select(
        label,
        split_order(key, seed).alias(_HASH),
        key,
        (F.row_number().over(order) == F.round(size * F.lit(split))).alias("last"),
    ).where("last")
    return Split(tuple((r[0], r[1], r[2]) for r in last.collect()), seed)


def split_of_rows(rows, *, split: float, seed: int) -> Split:
    """`draw_split` over (key, label, split_order hash) rows already collected, with no Spark job:
    the same bounds, since the order is (hash, key) as Spark sorts them (integral or string keys)
    and a label's size times `split` is rounded half up, as Spark's round() does."""
    by_label: dict[object, list[tuple[int, object]]] = {}
    for key, label, hashed in rows:
        if label is not None:
            by_label.setdefault(label, []).append((hashed, key))
    bounds = []
    for label, ordered in by_label.items():
        # Spark rounds the double's shortest decimal form half up.
        held_out = int(Decimal(repr(len(ordered) * split)).quantize(Decimal(1), ROUND_HALF_UP))
        if held_out >= 1:
            hashed, key = sorted(ordered)[held_out - 1]
            bounds.append((label, hashed, key))
    return Split(tuple(bounds), seed)


def apply_split(frame, split: Split, *, key: str, label: str, is_test: str):
    """Replace `frame`'s split flag by `split`'s (rows whose label has no bound: training).

    The bounds go into the plan as literals, a CASE over the label values, rather than as a
    broadcast table: a table made from driver rows (createDataFrame) costs a Spark job through a
    Python worker and a join's planning in every fit, and a statement fits once per layer."""
    if not split.bounds:
        return frame.withColumn(is_test, F.lit(False))
    types = {f.name: f.dataType for f in frame.schema.fields}
    row_hash = split_order(key, split.seed)
    flag = None
    for value, hashed, last_key in split.bounds:
        bound_hash, bound_key = F.lit(hashed).cast(LongType()), F.lit(last_key).cast(types[key])
        held_out = (row_hash < bound_hash) | ((row_hash == bound_hash) & (F.col(key) <= bound_key))
        matches = F.col(label) == F.lit(value).cast(types[label])
        flag = F.when(matches, held_out) if flag is None else flag.when(matches, held_out)
    return frame.withColumn(is_test, flag.otherwise(F.lit(False)))


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


def _column(name: str):
    return F.col("`" + name.replace("`", "``") + "`")


def assemble(frame, *, structured: list[str], image_features: str | None, image_dim: int):
    """`frame` with VECTOR: the structured columns, then the layer's features."""
    inputs = list(structured)
    # VectorAssembler casts other numeric types to double under a name holding its own uid, new
    # in every fit, so Spark compiled that fit's code anew each time; the same cast done here
    # keeps the code, and the values, the same from fit to fit.
    types = dict(frame.dtypes)
    doubled = {name: _column(name).cast("double") for name in inputs if types[name] != "double"}
    if doubled:
        frame = frame.withColumns(doubled)
    if image_features is not None:
        frame = with_image_vector(frame, F.col(image_features), image_dim)
        inputs.append(IMAGE_VECTOR)
    if not inputs:
        return frame, inputs
    return VectorAssembler(inputCols=inputs, outputCol=VECTOR).transform(frame), inputs


def with_image_vector(frame, features, dim: int):
    """`frame` with IMAGE_VECTOR, the `features` array as an MLlib vector of `dim` values.

    The size in the column's metadata spares VectorAssembler a job that reads the first row to
    learn it. That job is a LIMIT 1: over a CNN stage computed on the fly (PREDICT WITH), the
    pandas UDF's worker is left with unread input, exits, and the next stage's worker imports
    TensorFlow and builds the CNN again."""
    frame = frame.withColumn(IMAGE_VECTOR, array_to_vector(features))
    hint = VectorSizeHint(inputCol=IMAGE_VECTOR, size=dim, handleInvalid="error")
    return hint.transform(frame)


def in_task_slots(frame):
    """`frame` in at most as many partitions as the session runs tasks at once (no shuffle).

    A fit runs a Spark job per iteration over its rows, a task per partition. A stage's table keeps
    the partitions the optimizer sized for inference (ResNet50's conv5 hand-over tensors at
    N = 1,000: 32), so each iteration of bench/warm.py's recorded-layers statement ran 32 small
    tasks on 2 slots, and that statement took 17-18 s; coalesced to the slots, 12 s."""
    return frame.coalesce(max(1, remote.default_parallelism(frame.sparkSession)))


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
    split: Split | None = None,
) -> TrainingResult:
    """Train on rows where `is_test` is false, evaluate on the rest.

    Classification holds out `split`'s rows (drawn from `frame` itself when not given).
    """
    learner = models.lookup(spec.learner)
    frame = frame.where(F.col(label).isNotNull())
    if learner.task == "classification":
        if split is None:
            split = draw_split(frame, key=key, label=label, split=spec.split, seed=spec.seed)
        frame = apply_split(frame, split, key=key, label=label, is_test=is_test)
    frame, inputs = assemble(
        frame, structured=structured, image_features=image_features, image_dim=image_dim
    )
    rows = in_task_slots(frame.select(*([VECTOR] if inputs else []), key, label, is_test))
    rows = rows.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        dim = len(structured) + image_dim
        return _fit(rows, learner, inputs, spec, key, label, is_test, dim, classes)
    finally:
        rows.unpersist()


def _fit(rows, learner, inputs, spec, key, label, is_test, dim, classes) -> TrainingResult:
    # One aggregate for the sizes of both sides and, for a classifier, the label values each
    # holds; it fills the cache. Grouped by (side, label): a DISTINCT per side would cost one more
    # shuffle, and under adaptive execution one more job, in every fit.
    grouped = [is_test, label] if learner.task == "classification" else [is_test]
    sides = {False: [0, 0], True: [0, 0]}
    for row in rows.groupBy(*grouped).count().collect():
        sides[row[0]][0] += row[-1]
        sides[row[0]][1] += 1
    (n_train, train_labels), (n_test, test_labels) = sides[False], sides[True]
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
    train, test = rows.filter(~F.col(is_test)), rows.filter(F.col(is_test))
    fixed = {k: v for k, v in spec.params if not isinstance(v, models.Grid)}
    grid = {k: v for k, v in spec.params if isinstance(v, models.Grid)}
    estimator = _estimator(learner, {**fixed, "labelCol": label}, dim, classes)
    best, fold_intervals = None, {}
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
            # Kept so every metric, not only the one CrossValidator ranks by, gets its folds.
            collectSubModels=bool(spec.folds),
        )
        fitted = search.fit(train)
        scores = fitted.avgMetrics
        larger = metrics.LARGER_IS_BETTER.get(primary, True)
        index = max(range(len(scores)), key=lambda i: scores[i] if larger else -scores[i])
        best = ", ".join(f"{p.name}={v}" for p, v in maps[index].items()) or None
        model = fitted.bestModel
        if spec.folds:
            fold_intervals = _fold_intervals(
                search, fitted, index, train, spec, learner.task, key, label, classes
            )
    else:
        model = estimator.fit(train)
    scored, held_out = metrics.evaluate(
        model.transform(test), learner.task, key, label, spec.metrics, classes
    )
    return TrainingResult(
        dim,
        n_train,
        n_test,
        scored,
        best,
        model=model,
        inputs=tuple(inputs),
        held_out=held_out,
        fold_intervals=fold_intervals,
    )


def _fold_intervals(search, fitted, index: int, train, spec, task, key, label, classes) -> dict:
    """Every chosen metric's t interval over the k validation folds of the chosen parameters,
    scored from the sub-models CrossValidator kept. Its own `_kFold` redraws the same folds
    (the same seeded rand() over the same cached rows), so the first metric's fold scores are
    the ones it averaged to choose."""
    per_fold: dict[str, list] = {metric: [] for metric in spec.metrics}
    for fold, (_, validation) in enumerate(search._kFold(train)):
        predictions = fitted.subModels[fold][index].transform(validation)
        scored, _ = metrics.evaluate(predictions, task, key, label, spec.metrics, classes)
        for metric, score in scored.items():
            per_fold[metric].append(score)
    return {
        metric: uncertainty.fold_interval(scores)
        for metric, scores in per_fold.items()
        if None not in scores
    }
