"""Using a saved model: PREDICT WITH <name> ... and vista_predict_model(...) in any SQL.

PREDICT WITH computes the model's layer with one CNN stage (the same pandas UDF a TRANSFER stage
runs, cut at that layer, configured by the optimizer: statements/predict.py), joins the
structured side as TRANSFER does, and hands the rows to the saved Spark ML PipelineModel, so every
learner predicts exactly as it was trained.

vista_predict_model('<name>', image, struct(cols...)) is a pandas UDF: MLlib models live in the
JVM and cannot run inside it, so it applies the saved coefficients with numpy (ml/linear.py) and
supports the linear learners only; the session refuses the others before Spark runs anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pyspark.ml.functions import vector_to_array
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf
from sqlglot import exp

from vista_sql.errors import VistaBindError
from vista_sql.execution import lowering, udfs
from vista_sql.execution.inference import StageTask
from vista_sql.ml import linear, saved, training
from vista_sql.optimizer.config import BATCHES
from vista_sql.plan.columns import IMAGES, TABLE
from vista_sql.plan.nodes import ExecConfig, Statistics, TransferQuery
from vista_sql.plan.values import position
from vista_sql.plan.vocabulary import Cut
from vista_sql.spark import remote

FUNCTION = "vista_predict_model"
# `label`: the predicted class's name, for a model trained on a label of class names.
FUNCTION_SCHEMA = "struct<prediction: double, probability: array<double>, label: string>"
# vista_predict_model runs inside any SQL, where nothing plans it: the optimizer's largest batch.
FUNCTION_BATCH = BATCHES[0]


@dataclass(frozen=True)
class Prediction:
    """A planned PREDICT WITH: the saved model, the rows it predicts for, the configuration."""

    name: str
    root: str  # the models directory it was read from
    meta: dict  # the saved model's vista_model.json
    # The images, key, join and filter; `features` are the model's structured columns as the
    # joined table spells them (the model's own spelling is meta["structured"]).
    query: TransferQuery
    config: ExecConfig
    statistics: Statistics | None = None

    @property
    def udf_name(self) -> str:
        return f"vista_predict_{saved.check_name(self.name)}_stage0"

    @property
    def task(self) -> StageTask:
        return stage_task(self.meta, self.config.tf_threads, self.config.batch_size)


def stage_task(meta: dict, threads: int, batch_size: int) -> StageTask:
    """One CNN stage from the input image to the saved layer, pooled as in training."""
    return StageTask(
        model=saved.model_ref(meta),
        layers=(meta["layer"],),
        index=0,
        cut=Cut.PREFIX,
        pooling=saved.pooling_of(meta),
        batch_size=batch_size,
        threads=threads,
    )


def _threads(spark) -> int:
    # vista_predict_model's TensorFlow threads: the cores shared by the tasks Spark runs at once.
    return max(1, (os.cpu_count() or 1) // max(1, remote.default_parallelism(spark)))


def joined_select(p: Prediction) -> exp.Select:
    """Key, the model's structured columns and the image of every joined row."""
    q = p.query
    select = exp.select(
        exp.alias_(lowering.quoted_column(q.key, IMAGES), lowering.KEY, quoted=True),
        *(
            exp.alias_(lowering.quoted_column(real, TABLE), name, quoted=True)
            for real, name in zip(q.features, p.meta["structured"], strict=True)
        ),
        exp.alias_(lowering.quoted_column(q.image, IMAGES), lowering.IMAGE, quoted=True),
    ).from_(lowering.join_side(q.images.name, IMAGES, None))
    select = select.join(
        lowering.join_side(q.structured.name, TABLE, None), on=q.join_condition.copy()
    )
    return select.where(q.where.copy()) if q.where is not None else select


def predict_sql(p: Prediction) -> str:
    """The CNN stage over the joined rows, spread over the plan's partitions."""
    joined = joined_select(p)
    # The hint repartitions the select's output: the stage must read it from a subquery to run
    # in those partitions rather than the images' own.
    joined.set("hint", exp.Hint(expressions=[lowering.repartition_hint(p.config.partitions)]))
    stage = exp.Anonymous(this=p.udf_name, expressions=[lowering.quoted_column(lowering.IMAGE)])
    select = exp.select(
        lowering.quoted_column(lowering.KEY),
        *(lowering.quoted_column(name) for name in p.meta["structured"]),
        exp.alias_(stage, lowering.OUT, quoted=True),
    ).from_(joined.subquery("images", copy=False))
    return lowering.to_sql(select)


def predict(spark, p: Prediction) -> object:
    """PREDICT WITH: key, prediction (and probability for classifiers) per joined row."""
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(p.config.batch_size))
    udfs.register(spark, p.udf_name, p.task)
    rows = spark.sql(predict_sql(p)).where(F.col(f"{lowering.OUT}.error").isNull())
    rows = training.with_image_vector(
        rows, F.col(f"{lowering.OUT}.features")[0], int(p.meta["feature_dim"])
    )
    out = saved.load_pipeline(p.root, p.name).transform(rows)
    columns = [F.col(lowering.KEY).alias(p.query.key), _named(p.meta, F.col("prediction"))]
    if p.meta["task"] == "classification":
        probability = (
            vector_to_array(F.col("probability"))
            if "probability" in out.columns
            else F.lit(None).cast("array<double>")
        )
        columns.append(probability.alias("probability"))
    return out.select(*columns)


def _named(meta: dict, prediction):
    """A class-name model's prediction as the class's name (literals: never SQL text)."""
    names = meta.get("classes")
    if not names:
        return prediction
    index = prediction.cast("int") + F.lit(1)
    return F.element_at(F.array(*(F.lit(name) for name in names)), index).alias("prediction")


def class_names(meta: dict, values) -> list:
    """`values` (predicted indices) as the model's class names; None where there is none."""
    names = meta.get("classes")
    if not names:
        return [None] * len(values)
    return [None if v is None or not 0 <= int(v) < len(names) else names[int(v)] for v in values]


# -- vista_predict_model ----------------------------------------------------------------------

_metadata: dict[tuple[str, str], tuple[float, dict]] = {}


def _meta(root: str, name: str) -> dict:
    # Re-read when the model was replaced (SAVE BEST AS ... overwrite) since this worker saw it.
    path = Path(root) / name.lower() / saved.METADATA
    stamp = path.stat().st_mtime_ns if path.exists() else -1
    cached = _metadata.get((root, name.lower()))
    if cached is None or cached[0] != stamp:
        _metadata[(root, name.lower())] = (stamp, saved.read(root, name))
    return _metadata[(root, name.lower())][1]


def unsupported(name: str, learner: str) -> str:
    return (
        f"{FUNCTION} applies {', '.join(linear.SUPPORTED)} models inside SQL; saved model "
        f"'{name}' is a {learner}: use PREDICT WITH {name} ON ... JOIN ... USING (...)"
    )


def _structured(meta: dict, x: pd.DataFrame) -> np.ndarray:
    given = {str(c).lower(): c for c in x.columns}
    missing = [c for c in meta["structured"] if c.lower() not in given]
    if missing:
        raise ValueError(
            f"{FUNCTION}('{meta['name']}', ...): struct(...) lacks {', '.join(missing)}; "
            f"the model takes {', '.join(meta['structured'])}"
        )
    columns = [given[c.lower()] for c in meta["structured"]]
    return x[columns].astype("float64").to_numpy() if columns else np.zeros((len(x), 0))


def _predict_group(root: str, threads: int, name: str, image, x) -> tuple[list, list, list]:
    from vista_sql.execution.inference import runner_for

    meta = _meta(root, name)
    if meta["linear"] is None:
        raise ValueError(unsupported(name, meta["learner"]))
    structured = _structured(meta, x)
    frame, _ = runner_for(stage_task(meta, threads, FUNCTION_BATCH)).run(
        image.reset_index(drop=True)
    )
    predictions: list = [None] * len(image)
    probabilities: list = [None] * len(image)
    usable = [
        i
        for i in range(len(image))
        if frame["error"].iloc[i] is None and not np.isnan(structured[i]).any()
    ]
    if not usable:
        return predictions, probabilities, [None] * len(image)
    features = np.stack([np.asarray(frame["features"].iloc[i][0], np.float64) for i in usable])
    inputs = np.hstack([structured[usable], features])
    values, probability = linear.apply(meta["linear"], inputs)
    for slot, row in enumerate(usable):
        predictions[row] = float(values[slot])
        probabilities[row] = None if probability is None else probability[slot]
    return predictions, probabilities, class_names(meta, predictions)


def predict_model_function(root: str, threads: int):
    """The UDF bound to one models directory (the session re-registers it when that changes)."""

    @pandas_udf(FUNCTION_SCHEMA)
    def vista_predict_model(name: pd.Series, image: pd.Series, x: pd.DataFrame) -> pd.DataFrame:
        out = {column: [None] * len(name) for column in ("prediction", "probability", "label")}
        names = name.reset_index(drop=True)
        image, x = image.reset_index(drop=True), x.reset_index(drop=True)
        for model_name in names.dropna().unique():
            rows = np.flatnonzero((names == model_name).to_numpy())
            found = _predict_group(root, threads, model_name, image.iloc[rows], x.iloc[rows])
            for column, values in zip(out, found, strict=True):
                for slot, row in enumerate(rows):
                    out[column][row] = values[slot]
        return pd.DataFrame(out)

    return vista_predict_model


_registered: dict[int, str] = {}


def register_function(spark) -> None:
    """(Re-)register vista_predict_model for the session's current `vista.models.dir`."""
    root = str(saved.models_dir(spark))
    if _registered.get(id(spark)) != root:
        spark.udf.register(FUNCTION, predict_model_function(root, _threads(spark)))
        _registered[id(spark)] = root


def check_calls(spark, text: str) -> None:
    """Before plain SQL runs: every vista_predict_model('<name>', ...) names a usable model."""
    if FUNCTION not in text.lower():
        return
    import sqlglot
    from sqlglot.errors import ParseError

    register_function(spark)
    try:
        tree = sqlglot.parse_one(text, read="spark")
    except ParseError:
        return  # Spark reports its own syntax errors
    root = saved.models_dir(spark)
    for call in tree.find_all(exp.Anonymous):
        if str(call.this).lower() != FUNCTION or not call.expressions:
            continue
        first = call.expressions[0]
        if len(call.expressions) != 3:
            raise VistaBindError(
                f"{FUNCTION} takes ('<saved model>', image, struct(columns...))", *position(first)
            )
        if not (isinstance(first, exp.Literal) and first.is_string):
            continue
        try:
            meta = saved.read(root, first.name)
        except VistaBindError as error:
            raise error.at(*position(first)) from None
        if meta["linear"] is None:
            raise VistaBindError(unsupported(first.name, meta["learner"]), *position(first))
        _check_struct(meta, call.expressions[2])


def _check_struct(meta: dict, node: exp.Expr) -> None:
    """struct(a, b AS c, ...) written in the SQL: its field names must cover the model's columns."""
    if not isinstance(node, exp.Struct):
        return
    fields = []
    for item in node.expressions:
        if isinstance(item, exp.PropertyEQ):
            fields.append(item.this.name.lower())
        elif isinstance(item, (exp.Column, exp.Alias)):
            fields.append(item.alias_or_name.lower())
        else:
            return  # a field whose name Spark chooses: the worker checks it
    missing = [c for c in meta["structured"] if c.lower() not in fields]
    if missing:
        raise VistaBindError(
            f"{FUNCTION}('{meta['name']}', ...): struct(...) lacks {', '.join(missing)}; the "
            f"model takes {', '.join(meta['structured'])}",
            *position(node),
        )
