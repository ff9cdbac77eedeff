"""HOG features and the saved file of lesson 06's traditional baseline (the rest is lesson code).

The fitted pipeline (HOG -> StandardScaler -> LogisticRegression) is saved as its few numbers in
JSON, never pickled: loading it runs no code from the file, like a ``.keras`` model in safe mode.
"""
from __future__ import annotations

import json
from pathlib import Path

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
    """HOG features ``(N, 900)`` float32 of raw 0-255 faces ``(N, 48, 48[, 1])`` (other sizes and RGB go through
    ``data.to_model_input``, the one preprocessing path). ``params`` override :data:`HOG_PARAMS`. Deterministic."""
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


def save_pipeline(pipe, path: Path | str) -> None:
    """Write a fitted ``[FunctionTransformer(hog_features), StandardScaler, LogisticRegression]`` as JSON."""
    hog, scale, clf = (step for _, step in pipe.steps)
    Path(path).write_text(json.dumps({"hog": {**HOG_PARAMS, **(hog.kw_args or {})}, "classes": clf.classes_.tolist(),
        "mean": scale.mean_.tolist(), "scale": scale.scale_.tolist(), "dtype": clf.coef_.dtype.name,  # float32 on HOG
        "coef": clf.coef_.tolist(), "intercept": clf.intercept_.tolist()}))


def load_pipeline(path: Path | str):
    """The pipeline :func:`save_pipeline` wrote, rebuilt from its numbers (nothing is unpickled)."""
    from sklearn import linear_model, pipeline, preprocessing
    try:
        n = json.loads(Path(path).read_text())
        hog = preprocessing.FunctionTransformer(hog_features, kw_args=n["hog"])
        scale, clf = preprocessing.StandardScaler(), linear_model.LogisticRegression()
        scale.mean_, scale.scale_ = np.array(n["mean"]), np.array(n["scale"])
        clf.classes_, clf.coef_, clf.intercept_ = (np.array(n["classes"]), np.array(n["coef"], n["dtype"]),
                                                   np.array(n["intercept"], n["dtype"]))
    except (ValueError, KeyError, TypeError):                 # not JSON, or not these numbers
        raise ValueError(f"{path} is not a baseline file lesson 06 writes: run notebook 06 again.") from None
    return pipeline.Pipeline([("hog", hog), ("scale", scale), ("clf", clf)])
