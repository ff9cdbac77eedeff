"""helpers.predict: faces in photos -> label + P(class 1), and ``python -m helpers predict``.

The models are tiny and built here with known weights, so each test knows the right
answer: one says "class 1" for bright images, one reads only the red channel, one always
says P(class 1) = 0.6 (to show which threshold decides). TFLite files: tests/test_tflite.py.
"""
from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from helpers import config, data, model_files, predict

WEB = config.data_dir() / "web"
needs_web = pytest.mark.skipif(not (WEB / "happy").is_dir(),
                               reason=f"real web photos not found at {WEB}: set HAPPYSAD_DATA")


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _save(model, path: Path) -> Path:
    model.save(path)
    return path


@pytest.fixture(scope="module")
def bright_model(tmp_path_factory) -> Path:
    """P(class 1) = sigmoid(20 * mean brightness - 10): bright -> class 1, dark -> class 0."""
    model = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Rescaling(1 / 255),
                              keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.layers[-1].set_weights([np.array([[20.0]]), np.array([-10.0])])
    return _save(model, tmp_path_factory.mktemp("models") / "bright.keras")


@pytest.fixture(scope="module")
def red_model(tmp_path_factory) -> Path:
    """Looks at the RED channel only: P(class 1) = sigmoid(20 * mean red - 10)."""
    model = keras.Sequential([keras.Input((8, 8, 3)),
                              keras.layers.Conv2D(1, 1, use_bias=False), keras.layers.Rescaling(1 / 255),
                              keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.layers[0].set_weights([np.array([1.0, 0.0, 0.0]).reshape(1, 1, 3, 1)])
    model.layers[-1].set_weights([np.array([[20.0]]), np.array([-10.0])])
    return _save(model, tmp_path_factory.mktemp("models") / "red.keras")


@pytest.fixture
def constant_model(tmp_path) -> Path:
    """P(class 1) = 0.6 for every image, saved WITHOUT facts beside it."""
    model = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.layers[-1].set_weights([np.zeros((1, 1)), np.array([np.log(0.6 / 0.4)])])
    return _save(model, tmp_path / "constant.keras")


def _png(path: Path, array) -> Path:
    Image.fromarray(np.asarray(array, np.uint8)).save(path)
    return path


def _uniform(value, shape=(64, 64, 3)):
    return np.full(shape, value, np.uint8)


# ----------------------------------------------------------------------------- predictors
def test_load_predictor_keras_path(bright_model):
    predictor = predict.load_predictor(bright_model)
    assert predictor.input_shape == (16, 16, 1)
    p = predictor.predict_proba(np.stack([_uniform(255, (16, 16, 1)), _uniform(0, (16, 16, 1))]))
    np.testing.assert_allclose(p, [_sigmoid(10), _sigmoid(-10)], rtol=1e-4)
    assert predict.load_predictor(predictor) is predictor          # a predictor passes through
    assert predictor.class_names is None                            # no facts saved beside it
    assert (predictor.threshold, predictor.threshold_source) == (0.5, "default 0.5")


def test_load_predictor_in_memory_model():
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(1, activation="sigmoid")])
    predictor = predict.load_predictor(model)
    assert predictor.input_shape == (4, 4, 1) and predictor.threshold == 0.5


def test_load_predictor_missing_or_wrong_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="03"):
        predict.load_predictor(tmp_path / "missing.keras")
    with pytest.raises(FileNotFoundError, match="08"):
        predict.load_predictor(tmp_path / "missing.tflite")
    with pytest.raises(ValueError, match=".keras or .tflite"):
        predict.load_predictor(tmp_path / "model.h5")


# ----------------------------------------------------------------------------- the saved threshold
def test_predict_uses_the_saved_threshold(constant_model):
    """Issue 10: lesson 05 saves its threshold beside the model; predict must use it."""
    [face] = predict.predict_faces(constant_model, _uniform(100), "off", ("happy", "sad"))
    assert face["p_class1"] == pytest.approx(0.6, abs=1e-5)
    assert face["label"] == "sad" and face["threshold"] == 0.5          # no facts: 0.5
    model_files.write_facts(constant_model, threshold=0.99, class_names=["happy", "sad"])
    predictor = predict.load_predictor(constant_model)
    assert (predictor.threshold, predictor.threshold_source) == (0.99, "saved")
    assert predictor.class_names == ("happy", "sad")
    [face] = predict.predict_faces(constant_model, _uniform(100), "off")
    assert face["label"] == "happy" and face["threshold"] == 0.99       # P = 0.6 < 0.99
    # an explicit threshold still wins
    [face] = predict.predict_faces(predictor, _uniform(100), "off", threshold=0.5)
    assert face["label"] == "sad"


def test_cli_reports_the_threshold_it_used(constant_model, tmp_path, capsys):
    photo = _png(tmp_path / "face.png", _uniform(100))
    args = [str(photo), "--model", str(constant_model), "--faces", "off"]
    assert predict.main(args + ["--json"]) == 0
    captured = capsys.readouterr()
    [record] = json.loads(captured.out)
    assert record["label"] == "sad" and record["p_sad"] == pytest.approx(0.6, abs=1e-4)
    assert (record["threshold"], record["threshold_source"]) == (0.5, "default 0.5")
    assert "no threshold saved" in captured.err and "05" in captured.err
    assert predict.main(args) == 0                                       # text output says so too
    captured = capsys.readouterr()
    assert "default 0.5" in captured.out and "no threshold saved" in captured.err

    model_files.write_facts(constant_model, threshold=0.99, class_names=["happy", "sad"])
    assert predict.main(args + ["--json"]) == 0
    captured = capsys.readouterr()
    [record] = json.loads(captured.out)
    assert record["label"] == "happy"
    assert (record["threshold"], record["threshold_source"]) == (0.99, "saved")
    assert "no threshold saved" not in captured.err
    assert predict.main(args + ["--threshold", "0.5"]) == 0
    out = capsys.readouterr().out
    assert " sad " in out and "threshold 0.50, --threshold" in out


# ----------------------------------------------------------------------------- predict_faces
def test_label_follows_brightness_and_threshold(bright_model):
    bright, dark = _uniform(230), _uniform(20)
    [face] = predict.predict_faces(bright_model, bright, "off", ("happy", "sad"))
    assert face["label"] == "sad" and face["class_index"] == 1
    assert face["p_sad"] == face["p_class1"] == pytest.approx(_sigmoid(20 * 230 / 255 - 10), rel=1e-3)
    assert face["probability"] == pytest.approx(face["p_class1"])
    assert face["box"] == (0, 0, 64, 64)
    [face] = predict.predict_faces(bright_model, dark, "off", ("happy", "sad"))
    assert face["label"] == "happy" and face["probability"] == pytest.approx(1 - face["p_class1"])
    # the threshold decides, not a word: P = 0.9997 at brightness 230 is "happy" at 0.9999
    [face] = predict.predict_faces(bright_model, bright, "off", ("happy", "sad"), threshold=0.9999)
    assert face["label"] == "happy"


def test_class_names_come_from_argument_then_sidecar(bright_model, tmp_path):
    [face] = predict.predict_faces(bright_model, _uniform(230), "off", ("cat", "dog"))
    assert face["label"] == "dog" and "p_dog" in face
    model = tmp_path / "pets.keras"
    model.write_bytes(bright_model.read_bytes())
    (tmp_path / "pets.json").write_text(json.dumps({"class_names": ["cat", "dog"]}))
    [face] = predict.predict_faces(model, _uniform(20), "off")
    assert face["label"] == "cat"


def test_default_class_names_are_sorted_folders():
    names = predict.default_class_names()
    assert list(names) == sorted(names) and len(names) == 2


def test_default_class_names_without_data_come_from_the_synthetic_demo(tmp_path, monkeypatch):
    """A fresh clone with no data: the names come from the demo the series runs on (data.locate())."""
    from helpers import synthetic
    make_demo = synthetic.make_demo
    monkeypatch.setattr(synthetic, "make_demo", lambda root: make_demo(root, n_train=1, n_test=1, n_web=2))
    monkeypatch.setattr(config, "ROOT", tmp_path)                 # the demo goes to tmp_path/data/synthetic
    monkeypatch.setenv("HAPPYSAD_DATA", str(tmp_path / "empty"))  # no real data there
    assert predict.default_class_names() == synthetic.CLASSES
    assert data.locate().synthetic


def test_no_face_found_classifies_the_whole_image(bright_model):
    predictor = predict.load_predictor(bright_model)            # loaded once (a path is loaded per call)
    for model, mode in ((bright_model, "largest"), (predictor, "all")):
        [face] = predict.predict_faces(model, _uniform(230, (120, 90, 3)), mode)
        assert face["face"] == "whole image" and face["box"] == (0, 0, 90, 120)
        assert face["label"] == "sad"                          # bright: the model's class 1
    [face] = predict.predict_faces(predictor, _uniform(20, (120, 90, 3)), "largest", detector="haar")
    assert face["face"] == "whole image" and face["label"] == "happy"
    # strict: only detected faces get an answer
    assert predict.predict_faces(predictor, _uniform(128, (120, 120, 3)), whole_image=False) == []
    with pytest.raises(ValueError, match="faces must be one of"):
        predict.predict_faces(predictor, _uniform(128), "some")


def test_saved_flip_choice_averages_with_the_mirror_image(tmp_path):
    """A model that reads only the left half: with flip averaging it sees both halves."""
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 255),
                              keras.layers.Cropping2D(((0, 0), (0, 4))),      # keep the left half
                              keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.layers[-1].set_weights([np.array([[20.0]]), np.array([-10.0])])
    path = _save(model, tmp_path / "left.keras")
    half = np.zeros((8, 8, 1), np.uint8)
    half[:, :4] = 255                                          # left half white, right half black
    plain = predict.load_predictor(path)
    assert not plain.flip and plain.predict_proba(half)[0] > 0.99
    (tmp_path / "left.json").write_text(json.dumps({"flip_average": True}))
    flipped = predict.load_predictor(path)
    both = (_sigmoid(10.0) + _sigmoid(-10.0)) / 2               # the mean of the two answers
    assert flipped.flip and flipped.predict_proba(half)[0] == pytest.approx(both, abs=1e-4)


def test_red_reaches_the_model_as_red(red_model, tmp_path):
    red, blue = _uniform(0), _uniform(0)
    red[..., 0], blue[..., 2] = 255, 255
    # to_model_input keeps channel order
    x = np.asarray(data.to_model_input(red, (8, 8, 3)))
    assert x.shape == (1, 8, 8, 3) and (x[..., 0] == 255).all() and (x[..., 2] == 0).all()
    # a red PNG read from disk and predicted: the red-reading model sees red
    [face] = predict.predict_file(red_model, _png(tmp_path / "red.png", red), faces="off")
    assert face["p_class1"] > 0.99
    [face] = predict.predict_file(red_model, _png(tmp_path / "blue.png", blue), faces="off")
    assert face["p_class1"] < 0.01
    # a JPEG too (Pillow decodes RGB; cv2.imread would hand over BGR and flip the answer)
    Image.fromarray(red).save(tmp_path / "red.jpg", quality=95)
    [face] = predict.predict_file(red_model, tmp_path / "red.jpg", faces="off")
    assert face["p_class1"] > 0.99


def test_gray_photo_feeds_an_rgb_model(red_model):
    [face] = predict.predict_faces(red_model, _uniform(255, (20, 20, 1)), "off")
    assert face["p_class1"] > 0.99


# ----------------------------------------------------------------------------- command line
@pytest.fixture
def photo_folder(tmp_path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    _png(folder / "bright.png", _uniform(230))        # no face, but bright: "sad" with --faces off
    _png(folder / "dark.png", _uniform(20))           # no face, dark: "happy" with --faces off
    (folder / "notes.txt").write_text("not a picture")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (folder / "poster.jpg").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 9 9\n")  # PostScript
    _png(folder / ".hidden.png", _uniform(230))       # hidden files are skipped
    return folder


def test_cli_faces_off(bright_model, photo_folder, capsys):
    rc = predict.main([str(photo_folder), "--model", str(bright_model), "--faces", "off"])
    out = capsys.readouterr().out
    assert rc == 0
    lines = {Path(line.split(":")[0]).name: line for line in out.strip().splitlines()}
    assert set(lines) == {"bright.png", "dark.png", "notes.txt", "broken.jpg", "poster.jpg"}
    assert "box=(0,0,64,64)" in lines["bright.png"] and " sad " in lines["bright.png"]
    assert "P(sad)=1.00" in lines["bright.png"]
    assert " happy " in lines["dark.png"] and "P(sad)=0.00" in lines["dark.png"]
    assert lines["notes.txt"].endswith("not an image")
    assert lines["broken.jpg"].endswith("not an image")      # the cleaning lesson's words
    assert lines["poster.jpg"].endswith("poster.jpg: not an image")   # never handed to Ghostscript
    assert "Traceback" not in out


def test_cli_threshold(bright_model, photo_folder, capsys):
    assert predict.main([str(photo_folder / "bright.png"), "--model", str(bright_model),
                         "--faces", "off", "--threshold", "0.9999"]) == 0
    assert " happy " in capsys.readouterr().out


def test_cli_faceless_images_get_a_whole_image_answer(bright_model, photo_folder, capsys):
    rc = predict.main([str(photo_folder), "--model", str(bright_model), "--detector", "haar"])
    captured = capsys.readouterr()
    assert rc == 0
    assert "bright.png: whole image (no face found) sad" in captured.out
    assert "dark.png: whole image (no face found) happy" in captured.out
    assert "notes.txt: not an image" in captured.out
    rc = predict.main([str(photo_folder), "--model", str(bright_model), "--json"])
    records = {Path(r["file"]).name: r for r in json.loads(capsys.readouterr().out)}
    assert records["bright.png"]["face"] == "whole image" and records["bright.png"]["detector"] == "mtcnn"


def test_cli_strict_answers_only_detected_faces(bright_model, photo_folder, capsys):
    rc = predict.main([str(photo_folder), "--model", str(bright_model), "--strict"])
    captured = capsys.readouterr()
    assert rc == 1                                     # nothing could be predicted
    assert "bright.png: no face found" in captured.out
    assert "nothing could be predicted (no readable image with a face)" in captured.err


def test_cli_json(bright_model, photo_folder, capsys):
    rc = predict.main([str(photo_folder), str(photo_folder / "missing.png"), "--model",
                       str(bright_model), "--faces", "off", "--json"])
    records = json.loads(capsys.readouterr().out)
    assert rc == 0
    by_name = {Path(r["file"]).name: r for r in records}
    assert by_name["bright.png"]["label"] == "sad" and by_name["bright.png"]["box"] == [0, 0, 64, 64]
    assert by_name["bright.png"]["p_sad"] > 0.99
    assert by_name["notes.txt"]["error"] == "not an image"
    assert by_name["missing.png"]["error"] == "no such file"


def test_cli_missing_model_says_which_notebook(tmp_path, capsys):
    rc = predict.main([str(tmp_path), "--model", str(tmp_path / "nope.keras")])
    assert rc == 2 and "03" in capsys.readouterr().err


@pytest.mark.parametrize("name,words", [
    ("junk.keras", "is not a .keras model file (a zip archive Keras writes): run notebook 03_train"),
    ("junk.tflite", "is not a .tflite model file (TFLiteConverter's FlatBuffer): run notebook 08"),
    ("missing.keras", "is missing"),
])
def test_cli_bad_model_file_is_one_line(tmp_path, capsys, name, words):
    """Random bytes were "File not found" (.keras) or "'utf-8' codec can't decode" (.tflite)."""
    photo = _png(tmp_path / "face.png", _uniform(100))
    model = tmp_path / name
    if not name.startswith("missing"):
        model.write_bytes(np.random.default_rng(0).bytes(4096))
    assert predict.main([str(photo), "--model", str(model), "--faces", "off"]) == 2
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line.startswith("error: ") and str(model) in line and words in line
    assert "Traceback" not in captured.err and "codec" not in line and captured.out == ""


def test_cli_through_the_dispatcher(bright_model, photo_folder, capsys):
    from helpers.__main__ import main
    assert main(["predict", str(photo_folder / "dark.png"), "--model", str(bright_model),
                 "--faces", "off"]) == 0
    assert "happy" in capsys.readouterr().out


# ----------------------------------------------------------------------------- a real photo
def _web_photo_with_face() -> Path | None:
    from helpers import faces
    preferred = WEB / "happy" / "60632274._UY200_.jpg"
    candidates = [preferred] + data.image_files(WEB / "happy")[:30]
    for path in candidates:
        if path.is_file() and faces.detect_faces(data.read_image(path)):
            return path
    return None


@needs_web
def test_real_web_photo_gets_a_box(bright_model, capsys):
    photo = _web_photo_with_face()
    assert photo is not None, "no face found in the first 30 happy web photos"
    faces = predict.predict_file(bright_model, photo, faces="all")
    assert len(faces) >= 1
    x, y, w, h = faces[0]["box"]
    height, width = data.read_image(photo).shape[:2]
    assert w > 20 and h > 20 and x + w <= width and y + h <= height
    assert faces[0]["face"] == "detected" and len(faces[0]["eyes"]) == 2   # MTCNN's landmarks
    assert predict.main([str(photo), "--model", str(bright_model), "--json"]) == 0
    [record] = json.loads(capsys.readouterr().out)
    assert record["box"] == list(faces[0]["box"]) and record["face"] == "detected"


@needs_web
def test_photos_with_faces_picks_readable_photos_with_a_face(tmp_path):
    (tmp_path / "notes.txt").write_text("not a picture")
    blank = _png(tmp_path / "blank.png", _uniform(128))
    photo = _web_photo_with_face()
    picked = predict.photos_with_faces([tmp_path / "notes.txt", blank, photo, photo], n=1)
    assert picked == [photo]
    assert predict.photos_with_faces([blank], n=3) == []


def test_cli_reads_a_16_bit_photo_as_cleaning_does(bright_model, tmp_path, capsys):
    # A dark 16-bit gray PNG (5000 of 65535, about 19 of 255). Read with a plain RGB
    # conversion its values clip to 255 and it looks white; the safe decoder scales it.
    from PIL import Image
    Image.fromarray(np.full((64, 64), 5000, np.uint16)).save(tmp_path / "dark16.png")
    assert predict.main([str(tmp_path / "dark16.png"), "--model", str(bright_model),
                         "--faces", "off", "--json"]) == 0
    [record] = json.loads(capsys.readouterr().out)
    assert record["label"] == "happy" and record["p_sad"] < 0.5


# ----------------------------------------------------------------------------- predict --explain

@pytest.fixture(scope="module")
def relu_model(tmp_path_factory) -> Path:
    """A small convolutional network with a ReLU (the layer Grad-CAM reads), saved with its facts."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Rescaling(1 / 255),
                              keras.layers.Conv2D(4, 3, padding="same"), keras.layers.ReLU(),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1, activation="sigmoid")])
    path = _save(model, tmp_path_factory.mktemp("models") / "relu.keras")
    model_files.write_facts(path, class_names=["happy", "sad"], threshold=0.5)
    return path


def test_explain_writes_the_box_the_answer_and_the_map(relu_model, tmp_path, capsys):
    from helpers import plots, synthetic
    canvas = Image.new("RGB", (640, 400), (200, 200, 200))
    canvas.paste(synthetic.web_face(np.random.default_rng(0), happy=False), (250, 100))   # MTCNN finds it
    photo = tmp_path / "class photo.png"
    canvas.save(photo)
    assert predict.main([str(photo), "--model", str(relu_model), "--explain", "--out", str(tmp_path / "out"),
                         "--json"]) == 0
    [record] = json.loads(capsys.readouterr().out)
    assert record["picture"] == str(tmp_path / "out" / "class photo.explained.png")
    picture = Image.open(record["picture"])
    assert picture.text["Title"].startswith(f"{record['label']} P(sad)={record['p_sad']:.2f} (threshold 0.50)")
    image = np.asarray(picture.convert("RGB"))
    scale, strip = 480 / 400, 36                            # the photo is scaled to 480 pixels, under a title strip
    x, y, w, h = (round(v * scale) for v in record["box"])
    colour = plots.class_rgb(["happy", "sad"].index(record["label"]))
    top_edge = image[strip + y, x + 5:x + w - 5]
    assert (top_edge == colour).all()                       # the box is drawn where the face is
    assert (image[strip + y + h // 2, x + w // 2] != colour).any()      # ... and not filled
    assert image.shape[1] > round(640 * scale)              # the Grad-CAM panel sits beside the photo


def test_explain_needs_a_keras_model(tmp_path, capsys, monkeypatch):
    class Lite:                       # what a .tflite predictor offers: answers, no Keras model
        threshold, threshold_source, flip, class_names = 0.5, "saved", False, ["happy", "sad"]
    monkeypatch.setattr(predict, "load_predictor", lambda path: Lite())
    photo = _png(tmp_path / "face.png", _uniform(120))
    assert predict.main([str(photo), "--model", "happy_sad_int8.tflite", "--explain"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--explain draws Grad-CAM" in err and "happy_sad_int8.tflite" in err
