"""What runs inside a Spark Python worker: one CNN stage over a batch of rows.

Models are built once per worker process and kept, so a task pays for model construction only the
first time its worker meets a stage; rows are pushed through in fixed-size batches (the last one
padded) so TensorFlow traces each stage's predict function once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from vista_sql.catalog import images, models, pooling, staging


@dataclass(frozen=True)
class StageTask:
    model: models.ModelRef
    layers: tuple[str, ...]  # the layers the cut is planned over, shallowest first
    index: int  # for "staged": which cut of `layers` this stage runs
    cut: str  # "staged" | "prefix" (input to layers[index]) | "all" (input to every layer)
    pooling: pooling.Pooling
    batch_size: int
    threads: int

    def plan_cut(self, model) -> staging.StageCut:
        if self.cut == "staged":
            return staging.plan_cuts(model, list(self.layers))[self.index]
        if self.cut == "prefix":
            return staging.plan_cuts(model, [self.layers[self.index]])[0]
        return staging.single_pass_cut(model, list(self.layers))


_runners: dict[StageTask, StageRunner] = {}


def runner_for(task: StageTask) -> StageRunner:
    if task not in _runners:
        _runners[task] = StageRunner(task)
    return _runners[task]


class StageRunner:
    def __init__(self, task: StageTask):
        self.task = task
        model = models.model_for(task.model, task.threads)
        self.input_size = task.model.input_size(model)
        self.cut = task.plan_cut(model)
        self.stage = staging.Stage(model, self.cut)
        self.input_shapes = self.stage.input_shapes

    def run(self, column: pd.Series) -> tuple[pd.DataFrame, int]:
        """Rows in (image bytes, or the previous stage's tensors) → features, tensors, error;
        and how many rows went through the CNN."""
        rows = len(column)
        errors: list[str | None] = [None] * rows
        inputs, good = self._inputs(column, errors)
        features: list = [None] * rows
        tensors: list = [None] * rows
        if good:
            outputs = self._predict(inputs)
            pooled = [pooling.pool(outputs[i], self.task.pooling) for i in self.cut.feature_outputs]
            frontier = [outputs[i] for i in self.cut.frontier]
            for slot, row in enumerate(good):
                features[row] = [p[slot] for p in pooled]
                tensors[row] = [np.ascontiguousarray(t[slot]).tobytes() for t in frontier]
        frame = pd.DataFrame({"features": features, "tensors": tensors, "error": errors})
        return frame, len(good)

    def _inputs(self, column: pd.Series, errors: list) -> tuple[list[np.ndarray], list[int]]:
        if self.task.cut != "staged" or self.task.index == 0:
            decoded, good = [], []
            for row, data in enumerate(column):
                try:
                    decoded.append(images.decode(data, self.input_size))
                    good.append(row)
                except images.ImageDecodeError as error:
                    errors[row] = str(error)
            if not decoded:
                return [], good
            return [self.task.model.preprocess(np.stack(decoded))], good
        good = list(range(len(column)))
        per_input = [
            np.stack([np.frombuffer(row[k], dtype=np.float32).reshape(shape) for row in column])
            for k, shape in enumerate(self.input_shapes)
        ]
        return per_input, good

    def _predict(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        size, step = len(inputs[0]), self.task.batch_size
        chunks = []
        for start in range(0, size, step):
            batch = [x[start : start + step] for x in inputs]
            short = step - len(batch[0])
            if short:
                batch = [
                    np.concatenate([x, np.zeros((short, *x.shape[1:]), x.dtype)]) for x in batch
                ]
            chunks.append([o[: step - short] for o in self.stage.predict(batch)])
        return [np.concatenate(parts) for parts in zip(*chunks, strict=True)]
