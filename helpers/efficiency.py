"""How expensive is a network? Parameters, compute, file size and speed.

* :func:`count_macs` - multiply-accumulates (MACs) per image, counted layer by
  layer from each layer's output shape. Only the layers that do the work are
  counted: ``Conv2D``, ``SeparableConv2D``, ``DepthwiseConv2D`` and ``Dense``.
  Pooling, BatchNormalization, activations, Rescaling and biases cost a few
  operations per *output value*, not per weight, so they are left out: for our
  networks they add well under 1 % (BatchNorm is even folded into the
  convolution when the model is exported to TFLite).
* :func:`saved_size` - bytes on disk (a file, or a folder such as a SavedModel).
* :func:`measure_speed` - CPU latency at batch 1 and throughput at batch 64,
  medians of repeated runs after a warm-up (via
  :func:`helpers.evaluation.time_per_image`).
* :func:`model_facts` - parameters, MACs and saved bytes in one dict.

Timings depend on the machine and on whatever else runs on it: compare models
measured in the same session, never numbers from different machines.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

#: Layer classes whose MACs :func:`count_macs` counts (everything else counts 0).
COUNTED_LAYERS = ("Conv2D", "SeparableConv2D", "DepthwiseConv2D", "Dense")


def _shape(layer, which: str) -> tuple:
    """The (batch-free) input or output shape of a built layer."""
    tensor = getattr(layer, which)
    if isinstance(tensor, (list, tuple)):
        if len(tensor) != 1:
            raise ValueError(f"{layer.name} has {len(tensor)} {which}s; count_macs needs one")
        tensor = tensor[0]
    return tuple(tensor.shape[1:])


def _spatial_and_channels(shape: tuple, data_format: str) -> tuple[int, int]:
    """(number of spatial positions, channels) of a 4-D feature-map shape."""
    if data_format == "channels_first":
        return int(np.prod(shape[1:])), int(shape[0])
    return int(np.prod(shape[:-1])), int(shape[-1])


def layer_macs(layer) -> int:
    """MACs per image of one layer (0 for layers that are not counted).

    * Conv2D: outputs x (kernel_h x kernel_w x in_channels / groups)
    * DepthwiseConv2D: outputs x (kernel_h x kernel_w)
    * SeparableConv2D: the depthwise part + positions x in x depth_multiplier x filters
    * Dense: positions x in_units x units (positions = 1 for a flat input)
    """
    kind = type(layer).__name__
    if kind not in COUNTED_LAYERS:
        return 0
    out_shape, in_shape = _shape(layer, "output"), _shape(layer, "input")
    if kind == "Dense":
        return int(np.prod(out_shape[:-1], dtype=np.int64)) * int(in_shape[-1]) * int(out_shape[-1])
    data_format = getattr(layer, "data_format", "channels_last")
    positions, out_channels = _spatial_and_channels(out_shape, data_format)
    _, in_channels = _spatial_and_channels(in_shape, data_format)
    kernel = int(np.prod(layer.kernel_size))
    if kind == "Conv2D":
        groups = int(getattr(layer, "groups", 1) or 1)
        return positions * out_channels * kernel * (in_channels // groups)
    if kind == "DepthwiseConv2D":
        return positions * out_channels * kernel          # out_channels = in x depth_multiplier
    # SeparableConv2D: depthwise (per input channel) then a 1x1 pointwise conv.
    multiplier = int(layer.depth_multiplier)
    return positions * in_channels * multiplier * (kernel + out_channels)


def _layers(model):
    """Every leaf layer, descending into nested models (e.g. a pretrained backbone)."""
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            yield from _layers(layer)
        else:
            yield layer


def count_macs(model) -> int:
    """Multiply-accumulates for ONE image through ``model`` (see the module docstring)."""
    return int(sum(layer_macs(layer) for layer in _layers(model)))


def macs_table(model):
    """One row per counted layer: name, kind, output shape, parameters, MACs, share of total."""
    import pandas as pd
    rows = [{"layer": layer.name, "kind": type(layer).__name__,
             "output_shape": _shape(layer, "output"), "params": int(layer.count_params()),
             "macs": layer_macs(layer)}
            for layer in _layers(model) if type(layer).__name__ in COUNTED_LAYERS]
    table = pd.DataFrame(rows)
    if len(table):
        table["share"] = table["macs"] / max(1, table["macs"].sum())
    return table


def saved_size(path: Path | str) -> int:
    """Bytes on disk: a file's size, or the total of every file under a folder."""
    path = Path(path)
    if path.is_dir():
        return int(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()))
    return int(path.stat().st_size)


def model_facts(model, path: Path | str | None = None) -> dict:
    """``params``, ``macs`` (per image) and ``saved_bytes`` (None without a path)."""
    return {"params": int(model.count_params()), "macs": count_macs(model),
            "saved_bytes": saved_size(path) if path is not None else None}


def keras_predict_fn(model) -> Callable:
    """A compiled ``images -> P(class 1)`` function for timing a Keras model.

    Wrapped in ``tf.function`` with a fixed input signature, the way a served
    model runs: an eager ``model(x)`` call adds Python overhead of its own,
    and ``model.predict`` adds even more for small batches.
    Expects images already at the model's input shape (see ``to_model_input``).
    """
    import tensorflow as tf
    spec = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)

    @tf.function(input_signature=[spec])
    def predict(x):
        return model(x, training=False)

    return lambda batch: predict(tf.convert_to_tensor(batch, tf.float32)).numpy()


def measure_speed(predict_fn: Callable, images, batch_sizes=(1, 64), repeats: int = 20) -> dict:
    """Median speed of ``predict_fn(batch)`` at each batch size, after a warm-up.

    Returns, for every batch size ``b``: ``ms_per_batch_b`` and ``images_per_s_b``;
    plus ``latency_ms`` (ms per batch at the smallest batch size: the wait for one
    answer) and ``images_per_s`` (throughput at the largest batch size).
    Images are repeated if there are fewer than the largest batch. Medians resist
    the odd slow run caused by other programs; still, compare only numbers taken
    in the same session on the same machine.
    """
    from .evaluation import time_per_image
    images = np.asarray(images)
    if len(images) == 0:
        raise ValueError("measure_speed needs at least one image")
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    biggest = max(batch_sizes)
    if len(images) < biggest:
        images = np.concatenate([images] * int(np.ceil(biggest / len(images))))[:biggest]
    out: dict = {"repeats": repeats}
    for b in batch_sizes:
        seconds_per_image = time_per_image(predict_fn, images, batch_size=b, repeats=repeats)
        out[f"ms_per_batch_{b}"] = seconds_per_image * b * 1000.0
        out[f"images_per_s_{b}"] = 1.0 / seconds_per_image
    out["latency_ms"] = out[f"ms_per_batch_{min(batch_sizes)}"]
    out["images_per_s"] = out[f"images_per_s_{biggest}"]
    return out


def table_row(p_class1, y_true, class_names, speed_fn, speed_images, threshold: float = 0.5,
              repeats: int = 20, **facts) -> dict:
    """One row of a comparison table: ``facts``, test scores and CPU speed of one model.

    The same row for every kind of model (Keras, TFLite, scikit-learn), used by
    lesson 07 and the benchmark: ``p_class1`` are its test probabilities (scored
    with :func:`helpers.evaluation.scores`), ``speed_fn(batch)`` is timed on
    ``speed_images`` with :func:`measure_speed` (batch 1 and 64).
    """
    from .evaluation import scores
    speed = measure_speed(speed_fn, speed_images, batch_sizes=(1, 64), repeats=repeats)
    return {**facts, **scores(y_true, p_class1, threshold, class_names),
            "latency_ms": speed["latency_ms"], "images_per_s": speed["images_per_s"]}


__all__ = ["table_row", "count_macs", "layer_macs", "macs_table", "saved_size", "model_facts",
           "keras_predict_fn", "measure_speed", "COUNTED_LAYERS"]
