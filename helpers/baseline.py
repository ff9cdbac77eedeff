"""Lesson 05: a traditional baseline - HOG features + a linear classifier.

Before deep learning, face-expression classifiers were built from hand-made
features and a linear model. We build the classic one, on the same split and
scored by the same :func:`helpers.evaluation.scores` as the networks, so
"the CNN beats traditional methods" becomes a measured claim.

* :func:`hog_features` - Histograms of Oriented Gradients (Dalal & Triggs, 2005).
* :func:`build_pipeline` - StandardScaler -> LogisticRegression (balanced classes).
* :func:`fit_baseline` - chooses C by stratified cross-validation on TRAINING data only.
* :func:`image_pipeline` - HOG + the fitted classifier as one object: raw pixels in,
  P(class 1) out (``predict_proba(images)[:, 1]``), like every saved network.
* :func:`save` / :func:`load` - joblib files (``models/hog_linear.joblib``).
* :func:`select_examples` - where the baseline holds its own, and where it fails.

Why logistic regression and not a linear SVM? Both draw one hyperplane through
the same features and score about the same. Logistic regression also gives a
probability, so the baseline is scored exactly like the networks:
``scores(y, P(sad), threshold=0.5)``. A LinearSVC (``build_pipeline("svm")``)
has only a decision value; score it with ``scores(y, decision, threshold=0.0)``
(ROC-AUC only needs "higher = more sad", so it is the same either way).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from . import config

# HOG on a 48x48 face:
# * 8x8-pixel cells -> a 6x6 grid; a cell is about the size of a mouth corner or an eye,
#   big enough for a stable histogram, small enough to keep where things are.
# * 9 orientation bins (20 degrees each, unsigned): the standard choice; more bins add
#   features but little accuracy.
# * 2x2-cell blocks, L2-Hys normalised: each histogram is normalised against its
#   neighbours, so a face in shadow gives nearly the same features as a lit one.
# -> 5 x 5 blocks x (2 x 2) cells x 9 bins = 900 numbers per face.
HOG_PARAMS = {"orientations": 9, "pixels_per_cell": (8, 8), "cells_per_block": (2, 2),
              "block_norm": "L2-Hys"}
HOG_SIZE = (config.FER_SIZE, config.FER_SIZE)     # faces are brought to 48x48 gray first
C_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)            # inverse regularisation strength to try
BASELINE_FILE = "hog_linear.joblib"


# ----------------------------------------------------------------------------- features
def _gray_stack(images) -> np.ndarray:
    """``(N, 48, 48)`` uint8 gray faces, via the shared ``to_model_input`` when needed."""
    images = np.asarray(images)
    if images.ndim == 2:                       # one (H, W) image
        images = images[None, ..., None]
    elif images.ndim == 3:                     # one (H, W, C) image, or a gray batch (N, H, W)
        images = images[None] if images.shape[-1] in (1, 3) else images[..., None]
    if images.ndim != 4:
        raise ValueError(f"expected images (N, H, W[, C]), got shape {images.shape}")
    if images.shape[1:] != (*HOG_SIZE, 1):
        from .data import to_model_input       # resize + gray, like every model input
        images = np.asarray(to_model_input(images, (*HOG_SIZE, 1))).round().astype(np.uint8)
    return images[..., 0]


def hog_features(images, params: dict | None = None) -> np.ndarray:
    """HOG features ``(N, 900)`` float32 of raw 0-255 faces ``(N, 48, 48, 1)``.

    Other sizes / RGB are first brought to 48x48 gray with ``to_model_input``.
    ``params`` overrides entries of :data:`HOG_PARAMS` (e.g. ``{"pixels_per_cell": (6, 6)}``).
    Deterministic: the same images always give the same numbers.
    """
    from skimage.feature import hog
    params = {**HOG_PARAMS, **(params or {})}
    faces = _gray_stack(images)
    if len(faces) == 0:
        return np.zeros((0, hog_dim(params)), np.float32)
    return np.stack([hog(face, feature_vector=True, **params) for face in faces]).astype(np.float32)


def hog_dim(params: dict | None = None) -> int:
    """Length of one HOG vector on a 48x48 face (:data:`HOG_PARAMS`, overridden by ``params``)."""
    params = {**HOG_PARAMS, **(params or {})}
    cells = [s // c for s, c in zip(HOG_SIZE, params["pixels_per_cell"])]
    blocks = [n - b + 1 for n, b in zip(cells, params["cells_per_block"])]
    return int(np.prod(blocks) * np.prod(params["cells_per_block"]) * params["orientations"])


def hog_image(image) -> np.ndarray:
    """A picture of the HOG of one face: uint8 ``(48, 48)``, bright strokes = strong edges.

    Each cell shows a small star: one stroke per orientation, as long as its vote.
    """
    from skimage.exposure import rescale_intensity
    from skimage.feature import hog
    face = _gray_stack(image)[0]
    _, picture = hog(face, visualize=True, **HOG_PARAMS)
    return rescale_intensity(picture, out_range=(0, 255)).astype(np.uint8)


# ----------------------------------------------------------------------------- the model
def build_pipeline(kind: str = "logreg", C: float = 1e-2, seed: int = config.SEED):
    """StandardScaler -> linear classifier, both classes weighted equally.

    ``kind``: ``"logreg"`` (LogisticRegression, has ``predict_proba``) or ``"svm"``
    (LinearSVC, has only ``decision_function``). Scaling matters: HOG values of
    different blocks have different spreads, and C penalises all weights alike.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC
    if kind == "logreg":
        clf = LogisticRegression(C=C, class_weight="balanced", max_iter=5000, random_state=seed)
    elif kind == "svm":
        clf = LinearSVC(C=C, class_weight="balanced", max_iter=20000, random_state=seed)
    else:
        raise ValueError(f"kind must be 'logreg' or 'svm', not {kind!r}")
    return Pipeline([("scale", StandardScaler()), ("clf", clf)])


def cv_splits(y_train, folds: int = 5, seed: int = config.SEED) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified, shuffled, seeded folds: (fit rows, check rows), indices into the training set."""
    from sklearn.model_selection import StratifiedKFold
    y_train = np.asarray(y_train)
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros((len(y_train), 1)), y_train))


def fit_baseline(x_train, y_train, cv: int = 5, Cs=C_GRID, kind: str = "logreg",
                 scoring: str = "balanced_accuracy", seed: int = config.SEED):
    """Choose C by ``cv``-fold stratified cross-validation on the TRAINING features only.

    ``x_train`` are HOG features (:func:`hog_features`). The validation and test
    rows are never seen here: the folds (``search.cv``, an explicit list of index
    pairs) index only into ``x_train``. Scoring is balanced accuracy, so the
    majority class cannot win C by itself. The best C is refit on all training rows.

    Returns ``(search, seconds)``: the fitted ``GridSearchCV`` (``best_estimator_``,
    ``best_params_``, ``cv_results_``) and the wall time of the whole search.
    One core (``n_jobs=1``): the lessons run on small shared machines.
    """
    from sklearn.model_selection import GridSearchCV
    x_train, y_train = np.asarray(x_train), np.asarray(y_train).astype(int)
    if len(x_train) != len(y_train):
        raise ValueError(f"{len(x_train)} feature rows but {len(y_train)} labels")
    search = GridSearchCV(build_pipeline(kind, seed=seed), {"clf__C": list(Cs)},
                          cv=cv_splits(y_train, cv, seed), scoring=scoring, n_jobs=1,
                          refit=True, return_train_score=True)
    start = time.perf_counter()
    search.fit(x_train, y_train)
    return search, time.perf_counter() - start


def image_pipeline(fitted, params: dict | None = None):
    """HOG + the fitted classifier as one sklearn Pipeline that takes raw images.

    ``fitted`` is the search from :func:`fit_baseline` (its best estimator is
    used) or a fitted pipeline; ``params`` the HOG overrides its features were
    made with. ``image_pipeline(...).predict_proba(images)[:, 1]`` is P(class 1)
    for uint8 faces ``(N, 48, 48, 1)`` - the same contract as a saved network.
    Nothing is refit. The HOG parameters are stored in the pipeline, so a saved
    file keeps computing the features it was trained on.
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer
    estimator = getattr(fitted, "best_estimator_", fitted)
    hog = FunctionTransformer(hog_features, kw_args={"params": {**HOG_PARAMS, **(params or {})}})
    return Pipeline([("hog", hog), *estimator.steps])


def predict_score(pipe, images) -> tuple[np.ndarray, float]:
    """``(score, threshold)`` for :func:`helpers.evaluation.scores`: higher = class 1.

    P(class 1) and 0.5 for a model with ``predict_proba``; the decision value and
    0.0 for a LinearSVC.
    """
    if hasattr(pipe, "predict_proba") and hasattr(pipe[-1], "predict_proba"):
        return pipe.predict_proba(images)[:, 1].astype(np.float32), 0.5
    return pipe.decision_function(images).astype(np.float32), 0.0


def save(pipe, path: Path | str | None = None) -> Path:
    """Write the image pipeline with joblib (default ``models/hog_linear.joblib``)."""
    import joblib
    path = Path(path) if path else config.models_dir() / BASELINE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipe, path)
    return path


def load(path: Path | str | None = None):
    """Read a pipeline written by :func:`save`.

    joblib (like pickle) can run code while loading: load only files you made
    yourself, never one downloaded or sent to you. The file also needs the same
    scikit-learn version (and this ``helpers`` package) to load. (Keras's safe mode is why
    the networks travel as ``.keras`` files instead.)
    """
    import joblib
    from .notebook import require
    path = Path(path) if path else config.models_dir() / BASELINE_FILE
    return joblib.load(require(path, "05_traditional_baseline", "The HOG baseline"))


# ----------------------------------------------------------------------------- examples
def confidence(p_class1, threshold: float = 0.5) -> np.ndarray:
    """How sure a model is, 0 (at the threshold) to 1 (at 0 or 1), for probabilities."""
    p = np.asarray(p_class1, dtype=float)
    return np.where(p >= threshold, (p - threshold) / (1 - threshold), (threshold - p) / threshold)


def select_examples(y_true, p_baseline, p_cnn, kind: str, n: int = 8, per_class: bool = True,
                    threshold: float = 0.5) -> np.ndarray:
    """Indices of test images that show where the baseline holds its own or fails.

    ``kind``:
    * ``"agree"`` - baseline and CNN both right and both sure: the easy faces
      (ranked by the smaller of the two confidences, highest first);
    * ``"baseline_fails"`` - baseline wrong, CNN right (ranked by how sure the
      baseline was of its wrong answer);
    * ``"cnn_fails"`` - the reverse: CNN wrong, baseline right.

    With ``per_class`` half come from each true class (fewer if there are fewer).
    Both inputs are P(class 1).
    """
    y = np.asarray(y_true).astype(int)
    pb, pc = np.asarray(p_baseline, dtype=float), np.asarray(p_cnn, dtype=float)
    if not len(y) == len(pb) == len(pc):
        raise ValueError("y_true, p_baseline and p_cnn must have the same length")
    right_b = (pb >= threshold).astype(int) == y
    right_c = (pc >= threshold).astype(int) == y
    conf_b, conf_c = confidence(pb, threshold), confidence(pc, threshold)
    if kind == "agree":
        mask, rank = right_b & right_c, np.minimum(conf_b, conf_c)
    elif kind == "baseline_fails":
        mask, rank = ~right_b & right_c, conf_b
    elif kind == "cnn_fails":
        mask, rank = right_b & ~right_c, conf_c
    else:
        raise ValueError(f"kind must be 'agree', 'baseline_fails' or 'cnn_fails', not {kind!r}")
    order = np.lexsort((np.arange(len(y)), -rank))           # most confident first, ties by index
    order = order[mask[order]]
    if not per_class:
        return order[:n]
    half = [order[y[order] == c][: (n + 1 - c) // 2] for c in (0, 1)]
    return np.concatenate(half).astype(int)


def faces_and_hog(images, titles=None, ncols: int = 8, suptitle: str = "What the classifier sees"):
    """Each face next to its HOG picture, in one grid (face, HOG, face, HOG, ...)."""
    from . import plots
    images = list(images)
    titles = list(titles) if titles is not None else [""] * len(images)
    cells, names = [], []
    for image, title in zip(images, titles):
        cells += [np.asarray(image).squeeze(), hog_image(image)]
        names += [title, "HOG"]
    return plots.image_grid(cells, names, ncols=ncols, suptitle=suptitle)
