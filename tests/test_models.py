"""helpers.models: safe loading, the facts beside a model, the layer table.

The networks themselves are lesson 02's code (tested by nbval and the notebook's
asserts); here small models are built only to exercise the helpers and to check
a claim lesson 02 makes.
"""
import json
import zipfile

import keras
import numpy as np
import pytest
from keras import layers

from helpers import config, models


def tiny_model(name="tiny"):
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input(shape=(8, 8, 1)), layers.Rescaling(1 / 255),
                             layers.Conv2D(2, 3), layers.GlobalAveragePooling2D(),
                             layers.Dense(1, activation="sigmoid")], name=name)


def test_load_model_round_trips_in_safe_mode(tmp_path):
    model = tiny_model()
    path = tmp_path / "tiny.keras"
    model.save(path)
    x = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 1)).astype("float32")
    loaded = models.load_model(path)
    assert np.allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_load_model_refuses_code_in_the_file(tmp_path):
    # A Lambda layer carries Python code; safe mode must not run it.
    model = keras.Sequential([keras.Input(shape=(2,)), layers.Lambda(lambda x: x * 2)])
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(ValueError, match="(?i)safe"):
        models.load_model(path)


def test_load_model_names_the_notebook_to_run(tmp_path):
    with pytest.raises(config.MissingStepError, match="03_train"):
        models.load_model(tmp_path / "missing.keras")
    with pytest.raises(config.MissingStepError, match="02_build_the_network"):
        models.load_model(tmp_path / "missing.keras", notebook="02_build_the_network")


def test_load_model_says_when_a_file_is_not_a_keras_model(tmp_path):
    junk = tmp_path / "junk.keras"
    junk.write_bytes(np.random.default_rng(0).bytes(4096))        # Keras itself: "File not found"
    foreign = tmp_path / "foreign.keras"
    with zipfile.ZipFile(foreign, "w") as archive:                  # a zip, but not Keras's
        archive.writestr("notes.txt", "hello")
    for path in (junk, foreign):
        with pytest.raises(ValueError) as error:
            models.load_model(path)
        assert str(error.value) == (f"{path} is not a .keras model file (a zip archive Keras "
                                    "writes): run notebook 03_train again, or download it again.")


def test_facts_merge_and_sit_beside_the_model(tmp_path):
    path = tmp_path / "net.keras"
    assert models.read_facts(path) == {}
    models.write_facts(path, class_names=["happy", "sad"], epochs_run=3)
    facts = models.write_facts(path, threshold=0.42)
    assert facts == {"class_names": ["happy", "sad"], "epochs_run": 3, "threshold": 0.42}
    assert json.loads((tmp_path / "net.json").read_text()) == facts
    assert models.read_facts(tmp_path / "net.tflite") == facts   # a TFLite file shares the facts


def test_layer_table_counts_every_parameter():
    model = tiny_model()
    table = models.layer_table(model)
    assert table["parameters"].sum() == model.count_params() == 3 * 3 * 2 + 2 + 2 + 1
    assert table["share"].sum() == pytest.approx(1.0)
    assert table.loc[model.layers[1].name, "output shape"] == (6, 6, 2)


def _block_net(pool_first):
    # Lesson 02's block in both orders: conv, pool, BN, ReLU vs conv, BN, ReLU, pool.
    pool, bn, relu = layers.MaxPooling2D(), layers.BatchNormalization(), layers.ReLU()
    body = [pool, bn, relu] if pool_first else [bn, relu, pool]
    return keras.Sequential([keras.Input(shape=(8, 8, 1)), layers.Conv2D(3, 3, padding="same"), *body,
                             layers.GlobalAveragePooling2D(), layers.Dense(1)])


def test_pool_first_matches_the_textbook_order_only_while_batchnorm_scales_are_positive():
    # Lesson 02's claim: with every BatchNorm scale positive, pooling first gives the same
    # answer; a negative scale turns the max into a min, and the orders differ.
    first, last = _block_net(True), _block_net(False)
    weights = first.get_weights()
    last.set_weights(weights)
    x = np.random.default_rng(2).normal(size=(4, 8, 8, 1)).astype("float32")
    assert np.allclose(first(x, training=False), last(x, training=False), atol=1e-5)
    gamma = [i for i, w in enumerate(first.weights) if w.name == "gamma"][0]
    weights[gamma] = -np.abs(weights[gamma])
    first.set_weights(weights)
    last.set_weights(weights)
    assert not np.allclose(first(x, training=False), last(x, training=False), atol=1e-5)
