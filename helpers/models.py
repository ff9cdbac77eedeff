"""The two networks of the series, and safe loading.

* :func:`build_seed_cnn` - the original tutorial's network, layer for layer.
* :func:`build_happy_sad` - ours: sized for 48x48 faces, preprocessing and
  augmentation inside, Conv-BatchNorm-ReLU blocks, global average pooling.

Both are ``keras.Sequential``, take raw 0-255 pixels and return P(class 1).
"""
from __future__ import annotations

from pathlib import Path

import keras
from keras import layers

from . import config

SEED_INPUT = (256, 256, 3)
OUR_INPUT = (config.FER_SIZE, config.FER_SIZE, 1)


def build_seed_cnn(input_shape=SEED_INPUT) -> keras.Sequential:
    """The original tutorial's network (3,696,625 parameters at 256x256x3).

    One addition: ``Rescaling(1/255)`` inside the model (0 parameters), so the
    saved file takes raw pixels, where the original divided by 255 in its pipeline.
    """
    return keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Rescaling(1.0 / 255),
        layers.Conv2D(16, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(16, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(256, activation="relu"),
        layers.Dense(1, activation="sigmoid"),
    ], name="seed_cnn")


def augmentation(seed: int = config.SEED) -> list[layers.Layer]:
    """Random changes a face can undergo without changing its expression.

    Active only in training; at inference these layers pass images through.
    """
    return [
        layers.RandomFlip("horizontal", seed=seed),              # a mirrored smile is a smile
        layers.RandomRotation(0.04, fill_mode="reflect", seed=seed),   # +-14 degrees of head tilt
        layers.RandomTranslation(0.08, 0.08, fill_mode="reflect", seed=seed),  # off-centre crops
        layers.RandomZoom(0.1, fill_mode="reflect", seed=seed),  # closer / further
        layers.RandomContrast(0.3, seed=seed),                   # lighting
    ]


def conv_block(filters: int, convs: int = 2, separable: bool = False,
               pool_first: bool = True) -> list[layers.Layer]:
    """``convs`` x (3x3 Conv -> BatchNorm -> ReLU), halving the size after the last conv.

    The conv has no bias: BatchNorm's shift does that job. BatchNorm's running
    statistics use momentum 0.9 (Keras default: 0.99) so they settle within a few
    dozen steps - short fast-mode runs would otherwise predict with untrained statistics.
    ``separable``: a depthwise-separable conv (one 3x3 filter per input channel, then
    a 1x1 conv that mixes channels) - about 8x fewer weights and multiply-adds than
    a full 3x3 conv of the same width, which lets the deep, wide stages stay cheap.

    The pooling comes right after the block's last conv, *before* BatchNorm and ReLU:
    ReLU keeps the order of numbers, so max-pooling before or after it gives the same
    result, and BatchNorm then normalises 4x fewer numbers. On our 2-core CPU an
    epoch went from about 23 s to 17 s (notebook 02 times one step of each order). ``pool_first=False`` builds
    the textbook order (Conv -> BatchNorm -> ReLU -> MaxPool), for that comparison.
    """
    conv = layers.SeparableConv2D if separable else layers.Conv2D
    block = []
    for i in range(convs):
        block.append(conv(filters, 3, padding="same", use_bias=False))
        if i == convs - 1 and pool_first:
            block.append(layers.MaxPooling2D())
        block += [layers.BatchNormalization(momentum=0.9), layers.ReLU()]
    return block if pool_first else block + [layers.MaxPooling2D()]


def build_happy_sad(input_shape=OUR_INPUT, filters=(32, 64, 128, 256), convs=(1, 1, 2, 2),
                    separable_from: int = 2, dropout: float = 0.3, augment: bool = True,
                    pool_first: bool = True, seed: int = config.SEED) -> keras.Sequential:
    """Our network: small, fast, and self-contained (raw pixels in, P(sad) out).

    One block per entry of ``filters`` / ``convs``; every block halves the size
    (48 -> 24 -> 12 -> 6 -> 3). The first ``separable_from`` blocks use full 3x3
    convs (at high resolution few channels are cheap, and edges need full filters);
    later blocks use depthwise-separable convs, so depth and width cost little.
    """
    stack = [keras.Input(shape=input_shape), layers.Rescaling(1.0 / 255)]
    if augment:
        stack += augmentation(seed)
    for i, (width, n) in enumerate(zip(filters, convs)):
        stack += conv_block(width, n, separable=i >= separable_from, pool_first=pool_first)
    stack += [
        layers.GlobalAveragePooling2D(),     # one number per feature map: few weights, no Flatten
        layers.Dropout(dropout, seed=seed),
        layers.Dense(1, activation="sigmoid"),
    ]
    return keras.Sequential(stack, name="happy_sad")


def load_model(path: Path | str) -> keras.Model:
    """Load a saved ``.keras`` model in Keras's safe mode (no arbitrary code)."""
    from .notebook import require
    path = require(path, "03_train", f"The model {Path(path).name}")
    return keras.models.load_model(path, safe_mode=True, compile=False)


def layer_table(model: keras.Model) -> "pd.DataFrame":
    """One row per layer: type, output shape, parameters and their share of the total.

    Computed from the model itself, so the lesson's numbers can never drift from the code.
    """
    import pandas as pd
    rows = []
    total = model.count_params()
    for layer in model.layers:
        params = layer.count_params()
        rows.append({"layer": layer.name, "type": type(layer).__name__,
                     "output shape": tuple(layer.output.shape[1:]),
                     "parameters": params, "share": params / total if total else 0.0})
    return pd.DataFrame(rows).set_index("layer")


def augment_examples(model: keras.Model, image, n: int = 8, seed: int = config.SEED):
    """``n`` augmented versions of one raw image, as the model sees them in training.

    Runs only the model's random layers, in training mode (at inference they do nothing).
    """
    import numpy as np
    import tensorflow as tf
    random_layers = [layer for layer in model.layers if type(layer).__name__.startswith("Random")]
    batch = tf.repeat(tf.cast(tf.convert_to_tensor(image)[None], tf.float32), n, axis=0)
    keras.utils.set_random_seed(seed)
    for layer in random_layers:
        batch = layer(batch, training=True)
    return np.clip(np.asarray(batch), 0, 255).astype("uint8")
