"""HOG features for lesson 05's traditional baseline (the rest of the baseline is lesson code).

Lesson 05 saves its scikit-learn Pipeline to ``models/hog_linear.joblib``; the
pipeline's first step is ``FunctionTransformer(helpers.baseline.hog_features)``.
joblib stores that function by name, so it must live in an importable module,
not in a notebook cell: that is the only reason this file exists.
"""
from __future__ import annotations

import numpy as np

from . import config

# HOG on a 48x48 face (Dalal & Triggs, 2005):
# * 8x8-pixel cells -> a 6x6 grid; a cell is about the size of a mouth corner or an eye;
# * 9 orientation bins of 20 degrees (unsigned), the standard choice;
# * 2x2-cell blocks, L2-Hys normalised, so a face in shadow gives nearly the same numbers.
# -> 5 x 5 blocks x (2 x 2) cells x 9 bins = 900 numbers per face.
HOG_PARAMS = {"orientations": 9, "pixels_per_cell": (8, 8), "cells_per_block": (2, 2),
              "block_norm": "L2-Hys"}


def hog_features(images, **params) -> np.ndarray:
    """HOG features ``(N, 900)`` float32 of raw 0-255 faces ``(N, 48, 48, 1)`` or ``(N, 48, 48)``.

    Other sizes and RGB are first brought to 48x48 gray by ``data.to_model_input``,
    the series' one preprocessing path. ``params`` override :data:`HOG_PARAMS`
    (e.g. ``pixels_per_cell=(6, 6)``). Deterministic.
    """
    from skimage.feature import hog
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError(f"expected images (N, H, W[, C]), got shape {images.shape}")
    size = (config.FER_SIZE, config.FER_SIZE, 1)
    if images.shape[1:] != size:
        from .data import to_model_input
        images = np.asarray(to_model_input(images, size)).round().astype(np.uint8)
    params = {**HOG_PARAMS, **params}
    if len(images) == 0:   # the length of one vector, from a blank face
        return np.zeros((0, len(hog(np.zeros(size[:2]), **params))), np.float32)
    return np.stack([hog(face[..., 0], **params) for face in images]).astype(np.float32)
