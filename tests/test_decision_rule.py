"""A retrained model's facts start fresh: lessons 03 and 04 drop the threshold and mirror choice that
lesson 05 chose for the model they replace (``predict``, lesson 08 and lesson 09 read them).

Nothing is trained: the test runs lesson 03's own ``keep_best`` (the code that saves every trained
model and its facts, lesson 04 imports it from helpers/lessons.py) on a tiny untrained model with a
stale facts file beside it.
"""
import ast
import types
from pathlib import Path

import keras
import nbformat
import numpy as np
import pandas as pd

from helpers import config, model_files, splits

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
LESSON_03, LESSON_04 = NOTEBOOKS / "03_train.ipynb", NOTEBOOKS / "04_better_recipe.ipynb"
STALE = {"threshold": 0.441, "flip_average": True,                 # what lesson 05 writes
         "threshold_criterion": "max balanced_accuracy on the validation split"}


def lesson_code(*lessons) -> list[str]:
    return [c.source for lesson in lessons for c in nbformat.read(lesson, as_version=4).cells if c.cell_type == "code"]


def test_write_facts_fresh_drops_every_older_fact(tmp_path):
    path = tmp_path / "happy_sad.keras"
    model_files.write_facts(path, class_names=["happy", "sad"], epochs_run=40, **STALE)
    assert model_files.write_facts(path, threshold=0.3)["epochs_run"] == 40          # a plain write merges
    assert model_files.write_facts(path, fresh=True, epochs_run=3) == {"epochs_run": 3}
    assert model_files.read_facts(path) == {"epochs_run": 3}


def test_lesson_03_retrain_clears_the_stale_threshold(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "ROOT", tmp_path)          # models_dir(): tmp_path/models/fast, not the project's
    monkeypatch.setenv("HAPPYSAD_FAST", "1")
    config.make_dirs()                                     # as notebook.setup() does
    path = config.models_dir() / config.OUR_MODEL
    keras.Sequential([keras.Input((48, 48, 1)), keras.layers.GlobalAveragePooling2D(),
                      keras.layers.Dense(1, activation="sigmoid")]).save(path)   # the checkpoint fit left
    model_files.write_facts(path, class_names=["happy", "sad"], epochs_run=40, **STALE)  # the previous model's
    lesson = {"config": config, "model_files": model_files, "pd": pd, "splits": splits}
    exec(next(code for code in lesson_code(LESSON_03) if "def keep_best(" in code), lesson)
    fit = types.SimpleNamespace(history={"loss": [0.7, 0.6], "val_loss": [0.69, 0.65]})
    split = pd.DataFrame({"label": [0, 1] * 7, "class": ["happy", "sad"] * 7, "split": ["train"] * 10 + ["val"] * 4})
    lesson["keep_best"]("happy_sad", fit, 12.3, (48, 48, 1), split)
    facts = model_files.read_facts(path)
    assert not set(STALE) & set(facts), facts
    assert facts["epochs_run"] == 2 and facts["best_epoch"] == 2 and facts["input_shape"] == [48, 48, 1]
    assert facts["class_names"] == ["happy", "sad"] and facts["train_images"] == 10 and facts["val_images"] == 4


def test_every_model_lessons_03_and_04_save_gets_fresh_facts():
    cells = lesson_code(LESSON_03, LESSON_04)
    calls = [node for code in cells for node in ast.walk(ast.parse(code))
             if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "write_facts"]
    assert calls, "lesson 03 no longer writes facts"
    for call in calls:
        assert any(k.arg == "fresh" and getattr(k.value, "value", None) is True for k in call.keywords), \
            f"lesson 03 line {call.lineno}: write_facts without fresh=True keeps an older model's threshold"
    # Every training cell that checkpoints into models/ (make_callbacks) also runs keep_best.
    trains = [code for code in cells if "make_callbacks(" in code and "def make_callbacks(" not in code]
    assert trains and all("keep_best(" in code for code in trains)


# ---------------------------------------------------------------- the one decision rule

class OnTheThreshold:
    """A predictor whose every answer is exactly its threshold: the rule must say class 1."""
    threshold, flip, class_names, input_shape = 0.25, False, ["happy", "sad"], (48, 48, 1)

    def predict_proba(self, images):
        return np.full(len(images), 0.25, np.float32)


def test_a_probability_on_the_threshold_is_class_1():
    assert model_files.decide(0.25, 0.25) == 1 and model_files.decide(0.2499, 0.25) == 0
    np.testing.assert_array_equal(model_files.decide(np.array([0.1, 0.5, 0.9]), 0.5), [0, 1, 1])
    assert model_files.decide(0.5) == 1                              # the default threshold is 0.5


def test_every_answer_uses_the_decision_rule():
    from helpers import evaluation, plots, predict
    y, p = np.array([1, 1, 0, 0]), np.array([0.25, 0.25, 0.1, 0.1])
    assert evaluation.scores(y, p, threshold=0.25)["accuracy"] == 1.0          # 0.25 -> class 1, 0.1 -> class 0
    mistakes = evaluation.confident_mistakes(pd.DataFrame({"label": [0, 1]}), [0.25, 0.2], threshold=0.25)
    assert list(mistakes.sort_index()["predicted"]) == ["sad", "happy"]
    figure = plots.confusion_matrix(y, p, threshold=0.25)
    assert "2\n100%" in [text.get_text() for text in figure.axes[0].texts]
    face = predict.predict_faces(OnTheThreshold(), np.full((48, 48, 3), 128, np.uint8), faces="off")[0]
    assert face["label"] == "sad" and face["class_index"] == 1 and face["threshold"] == 0.25
