"""How long vista_sql's per-layer training takes, against plain MLlib on the same rows.

    python -m bench.training_probe [--n 1000] [--dim 8192] [--repeat 2]

One local Spark session, one persisted frame shaped like a layer's training rows (key, 100
structured columns, label, split flag, `features` array<float>), then alternately:
  vista   vista_sql.ml.training.fit_and_score, as the runner calls it per layer (the split drawn
          once beforehand, as the runner draws it once per statement);
  plain   VectorAssembler → cache → LogisticRegression → accuracy, F1, AUC (what the limit does).
Same learner parameters and metrics; the difference is vista_sql's training plumbing.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--dim", type=int, default=8192)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    import pandas as pd
    from pyspark import StorageLevel
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.functions import array_to_vector
    from pyspark.sql import functions as F

    from bench import common
    from vista_sql import VistaSession
    from vista_sql.ml import training

    spark = VistaSession().spark
    rng = np.random.default_rng(0)
    structured = [f"x{j:03d}" for j in range(100)]
    pdf = pd.DataFrame(rng.normal(size=(args.n, 100)), columns=structured)
    pdf.insert(0, "__vista_key", np.arange(args.n, dtype=np.int32))
    pdf["__vista_label"] = rng.integers(0, 2, args.n).astype(float)
    pdf["__vista_is_test"] = (np.arange(args.n) % 5) == 0
    pdf["features"] = list(rng.random((args.n, args.dim), dtype=np.float32))
    frame = spark.createDataFrame(pdf).persist(StorageLevel.MEMORY_AND_DISK)
    frame.count()
    spec = training.TrainingSpec(
        "logistic_regression",
        (
            ("maxIter", common.MAX_ITER),
            ("regParam", common.REG_PARAM),
            ("elasticNetParam", common.ELASTIC_NET),
        ),
        ("accuracy", "f1", "auc"),
        None,
        common.SPLIT,
        common.SEED,
    )

    drawn = training.draw_split(
        frame, key="__vista_key", label="__vista_label", split=spec.split, seed=spec.seed
    )

    def vista():
        training.fit_and_score(
            frame,
            structured=structured,
            image_features="features",
            image_dim=args.dim,
            key="__vista_key",
            label="__vista_label",
            is_test="__vista_is_test",
            spec=spec,
            classes=2,
            split=drawn,
        )

    def plain():
        rows = frame.withColumn("fv", array_to_vector("features"))
        rows = VectorAssembler(inputCols=[*structured, "fv"], outputCol="x").transform(rows)
        rows = rows.select("x", F.col("__vista_label").alias("label"), "__vista_is_test").cache()
        model = LogisticRegression(
            featuresCol="x",
            labelCol="label",
            maxIter=common.MAX_ITER,
            regParam=common.REG_PARAM,
            elasticNetParam=common.ELASTIC_NET,
        ).fit(rows.filter(~F.col("__vista_is_test")))
        common.mllib_scores(model.transform(rows.filter(F.col("__vista_is_test"))))
        rows.unpersist()

    print(f"{args.n} rows, {args.dim} image features + 100 structured columns")
    for attempt in range(args.repeat):
        for name, fn in (("vista", vista), ("plain", plain)):
            begin = time.perf_counter()
            fn()
            print(
                f"  round {attempt + 1} {name:<6} {time.perf_counter() - begin:6.1f} s", flush=True
            )
    spark.stop()


if __name__ == "__main__":
    main()
