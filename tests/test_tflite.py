"""Lesson 08's TFLite conversion (the notebook's own `convert` cell, run on a small network built
once for this module) and the converted files read through helpers.predict: load_predictor, the
decision rule (threshold and mirror choice, as for the .keras file) and the predict CLI.

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

from helpers import config, data, model_files, predict

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "08_efficiency_and_deployment.ipynb"
MODES = config.TFLITE_MODES
TOL = {"float32": 1e-5, "dynamic": 0.02, "int8": 0.06}
SHAPE = (48, 48, 1)
NAMES, THRESHOLD = ["cats", "dogs"], 0.3     # not happy/sad, not 0.5: they must come from the facts


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


@pytest.fixture(scope="module")
def trained():
    """A small network fitted a few steps, with non-trivial BatchNorm statistics."""
    model = _small_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
    x, y = _images(64, 1), np.tile([0.0, 1.0], 32)
    model.fit(x, y, batch_size=32, epochs=2, verbose=0)
    rng = np.random.default_rng(2)
    for bn in [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]:
        n = bn.moving_mean.shape[0]     # two steps barely move the moving averages: set them
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
    """Notebook 08's `convert(mode)`, defined by running its cell with `model` as happy_sad."""
    cell = [c.source for c in nbformat.read(NOTEBOOK, 4).cells
            if c.cell_type == "code" and "def convert(" in c.source]
    assert len(cell) == 1, "notebook 08 should define convert(mode) in one cell"
    space = {"happy_sad": model, "x_train": train_images, "config": config, "data": data,
             "np": np, "tf": tf}
    exec(compile(cell[0], str(NOTEBOOK), "exec"), space)
    assert "TFLiteConverter" in cell[0] and "training=False" in cell[0]
    return space["convert"]


def _lesson08_facts(path, **rule):
    """The facts lesson 08 writes beside a .tflite file: copied from its source, small.keras."""
    model_files.write_facts(path, fresh=True, class_names=NAMES, threshold=THRESHOLD, source="small.keras", **rule)


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    """small.keras and small_<mode>.tflite, each with its facts beside it, as lessons 03, 05 and 08
    write them: the tflite facts name their source (no mirror choice yet: set per test)."""
    folder = tmp_path_factory.mktemp("tflite")
    trained.save(folder / "small.keras")
    model_files.write_facts(folder / "small.keras", class_names=NAMES, threshold=THRESHOLD)
    convert = lesson_convert(trained, _images(100, 3))      # the representative set: "training" images
    paths = {}
    for mode in MODES:
        paths[mode] = folder / f"small_{mode}.tflite"
        paths[mode].write_bytes(convert(mode))
        _lesson08_facts(paths[mode])
    return folder / "small.keras", paths


@pytest.fixture(scope="module")
def test_images():
    return _images(24, 4)


@pytest.mark.parametrize("mode", MODES)
def test_tflite_matches_keras(trained, exported, test_images, mode):
    _, paths = exported
    keras_p = np.asarray(trained(test_images.astype("float32"), training=False)).ravel()
    predictor = predict.load_predictor(paths[mode])
    assert isinstance(predictor, predict.TFLitePredictor) and predictor.input_shape == SHAPE
    assert (predictor.class_names, predictor.threshold, predictor.threshold_source) == (
        tuple(NAMES), THRESHOLD, "saved")                          # from the .json beside the file
    lite_p = predictor.predict_proba(test_images)
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


def test_augmentation_is_not_exported(trained, exported, test_images):
    _, paths = exported
    for mode, path in paths.items():
        from ai_edge_litert.interpreter import Interpreter        # LiteRT; tf.lite.Interpreter is deprecated
        ops = [op["op_name"] for op in Interpreter(model_path=str(path))._get_ops_details()]
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


def test_predictor_batches_sizes_and_channels(exported, test_images):
    _, paths = exported
    predictor = predict.TFLitePredictor(paths["int8"], max_batch=5)   # 24 images -> 5 invokes
    full = predictor.predict_proba(test_images)
    assert full.shape == (24,)
    np.testing.assert_allclose(predict.load_predictor(paths["int8"]).predict_proba(test_images), full)
    np.testing.assert_allclose(predictor.predict_proba(test_images[3]), full[3:4])   # one image
    # Any size / channel count is fitted by to_model_input, as for Keras models.
    rgb = np.repeat(test_images[:4], 3, axis=-1)
    np.testing.assert_allclose(predictor.predict_proba(rgb), full[:4], atol=0.01)   # 1 step of 1/256
    big = np.kron(rgb, np.ones((1, 2, 2, 1), np.uint8))                            # 96x96 RGB
    fitted = np.asarray(data.to_model_input(big, SHAPE)).round().astype(np.uint8)
    np.testing.assert_allclose(predictor.predict_proba(big), predictor.predict_proba(fitted), atol=0.01)
    assert predictor.predict_proba(test_images[:0]).shape == (0,)
    with pytest.raises(FileNotFoundError):
        predict.TFLitePredictor(paths["int8"].with_name("missing.tflite"))


def _cli(image, model_path, capsys) -> dict:
    assert predict.main([str(image), "--model", str(model_path), "--faces", "off", "--json"]) == 0
    [record] = json.loads(capsys.readouterr().out)
    return record


@pytest.mark.parametrize("mode", MODES)
def test_cli_predict_with_tflite(exported, test_images, tmp_path, capsys, mode):
    keras_path, paths = exported
    image = tmp_path / "face.png"
    Image.fromarray(test_images[0][..., 0]).save(image)
    keras_record, lite_record = _cli(image, keras_path, capsys), _cli(image, paths[mode], capsys)
    assert 0.0 <= lite_record["p_dogs"] <= 1.0
    assert lite_record["p_dogs"] == pytest.approx(keras_record["p_dogs"], abs=TOL[mode] + 1e-4)
    assert lite_record["label"] == ("dogs" if lite_record["p_dogs"] >= THRESHOLD else "cats")   # not 0.5
    assert (lite_record["threshold"], lite_record["threshold_source"]) == (THRESHOLD, "saved")


@pytest.fixture
def mirror_chosen(exported):
    """Lesson 05 chose mirror averaging for small.keras (flip_average in its facts)."""
    keras_path, _ = exported
    model_files.write_facts(keras_path, flip_average=True)
    yield keras_path
    model_files.write_facts(keras_path, flip_average=False)


def test_tflite_decides_as_the_keras_model_does(exported, mirror_chosen, test_images, tmp_path, capsys):
    """The saved threshold with the saved mirror choice, one rule for .keras and .tflite.
    Was: a .tflite whose facts had the threshold but no flip_average (lesson 08 copied only the
    threshold) answered from the face alone, at a threshold chosen for the mirror average."""
    _, paths = exported
    keras_predictor = predict.load_predictor(mirror_chosen)
    plain = keras_predictor.model(test_images.astype("float32"), training=False).numpy().ravel()
    mirrored = keras_predictor.model(test_images[:, :, ::-1].astype("float32"), training=False).numpy().ravel()
    i = int(np.argmax(np.abs(plain - mirrored)))             # the face whose mirror image differs most
    assert abs(plain[i] - mirrored[i]) > 100 * TOL["float32"], "the mirror image must answer differently"
    image = tmp_path / "face.png"
    Image.fromarray(test_images[i][..., 0]).save(image)
    _lesson08_facts(paths["float32"], flip_average=True)     # lesson 08 copies the whole rule
    predictor = predict.load_predictor(paths["float32"])
    assert (predictor.threshold, predictor.flip) == (keras_predictor.threshold, keras_predictor.flip) == (THRESHOLD, True)
    keras_record, lite_record = _cli(image, mirror_chosen, capsys), _cli(image, paths["float32"], capsys)
    assert lite_record["p_dogs"] == pytest.approx((plain[i] + mirrored[i]) / 2, abs=1e-4)
    assert lite_record["p_dogs"] == pytest.approx(keras_record["p_dogs"], abs=1e-4)
    assert lite_record["label"] == keras_record["label"]
    # A .tflite's own facts are its rule: without flip_average it answers from the face alone,
    # whatever its source model chose (nothing is borrowed from the .keras file's facts).
    _lesson08_facts(paths["float32"])
    assert not predict.load_predictor(paths["float32"]).flip
    assert _cli(image, paths["float32"], capsys)["p_dogs"] == pytest.approx(plain[i], abs=1e-4)


def test_a_cut_tflite_file_is_named_in_one_line(exported, tmp_path, capsys):
    """A download cut short keeps the TFL3 mark. tf.lite.Interpreter crashed the process on such a
    file (segmentation fault); LiteRT says "not a valid Flatbuffer", which did not name the file."""
    _, paths = exported
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(paths["int8"].read_bytes()[:2000])
    image = tmp_path / "face.png"
    Image.fromarray(_images(1, 5)[0, ..., 0]).save(image)
    assert predict.main([str(image), "--model", str(cut)]) == 2
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line.startswith(f"error: {cut} is not a complete .tflite model") and "notebook 08" in line
    assert captured.out == "" and "Traceback" not in captured.err
