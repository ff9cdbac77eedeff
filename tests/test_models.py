"""The two networks: exact seed architecture, our budget, self-contained saving."""
from __future__ import annotations

import numpy as np
import pytest
from keras import layers

from helpers import models, training


def test_seed_cnn_is_the_original_network():
    model = models.build_seed_cnn()
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Rescaling", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Conv2D",
                     "MaxPooling2D", "Flatten", "Dense", "Dense"]
    convs = [layer for layer in model.layers if isinstance(layer, layers.Conv2D)]
    assert [c.filters for c in convs] == [16, 32, 16]
    assert all(c.kernel_size == (3, 3) and c.activation.__name__ == "relu" for c in convs)
    assert model.input_shape == (None, 256, 256, 3) and model.output_shape == (None, 1)
    assert model.count_params() == 3_696_625
    dense = model.layers[-2]
    assert dense.units == 256 and dense.count_params() / model.count_params() > 0.95


def test_our_model_is_small_sequential_and_self_contained(tmp_path):
    model = models.build_happy_sad()
    assert model.__class__.__name__ == "Sequential"
    assert model.input_shape == (None, 48, 48, 1) and model.output_shape == (None, 1)
    kinds = {type(layer).__name__ for layer in model.layers}
    assert {"Rescaling", "RandomFlip", "BatchNormalization", "GlobalAveragePooling2D", "Dropout"} <= kinds
    assert model.count_params() < 250_000
    path = tmp_path / "m.keras"
    model.save(path)
    assert path.stat().st_size <= 1_000_000
    x = np.random.default_rng(0).integers(0, 256, (4, 48, 48, 1)).astype("float32")
    loaded = models.load_model(path)
    p = np.asarray(model(x, training=False))
    assert np.allclose(p, np.asarray(loaded(x, training=False)), atol=1e-6)
    assert ((p >= 0) & (p <= 1)).all()
    # augmentation is off at inference: predict() gives the same answer twice.
    # (Careful: Keras 3 random layers default to training=True when a model is
    # called directly, so always call model(x, training=False) or model.predict.)
    assert np.allclose(loaded.predict(x, verbose=0), loaded.predict(x, verbose=0))
    assert np.allclose(loaded.predict(x, verbose=0), p, atol=1e-6)


def test_load_model_names_the_notebook(tmp_path):
    with pytest.raises(FileNotFoundError, match="03_train"):
        models.load_model(tmp_path / "missing.keras")


def test_our_model_can_overfit_a_tiny_batch():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (16, 48, 48, 1)).astype(np.uint8)
    labels = np.arange(16) % 2
    result = training.overfit_tiny_batch(lambda: models.build_happy_sad(augment=False, dropout=0.0),
                                         images, labels, steps=60)
    assert result["last_accuracy"] == 1.0
    assert result["last_loss"] < 0.2 * result["first_loss"]


def test_layer_table_counts_every_parameter():
    model = models.build_seed_cnn()
    table = models.layer_table(model)
    assert table["parameters"].sum() == model.count_params()
    assert table.loc[table["type"] == "Flatten", "output shape"].iloc[0] == (14400,)
    assert table["share"].max() > 0.95


def test_augment_examples_change_the_image_but_keep_its_shape():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (48, 48, 1)).astype(np.uint8)
    out = models.augment_examples(models.build_happy_sad(), image, n=4)
    assert out.shape == (4, 48, 48, 1) and out.dtype == np.uint8
    assert any(not np.array_equal(o, image) for o in out)


def test_our_blocks_pool_right_after_their_last_conv():
    kinds = [type(layer).__name__ for layer in models.build_happy_sad().layers]
    pools = [i for i, k in enumerate(kinds) if k == "MaxPooling2D"]
    assert len(pools) == 4
    assert all(kinds[i - 1] in ("Conv2D", "SeparableConv2D") and kinds[i + 1] == "BatchNormalization"
               for i in pools)
    textbook = [type(layer).__name__ for layer in models.build_happy_sad(pool_first=False).layers]
    assert all(textbook[i - 1] == "ReLU" for i, k in enumerate(textbook) if k == "MaxPooling2D")


def test_pooling_before_batchnorm_and_relu_gives_the_same_answer():
    # With BatchNorm's scale positive (as initialised), max-pooling commutes with
    # BatchNorm and ReLU: the cheaper order computes the same function.
    kw = dict(filters=(4, 8), convs=(1, 2), augment=False, dropout=0.0)
    early, late = models.build_happy_sad(**kw), models.build_happy_sad(pool_first=False, **kw)
    late.set_weights(early.get_weights())
    x = np.random.default_rng(2).integers(0, 256, (6, 48, 48, 1)).astype("float32")
    assert np.allclose(early(x, training=False), late(x, training=False), atol=1e-5)
    # ...but not when a scale is negative: then the order matters.
    weights = early.get_weights()
    bn = [l for l in early.layers if type(l).__name__ == "BatchNormalization"][0]
    gamma_index = [i for i, w in enumerate(early.weights) if w.path == bn.gamma.path][0]
    weights[gamma_index] = -np.abs(weights[gamma_index])
    early.set_weights(weights)
    late.set_weights(weights)
    assert not np.allclose(early(x, training=False), late(x, training=False), atol=1e-5)
