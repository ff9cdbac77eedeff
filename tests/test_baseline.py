"""HOG + linear baseline (lesson 05). Every image here is drawn by the test itself."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import baseline, evaluation


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


# ------------------------------------------------------------------ features
def test_hog_features_shape_dtype_and_determinism():
    x, _ = faces(5, seed=0)
    f1, f2 = baseline.hog_features(x), baseline.hog_features(x.copy())
    assert f1.shape == (10, baseline.hog_dim()) == (10, 900)
    assert f1.dtype == np.float32 and np.isfinite(f1).all()
    np.testing.assert_array_equal(f1, f2)
    assert not np.allclose(f1[0], f1[1])                      # different faces, different features
    np.testing.assert_array_equal(baseline.hog_features(x[:, :, :, 0]), f1)   # (N, H, W) works too
    assert baseline.hog_features(x[:0]).shape == (0, 900)
    finer = {"pixels_per_cell": (6, 6)}                        # 8x8 cells -> 7x7 blocks
    assert baseline.hog_features(x, finer).shape == (10, baseline.hog_dim(finer)) == (10, 1764)


def test_hog_features_other_sizes_go_through_shared_preprocessing():
    x, _ = faces(1, seed=1)
    big = np.repeat(np.repeat(x[:1], 2, axis=1), 2, axis=2)    # 96x96, same face
    rgb = np.repeat(x[:1], 3, axis=-1)
    assert baseline.hog_features(big).shape == (1, 900)
    np.testing.assert_allclose(baseline.hog_features(rgb), baseline.hog_features(x[:1]), atol=1e-2)
    with pytest.raises(ValueError):
        baseline.hog_features(np.zeros((2, 2, 48, 48, 1), np.uint8))


def test_hog_image_is_a_picture_of_edges():
    x, _ = faces(1, seed=2)
    picture = baseline.hog_image(x[0])
    assert picture.shape == (48, 48) and picture.dtype == np.uint8
    assert picture.max() == 255 and picture.std() > 0
    flat = baseline.hog_image(np.full((48, 48, 1), 100, np.uint8))
    assert flat.max() == 0                                     # no edges, nothing drawn


# ------------------------------------------------------------------ learning
def test_pipeline_learns_smile_vs_frown_well_above_chance():
    x_train, y_train = faces(60, seed=3)
    x_test, y_test = faces(40, seed=4)
    search, seconds = baseline.fit_baseline(baseline.hog_features(x_train), y_train, cv=3,
                                            Cs=(1e-3, 1e-1))
    assert seconds > 0
    pipe = baseline.image_pipeline(search)
    p, threshold = baseline.predict_score(pipe, x_test)
    assert threshold == 0.5 and ((p >= 0) & (p <= 1)).all()
    s = evaluation.scores(y_test, p, threshold)
    assert s["accuracy"] > 0.9 and s["roc_auc"] > 0.95


def test_pipeline_cannot_learn_random_labels():
    """The same faces with shuffled labels: nothing to learn, so near chance (the test can fail)."""
    x_train, y_train = faces(60, seed=5)
    x_test, y_test = faces(40, seed=6)
    rng = np.random.default_rng(0)
    search, _ = baseline.fit_baseline(baseline.hog_features(x_train), rng.permutation(y_train),
                                      cv=3, Cs=(1e-2,))
    p, threshold = baseline.predict_score(baseline.image_pipeline(search), x_test)
    assert evaluation.scores(y_test, p, threshold)["accuracy"] < 0.75


def test_svm_variant_scores_with_decision_function_and_threshold_zero():
    x_train, y_train = faces(40, seed=7)
    x_test, y_test = faces(20, seed=8)
    search, _ = baseline.fit_baseline(baseline.hog_features(x_train), y_train, cv=3,
                                      Cs=(1e-2,), kind="svm")
    score, threshold = baseline.predict_score(baseline.image_pipeline(search), x_test)
    assert threshold == 0.0 and (score < 0).any() and (score > 0).any()
    assert evaluation.scores(y_test, score, threshold)["accuracy"] > 0.85
    with pytest.raises(ValueError):
        baseline.build_pipeline("forest")


def test_cross_validation_only_touches_training_rows():
    x_train, y_train = faces(30, seed=9)
    features = baseline.hog_features(x_train)
    search, _ = baseline.fit_baseline(features, y_train, cv=3, Cs=(1e-2, 1e-1))
    folds = search.cv
    assert len(folds) == search.n_splits_ == 3
    checked = np.concatenate([check for _, check in folds])
    assert sorted(checked) == list(range(len(x_train)))       # each training row checked once
    for fit_rows, check_rows in folds:
        assert fit_rows.max() < len(x_train) and check_rows.max() < len(x_train)
        assert not set(fit_rows) & set(check_rows)
        assert abs(np.mean(y_train[check_rows]) - np.mean(y_train)) < 0.1   # stratified
    # The refit used exactly the training rows, nothing else.
    assert search.best_estimator_["scale"].n_samples_seen_ == len(x_train)
    with pytest.raises(ValueError):
        baseline.fit_baseline(features, y_train[:-1])


def test_save_and_load_round_trip(tmp_path):
    x_train, y_train = faces(30, seed=10)
    search, _ = baseline.fit_baseline(baseline.hog_features(x_train), y_train, cv=3, Cs=(1e-2,))
    pipe = baseline.image_pipeline(search)
    path = baseline.save(pipe, tmp_path / "hog_linear.joblib")
    again = baseline.load(path)
    np.testing.assert_array_equal(again.predict_proba(x_train), pipe.predict_proba(x_train))
    # The HOG parameters travel with the pipeline.
    coarse = {"pixels_per_cell": (12, 12)}
    small = baseline.build_pipeline(C=1e-2).fit(baseline.hog_features(x_train, coarse), y_train)
    again = baseline.load(baseline.save(baseline.image_pipeline(small, coarse), tmp_path / "coarse.joblib"))
    assert again.predict_proba(x_train).shape == (len(x_train), 2)
    with pytest.raises(FileNotFoundError, match="05_traditional_baseline"):
        baseline.load(tmp_path / "missing.joblib")


# ------------------------------------------------------------------ example selection
def test_select_examples_finds_agreement_and_failures():
    y = np.array([0, 0, 0, 1, 1, 1, 0, 1])
    p_base = np.array([0.05, 0.30, 0.90, 0.97, 0.60, 0.20, 0.45, 0.10])
    p_cnn = np.array([0.02, 0.10, 0.10, 0.99, 0.90, 0.80, 0.60, 0.30])
    # both right: 0, 1 (happy), 3, 4 (sad); most sure first within each class
    assert baseline.select_examples(y, p_base, p_cnn, "agree", n=4).tolist() == [0, 1, 3, 4]
    assert baseline.select_examples(y, p_base, p_cnn, "agree", n=2).tolist() == [0, 3]
    # baseline wrong, CNN right: 2 (happy, baseline very sure it is sad), 5 (sad)
    assert baseline.select_examples(y, p_base, p_cnn, "baseline_fails", n=4).tolist() == [2, 5]
    # CNN wrong, baseline right: only 6
    assert baseline.select_examples(y, p_base, p_cnn, "cnn_fails", n=4).tolist() == [6]
    # without per-class balance: ranked by confidence only
    assert baseline.select_examples(y, p_base, p_cnn, "agree", n=2, per_class=False).tolist() == [3, 0]
    with pytest.raises(ValueError):
        baseline.select_examples(y, p_base, p_cnn, "both")
    with pytest.raises(ValueError):
        baseline.select_examples(y, p_base[:-1], p_cnn, "agree")


def test_confidence_is_zero_at_threshold_and_one_at_the_ends():
    np.testing.assert_allclose(baseline.confidence([0.0, 0.25, 0.5, 0.75, 1.0]),
                               [1.0, 0.5, 0.0, 0.5, 1.0])
