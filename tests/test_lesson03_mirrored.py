"""Lesson 03's training cells run unchanged under MirroredStrategy (here on the CPU).

On a machine with several GPUs the lesson builds and compiles inside a MirroredStrategy's scope.
This test runs the lesson's own cells (the tf.data chain, the callbacks, the plain run, the recipe,
the comparison) in this process on a few generated faces, with that strategy forced on the CPU.
No notebook is executed (nbval runs 03 itself) and nothing is written under the project's models/.
"""
from pathlib import Path

import matplotlib
import nbformat
import numpy as np
import pandas as pd
import tensorflow as tf
from PIL import Image

from conftest import face
from helpers import config, data, model_files, plots, splits

matplotlib.use("Agg")
LESSON_03 = Path(__file__).resolve().parents[1] / "notebooks" / "03_train.ipynb"
# Lesson 03's code cells this test runs, in the lesson's order, each named by a line it contains.
CELLS = ["keras_loss = ", "def make_dataset(", "compute_class_weight(", "strategy = ", "def keep_best(",
         "class TimeBudget(", "plain = untrained(", "CosineDecay(", "AdamW(0.1", "LABEL_SMOOTHING = ",
         "EMA_MOMENTUM = ", "SwapEMAWeights(", "rate_at_stop = ", "roc_auc_score("]


def tiny_rows(folder: Path, part: str, per_class: int, rng) -> pd.DataFrame:
    """``per_class`` generated 48x48 faces of each class in ``folder``, as the split's rows."""
    rows = []
    for label in (0, 1):
        for i in range(per_class):
            file = folder / f"{part}_{label}_{i}.png"
            Image.fromarray(face(label, rng)).save(file)
            rows.append({"file": str(file), "label": label})
    return pd.DataFrame(rows)


def test_lesson_03_trains_under_mirrored_strategy(tmp_path, monkeypatch):
    import keras
    monkeypatch.setattr(config, "ROOT", tmp_path)          # models/, outputs/ go to tmp_path
    monkeypatch.setenv("HAPPYSAD_FAST", "1")
    config.make_dirs()                                     # as notebook.setup() does
    keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Rescaling(1 / 255), keras.layers.Conv2D(4, 3),
                      keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1, activation="sigmoid")],
                     name="happy_sad").save(config.untrained_dir() / config.OUR_MODEL)   # stands in for lesson 02's
    rng = np.random.default_rng(0)
    (tmp_path / "faces").mkdir()
    lesson = {"np": np, "pd": pd, "tf": tf, "keras": keras, "plt": matplotlib.pyplot, "time": __import__("time"),
              "config": config, "data": data, "splits": splits, "model_files": model_files, "plots": plots,
              "class_names": ["happy", "sad"],
              "train_rows": tiny_rows(tmp_path / "faces", "train", 8, rng),
              "val_rows": tiny_rows(tmp_path / "faces", "val", 4, rng),
              "histories": {}, "BATCH_SIZE": config.BATCH_SIZE}
    sources = [c.source for c in nbformat.read(LESSON_03, as_version=4).cells if c.cell_type == "code"]
    for marker in CELLS:
        exec(next(code for code in sources if marker in code), lesson)
        if marker == "strategy = ":                         # what a machine with several GPUs would pick
            lesson["strategy"] = tf.distribute.MirroredStrategy(["/cpu:0"])
            lesson["global_batch"] = lesson["BATCH_SIZE"] * lesson["strategy"].num_replicas_in_sync

    for model in (lesson["plain"], lesson["happy_sad"]):    # built and trained in the strategy's scope
        assert type(model.trainable_weights[0].value).__name__ == "MirroredVariable"
        assert type(model.optimizer.iterations.value).__name__ == "MirroredVariable"
    saved = config.models_dir() / config.OUR_MODEL
    assert saved.is_relative_to(tmp_path) and saved.exists()
    facts = model_files.read_facts(saved)                      # written by the lesson's own keep_best
    assert facts["epochs_run"] == len(lesson["histories"]["happy_sad"]) >= 1
    assert facts["class_names"] == ["happy", "sad"] and facts["train_images"] == 16
    assert list(lesson["comparison"].index) == ["plain", "recipe"]
