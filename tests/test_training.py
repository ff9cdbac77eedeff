"""Training: class weights, the saved best model, histories, and a distribution strategy."""
from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import data, models, training


def test_class_weights_balance_the_classes():
    weights = training.class_weights([0] * 30 + [1] * 10)
    assert weights[1] == pytest.approx(2.0) and weights[0] == pytest.approx(40 / 60)
    assert 30 * weights[0] == pytest.approx(10 * weights[1])      # each class weighs the same
    with pytest.raises(ValueError, match="Both classes"):
        training.class_weights([0, 0, 0])


def _tiny(input_shape=(48, 48, 1)):
    return lambda: models.build_happy_sad(input_shape, filters=(8, 16), convs=(1, 1))


@pytest.fixture
def split(fer_tree, tmp_path, monkeypatch):
    monkeypatch.delenv("HAPPYSAD_FAST", raising=False)
    data.prepare_fer_split(data.locate(fer_tree), out_dir=tmp_path / "prepared")
    return data.load_split(tmp_path / "prepared")


def test_train_saves_the_best_model_without_optimizer_state(split, tmp_path):
    result = training.train(_tiny(), split, "tiny.keras", epochs=3, out_dir=tmp_path / "models",
                            learning_rate=1e-2, verbose=0)
    assert result.path.exists() and result.path.name == "tiny.keras"
    assert list(result.history["epoch"]) == [1, 2, 3]
    assert {"loss", "val_loss", "accuracy", "val_accuracy", "val_auc"} <= set(result.history)
    assert result.best_epoch == int(result.history["val_loss"].idxmin()) + 1
    info = json.loads((tmp_path / "models" / "tiny.json").read_text())
    assert info["train_images"] == (split["split"] == "train").sum() and info["epochs_run"] == 3
    history, facts = training.load_history("tiny.keras", tmp_path / "models")
    assert len(history) == 3 and facts["params"] == info["params"]
    # The shipped file: safe-mode loadable, no optimizer variables, the kept weights.
    import zipfile
    with zipfile.ZipFile(result.path) as archive:
        names = archive.namelist()
        weights = archive.read("model.weights.h5")
    assert "model.weights.h5" in names
    assert b"optimizer" not in weights
    loaded = models.load_model(result.path)
    rows = split[split["split"] == "val"]
    x, y = data.load_xy(split, "val")
    val_loss = keras.losses.binary_crossentropy(y.astype("float32"),
                                                loaded.predict(x.astype("float32"), verbose=0)[:, 0])
    assert float(val_loss.numpy().mean()) == pytest.approx(result.history["val_loss"].min(), rel=0.05)
    assert len(rows) == len(y)


def test_train_runs_under_mirrored_strategy(split, tmp_path):
    """The same training code under tf.distribute.MirroredStrategy (one CPU replica here;
    on a multi-GPU machine default_strategy() picks MirroredStrategy over all GPUs)."""
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    result = training.train(_tiny(), split, "mirrored.keras", epochs=1, strategy=strategy,
                            out_dir=tmp_path / "models", verbose=0)
    assert result.info["replicas"] == 1
    assert np.isfinite(result.history["loss"]).all()
    assert models.load_model(result.path).output_shape == (None, 1)


def test_train_learns_a_learnable_task(tmp_path, monkeypatch):
    from conftest import make_fer_tree
    monkeypatch.delenv("HAPPYSAD_FAST", raising=False)
    root = make_fer_tree(tmp_path / "data", n_train=120, n_test=4)
    data.prepare_fer_split(data.locate(root), out_dir=tmp_path / "prepared")
    split = data.load_split(tmp_path / "prepared")
    result = training.train(_tiny(), split, "learn.keras", epochs=10, batch_size=16,
                            learning_rate=3e-3, patience=10, out_dir=tmp_path / "models", verbose=0)
    # Ranking is learned before calibration: AUC is the early, threshold-free signal.
    assert result.history["val_auc"].max() >= 0.95
    assert result.history["loss"].iloc[-1] < result.history["loss"].iloc[0]


def test_recipes_build_the_documented_networks():
    assert training.recipe_builder("seed_cnn")().count_params() == 3_696_625
    assert training.recipe_builder("happy_sad")().input_shape == (None, 48, 48, 1)
    assert training.recipe_builder("seed_cnn_48")().input_shape == (None, 48, 48, 1)


def test_min_epochs_reaches_early_stopping(split, tmp_path, monkeypatch):
    """min_epochs becomes EarlyStopping(start_from_epoch=...): on a small dataset our
    network needs ~a dozen epochs before it learns, and must not be stopped before."""
    seen = []

    class Recording(keras.callbacks.EarlyStopping):
        def __init__(self, **kwargs):
            seen.append(kwargs)
            super().__init__(**kwargs)

    monkeypatch.setattr(keras.callbacks, "EarlyStopping", Recording)
    training.train(_tiny(), split, "patient.keras", epochs=1, min_epochs=3,
                   out_dir=tmp_path / "models", verbose=0)
    assert seen[-1]["start_from_epoch"] == 3 and seen[-1]["restore_best_weights"]
    ours = training.RECIPES["happy_sad"]
    assert 0 < ours["min_epochs"] < ours["epochs"]     # early stopping waits, but can still act


def test_ema_and_label_smoothing_ship_the_validated_weights(tmp_path, monkeypatch):
    """With weight averaging (EMA) the file saved is the averaged model that was validated,
    and the validation loss is the label-smoothed one the network was trained on."""
    from conftest import make_fer_tree
    monkeypatch.delenv("HAPPYSAD_FAST", raising=False)
    root = make_fer_tree(tmp_path / "data", n_train=120, n_test=4)
    data.prepare_fer_split(data.locate(root), out_dir=tmp_path / "prepared")
    split = data.load_split(tmp_path / "prepared")
    result = training.train(_tiny(), split, "ema.keras", epochs=8, batch_size=16, learning_rate=3e-3,
                            patience=8, label_smoothing=0.2, ema=0.9, out_dir=tmp_path / "models",
                            verbose=0)
    x, y = data.load_xy(split, "val")
    p = models.load_model(result.path).predict(x.astype("float32"), verbose=0)[:, 0]
    y = y.astype("float32")
    smoothed = float(keras.losses.BinaryCrossentropy(label_smoothing=0.2)(y, p))
    plain = float(keras.losses.BinaryCrossentropy()(y, p))
    best = result.history["val_loss"].min()
    assert smoothed == pytest.approx(best, rel=1e-3)       # the smoothed loss, of these weights
    assert plain != pytest.approx(best, rel=1e-3)
    # And the averaging is really on: without it the same seed ends at other weights.
    plain_run = training.train(_tiny(), split, "plain.keras", epochs=8, batch_size=16,
                               learning_rate=3e-3, patience=8, out_dir=tmp_path / "models", verbose=0)
    q = models.load_model(plain_run.path).predict(x.astype("float32"), verbose=0)[:, 0]
    assert not np.allclose(p, q, atol=1e-3)


def test_train_step_seconds_times_a_real_training_step():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8, 48, 48, 1)).astype(np.uint8)
    build = lambda: models.build_happy_sad(filters=(4,), convs=(1,))
    seconds = training.train_step_seconds(build, images, np.arange(8) % 2, batch_size=8, steps=3)
    assert 0 < seconds < 60
    with pytest.raises(ValueError):      # labels that do not match the images
        training.train_step_seconds(build, images, np.arange(3) % 2, batch_size=8, steps=1)
