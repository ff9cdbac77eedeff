"""Lesson 07's TFLite conversion (the `convert` cell of the notebook, run here on a small network)
and the converted files read through helpers.predict.load_predictor and the predict CLI.

Tolerances (max |P_tflite - P_keras| on the test images):
* float32: 1e-5  - the same maths; only summation order differs.
* dynamic: 0.02  - int8 weights, float activations.
* int8:    0.06  - int8 weights and activations; the output alone is on a 1/256 grid.
"""
from __future__ import annotations

import json
from pathlib import Path

import keras
import nbformat
import numpy as np
import pytest
import tensorflow as tf
from keras import layers
from PIL import Image

from helpers import config, data, models, predict

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "07_efficiency_and_deployment.ipynb"
MODES = ("float32", "dynamic", "int8")
TOL = {"float32": 1e-5, "dynamic": 0.02, "int8": 0.06}
SHAPE = (48, 48, 1)


def _images(n, seed):
    """Structured 0-255 images (blobs and gradients), not plain noise: activations look real."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SHAPE[0], 0:SHAPE[1]] / SHAPE[0]
    out = []
    for _ in range(n):
        cx, cy, r = rng.uniform(0.2, 0.8, 2).tolist() + [rng.uniform(0.1, 0.4)]
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r ** 2))
        img = 0.5 * blob + 0.3 * rng.uniform() * xx + 0.2 * rng.uniform(size=xx.shape)
        img = 255 * (img - img.min()) / (img.max() - img.min())     # full 0-255, like FER faces
        out.append(np.round(img).astype(np.uint8)[..., None])
    return np.stack(out)


def _small_model(augment=True):
    """Two pool-first blocks like happy_sad's, with augmentation layers that must not be exported."""
    keras.utils.set_random_seed(0)
    stack = [layers.Rescaling(1 / 255)]
    if augment:
        stack += [layers.RandomFlip("horizontal"), layers.RandomRotation(0.05), layers.RandomZoom(0.1)]
    for width in (32, 64):
        stack += [layers.Conv2D(width, 3, padding="same", use_bias=False), layers.MaxPooling2D(),
                  layers.BatchNormalization(momentum=0.9), layers.ReLU()]
    stack += [layers.GlobalAveragePooling2D(), layers.Dropout(0.3), layers.Dense(1, activation="sigmoid")]
    return keras.Sequential([keras.Input(SHAPE), *stack])


def _bn_layers(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]


@pytest.fixture(scope="module")
def trained():
    """A small network fitted a few steps, with non-trivial BatchNorm statistics."""
    model = _small_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
    x, y = _images(64, 1), np.tile([0.0, 1.0], 32)
    model.fit(x, y, batch_size=32, epochs=2, verbose=0)
    rng = np.random.default_rng(2)
    for bn in _bn_layers(model):       # two steps barely move the moving averages: set them
        n = bn.moving_mean.shape[0]
        bn.moving_mean.assign(rng.uniform(-0.3, 0.3, n).astype("float32"))
        bn.moving_variance.assign(rng.uniform(0.3, 2.0, n).astype("float32"))
    # Rescale the last layer so the logits spread over about -3..3: the probabilities then
    # cover most of (0, 1) and the comparisons below mean something.
    features = keras.Model(model.inputs[0], model.layers[-2].output)
    f = np.asarray(features(x.astype("float32"), training=False))
    dense = model.layers[-1]
    logits = f @ np.asarray(dense.kernel)[:, 0]
    factor = 1.5 / max(float(logits.std()), 1e-6)
    dense.kernel.assign(np.asarray(dense.kernel) * factor)
    dense.bias.assign(np.array([-factor * float(logits.mean())], "float32"))
    p = np.asarray(model(_images(24, 4).astype("float32"), training=False)).ravel()
    assert p.max() - p.min() > 0.2, "the comparisons would be too easy if every output were ~0.5"
    return model


def lesson_convert(model, train_images):
    """Notebook 07's `convert(mode)`, defined by running its cell with `model` as happy_sad."""
    cell = [c.source for c in nbformat.read(NOTEBOOK, 4).cells
            if c.cell_type == "code" and "def convert(" in c.source]
    assert len(cell) == 1, "notebook 07 should define convert(mode) in one cell"
    space = {"happy_sad": model, "x_train": train_images, "config": config, "data": data,
             "np": np, "tf": tf}
    exec(compile(cell[0], str(NOTEBOOK), "exec"), space)
    assert "TFLiteConverter" in cell[0] and "training=False" in cell[0]
    return space["convert"]


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tflite")
    convert = lesson_convert(trained, _images(100, 3))      # the representative set: "training" images
    paths = {}
    for mode in MODES:
        paths[mode] = folder / f"small_{mode}.tflite"
        paths[mode].write_bytes(convert(mode))
        models.write_facts(paths[mode], class_names=["happy", "sad"], threshold=0.3, mode=mode)
    return folder, paths


@pytest.fixture(scope="module")
def test_images():
    return _images(24, 4)


@pytest.mark.parametrize("mode", MODES)
def test_tflite_matches_keras(trained, exported, test_images, mode):
    _, paths = exported
    keras_p = np.asarray(trained(test_images.astype("float32"), training=False)).ravel()
    lite_p = predict.load_predictor(paths[mode]).predict_proba(test_images)
    assert lite_p.shape == keras_p.shape and lite_p.dtype == np.float32
    assert ((lite_p >= 0) & (lite_p <= 1)).all()
    diff = np.abs(lite_p - keras_p).max()
    print(f"{mode}: max |diff| = {diff:.2e} (tolerance {TOL[mode]})")
    assert diff <= TOL[mode]


def test_file_sizes_shrink(exported):
    _, paths = exported
    size = {mode: path.stat().st_size for mode, path in paths.items()}
    assert size["float32"] > 2 * size["dynamic"]          # int8 weights: about 4x smaller weights
    assert size["dynamic"] >= 0.8 * size["int8"]          # "roughly": int8 adds quantisation params


def test_int8_has_integer_io_with_pixel_scale(exported):
    _, paths = exported
    predictor = predict.load_predictor(paths["int8"])
    assert predictor.input_dtype == np.int8
    (in_scale, in_zero), (out_scale, out_zero) = (predictor.quantization["input"],
                                                  predictor.quantization["output"])
    assert in_scale == pytest.approx(1.0, rel=0.05) and in_zero == -128   # 0-255 pixels kept exactly
    assert out_scale == pytest.approx(1 / 256) and out_zero == -128        # sigmoid output grid
    float_predictor = predict.load_predictor(paths["float32"])
    assert float_predictor.input_dtype == np.float32
    assert float_predictor.quantization["input"] == (0.0, 0)


def _ops(path):
    return [op["op_name"] for op in tf.lite.Interpreter(model_path=str(path))._get_ops_details()]


def test_augmentation_is_not_exported(trained, exported, test_images):
    _, paths = exported
    for mode, path in paths.items():
        ops = _ops(path)
        assert "CONV_2D" in ops and "LOGISTIC" in ops
        suspicious = [op for op in ops if any(word in op.upper() for word in
                                              ("RANDOM", "FLEX", "TRANSFORM", "CUSTOM", "MULTINOMIAL"))]
        assert not suspicious, f"{mode}: {suspicious}"
    # The same weights without augmentation layers give the same numbers as the export.
    plain = _small_model(augment=False)
    weighted = [layer for layer in trained.layers if layer.weights]
    for src, dst in zip(weighted, [layer for layer in plain.layers if layer.weights], strict=True):
        dst.set_weights(src.get_weights())
    plain_p = np.asarray(plain(test_images.astype("float32"), training=False)).ravel()
    lite_p = predict.load_predictor(paths["float32"]).predict_proba(test_images)
    np.testing.assert_allclose(lite_p, plain_p, atol=TOL["float32"])
    again = predict.load_predictor(paths["float32"]).predict_proba(test_images)
    np.testing.assert_array_equal(lite_p, again)                 # deterministic: no randomness


def test_predictor_batches_sizes_channels_and_facts(exported, test_images):
    _, paths = exported
    predictor = predict.TFLitePredictor(paths["int8"], max_batch=5)   # 24 images -> 5 invokes
    assert predictor.input_shape == SHAPE
    full = predictor.predict_proba(test_images)
    assert full.shape == (24,)
    np.testing.assert_allclose(predict.load_predictor(paths["int8"]).predict_proba(test_images), full)
    np.testing.assert_allclose(predictor.predict_proba(test_images[3]), full[3:4])   # one image
    # Any size / channel count is fitted by to_model_input, as for Keras models.
    rgb_big = np.stack([np.asarray(Image.fromarray(im[..., 0]).resize((96, 96), Image.NEAREST).convert("RGB"))
                        for im in test_images[:4]])
    np.testing.assert_allclose(predictor.predict_proba(rgb_big), full[:4], atol=0.05)
    assert predictor.predict_proba(test_images[:0]).shape == (0,)
    # The facts written beside the file (happy_sad_<mode>.json in lesson 07) are the predictor's.
    assert paths["int8"].with_suffix(".json").is_file()
    assert predictor.class_names == ("happy", "sad") and predictor.threshold == pytest.approx(0.3)


@pytest.mark.parametrize("mode", MODES)
def test_cli_predict_with_tflite(exported, trained, test_images, tmp_path, capsys, mode):
    _, paths = exported
    image = tmp_path / "face.png"
    Image.fromarray(test_images[0][..., 0]).save(image)
    keras_path = tmp_path / "small.keras"
    trained.save(keras_path)
    models.write_facts(keras_path, class_names=["happy", "sad"], threshold=0.3)
    results = {}
    for model_path in (keras_path, paths[mode]):
        assert predict.main([str(image), "--model", str(model_path), "--faces", "off", "--json"]) == 0
        records = json.loads(capsys.readouterr().out)
        assert len(records) == 1 and records[0]["label"] in ("happy", "sad")
        results[model_path.suffix] = records[0]
    assert 0.0 <= results[".tflite"]["p_sad"] <= 1.0
    assert results[".tflite"]["p_sad"] == pytest.approx(results[".keras"]["p_sad"], abs=TOL[mode] + 1e-4)
    expected = "sad" if results[".tflite"]["p_sad"] >= 0.3 else "happy"     # the saved threshold, not 0.5
    assert results[".tflite"]["label"] == expected
