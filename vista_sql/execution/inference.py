"""What runs inside a Spark Python worker: one CNN stage over a batch of rows.

Models are built once per worker process and kept while they are in use (`catalog.resident`), so
a task pays for model construction only the first time its worker meets a stage. Rows go through in
batches of the planned size; the last, shorter one is not padded: Keras' predict function relaxes
its batch dimension after one retrace (about a second for ResNet50), while padding cost up to a
whole batch of wasted inference per task (10 images padded to 32 made small statements 3× slower).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from vista_sql.catalog import images, models, pooling, staging
from vista_sql.catalog.resident import Resident
from vista_sql.plan.vocabulary import Cut


@dataclass(frozen=True)
class StageTask:
    model: models.ModelRef
    layers: tuple[str, ...]  # the layers the cut is planned over, shallowest first
    index: int  # for Cut.STAGED: which cut of `layers` this stage runs
    cut: Cut  # PREFIX: input to layers[index]; ALL: input to every layer
    pooling: pooling.Pooling
    batch_size: int
    threads: int

    def plan_cut(self, graph) -> staging.StageCut:
        if self.cut == Cut.STAGED:
            return staging.plan_cuts(graph, list(self.layers))[self.index]
        if self.cut == Cut.PREFIX:
            return staging.plan_cuts(graph, [self.layers[self.index]])[0]
        return staging.single_pass_cut(graph, list(self.layers))


# A statement's stages (a few per layer set and plan) for the resident models.
_runners: Resident = Resident(8)


def runner_for(task: StageTask) -> StageRunner:
    # A runner holds its model: one whose model was let go (or whose file was rewritten since)
    # must go too, before and after this task's model is built.
    _runners.discard(lambda other: models.is_resident(other.model))
    runner = _runners.get(task, lambda: StageRunner(task))
    _runners.discard(lambda other: models.is_resident(other.model))
    return runner


class StageRunner:
    def __init__(self, task: StageTask):
        self.task = task
        cnn = models.model_for(task.model, task.threads)
        self.graph = cnn.graph
        self.input_size = cnn.input_size
        self.cut = task.plan_cut(cnn.graph)
        self.stage = cnn.stage(self.cut)
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
            pooled = [
                pooling.pool(self.graph.channels_last(name, outputs[i]), self.task.pooling)
                for i in self.cut.feature_outputs
                for name in [self.cut.outputs[i]]
            ]
            frontier = [outputs[i] for i in self.cut.frontier]
            for slot, row in enumerate(good):
                features[row] = [p[slot] for p in pooled]
                tensors[row] = [np.ascontiguousarray(t[slot]).tobytes() for t in frontier]
        frame = pd.DataFrame({"features": features, "tensors": tensors, "error": errors})
        return frame, len(good)

    def _inputs(self, column: pd.Series, errors: list) -> tuple[list[np.ndarray], list[int]]:
        if self.task.cut != Cut.STAGED or self.task.index == 0:
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
        chunks = [
            self.stage.predict([x[start : start + step] for x in inputs])
            for start in range(0, size, step)
        ]
        return [np.concatenate(parts) for parts in zip(*chunks, strict=True)]
