"""tools.bench (`make bench`) measures every saved model on the test split and writes its table.

The networks here are a known function (Flatten -> Dense with set weights), so the expected
scores are computed with NumPy and scikit-learn directly, not with the code the bench uses.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from conftest import make_fer_tree
from helpers import baseline, config, model_files, splits
from tools import bench


def _ramp(input_shape):
    """Weights that grow from left to right: a mirrored face gets another score. With the bias, a
    uniform image of value v scores sigmoid(10 v/255 - 5): dark is class 0, bright is class 1."""
    h, w, c = input_shape
    return (np.repeat(np.tile(np.linspace(-1, 1, w) + 0.25, h), c) * 40 / (h * w * c)).astype(np.float32)


BIAS = -4.4


def _known_network(input_shape):
    """p = sigmoid(ramp . pixels/255 + BIAS): a network whose every answer NumPy can compute."""
    import keras
    model = keras.Sequential([keras.Input(input_shape), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.layers[-1].set_weights([_ramp(input_shape)[:, None], np.full(1, BIAS, np.float32)])
    return model


def _known_p(images, input_shape):
    z = (np.asarray(images, np.float32).reshape(len(images), -1) / 255) @ _ramp(input_shape) + BIAS
    return 1 / (1 + np.exp(-z))


def _to_tflite(model, path):
    import tensorflow as tf
    spec = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)
    serve = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    # No trackable_obj: with the model passed too, TF 2.21 keeps this small network's weights as
    # uninitialised resource variables (VAR_HANDLE / READ_VARIABLE ops) and the file answers 0, 1 or NaN.
    converter = tf.lite.TFLiteConverter.from_concrete_functions([serve.get_concrete_function()])
    path.write_bytes(converter.convert())


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A throw-away project, built once for the module: the split, three tiny networks with their facts,
    the baseline, one TFLite file. A test that changes it puts it back."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield _build_project(tmp_path_factory.mktemp("project"), monkeypatch)


def _build_project(tmp_path, monkeypatch):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler
    fer_tree = make_fer_tree(tmp_path / "data")
    monkeypatch.delenv("HAPPYSAD_FAST", raising=False)
    monkeypatch.setenv("HAPPYSAD_DATA", str(fer_tree))
    for name in ("models", "outputs", "prepared"):
        (tmp_path / name).mkdir()
    monkeypatch.setattr(config, "models_dir", lambda: tmp_path / "models")
    monkeypatch.setattr(config, "outputs_dir", lambda: tmp_path / "outputs")
    monkeypatch.setattr(config, "prepared_dir", lambda: tmp_path / "prepared")
    splits.prepare_fer_split()
    split = splits.load_split()
    names = splits.split_class_names(split)
    for file, shape, seconds in ((config.ORIGINAL_MODEL, (32, 32, 3), 600.0),
                                 (config.ORIGINAL_48_MODEL, (48, 48, 1), 300.0),
                                 (config.MODELS["happy_sad_plain"].file, (48, 48, 1), 60.0),   # lesson 03's plain run
                                 (config.OUR_MODEL, (48, 48, 1), 90.0)):
        model = _known_network(shape)
        model.save(tmp_path / "models" / file)
        model_files.write_facts(tmp_path / "models" / file, name=file.split(".")[0], class_names=names,
                           train_seconds=seconds, epochs_run=7, best_epoch=5, train_images=300)
    # lesson 10's model, with a saved rule (mirror averaging, a threshold) that scores otherwise than
    # 0.5 on the average and otherwise than the threshold on one view: so the rule's column is tested
    x_test, y_test = splits.load_xy(split, "test")
    p = _known_p(x_test, (48, 48, 1))
    p_mirror = (p + _known_p(x_test[:, :, ::-1], (48, 48, 1))) / 2

    def accuracy(q, t):
        return np.mean((q >= t) == y_test)

    threshold = next(float(t) for t in np.unique(p_mirror)
                     if accuracy(p_mirror, t) not in (accuracy(p_mirror, 0.5), accuracy(p, t)))
    pretrained = tmp_path / "models" / f"{bench.PRETRAINED}.keras"
    _known_network((48, 48, 1)).save(pretrained)
    model_files.write_facts(pretrained, class_names=names, train_seconds=150.0, pretrain_seconds=60.0, seed=42,
                            epochs_run=9, best_epoch=8, threshold=threshold, flip_average=True)
    x_train, y_train = splits.load_xy(split, "train")
    pipe = make_pipeline(FunctionTransformer(baseline.hog_features), StandardScaler(), LogisticRegression(max_iter=200))
    baseline.save_pipeline(pipe.fit(x_train, y_train), tmp_path / "models" / bench.BASELINE[1])
    monkeypatch.setattr(bench, "_test_pipeline", pipe, raising=False)     # the fitted one, for the expected scores
    _to_tflite(model_files.load_model(tmp_path / "models" / config.OUR_MODEL), tmp_path / "models" / "happy_sad_float32.tflite")
    # lesson 08 writes the mirror choice and threshold beside each .tflite: the 0.5 columns still score one view
    model_files.write_facts(tmp_path / "models" / "happy_sad_float32.tflite", class_names=names,
                            threshold=threshold, flip_average=True)
    return tmp_path


@pytest.fixture(scope="module")
def measured(project):
    """The bench's table of the module's project (measured once: two tests read it)."""
    return bench.measure(repeats=2)


def test_bench_measures_saved_models_and_writes_the_table(project, measured):
    assert bench.missing_steps() == ["05", "08"]   # two TFLite files and lesson 05's threshold missing
    table = measured
    assert list(table.index) == ["original_cnn", "original_cnn_48", "happy_sad_plain", "happy_sad",
                                 "happy_sad_pretrained", "hog_linear", "happy_sad_float32"]
    assert table.index.name == "model"

    # every score against an answer computed here: 0.5 threshold, the test split, one view (and mirrored)
    split = splits.load_split()
    x_test, y_test = splits.load_xy(split, "test")
    n, shape = len(y_test), (48, 48, 1)
    p = _known_p(x_test, shape)
    assert 0.1 < (p >= 0.5).mean() < 0.9                      # the known network says both classes
    assert table.loc["happy_sad", "accuracy"] == pytest.approx(np.mean((p >= 0.5) == y_test), abs=1.01 / n)
    assert table.loc["happy_sad", "balanced_accuracy"] == pytest.approx(
        balanced_accuracy_score(y_test, p >= 0.5), abs=2.01 / n)
    assert table.loc["happy_sad", "roc_auc"] == pytest.approx(roc_auc_score(y_test, p), abs=1e-4)
    p_mirror = (p + _known_p(x_test[:, :, ::-1], shape)) / 2
    assert not np.allclose(p_mirror, p)                          # so the mirrored column is tested
    assert table.loc["happy_sad", "accuracy_mirrored"] == pytest.approx(np.mean((p_mirror >= 0.5) == y_test),
                                                                        abs=1.01 / n)
    # the saved decision rule: lesson 10's model averages with the mirror and cuts at its own threshold
    threshold = model_files.read_facts(project / "models" / f"{bench.PRETRAINED}.keras")["threshold"]
    rule = np.mean((p_mirror >= threshold) == y_test)
    assert table.loc["happy_sad_pretrained", "accuracy_rule"] == pytest.approx(rule, abs=1.01 / n)
    assert table.loc["happy_sad", "accuracy_rule"] == pytest.approx(table.loc["happy_sad", "accuracy"])  # no rule saved
    assert table.loc["happy_sad_pretrained", "pretrain_minutes"] == pytest.approx(1.0)
    assert table.loc["happy_sad_pretrained", "train_minutes"] == pytest.approx(2.5)
    assert pd.isna(table.loc["happy_sad", "pretrain_minutes"])
    assert table.loc["happy_sad_float32", "roc_auc"] == pytest.approx(roc_auc_score(y_test, p), abs=1e-4)
    for column in ("accuracy", "accuracy_mirrored", "accuracy_rule"):    # the TFLite copy scores like its source
        keras_value = table.loc["happy_sad_pretrained" if column == "accuracy_rule" else "happy_sad", column]
        assert table.loc["happy_sad_float32", column] == pytest.approx(keras_value, abs=1.01 / n)
    fitted = bench._test_pipeline.predict(x_test)                # the fitted pipeline, not the saved file
    assert table.loc["hog_linear", "balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y_test, fitted))
    assert (table["n"] == len(y_test)).all()

    # facts of the files and of lessons 03 and 04's .json
    assert table.loc["original_cnn", "input"] == "32x32x3" and table.loc["happy_sad", "input"] == "48x48x1"
    assert table.loc["happy_sad", "params"] == 48 * 48 + 1
    assert table.loc["original_cnn", "train_minutes"] == pytest.approx(10.0)
    assert table.loc["happy_sad", "epochs"] == 7 and table.loc["happy_sad", "best_epoch"] == 5
    assert table.loc["happy_sad", "train_faces_per_s"] == pytest.approx(300 * 7 / 90.0)    # faces x epochs / s
    assert table.loc["happy_sad", "predict_vs_train"] == pytest.approx(
        table.loc["happy_sad", "images_per_s_b64"] / (300 * 7 / 90.0))
    assert pd.isna(table.loc["happy_sad_pretrained", "train_faces_per_s"])     # no train_images saved
    assert table.loc["happy_sad", "saved_mb"] == pytest.approx(
        (project / "models" / config.OUR_MODEL).stat().st_size / 1e6)
    assert list(table["kind"]) == ["Keras", "Keras", "Keras", "Keras", "Keras", "scikit-learn", "TFLite"]
    assert table.loc["happy_sad_plain", "train_minutes"] == pytest.approx(1.0)
    assert (table["images_per_s_b64"] > 0).all() and (table["latency_ms_b1"] > 0).all()

    path = bench.write(table)
    text = path.read_text()
    assert "## Targets" in text and "| happy_sad " in text and "sad_f1" in text
    assert "batch-64 throughput vs original_cnn" in text
    assert "## Targets of the pretrained model" in text and "| happy_sad_pretrained " in text
    saved = pd.read_csv(project / "outputs" / "benchmark.csv", index_col="model")
    assert list(saved.index) == list(table.index)


def test_main_runs_the_missing_lessons_first(project, monkeypatch):
    from tools import run_series
    import os
    calls = []

    def run(only, out_dir=None, status=0):
        calls.append((only, out_dir, os.environ.get("HAPPYSAD_TRAINING_SEED")))
        return status, []

    monkeypatch.setattr(run_series, "run", run)
    monkeypatch.delenv("HAPPYSAD_TRAINING_SEED", raising=False)
    ours = project / "models" / config.OUR_MODEL
    kept = ours.read_bytes()
    ours.unlink()
    try:
        assert bench.missing_steps() == ["02", "03", "04", "05", "08", "10"]
        assert bench.main(["--repeats", "1"]) == 0
        # the missing lessons, then lesson 10 again for each second seed, with its seed and its own outputs
        assert calls == [("02,03,04,05,08,10", None, None),
                         *(("10", project / "outputs" / f"seed{seed}", str(seed)) for seed in bench.SECOND_SEEDS)]
        assert "HAPPYSAD_TRAINING_SEED" not in os.environ
        assert (project / "outputs" / "benchmark.md").exists()

        calls.clear()
        monkeypatch.setattr(run_series, "run", lambda only, out_dir=None: run(only, out_dir, status=1))
        assert bench.main(["--repeats", "1"]) == 1                      # a failing lesson stops the bench
        assert bench.main(["--repeats", "1", "--no-train"]) == 0 and len(calls) == 1
    finally:
        ours.write_bytes(kept)                                          # the module's project, as it was


def test_training_throughput_from_the_saved_facts():
    assert bench.training_throughput({"train_images": 1000, "epochs_run": 30, "train_seconds": 600}) == 50.0
    assert bench.training_throughput({"epochs_run": 30, "train_seconds": 600}) is None


def test_targets_say_which_are_met():
    table = pd.DataFrame({
        "accuracy": [0.80, 0.94, 0.935], "balanced_accuracy": [0.8, 0.935, 0.91],
        "saved_mb": [14.8, 0.8, 0.2], "train_minutes": [30, 9.5, None],
        "images_per_s_b64": [100.0, 450.0, 900.0]},
        index=["original_cnn", "happy_sad", "happy_sad_int8"])
    result = bench.targets(table)
    assert result["met"].to_dict() == {
        "test accuracy (0.5 threshold)": True, "test balanced accuracy": True,
        "saved .keras size (MB)": True, "training wall time (min)": True,
        "batch-64 throughput vs original_cnn": False,                          # 4.5x < 5x
        "int8 TFLite accuracy loss": True}
    assert result.loc["batch-64 throughput vs original_cnn", "measured"] == pytest.approx(4.5)
    assert result.loc["int8 TFLite accuracy loss", "measured"] == pytest.approx(0.005)
    slow = table.assign(train_minutes=[30, 10.5, None], accuracy=[0.8, 0.93, 0.80])
    result = bench.targets(slow)
    assert not result.loc["training wall time (min)", "met"]
    assert not result.loc["test accuracy (0.5 threshold)", "met"]
    assert not result.loc["int8 TFLite accuracy loss", "met"]
    assert "batch-64 throughput vs original_cnn" not in bench.targets(table.drop("original_cnn")).index


def test_photo_rows_score_every_web_photo_once_per_detector(project, measured):
    """Plain images have no face: each gets the whole-image answer, scored by its folder. The known
    network calls the dark ones class 0 (happy) and the bright ones class 1 (sad): one is misfiled."""
    from PIL import Image
    web = project / "data" / "web"
    for name, values in (("happy", (20, 21, 235)), ("sad", (235, 236, 237))):
        (web / name).mkdir(parents=True)
        for i, value in enumerate(values):
            Image.fromarray(np.full((80, 60, 3), value, np.uint8)).save(web / name / f"{i}.png")
    rows = bench.photo_rows()
    assert list(rows.index) == ["web photos, mtcnn", "web photos, haar"]
    assert (rows["photos"] == 6).all() and (rows["faces_found"] == 0).all()
    assert (rows["accuracy"] == 5 / 6).all() and (rows["accuracy_whole_image"] == 5 / 6).all()
    assert rows["accuracy_face_found"].isna().all() and (rows["ms_per_photo"] > 0).all()
    text = bench.write(measured, photos=rows).read_text()
    assert "## Photos end to end" in text and "web photos, haar" in text
