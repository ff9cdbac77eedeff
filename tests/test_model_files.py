"""helpers.model_files: safe loading, the facts beside a model, the layer table.

The networks themselves are lesson 02's code (tested by nbval and the notebook's
asserts); here small models are built only to exercise the helpers: what loads,
what is refused, and the facts kept beside a model.
"""
import json
import zipfile

import keras
import numpy as np
import pytest
from keras import layers

from helpers import config, model_files


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
    loaded = model_files.load_model(path)
    assert np.allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_load_model_refuses_code_in_the_file(tmp_path):
    # A Lambda layer carries Python code (pickled bytecode); safe mode must refuse it, not run it.
    ran = tmp_path / "ran"                                       # the code in the file would create it
    code = eval(f"lambda x: x * 2 + 0 * len(str(__import__('pathlib').Path({str(ran)!r}).touch()))")
    model = keras.Sequential([keras.Input(shape=(2,)), layers.Lambda(code)])
    path = tmp_path / "lambda.keras"
    model.save(path)
    ran.unlink(missing_ok=True)
    with pytest.raises(ValueError, match="(?i)safe"):
        model_files.load_model(path)
    assert not ran.exists()


@pytest.mark.parametrize("name", ["tiny.h5", "tiny.hdf5", "tiny.weights.h5", "tiny.tflite", "tiny"])
def test_load_model_refuses_anything_but_a_keras_file(tmp_path, name):
    # .h5 files ignore safe mode (CVE-2025-9905); a SavedModel folder is not a Keras 3 model either.
    path = tmp_path / name
    if name.endswith("h5"):
        tiny_model().save_weights(path) if ".weights." in name else tiny_model().save(path)
    else:
        path.mkdir() if name == "tiny" else path.write_bytes(b"TFL3")
    with pytest.raises(ValueError) as error:
        model_files.load_model(path)
    assert str(error.value) == (f"{path}: only .keras files load here (Keras safe mode): "
                                "use the .keras files lessons 03 and 04 save.")


def test_load_model_names_the_notebook_to_run(tmp_path):
    with pytest.raises(config.MissingStepError, match="03_train"):
        model_files.load_model(tmp_path / "missing.keras")
    with pytest.raises(config.MissingStepError, match="02_build_the_network"):
        model_files.load_model(tmp_path / "missing.keras", notebook="02_build_the_network")
    with pytest.raises(config.MissingStepError, match="04_better_recipe"):   # config.MODELS: who writes it
        model_files.load_model(tmp_path / config.OUR_MODEL)
    assert config.written_by("happy_sad_plain.keras") == "03_train" and config.written_by("x.keras") == "03_train"


def test_load_model_says_when_a_file_is_not_a_keras_model(tmp_path):
    junk = tmp_path / "junk.keras"
    junk.write_bytes(np.random.default_rng(0).bytes(4096))        # Keras itself: "File not found"
    foreign = tmp_path / "foreign.keras"
    with zipfile.ZipFile(foreign, "w") as archive:                  # a zip, but not Keras's
        archive.writestr("notes.txt", "hello")
    for path in (junk, foreign):
        with pytest.raises(ValueError) as error:
            model_files.load_model(path)
        assert str(error.value) == (f"{path} is not a .keras model file (a zip archive Keras "
                                    "writes): run notebook 03_train again, or download it again.")


def test_facts_merge_and_sit_beside_the_model(tmp_path):
    path = tmp_path / "net.keras"
    assert model_files.read_facts(path) == {}
    model_files.write_facts(path, class_names=["happy", "sad"], epochs_run=3)
    facts = model_files.write_facts(path, threshold=0.42)
    assert facts == {"class_names": ["happy", "sad"], "epochs_run": 3, "threshold": 0.42}
    assert json.loads((tmp_path / "net.json").read_text()) == facts
    assert model_files.read_facts(tmp_path / "net.tflite") == facts   # a TFLite file shares the facts


def test_fresh_facts_drop_an_older_models_threshold_and_mirror_choice(tmp_path):
    # Lesson 03 retrains: lesson 05's threshold and flip_average belong to the old model.
    path = tmp_path / "net.keras"
    model_files.write_facts(path, class_names=["happy", "sad"], epochs_run=3, threshold=0.42, flip_average=True)
    facts = model_files.write_facts(path, fresh=True, class_names=["happy", "sad"], epochs_run=9)
    assert facts == model_files.read_facts(path) == {"class_names": ["happy", "sad"], "epochs_run": 9}
    assert model_files.write_facts(path, threshold=0.37)["epochs_run"] == 9     # later updates still merge


def test_layer_table_counts_every_parameter():
    model = tiny_model()
    table = model_files.layer_table(model)
    assert table["parameters"].sum() == model.count_params() == 3 * 3 * 2 + 2 + 2 + 1
    assert table["share"].sum() == pytest.approx(1.0)
    assert table.loc[model.layers[1].name, "output shape"] == (6, 6, 2)


@pytest.mark.parametrize("text", ["", "{not json", "[1, 2]"])
def test_a_broken_facts_file_is_named(tmp_path, text):
    model_files.facts_path(tmp_path / "happy_sad.keras").write_text(text)
    with pytest.raises(ValueError, match=r"happy_sad\.json: not a facts file this series wrote") as raised:
        model_files.read_facts(tmp_path / "happy_sad.keras")
    assert "(04_better_recipe;" in str(raised.value)        # the notebook config.MODELS says writes it


def test_the_models_are_listed_once(monkeypatch, tmp_path):
    """config.MODELS names every model file; the bench reads it; lesson 10's second seed has its suffix."""
    from tools import bench
    monkeypatch.setattr(config, "ROOT", tmp_path)
    assert [m.name for m in config.models("network")] == ["original_cnn", "original_cnn_48", "happy_sad_plain",
                                                       "happy_sad"]
    assert [(m.name, m.file) for m in config.models("network")] == bench.NETWORKS
    assert [f"happy_sad_{mode}.tflite" for mode in config.TFLITE_MODES] == bench.TFLITE
    pretrained = config.MODELS["happy_sad_pretrained"]
    assert pretrained.path().name == bench.pretrained_file()
    assert bench.pretrained_file() == "happy_sad_pretrained.keras"
    assert pretrained.path(7).name == bench.pretrained_file(7)
    assert bench.pretrained_file(7) == "happy_sad_pretrained_seed7.keras"
    assert config.MODELS["happy_sad"].path(7).name == config.OUR_MODEL == "happy_sad.keras"   # only 10's has seeds
    assert all(m.path().parent == config.models_dir() for m in config.MODELS.values())
