"""An ONNX file as a CNN, run by ONNX Runtime: each stage is the sub-graph between two frontiers.

No TensorFlow is imported on this path: a Spark worker running an ONNX CNN loads only ONNX
Runtime. Stages are extracted with `onnx.utils.Extractor` from the shape-inferred graph, so a
stage's inputs and outputs are exactly the tensors `staging` planned to cross its cuts.
"""

from __future__ import annotations

import numpy as np

from vista_sql.catalog import onnx_graph
from vista_sql.catalog.graph import DEFAULT_INPUT, CnnGraph
from vista_sql.catalog.staging import StageCut
from vista_sql.errors import VistaBindError, first_line


def providers() -> list[str]:
    """CUDA where onnxruntime-gpu and a GPU are present, the CPU otherwise."""
    import onnxruntime

    available = onnxruntime.get_available_providers()
    chosen = [p for p in ("CUDAExecutionProvider",) if p in available]
    return [*chosen, "CPUExecutionProvider"]


def _session(model_bytes: bytes, threads: int | None):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # its warnings would reach the user's shell through workers
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(model_bytes, options, providers=providers())


class OnnxCnn:
    def __init__(self, path: str, threads: int | None = None):
        self.path = path
        self.threads = threads
        self.model = onnx_graph.with_shapes(onnx_graph.load(path), path)
        self.graph: CnnGraph = onnx_graph.graph(self.model, path)
        image, self.channels_first = onnx_graph.image_input(self.model, path)
        dims = onnx_graph._dims(image)
        height, width = dims[2:4] if self.channels_first else dims[1:3]
        self.input_size = (height or DEFAULT_INPUT[0], width or DEFAULT_INPUT[1])
        self.fixed_batch = dims[0]  # a file exported for one batch size runs in chunks of it
        self._extractor = None
        self._checked = False

    def check(self) -> None:
        """Fail on the driver, with the file named, if ONNX Runtime cannot run the graph."""
        if self._checked:
            return
        try:
            _session(self.model.SerializeToString(), 1)
        except Exception as error:
            raise VistaBindError(
                f"ONNX Runtime cannot run '{self.path}': {first_line(error)}"
            ) from None
        self._checked = True  # a session per statement would cost a second on large files

    def sub_model(self, inputs: list[str], outputs: list[str]):
        import onnx

        if self._extractor is None:
            self._extractor = onnx.utils.Extractor(self.model)
        return self._extractor.extract_model(inputs, outputs)

    def stage(self, cut: StageCut) -> OnnxStage:
        return OnnxStage(self, cut)


class OnnxStage:
    def __init__(self, cnn: OnnxCnn, cut: StageCut):
        self.cut = cut
        self.computed = [name for name in cut.outputs if name not in cut.inputs]
        self.model = cnn.sub_model(list(cut.inputs), self.computed)
        self._session = _session(self.model.SerializeToString(), cnn.threads)
        self._image = cnn.graph.inputs[0] if cnn.channels_first else None
        self._batch = cnn.fixed_batch
        self.input_shapes = [tuple(cnn.graph.shapes[n]) for n in cut.inputs]

    def flops(self) -> int:
        """FLOPs per image of the sub-graph this stage runs, counted on that sub-graph."""
        return onnx_graph.model_flops(self.model)

    def predict(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Outputs in `cut.outputs` order for one batch of inputs in `cut.inputs` order."""
        feed = {
            name: np.ascontiguousarray(x.transpose(0, 3, 1, 2) if name == self._image else x)
            for name, x in zip(self.cut.inputs, inputs, strict=True)
        }
        produced = self._run(feed, len(inputs[0]))
        by_name = dict(zip(self.cut.inputs, inputs, strict=True))
        by_name.update(zip(self.computed, produced, strict=True))
        return [by_name[name] for name in self.cut.outputs]

    def _run(self, feed: dict, rows: int) -> list[np.ndarray]:
        if not self._batch or self._batch == rows:
            return self._session.run(self.computed, feed)
        parts, size = [], self._batch
        for start in range(0, rows, size):
            chunk = {k: _padded(v[start : start + size], size) for k, v in feed.items()}
            parts.append([out[: rows - start] for out in self._session.run(self.computed, chunk)])
        return [np.concatenate(p) for p in zip(*parts, strict=True)]


def _padded(batch: np.ndarray, size: int) -> np.ndarray:
    if len(batch) == size:
        return batch
    pad = np.zeros((size - len(batch), *batch.shape[1:]), dtype=batch.dtype)
    return np.concatenate([batch, pad])
