"""HOG features (lesson 06's baseline) and the contract of the saved pipeline.

The pipeline itself is lesson code; here it is built the way lesson 06 builds it,
to prove that HOG + a linear model learns what HOG can see, cannot learn noise, and
that its saved numbers (JSON, no pickle) load in a fresh Python (what ``tools/bench.py`` does)
and predict exactly what the fitted pipeline predicts.
Every image is drawn by the test itself.
"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from helpers import baseline, config, evaluation


def mouth_face(label: int, rng: np.random.Generator, size: int = 48) -> np.ndarray:
    """A noisy 48x48 'face' with a curved mouth: a smile (label 0) or a frown (label 1).

    Same brightness, same place (up to a few pixels): only the edge ORIENTATION
    at the mouth corners tells the classes apart - what HOG measures.
    """
    img = rng.normal(120, 20, (size, size))
    dy, dx = rng.integers(-2, 3, size=2)
    centre_row, centre_col = 32 + dy, 24 + dx
    for col in range(centre_col - 12, centre_col + 13):
        bend = int(round(((col - centre_col) / 12.0) ** 2 * 7))
        row = centre_row - bend if label == 0 else centre_row - 7 + bend
        img[row - 1:row + 2, col] = 230
    return img.clip(0, 255).astype(np.uint8)[..., None]


def faces(n_per_class: int, seed: int):
    rng = np.random.default_rng(seed)
    labels = np.array([0, 1] * n_per_class)
    return np.stack([mouth_face(int(y), rng) for y in labels]), labels


def lesson_pipeline(C: float = 1e-2) -> Pipeline:
    """The pipeline as lesson 06 writes it."""
    return Pipeline([("hog", FunctionTransformer(baseline.hog_features)),
                     ("scale", StandardScaler()),
                     ("clf", LogisticRegression(C=C, class_weight="balanced", max_iter=5000,
                                                random_state=config.SEED))])


# ------------------------------------------------------------------ features
def test_hog_features_shape_dtype_and_determinism():
    x, _ = faces(5, seed=0)
    f1, f2 = baseline.hog_features(x), baseline.hog_features(x.copy())
    assert f1.shape == (10, 900) and f1.dtype == np.float32 and np.isfinite(f1).all()
    np.testing.assert_array_equal(f1, f2)
    assert not np.allclose(f1[0], f1[1])                      # different faces, different features
    np.testing.assert_array_equal(baseline.hog_features(x[..., 0]), f1)   # (N, H, W) works too
    assert baseline.hog_features(x[:0]).shape == (0, 900)
    # 6x6 cells: an 8x8 grid -> 7x7 blocks of 2x2 cells x 9 bins
    assert baseline.hog_features(x, pixels_per_cell=(6, 6)).shape == (10, 7 * 7 * 4 * 9)
    assert baseline.hog_features(x[:0], pixels_per_cell=(12, 12)).shape == (0, 3 * 3 * 4 * 9)


def test_hog_features_other_sizes_go_through_shared_preprocessing():
    x, _ = faces(1, seed=1)
    big = np.repeat(np.repeat(x[:1], 2, axis=1), 2, axis=2)    # 96x96, same face
    rgb = np.repeat(x[:1], 3, axis=-1)
    assert baseline.hog_features(big).shape == (1, 900)
    np.testing.assert_allclose(baseline.hog_features(rgb), baseline.hog_features(x[:1]), atol=1e-2)
    with pytest.raises(ValueError):
        baseline.hog_features(np.zeros((2, 2, 48, 48, 1), np.uint8))


def test_flat_face_has_no_edges():
    flat = baseline.hog_features(np.full((1, 48, 48, 1), 100, np.uint8))
    assert flat.max() == 0


# ------------------------------------------------------------------ the lesson's pipeline
def test_pipeline_learns_smile_vs_frown_well_above_chance():
    x_train, y_train = faces(60, seed=3)
    x_test, y_test = faces(40, seed=4)
    p = lesson_pipeline().fit(x_train, y_train).predict_proba(x_test)[:, 1]
    row = evaluation.comparison_row(y_test, p, ("happy", "sad"))
    assert row["accuracy"] > 0.9 and row["roc_auc"] > 0.95


def test_pipeline_cannot_learn_random_labels():
    """The same faces with shuffled labels: nothing to learn, so near chance (the test can fail)."""
    x_train, y_train = faces(60, seed=5)
    x_test, y_test = faces(40, seed=6)
    shuffled = np.random.default_rng(0).permutation(y_train)
    p = lesson_pipeline().fit(x_train, shuffled).predict_proba(x_test)[:, 1]
    assert evaluation.scores(y_test, p)["accuracy"] < 0.75


def test_saved_pipeline_loads_in_a_fresh_python_and_predicts_the_same(tmp_path):
    """The file is plain JSON numbers; a new process (the benchmark) rebuilds the same predictions."""
    x_train, y_train = faces(30, seed=10)
    x_test, _ = faces(20, seed=11)
    pipe = lesson_pipeline().set_params(hog__kw_args={"pixels_per_cell": (6, 6)}).fit(x_train, y_train)
    path = tmp_path / "hog_linear.json"
    baseline.save_pipeline(pipe, path)
    numbers = json.loads(path.read_text())                      # JSON, not a pickle
    assert numbers["hog"] == {**baseline.HOG_PARAMS, "pixels_per_cell": [6, 6], "cells_per_block": [2, 2]}
    assert len(numbers["coef"][0]) == len(numbers["mean"]) == 7 * 7 * 4 * 9
    np.save(tmp_path / "x.npy", x_test)
    code = ("import sys, numpy as np; from helpers import baseline; pipe = baseline.load_pipeline(sys.argv[1]); "
            "np.save(sys.argv[3], pipe.predict_proba(np.load(sys.argv[2])))")
    subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path / "x.npy"),
                    str(tmp_path / "p.npy")], check=True, cwd=config.ROOT)
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), pipe.predict_proba(x_test))   # exactly equal
    np.testing.assert_array_equal(baseline.load_pipeline(path).predict(x_test), pipe.predict(x_test))


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"hog": {}, "mean": [0.0]}'])
def test_a_file_that_is_not_a_saved_baseline_is_named_in_one_line(tmp_path, text):
    path = tmp_path / "hog_linear.json"
    path.write_text(text)
    with pytest.raises(ValueError) as error:
        baseline.load_pipeline(path)
    assert str(error.value) == f"{path} is not a baseline file lesson 06 writes: run notebook 06 again."
