"""CNN stages as pandas UDFs that generated Spark SQL can call by name."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from pyspark.sql.functions import pandas_udf

from vista_sql.execution.inference import StageTask

STAGE_OUTPUT = (
    "struct<features: array<array<float>>, tensors: array<binary>, error: string>"
)


def stage_udf(task: StageTask, inferred):
    """`inferred` is a Spark accumulator counting rows pushed through the CNN."""

    # Iterator form: the worker builds (or reuses) the stage model once per task, not per batch.
    @pandas_udf(STAGE_OUTPUT)
    def run_stage(batches: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
        from vista_sql.execution.inference import runner_for

        runner = runner_for(task)
        for column in batches:
            frame, count = runner.run(column)
            inferred.add(count)
            yield frame

    return run_stage


def register(spark, name: str, task: StageTask):
    """Register the stage under `name`; returns the accumulator of rows it infers."""
    inferred = spark.sparkContext.accumulator(0)
    spark.udf.register(name, stage_udf(task, inferred))
    return inferred
