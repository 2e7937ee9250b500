"""Downstream learners: every MLlib learner through the training path, grids and CV, metrics."""

from __future__ import annotations

import numpy as np
import onnx_models
import pytest
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.functions import array_to_vector
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
from pyspark.sql import functions as F
from python_workers import workers_of
from scipy import stats
from tolerances import METRIC

from vista_sql.ml import metrics, models, saved, training
from vista_sql.plan.manifest import layer_path
from vista_sql.spark import workers

# Which CNN and layer feed the learners does not matter to them: a small ONNX graph (a ResNet
# stem and basic block, tests/onnx_models.py) whose Python workers load ONNX Runtime, not
# TensorFlow, and whose max-pooled stem gives 2×2 cells of 8 channels: MLlib's trees bin and scan
# every feature.
LAYER, IMAGE_DIM = "/maxpool/MaxPool_output_0", 2 * 2 * 8
TRANSFER = (
    "TRANSFER FEATURES FROM MODEL '{model}' LAYERS (`{layer}`) "
    "ON images AS i (id, content) JOIN products AS p USING (id) TRAIN {train} {tail}"
)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return onnx_models.resnet_basic_block(tmp_path_factory.mktemp("cnn") / "block.onnx")


@pytest.fixture(scope="module")
def features(vista, spark, demo_views, model, tmp_path_factory):
    """The layer's materialized features joined to the structured columns, as training sees them."""
    out = tmp_path_factory.mktemp("learners")
    vista.sql(
        TRANSFER.format(
            model=model,
            layer=LAYER,
            train="logistic_regression (LABEL is_popular)",
            tail=f"MATERIALIZE INTO '{out}'",
        )
    )
    stored = spark.read.parquet(str(layer_path(out, LAYER))).withColumnRenamed("id", "__vista_key")
    products = spark.table("products").select(
        F.col("id").alias("__vista_key"),
        "hint",
        "price",
        "weight",
        F.col("is_popular").cast("double").alias("__vista_label"),
    )
    frame = stored.join(products, "__vista_key").withColumn("__vista_is_test", F.lit(False))
    return frame.cache()


def _assembled(frame, label, seed=42, split=0.2):
    """The rows as MLlib sees them, on the same split and in the same partitions as training (tree
    ensembles sample per partition, so the split is applied the way training applies it and the
    partitions are merged as training merges them)."""
    drawn = training.draw_split(frame, key="__vista_key", label=label, split=split, seed=seed)
    frame = training.apply_split(frame, drawn, key="__vista_key", label=label, is_test="t")
    frame = frame.withColumn("v", array_to_vector("features"))
    assembled = VectorAssembler(inputCols=["hint", "price", "weight", "v"], outputCol="x")
    return training.in_task_slots(assembled.transform(frame))


def _direct(frame, learner, params, label, task, chosen):
    """The same learner run straight on MLlib."""
    assembled = _assembled(frame, label)
    estimator = models.lookup(learner).estimator_class()
    fixed = dict(params)
    if learner == "mlp":
        fixed["layers"] = [3 + IMAGE_DIM, models.MLP_HIDDEN, 2]
    if learner == "one_vs_rest":
        from pyspark.ml.classification import LogisticRegression

        fixed["classifier"] = LogisticRegression(maxIter=10, regParam=0.01, elasticNetParam=0.5)
    model = estimator(featuresCol="x", labelCol=label, **fixed).fit(assembled.where(~F.col("t")))
    predictions = model.transform(assembled.where(F.col("t")))
    return _mllib_scores(predictions, task, label, chosen)


def _mllib_scores(predictions, task, label, chosen):
    """MLlib's own evaluators: vista computes its scores from the collected predictions."""
    return {m: metrics.evaluator(task, m, label).evaluate(predictions) for m in chosen}


@pytest.mark.parametrize("key_type", ["int", "string"])
def test_split_drawn_from_keys_is_the_stratified_split(features, key_type):
    """The per-label bounds hold out exactly the rows the window over every row does, for integer
    and string keys (the bounds reach the plan as literals of the key's type)."""
    features = features.withColumn("__vista_key", F.col("__vista_key").cast(key_type))
    args = dict(key="__vista_key", label="__vista_label", split=0.3, seed=7)
    drawn = training.draw_split(features, **args)
    applied = training.apply_split(
        features, drawn, key="__vista_key", label="__vista_label", is_test="t"
    )
    reference = training.stratified(features, is_test="t", **args)
    flags = {r[0]: r[1] for r in applied.select("__vista_key", "t").collect()}
    expected = {r[0]: r[1] for r in reference.select("__vista_key", "t").collect()}
    assert flags == expected and 0 < sum(flags.values()) < len(flags)
    assert len(drawn.bounds) == features.select("__vista_label").distinct().count()


@pytest.mark.parametrize("split, seed, key_type", [(0.3, 7, "int"), (0.25, 1, "string")])
def test_the_split_drawn_on_the_driver_is_sparks(features, split, seed, key_type):
    """checks.count draws the split from the (key, label, hash) rows it collects anyway; its
    bounds must be the ones Spark's window draws, for integer and string keys alike."""
    key, label = "__vista_key", "__vista_label"
    frame = features.withColumn(key, F.col(key).cast(key_type))
    hashed = training.split_order(key, seed)
    rows = [tuple(r) for r in frame.select(key, label, hashed).collect()]
    here = training.split_of_rows(rows, split=split, seed=seed)
    spark = training.draw_split(frame, key=key, label=label, split=split, seed=seed)
    assert sorted(here.bounds) == sorted(spark.bounds) and here.seed == spark.seed
    assert here.bounds  # some rows are held out, so the bounds say something


def test_a_side_short_of_label_values_is_warned_about_or_left_unscored(features):
    """The sides' sizes and label values come from one aggregate: a test side holding one of the
    two labels is scored with a warning; a training side holding one label trains nothing."""
    from reliability.logged import vista_warnings

    key, label = "__vista_key", "__vista_label"
    order = training.split_order(key, 3)
    zeros = features.where(F.col(label) == 0).select(order.alias("h"), key).orderBy("h", key)
    zeros = [tuple(r) for r in zeros.collect()]
    spec = training.TrainingSpec(
        "logistic_regression", (("maxIter", 2),), ("accuracy",), None, 0.2, 3
    )
    common = dict(structured=["price"], image_features=None, image_dim=0, key=key, label=label)
    common.update(is_test="__vista_is_test", spec=spec, classes=2)
    for bound, expected in ((zeros[len(zeros) // 2], "holds 1 of the 2"), (zeros[-1], "single")):
        split = training.Split(((0.0, *bound),), seed=3)  # label 1 has no bound: all trained on
        with vista_warnings() as messages:
            result = training.fit_and_score(features, split=split, **common)
        assert any(expected in m for m in messages), messages
        held_out = zeros.index(bound) + 1
        assert (result.n_test, result.n_train) == (held_out, features.count() - held_out)
        assert (result.scores["accuracy"] is None) == (expected == "single")


# Fewer rounds, levels and iterations than the defaults: both sides get the same parameters, so
# they agree for any values, and every boosting round, tree level or iteration is a Spark job.
CHEAPER = {
    "gbt": [("max_iter", 3), ("max_depth", 3)],
    "gbt_regressor": [("max_iter", 3), ("max_depth", 3)],
    "random_forest": [("max_depth", 3)],
    "random_forest_regressor": [("max_depth", 3)],
    "decision_tree": [("max_depth", 3)],
    "decision_tree_regressor": [("max_depth", 3)],
    "mlp": [("max_iter", 10)],
    "logistic_regression": [("max_iter", 3)],
    "linear_svc": [("max_iter", 3)],
    "linear_regression": [("max_iter", 3)],
}


@pytest.mark.parametrize("name", sorted(models.LEARNERS))
def test_each_learner_matches_mllib_run_directly(features, name):
    learner = models.lookup(name)
    label = "__vista_label"
    frame = features
    if learner.task == "regression":
        label = "price"
        hashed = F.pmod(F.xxhash64("__vista_key", F.lit(42)), F.lit(10_000)) < 2000
        frame = features.withColumn("__vista_is_test", hashed)
    params = models.resolve_params(learner, CHEAPER.get(name, []))
    chosen = metrics.DEFAULTS[learner.task]
    spec = training.TrainingSpec(name, params, chosen, None, 0.2, 42)
    structured = ["hint", "weight"] if label == "price" else ["hint", "price", "weight"]
    result = training.fit_and_score(
        frame,
        structured=structured,
        image_features="features",
        image_dim=IMAGE_DIM,
        key="__vista_key",
        label=label,
        is_test="__vista_is_test",
        spec=spec,
        classes=2,
    )
    assert result.n_train > result.n_test > 0
    if label == "price":
        frame = frame.withColumn("price_feature", F.col("price"))
        expected = _direct_regression(frame, name, params, chosen)
    else:
        expected = _direct(frame, name, params, label, learner.task, chosen)
    assert set(result.scores) == set(chosen)
    # The same rows in this process, but training assembles and persists them its own way:
    # another Spark plan, which may partition the rows and so order MLlib's sums differently.
    for metric in chosen:
        assert result.scores[metric] == pytest.approx(expected[metric], abs=METRIC), metric


def test_one_vs_rest_is_scored_in_the_jvm_and_leaves_the_python_workers_as_they_were(
    spark, features, tmp_path
):
    """PySpark's OneVsRestModel scores with a Python UDF per class plus two, a worker each per
    task, and those workers stay in the session's pool to import TensorFlow at the next CNN stage.
    vista's is scored by Spark's own (Scala) model: each class's margin, then the argmax."""
    from pyspark.ml import PipelineModel
    from pyspark.ml.classification import LogisticRegression

    daemons = workers.touch(spark)
    before = workers_of(daemons)
    label = "__vista_label"
    assembled = _assembled(features, label)
    ovr = models.lookup("one_vs_rest").estimator_class()
    ovr = ovr(featuresCol="x", labelCol=label, classifier=LogisticRegression(maxIter=5))
    fitted = ovr.fit(assembled.where(~F.col("t")))
    scored = fitted.transform(assembled).select("__vista_key", "rawPrediction", "prediction")
    ours = {r[0]: (list(r[1]), r[2]) for r in scored.collect()}
    # PREDICT WITH loads the model back from a saved pipeline: scored the same way.
    PipelineModel([fitted]).save(str(tmp_path / "ovr" / saved.PIPELINE))
    again = saved.load_pipeline(tmp_path, "ovr").transform(assembled)
    assert {r[0]: r[1] for r in again.select("__vista_key", "prediction").collect()} == {
        key: prediction for key, (_, prediction) in ours.items()
    }
    assert workers_of(daemons) <= before
    margins = [
        {
            r[0]: r[1][1]
            for r in sub.transform(assembled).select("__vista_key", "rawPrediction").collect()
        }
        for sub in fitted.models
    ]
    assert len(ours) == features.count() and len(margins) == 2
    for key, (raw, prediction) in ours.items():
        # The same sub-model on the same row in this JVM: only the plan around it differs.
        assert raw == pytest.approx([m[key] for m in margins], rel=1e-12), key
        assert prediction == float(np.argmax(raw)), key


def _direct_regression(frame, name, params, chosen):
    frame = frame.withColumn("t", F.col("__vista_is_test")).withColumn(
        "v", array_to_vector("features")
    )
    assembled = VectorAssembler(inputCols=["hint", "weight", "v"], outputCol="x").transform(frame)
    estimator = models.lookup(name).estimator_class()
    model = estimator(featuresCol="x", labelCol="price", **dict(params)).fit(
        assembled.where(~F.col("t"))
    )
    predictions = model.transform(assembled.where(F.col("t")))
    return _mllib_scores(predictions, "regression", "price", chosen)


def test_cross_validation_gives_every_metric_the_folds_interval(features):
    """Each metric's interval is the t interval over the chosen parameters' fold scores: what
    MLlib's CrossValidator reports (avgMetrics, stdMetrics) when that metric is the one it ranks
    by. One partition, so both sides draw the same seeded folds from the same row order."""
    frame, label, folds = features.coalesce(1), "__vista_label", 3
    params = models.resolve_params(models.lookup("logistic_regression"), [("max_iter", 3)])
    spec = training.TrainingSpec("logistic_regression", params, ("f1", "accuracy"), folds, 0.2, 42)
    result = training.fit_and_score(
        frame,
        structured=["hint", "price", "weight"],
        image_features="features",
        image_dim=IMAGE_DIM,
        key="__vista_key",
        label=label,
        is_test="__vista_is_test",
        spec=spec,
        classes=2,
    )
    train = _assembled(frame, label).where(~F.col("t"))
    estimator = models.lookup("logistic_regression").estimator_class()
    estimator = estimator(featuresCol="x", labelCol=label, **dict(params))
    for metric in spec.metrics:
        search = CrossValidator(
            estimator=estimator,
            estimatorParamMaps=ParamGridBuilder().build(),
            evaluator=metrics.evaluator("classification", metric, label),
            numFolds=folds,
            seed=42,
        ).fit(train)
        mean, population_std = search.avgMetrics[0], search.stdMetrics[0]
        half = stats.t.ppf(0.975, folds - 1) * population_std / np.sqrt(folds - 1)
        # MLlib averages the same fold scores in another order: sums agree to rounding.
        want = (mean - half, mean + half)
        assert result.fold_intervals[metric] == pytest.approx(want, abs=METRIC), metric


def test_grid_cross_validation_infers_each_image_once(vista, demo_views, model):
    result = vista.sql(
        TRANSFER.format(
            model=model,
            layer=LAYER,
            train="random_forest (LABEL is_popular, num_trees IN (3, 6), max_depth = 3)",
            # Inferred here, not loaded from the layer the fixture recorded: the count is the test.
            tail="EVALUATE CROSS VALIDATE 2 METRICS (f1, weighted_recall) OPTIONS (reuse = false)",
        )
    )
    assert result.columns == [
        "layer",
        "feature_dim",
        "n_train",
        "n_test",
        *(f"{m}{end}" for m in ("f1", "weighted_recall") for end in ("", "_low", "_high")),
        "vs_baseline",
        "p_value",
        "best_params",
        "seconds",
    ]
    rows = result.collect()
    assert all(r.best_params in ("numTrees=3", "numTrees=6") for r in rows[1:])
    # Both metrics' intervals are the folds' t intervals (the test above checks them against
    # MLlib): around the folds' mean of the chosen parameters, in [0, 1]. (With 2 folds, t has 1
    # degree of freedom: 12.7 standard errors each side, so an end may well pass 0 or 1.)
    for metric in ("f1", "weighted_recall"):
        ends = [(r[f"{metric}_low"], r[f"{metric}_high"]) for r in rows]
        assert all(low <= high and 0 <= (low + high) / 2 <= 1 for low, high in ends), rows
    joined = rows[0].n_train + rows[0].n_test
    inferred = vista.last_metrics["inferred"]
    assert inferred and sorted(c for _, c in inferred.values()) == [joined] * len(inferred)


def test_regression_reports_regression_metrics(vista, demo_views, model):
    rows = vista.sql(
        TRANSFER.format(model=model, layer=LAYER, train="linear_regression (LABEL price)", tail="")
    ).collect()
    assert rows[0].asDict().keys() >= {"rmse", "mae", "r2"} and rows[1].rmse > 0


def test_describe_model_lists_parameters_with_defaults(vista):
    rows = {r.parameter: r for r in vista.sql("DESCRIBE MODEL random_forest").collect()}
    assert rows["num_trees"].default == "20" and rows["max_depth"].default == "5"
    assert "features_col" not in rows and rows["num_trees"].doc


def test_unknown_metric_is_a_one_line_error(vista, demo_views, model):
    with pytest.raises(Exception, match="unknown metric 'rsme' for classification"):
        vista.sql(
            TRANSFER.format(
                model=model,
                layer=LAYER,
                train="gbt (LABEL is_popular)",
                tail="EVALUATE METRICS (rsme)",
            )
        )
