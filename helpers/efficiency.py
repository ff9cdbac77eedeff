"""What a network costs: multiply-accumulates (MACs), file size and speed (lesson 08, the benchmark).

:func:`count_macs` counts, from each layer's output shape, only the layers that do the
work (``Conv2D``, ``SeparableConv2D``, ``DepthwiseConv2D``, ``Dense``). Pooling,
BatchNorm, activations, rescaling and biases cost a few operations per output value,
well under 1 % for our networks, and are left out. Timings depend on the machine and on
whatever else runs on it: compare only models measured in the same session.
"""
from __future__ import annotations

import time
from pathlib import Path
from collections.abc import Callable

import numpy as np

COUNTED_LAYERS = ("Conv2D", "SeparableConv2D", "DepthwiseConv2D", "Dense")


def _shape(layer, which: str) -> tuple:
    tensor = getattr(layer, which)
    if isinstance(tensor, (list, tuple)):
        if len(tensor) != 1:
            raise ValueError(f"{layer.name} has {len(tensor)} {which}s; count_macs needs one")
        tensor = tensor[0]
    return tuple(tensor.shape[1:])


def layer_macs(layer) -> int:
    """MACs per image of one layer (0 for layers that are not counted).

    Conv2D: outputs x kh x kw x in / groups. DepthwiseConv2D: outputs x kh x kw.
    SeparableConv2D: positions x in x multiplier x (kh x kw + filters). Dense: in x units.
    """
    kind = type(layer).__name__
    if kind not in COUNTED_LAYERS:
        return 0
    out_shape, in_shape = _shape(layer, "output"), _shape(layer, "input")
    if kind == "Dense":
        return int(np.prod(out_shape[:-1], dtype=np.int64)) * int(in_shape[-1]) * int(out_shape[-1])
    first = getattr(layer, "data_format", "channels_last") == "channels_first"
    out_channels, in_channels = (out_shape[0], in_shape[0]) if first else (out_shape[-1], in_shape[-1])
    positions = int(np.prod(out_shape[1:] if first else out_shape[:-1]))
    kernel = int(np.prod(layer.kernel_size))
    if kind == "Conv2D":
        return positions * out_channels * kernel * (in_channels // int(getattr(layer, "groups", 1) or 1))
    if kind == "DepthwiseConv2D":
        return positions * out_channels * kernel          # out_channels = in x depth_multiplier
    return positions * in_channels * int(layer.depth_multiplier) * (kernel + out_channels)


def _layers(model):
    """Every leaf layer, descending into nested models (e.g. a pretrained backbone)."""
    for layer in model.layers:
        if getattr(layer, "layers", None):
            yield from _layers(layer)
        else:
            yield layer


def count_macs(model) -> int:
    """Multiply-accumulates for ONE image through ``model``."""
    return int(sum(layer_macs(layer) for layer in _layers(model)))


def macs_table(model):
    """One row per counted layer: layer, kind, output_shape, params, macs, share (of all MACs)."""
    import pandas as pd
    rows = [{"layer": layer.name, "kind": type(layer).__name__, "output_shape": _shape(layer, "output"),
             "params": int(layer.count_params()), "macs": layer_macs(layer)}
            for layer in _layers(model) if type(layer).__name__ in COUNTED_LAYERS]
    table = pd.DataFrame(rows, columns=["layer", "kind", "output_shape", "params", "macs"])
    table["share"] = table["macs"] / max(1, table["macs"].sum())
    return table


def saved_size(path: Path | str) -> int:
    """Bytes on disk: a file's size, or the total of every file under a folder."""
    path = Path(path)
    if path.is_dir():
        return int(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()))
    return int(path.stat().st_size)


def keras_predict_fn(model) -> Callable:
    """``batch -> P(class 1)`` for timing a Keras model: a ``tf.function`` with a fixed
    signature and ``training=False``, the way a served model runs (``model.predict`` adds
    overhead of its own for small batches). Takes images already at the model's input shape."""
    import tensorflow as tf
    spec = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)
    run = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    return lambda batch: run(tf.convert_to_tensor(batch, tf.float32)).numpy()


def median_seconds(fn: Callable, repeats: int = 20, warmup: int = 2) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` calls, after ``warmup`` calls."""
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def measure_speed(predict_fn: Callable, images, batch_sizes=(1, 64), repeats: int = 20) -> dict:
    """Median speed of ``predict_fn(batch)`` at each batch size ``b``: ``ms_per_batch_b`` and
    ``images_per_s_b``; plus ``latency_ms`` (smallest batch) and ``images_per_s`` (largest).
    Images are repeated when there are fewer than the largest batch."""
    images = np.asarray(images)
    if len(images) == 0:
        raise ValueError("measure_speed needs at least one image")
    biggest = max(batch_sizes)
    images = np.concatenate([images] * int(np.ceil(biggest / len(images))))[:biggest]
    out: dict = {"repeats": repeats}
    for b in batch_sizes:
        seconds = median_seconds(lambda b=b: predict_fn(images[:b]), repeats)
        out[f"ms_per_batch_{b}"], out[f"images_per_s_{b}"] = 1000 * seconds, b / seconds
    out["latency_ms"] = out[f"ms_per_batch_{min(batch_sizes)}"]
    out["images_per_s"] = out[f"images_per_s_{biggest}"]
    return out


__all__ = ["count_macs", "layer_macs", "macs_table", "saved_size", "keras_predict_fn",
           "median_seconds", "measure_speed", "COUNTED_LAYERS"]
