"""Lessons 03 and 04's training cells run unchanged under MirroredStrategy (here on the CPU).

On a machine with several GPUs the lessons build and compile inside a MirroredStrategy's scope.
This test runs the lessons' own cells (lesson 03: the tf.data chain, the callbacks, the plain run;
lesson 04: the recipe, the comparison with the saved plain run) in this process on a few generated
faces, with that strategy forced on the CPU, one namespace for both, as lesson 04 imports lesson 03's
functions. No notebook is executed (nbval runs 03 and 04 themselves) and nothing is written under the
project's models/.
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
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
# The code cells this test runs, in the lessons' order, each named by its lesson and a line it contains.
CELLS = [("03_train", marker) for marker in ("keras_loss = ", "def make_dataset(", "compute_class_weight(",
                                             "strategy = ", "def keep_best(", "class TimeBudget(",
                                             "plain = untrained(")] + \
        [("04_better_recipe", marker) for marker in ("strategy = ", "CosineDecay(", "AdamW(0.1", "LABEL_SMOOTHING = ",
                                                     "EMA_MOMENTUM = ", "SwapEMAWeights(", "rate_at_stop = ",
                                                     "roc_auc_score(")]


def tiny_rows(folder: Path, part: str, per_class: int, rng) -> pd.DataFrame:
    """``per_class`` generated 48x48 faces of each class in ``folder``, as the split's rows."""
    rows = []
    for label in (0, 1):
        for i in range(per_class):
            file = folder / f"{part}_{label}_{i}.png"
            Image.fromarray(face(label, rng)).save(file)
            rows.append({"file": str(file), "label": label})
    return pd.DataFrame(rows)


def test_lessons_03_and_04_train_under_mirrored_strategy(tmp_path, monkeypatch):
    import keras
    monkeypatch.setattr(config, "ROOT", tmp_path)          # models/, outputs/ go to tmp_path
    monkeypatch.setenv("HAPPYSAD_FAST", "1")
    config.make_dirs()                                     # as notebook.setup() does
    keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Rescaling(1 / 255), keras.layers.Conv2D(4, 3),
                      keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1, activation="sigmoid")],
                     name="happy_sad").save(config.untrained_dir() / config.OUR_MODEL)   # stands in for lesson 02's
    rng = np.random.default_rng(0)
    (tmp_path / "faces").mkdir()
    train_rows, val_rows = tiny_rows(tmp_path / "faces", "train", 8, rng), tiny_rows(tmp_path / "faces", "val", 4, rng)
    split = pd.concat([train_rows.assign(split="train"), val_rows.assign(split="val")])
    split["class"] = split["label"].map({0: "happy", 1: "sad"})
    lesson = {"np": np, "pd": pd, "tf": tf, "keras": keras, "plt": matplotlib.pyplot, "time": __import__("time"),
              "config": config, "data": data, "splits": splits, "model_files": model_files, "plots": plots,
              "class_names": ["happy", "sad"], "split": split, "train_rows": train_rows, "val_rows": val_rows,
              "histories": {}, "BATCH_SIZE": config.BATCH_SIZE}
    sources = {name: [c.source for c in nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4).cells
                      if c.cell_type == "code"] for name in {name for name, _ in CELLS}}
    for name, marker in CELLS:
        exec(next(code for code in sources[name] if marker in code), lesson)
        if marker == "strategy = ":                         # what a machine with several GPUs would pick
            lesson["strategy"] = tf.distribute.MirroredStrategy(["/cpu:0"])
            lesson["global_batch"] = lesson["BATCH_SIZE"] * lesson["strategy"].num_replicas_in_sync

    for model in (lesson["plain"], lesson["happy_sad"]):    # built and trained in the strategy's scope (03, 04)
        assert type(model.trainable_weights[0].value).__name__ == "MirroredVariable"
        assert type(model.optimizer.iterations.value).__name__ == "MirroredVariable"
    for name, history in (("happy_sad_plain", lesson["histories"]["happy_sad_plain"]),
                          ("happy_sad", lesson["recipe_history"])):
        saved = config.MODELS[name].path()
        assert saved.is_relative_to(tmp_path) and saved.exists()
        facts = model_files.read_facts(saved)                  # written by lesson 03's own keep_best
        assert facts["epochs_run"] == len(history) >= 1
        assert facts["class_names"] == ["happy", "sad"] and facts["train_images"] == 16
    assert list(lesson["comparison"].index) == ["plain", "recipe"]
