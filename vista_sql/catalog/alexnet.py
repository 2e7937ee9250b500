"""AlexNet (Krizhevsky et al. 2012), the third CNN of the Vista paper; Keras ships none.

Single-tower layout of the Caffe reference model (grouped convolutions merged), input 227×227,
Caffe-style preprocessing. There are no bundled ImageNet weights: use WEIGHTS RANDOM or a file.
"""

from __future__ import annotations

from keras import layers, models
from keras.applications import imagenet_utils


def AlexNet(weights=None, input_shape=(227, 227, 3), classes: int = 1000):  # noqa: N802 (Keras style)
    image = layers.Input(shape=input_shape, name="input_layer")
    x = layers.Conv2D(96, 11, strides=4, activation="relu", name="conv1")(image)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = layers.Conv2D(256, 5, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool2")(x)
    x = layers.Conv2D(384, 3, padding="same", activation="relu", name="conv3")(x)
    x = layers.Conv2D(384, 3, padding="same", activation="relu", name="conv4")(x)
    x = layers.Conv2D(256, 3, padding="same", activation="relu", name="conv5")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool5")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(4096, activation="relu", name="fc6")(x)
    x = layers.Dense(4096, activation="relu", name="fc7")(x)
    x = layers.Dense(classes, activation="softmax", name="fc8")(x)
    model = models.Model(image, x, name="alexnet")
    if weights not in (None, "imagenet"):
        model.load_weights(weights)
    elif weights == "imagenet":
        raise ValueError("AlexNet has no bundled ImageNet weights; use WEIGHTS RANDOM or a file")
    return model


def preprocess_input(batch):
    return imagenet_utils.preprocess_input(batch, mode="caffe")
