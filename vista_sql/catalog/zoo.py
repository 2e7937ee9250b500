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


def _resnet_roster(blocks: dict[int, int]) -> tuple[str, ...]:
    outs = [f"conv{s}_block{b}_out" for s, n in blocks.items() for b in range(1, n + 1)]
    return ("pool1_pool", *outs, "avg_pool")


def _vgg_roster(convs_in_block5: int) -> tuple[str, ...]:
    pools = tuple(f"block{i}_pool" for i in range(1, 5))
    block5 = tuple(f"block5_conv{i}" for i in range(1, convs_in_block5 + 1))
    return (*pools, *block5, "block5_pool", "fc1", "fc2")


def _app(name, module, builder, roster, imagenet_file, size=224) -> CnnSpec:
    return CnnSpec(
        name, f"keras.applications.{module}", builder, (size, size), roster, imagenet_file
    )


# Each roster lists the CNN's meaningful cut points (block outputs, transitions, pools, dense
# layers) shallow to deep; `LAYERS TOP k` takes the last k. DESCRIBE CNN shows every layer.
ZOO: dict[str, CnnSpec] = {
    spec.name: spec
    for spec in (
        _app(
            "resnet50",
            "resnet50",
            "ResNet50",
            _resnet_roster({2: 3, 3: 4, 4: 6, 5: 3}),
            "resnet50_weights_tf_dim_ordering_tf_kernels.h5",
        ),
        _app(
            "resnet101",
            "resnet",
            "ResNet101",
            _resnet_roster({2: 3, 3: 4, 4: 23, 5: 3}),
            "resnet101_weights_tf_dim_ordering_tf_kernels.h5",
        ),
        _app(
            "vgg16", "vgg16", "VGG16", _vgg_roster(3), "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
        ),
        _app(
            "vgg19", "vgg19", "VGG19", _vgg_roster(4), "vgg19_weights_tf_dim_ordering_tf_kernels.h5"
        ),
        _app(
            "mobilenetv2",
            "mobilenet_v2",
            "MobileNetV2",
            (
                *(f"block_{i}_add" for i in (2, 4, 5, 7, 8, 9, 11, 12, 14, 15)),
                "out_relu",
                "global_average_pooling2d",
            ),
            "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
        ),
        _app(
            "inceptionv3",
            "inception_v3",
            "InceptionV3",
            (*(f"mixed{i}" for i in range(11)), "avg_pool"),
            "inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
            size=299,
        ),
        _app(
            "densenet121",
            "densenet",
            "DenseNet121",
            ("pool1", "pool2_pool", "pool3_pool", "pool4_pool", "relu", "avg_pool"),
            "densenet121_weights_tf_dim_ordering_tf_kernels.h5",
        ),
        _app(
            "efficientnetb0",
            "efficientnet",
            "EfficientNetB0",
            (
                "block1a_project_bn",
                "block2b_add",
                "block3b_add",
                "block4c_add",
                "block5c_add",
                "block6d_add",
                "block7a_project_bn",
                "top_activation",
                "avg_pool",
            ),
            "efficientnetb0.h5",
        ),
        CnnSpec(
            "alexnet",
            "vista_sql.catalog.alexnet",
            "AlexNet",
            (227, 227),
            ("pool1", "pool2", "conv3", "conv4", "pool5", "fc6", "fc7"),
            "",
        ),
    )
}


def lookup(name: str) -> CnnSpec:
    return find_named(ZOO, name, "CNN")
