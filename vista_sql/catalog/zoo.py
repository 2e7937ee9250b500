"""The CNNs vista_sql knows by name: how to build each, its input, preprocessing and top layers."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from vista_sql.errors import find_named


@dataclass(frozen=True)
class CnnSpec:
    name: str
    keras_module: str  # keras.applications submodule holding the builder and preprocess_input
    builder: str
    input_size: tuple[int, int]
    # Meaningful cut points, shallow to deep (block outputs, pools, dense layers); LAYERS TOP k
    # takes the last k.
    roster: tuple[str, ...]
    imagenet_file: str

    def module(self):
        return importlib.import_module(self.keras_module)

    def preprocess(self, batch):
        return self.module().preprocess_input(batch)


def _resnet50_roster() -> tuple[str, ...]:
    blocks = {2: 3, 3: 4, 4: 6, 5: 3}
    outs = [f"conv{s}_block{b}_out" for s, n in blocks.items() for b in range(1, n + 1)]
    return ("pool1_pool", *outs, "avg_pool")


ZOO: dict[str, CnnSpec] = {
    spec.name: spec
    for spec in (
        CnnSpec(
            name="resnet50",
            keras_module="keras.applications.resnet50",
            builder="ResNet50",
            input_size=(224, 224),
            roster=_resnet50_roster(),
            imagenet_file="resnet50_weights_tf_dim_ordering_tf_kernels.h5",
        ),
        CnnSpec(
            name="vgg16",
            keras_module="keras.applications.vgg16",
            builder="VGG16",
            input_size=(224, 224),
            roster=(
                "block1_pool",
                "block2_pool",
                "block3_pool",
                "block4_pool",
                "block5_conv1",
                "block5_conv2",
                "block5_conv3",
                "block5_pool",
                "fc1",
                "fc2",
            ),
            imagenet_file="vgg16_weights_tf_dim_ordering_tf_kernels.h5",
        ),
        CnnSpec(
            name="mobilenetv2",
            keras_module="keras.applications.mobilenet_v2",
            builder="MobileNetV2",
            input_size=(224, 224),
            roster=(
                *(f"block_{i}_add" for i in (2, 4, 5, 7, 8, 9, 11, 12, 14, 15)),
                "out_relu",
                "global_average_pooling2d",
            ),
            imagenet_file="mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
        ),
    )
}


def lookup(name: str) -> CnnSpec:
    return find_named(ZOO, name, "CNN")
