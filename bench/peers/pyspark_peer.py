"""The hand-written PySpark peer: what a Spark user writes today without vista_sql.

A per-layer loop: for each layer, a `predict_batch_udf` whose model is the CNN cut at that layer
runs over the raw images joined with the table, its features are cached, and MLlib's logistic
regression is fitted and scored on them. Written plainly, as in the Spark docs: TensorFlow's
thread pool left at its default, the images read with the binaryFile source, a random split.
Every layer re-decodes every image and re-runs the CNN from the input: there is no staging.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from bench import common


def make_predict_fn(cnn: str, layer: str):
    def make():
        import keras

        from bench.common import build_cnn, decode, pool

        base, preprocess = build_cnn(keras, cnn)
        model = keras.Model(base.input, base.get_layer(layer).output)

        def predict(content: np.ndarray) -> np.ndarray:
            pixels = np.stack([decode(data) for data in content])
            return pool(model.predict(preprocess(pixels), verbose=0))

        return predict

    return make


def main() -> None:
    args = common.child_args(__doc__.splitlines()[0])
    phases = common.Phases()
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        from pyspark.ml.classification import LogisticRegression
        from pyspark.ml.evaluation import (
            BinaryClassificationEvaluator,
            MulticlassClassificationEvaluator,
        )
        from pyspark.ml.feature import VectorAssembler
        from pyspark.ml.functions import array_to_vector, predict_batch_udf
        from pyspark.sql import SparkSession
        from pyspark.sql import functions as F
        from pyspark.sql.types import ArrayType, FloatType

        with phases.phase("start spark"):
            spark = (
                SparkSession.builder.master("local[*]")
                .config("spark.driver.memory", "4g")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                .getOrCreate()
            )
            spark.sparkContext.setLogLevel("ERROR")
        files = spark.read.format("binaryFile").option("pathGlobFilter", "*.jpg")
        images = files.load(str((args.data / "images").resolve())).select(
            F.regexp_extract("path", r"([0-9]+)[.]jpg$", 1).cast("int").alias("id"), "content"
        )
        table = spark.read.parquet(str((args.data / "table.parquet").resolve()))
        structured = [c for c in table.columns if c not in ("id", "label")]
        data = images.join(table, "id")
        train, test = data.randomSplit([1 - common.SPLIT, common.SPLIT], seed=common.SEED)
        accuracy = MulticlassClassificationEvaluator(labelCol="label", metricName="accuracy")
        f1 = MulticlassClassificationEvaluator(labelCol="label", metricName="f1")
        auc = BinaryClassificationEvaluator(labelCol="label")

        def fit_and_score(train_rows, test_rows, inputs):
            assembler = VectorAssembler(inputCols=inputs, outputCol="x")
            model = LogisticRegression(
                featuresCol="x",
                labelCol="label",
                maxIter=common.MAX_ITER,
                regParam=common.REG_PARAM,
                elasticNetParam=common.ELASTIC_NET,
            ).fit(assembler.transform(train_rows))
            predictions = model.transform(assembler.transform(test_rows))
            return {
                "accuracy": accuracy.evaluate(predictions),
                "f1": f1.evaluate(predictions),
                "auc": auc.evaluate(predictions),
            }

        results = []
        with phases.phase("train (structured only)"):
            scores = fit_and_score(train.drop("content"), test.drop("content"), structured)
        results.append({"layer": "(structured only)", **scores})
        images_count = None
        for layer in args.layers:
            extract = predict_batch_udf(
                make_predict_fn(args.cnn, layer),
                return_type=ArrayType(FloatType()),
                batch_size=common.BATCH,
            )
            begin = time.perf_counter()
            featurized = data.withColumn("features", extract("content")).drop("content")
            featurized = featurized.withColumn("fv", array_to_vector("features")).cache()
            images_count = featurized.count()
            phases.add(f"cnn {layer} (from raw images)", time.perf_counter() - begin, images_count)
            with phases.phase(f"train {layer}"):
                train_rows, test_rows = featurized.randomSplit(
                    [1 - common.SPLIT, common.SPLIT], seed=common.SEED
                )
                scores = fit_and_score(train_rows, test_rows, [*structured, "fv"])
            featurized.unpersist()
            results.append({"layer": layer, **scores})
        spark.stop()
    except Exception as error:
        common.fail(args.out, error, phases)
    phases.write(args.out, status="finish", images=images_count, results=results)


if __name__ == "__main__":
    main()
