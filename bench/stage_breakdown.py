"""Where one vista_sql CNN stage's time goes, in one process, batch by batch.

    python -m bench.stage_breakdown --images build/bench/n200/images --layers L1,L2,... [--n 96]

Runs vista_sql's own StageRunner for each stage of a staged plan (the code a PySpark worker runs)
and times its parts separately: JPEG decoding, the CNN, pooling, the hand-over tensors' bytes, and
PySpark's own pandas → Arrow conversion of the stage's output (the serializer a pandas UDF's
result goes through on its way back to the JVM). No Spark: this isolates the Python side.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--cnn", default="resnet50")
    parser.add_argument("--layers", required=True)
    parser.add_argument("--n", type=int, default=96)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from pyspark.sql.pandas.serializers import ArrowStreamPandasUDFSerializer
    from pyspark.sql.pandas.types import to_arrow_type
    from pyspark.sql.types import (
        ArrayType,
        BinaryType,
        FloatType,
        StringType,
        StructField,
        StructType,
    )

    from vista_sql.catalog import pooling, zoo
    from vista_sql.catalog.models import ModelRef
    from vista_sql.catalog.weights import WeightsRef
    from vista_sql.execution import inference

    layers = tuple(args.layers.split(","))
    ref = ModelRef(args.cnn, zoo=args.cnn, weights=WeightsRef("random"))
    files = sorted(args.images.glob("*.jpg"), key=lambda p: int(p.stem))[: args.n]
    column = pd.Series([p.read_bytes() for p in files])
    spark_type = StructType(
        [
            StructField("features", ArrayType(ArrayType(FloatType()))),
            StructField("tensors", ArrayType(BinaryType())),
            StructField("error", StringType()),
        ]
    )
    arrow_type = to_arrow_type(spark_type)
    serializer = ArrowStreamPandasUDFSerializer("UTC", False, True, df_for_struct=True)
    size = zoo.ZOO[args.cnn].input_size
    print(f"{args.cnn} {len(files)} images, layers {', '.join(layers)}, {args.threads} TF threads")
    print(f"{'stage':<28} {'part':<34} {'s/image':>9} {'share':>7}")
    previous = column
    for index in range(len(layers)):
        task = inference.StageTask(
            ref, layers, index, "staged", pooling.Pooling(), 32, args.threads
        )
        runner = inference.runner_for(task)
        runner.run(previous[:32])  # warm-up: TensorFlow traces the stage once
        parts: dict[str, float] = {}
        outputs_all: list = []
        for start in range(0, len(previous), 32):
            chunk = previous[start : start + 32].reset_index(drop=True)
            outputs_all += _batch(
                runner, task, ref, size, chunk, index, parts, serializer, arrow_type
            )
        previous = pd.Series(outputs_all)
        total = sum(parts.values())
        for name, seconds in parts.items():
            print(
                f"{index}: {layers[index]:<25} {name:<34} {seconds / len(files):9.4f} "
                f"{100 * seconds / total:6.1f}%"
            )
        hand_over = len(outputs_all[0][0]) if outputs_all and outputs_all[0] else 0
        print(f"{'':<28} hand-over bytes per image: {hand_over:,}")


def _batch(runner, task, ref, size, chunk, index, parts, serializer, arrow_type) -> list:
    """One Arrow batch through the stage, each part timed into `parts`; returns its tensors."""
    from vista_sql.catalog import images, pooling

    def timed(name, fn, *a):
        begin = time.perf_counter()
        value = fn(*a)
        parts[name] = parts.get(name, 0.0) + time.perf_counter() - begin
        return value

    rows = len(chunk)
    if index == 0:
        decoded = timed("decode JPEG (Pillow)", lambda: [images.decode(d, size) for d in chunk])
        inputs = [timed("preprocess", lambda: ref.preprocess(np.stack(decoded)))]
    else:
        inputs = timed(
            "hand-over bytes → numpy",
            lambda: [
                np.stack([np.frombuffer(r[k], np.float32).reshape(s) for r in chunk])
                for k, s in enumerate(runner.input_shapes)
            ],
        )
    outs = timed("CNN forward (TensorFlow)", runner._predict, inputs)
    pooled = timed(
        "pool 2x2",
        lambda: [pooling.pool(outs[i], task.pooling) for i in runner.cut.feature_outputs],
    )
    tensors = timed(
        "hand-over numpy → bytes",
        lambda: [
            [np.ascontiguousarray(outs[i][row]).tobytes() for i in runner.cut.frontier]
            for row in range(rows)
        ],
    )
    frame = pd.DataFrame(
        {
            "features": [[p[row] for p in pooled] for row in range(rows)],
            "tensors": tensors,
            "error": [None] * rows,
        }
    )
    timed("pandas → Arrow (PySpark serializer)", serializer._create_struct_array, frame, arrow_type)
    return tensors


if __name__ == "__main__":
    main()
