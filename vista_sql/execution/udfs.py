"""CNN stages as pandas UDFs that generated Spark SQL can call by name."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf

from vista_sql.execution import lowering
from vista_sql.execution.inference import StageTask
from vista_sql.spark import remote

STAGE_OUTPUT = "struct<features: array<array<float>>, tensors: array<binary>, error: string>"


def stage_udf(task: StageTask, inferred=None, failed=None):
    """`inferred` and `failed`, when given, are Spark accumulators counting the rows pushed
    through the CNN and the rows whose input could not be used (an image that does not decode)."""

    # Iterator form: the worker builds (or reuses) the stage model once per task, not per batch.
    @pandas_udf(STAGE_OUTPUT)
    def run_stage(batches: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
        from vista_sql.execution.inference import runner_for

        runner = runner_for(task)
        for column in batches:
            frame, count = runner.run(column)
            if inferred is not None:
                inferred.add(count)
                failed.add(int(frame["error"].notna().sum()))
            yield frame

    return run_stage


class InferredRows:
    """Rows a stage pushed through its CNN.

    Classic sessions count them with an accumulator, every CNN call included (a stage computed
    twice counts twice, which is what the plan tests look for). Spark Connect has no
    accumulators: there the count is taken from the stage's cached table once it is built (its
    rows without a decoding error), so a recomputation would not show.
    """

    def __init__(self, accumulator=None, failed=None):
        self._accumulator = accumulator
        self._failed = failed
        self._counted: int | None = None

    @property
    def source(self) -> str:
        return "accumulator" if self._accumulator is not None else "table"

    def settle(self, spark, table: str) -> None:
        """Call once the stage's table is cached (a no-op with an accumulator)."""
        if self._accumulator is None:
            frame = spark.table(lowering.quoted(table))
            self._counted = frame.where(F.col(lowering.OUT).getField("error").isNull()).count()

    @property
    def value(self) -> int | None:
        return self._accumulator.value if self._accumulator is not None else self._counted

    @property
    def failed(self) -> int | None:
        """Rows whose input the CNN could not take, in every computation of the stage; None
        where unknown (Spark Connect). A failed task attempt's counts are dropped with it, so 0
        means the cached table holds no such row."""
        return self._failed.value if self._failed is not None else None


def register(spark, name: str, task: StageTask) -> InferredRows:
    """Register the stage under `name`; returns the count of rows it infers."""
    if remote.is_connect(spark):
        counter = InferredRows()
        spark.udf.register(name, stage_udf(task))
        return counter
    inferred, failed = spark.sparkContext.accumulator(0), spark.sparkContext.accumulator(0)
    spark.udf.register(name, stage_udf(task, inferred, failed))
    return InferredRows(inferred, failed)
