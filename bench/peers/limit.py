"""The physical limit: one pure-Keras batched pass to the deepest layer, then pure MLlib.

Everything a TRANSFER statement must do and nothing more: decode every image once, run the CNN
once up to the deepest requested layer (every shallower requested layer is an extra output of the
same pass, pooled 2×2 like vista_sql does), then train MLlib's logistic regression per layer (plus
the structured-only baseline) on the precomputed features. Same thread budget as vista_sql:
TensorFlow gets every core, Spark runs local[cores] for the training.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from bench import common


def infer(args, phases: common.Phases) -> tuple[np.ndarray, list[np.ndarray]]:
    with phases.phase("import tensorflow"):
        keras = common.keras_with_threads(args.threads)
    with phases.phase("build cnn"):
        base, preprocess = common.build_cnn(keras, args.cnn)
        model = keras.Model(base.input, [base.get_layer(n).output for n in args.layers])
    paths = common.image_paths(args.data)
    ids = np.array([i for i, _ in paths], dtype=np.int64)
    with phases.phase("decode", images=len(paths)):
        pixels = np.stack([common.decode(p.read_bytes()) for _, p in paths])
    features: list[list[np.ndarray]] = [[] for _ in args.layers]
    with phases.phase("cnn (all layers, one pass)", images=len(paths)):
        for start in range(0, len(pixels), common.BATCH):
            batch = preprocess(pixels[start : start + common.BATCH].copy())
            rows = len(batch)
            if rows < common.BATCH:  # pad: one batch shape, so TensorFlow traces once
                batch = np.concatenate([batch, np.zeros((common.BATCH - rows, *batch.shape[1:]))])
            outputs = model.predict_on_batch(batch.astype(np.float32, copy=False))
            outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
            for slot, output in enumerate(outputs):
                features[slot].append(common.pool(np.asarray(output)[:rows]))
    return ids, [np.concatenate(f) for f in features]


def train(args, phases, ids, features) -> list[dict]:
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.functions import array_to_vector
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    with phases.phase("start spark"):
        spark = (
            SparkSession.builder.master(f"local[{args.threads}]")
            .config("spark.driver.memory", "4g")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", str(2 * args.threads))
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        table = spark.read.parquet(str(args.data / "table.parquet"))
        structured = [c for c in table.columns if c not in ("id", "label")]
        is_test = F.pmod(F.xxhash64("id", F.lit(common.SEED)), F.lit(10_000)) < int(
            common.SPLIT * 10_000
        )
        table = table.withColumn("is_test", is_test).cache()
        table.count()
    import pandas as pd

    results = []
    for name, matrix in [("(structured only)", None), *zip(args.layers, features, strict=True)]:
        with phases.phase(f"train {name}"):
            frame = table
            inputs = list(structured)
            if matrix is not None:
                pdf = pd.DataFrame({"id": ids.astype(np.int32), "features": list(matrix)})
                image = spark.createDataFrame(pdf, "id int, features array<float>")
                frame = table.join(image, "id").withColumn("fv", array_to_vector("features"))
                inputs.append("fv")
            frame = VectorAssembler(inputCols=inputs, outputCol="x").transform(frame)
            frame = frame.select("x", "label", "is_test").cache()
            train_rows = frame.filter(~F.col("is_test"))
            model = LogisticRegression(
                featuresCol="x",
                labelCol="label",
                maxIter=common.MAX_ITER,
                regParam=common.REG_PARAM,
                elasticNetParam=common.ELASTIC_NET,
            ).fit(train_rows)
            scores = common.mllib_scores(model.transform(frame.filter(F.col("is_test"))))
            frame.unpersist()
        results.append({"layer": name, **scores})
    spark.stop()
    return results


def main() -> None:
    args = common.child_args(__doc__.splitlines()[0])
    phases = common.Phases()
    try:
        ids, features = infer(args, phases)
        results = train(args, phases, ids, features)
    except Exception as error:
        common.fail(args.out, error, phases)
    phases.write(args.out, status="finish", images=len(ids), results=results)


if __name__ == "__main__":
    main()
