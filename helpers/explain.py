"""Pictures for lesson 06 (and 08): a heatmap over a face, channels as pictures, faces to explain.

Only drawing and choosing live here. The explanations themselves (Grad-CAM with
``tf.GradientTape``, occlusion, feature maps) are written out in lesson 06's cells.
"""
from __future__ import annotations

import numpy as np


def overlay(image, heatmap, alpha: float = 0.5, cmap: str = "inferno", signed: bool = False) -> np.ndarray:
    """The heatmap in colour over the (gray or RGB) image: RGB uint8 ``(H, W, 3)``.

    ``heatmap`` in [0, 1] (Grad-CAM), any size: it is resized (bilinear) to the image.
    ``inferno`` reads the same for colour-blind eyes and in gray (dark = 0, yellow = 1).
    ``signed=True``: a map with negative values (occlusion) is scaled to [-1, 1] by its
    largest magnitude and drawn diverging (``coolwarm``: blue negative, red positive).
    """
    import tensorflow as tf
    from matplotlib import colormaps
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    rgb = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]
    heat = np.asarray(heatmap, dtype=np.float32)
    if heat.shape != rgb.shape[:2]:
        heat = np.asarray(tf.image.resize(heat[..., None], rgb.shape[:2], method="bilinear"))[..., 0]
    if signed:
        scale = np.abs(heat).max()
        heat = 0.5 + 0.5 * (heat / scale if scale > 0 else heat)
        cmap = "coolwarm" if cmap == "inferno" else cmap
    colour = colormaps[cmap](np.clip(np.nan_to_num(heat), 0, 1))[..., :3] * 255
    return ((1 - alpha) * rgb.astype(float) + alpha * colour).round().clip(0, 255).astype(np.uint8)


def map_grid(maps, n: int = 16) -> list[np.ndarray]:
    """The first ``n`` channels of ``(h, w, channels)`` values as uint8 pictures, each
    stretched to 0-255 on its own (a constant channel is black)."""
    maps = np.asarray(maps, dtype=float)
    pictures = []
    for k in range(min(n, maps.shape[-1])):
        channel = maps[..., k]
        low, high = channel.min(), channel.max()
        scaled = (channel - low) / (high - low) * 255 if high > low else np.zeros_like(channel)
        pictures.append(scaled.round().astype(np.uint8))
    return pictures


def pick_cases(y_true, p_class1, n: int = 2, threshold: float = 0.5,
               class_names=("happy", "sad")) -> dict[str, np.ndarray]:
    """Faces to explain: ``n`` indices per case, keys ``"<class0> right", "<class1> right",
    "<class0> wrong", "<class1> wrong"``. Right: the most confident right answers;
    wrong: the most confident mistakes. Ties go to the lower index."""
    y = np.asarray(y_true).astype(int)
    p = np.asarray(p_class1, dtype=float)
    if len(y) != len(p):
        raise ValueError("y_true and p_class1 must have the same length")
    predicted = (p >= threshold).astype(int)
    order = np.lexsort((np.arange(len(y)), -np.abs(p - threshold)))     # most confident first
    cases = {}
    for outcome, right in (("right", True), ("wrong", False)):
        for label, name in enumerate(class_names):
            keep = (y[order] == label) & ((predicted[order] == y[order]) == right)
            cases[f"{name} {outcome}"] = order[keep][:n]
    return cases


__all__ = ["overlay", "map_grid", "pick_cases"]
