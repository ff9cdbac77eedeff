"""Each of lesson 04's recipe additions alone, measured against lesson 03's plain run (issue 30).

``python -m tools.recipe_steps`` (full mode unless HAPPYSAD_FAST=1; about 15-20 min on 2 cores)

Lesson 04 adds four things to the plain run at once. This trains the plain run again, then the
plain run plus **one** addition at a time (the schedule, AdamW, label smoothing, EMA), then all four,
every run with the plain run's stopping rule (at most ``PLAIN["epochs"]`` epochs, early stopping with
its patience, no time budget), the same seed and the same faces, so a row differs from the first in
one thing only. The values are the ones lesson 04 saved with ``happy_sad`` (its ``recipe`` facts);
the plain run's are lesson 03's. Every run is judged on validation as lesson 04's table judges it:
accuracy and balanced accuracy at 0.5, AUC, and the plain (unsmoothed) cross-entropy.

Writes ``outputs/recipe_steps.csv`` and ``.md``. One seed: differences of a few faces are noise
(the README's seed table).
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, balanced_accuracy_score, log_loss, roc_auc_score

from helpers import config, model_files, splits
from helpers.lessons import make_dataset, untrained

PLAIN = {"learning_rate": 1e-3, "epochs": 20, "patience": 3}     # lesson 03's plain run, without its time budget
ADDITIONS = ("schedule", "AdamW", "label smoothing", "EMA")


def optimizer(recipe: dict, steps: int, use: set[str]):
    """Adam at the plain rate, with the additions in ``use`` (the recipe's values)."""
    rate = PLAIN["learning_rate"]
    if "schedule" in use:      # lesson 04's warm-up + cosine, laid over the plain run's most epochs
        peak = recipe["peak_learning_rate"]
        rate = keras.optimizers.schedules.CosineDecay(peak / 10, decay_steps=steps, alpha=0.01,
                                                      warmup_target=peak, warmup_steps=max(1, steps // 20))
    ema = {"use_ema": True, "ema_momentum": recipe["ema_momentum"]} if "EMA" in use else {}
    if "AdamW" in use:
        return keras.optimizers.AdamW(rate, weight_decay=recipe["weight_decay"], **ema)
    return keras.optimizers.Adam(rate, **ema)


def train(use: set[str], recipe: dict, train_rows, val_rows, folder: Path) -> dict:
    steps = int(np.ceil(len(train_rows) / config.BATCH_SIZE)) * PLAIN["epochs"]
    keras.utils.set_random_seed(config.SEED)
    model = untrained("happy_sad")
    smoothing = recipe["label_smoothing"] if "label smoothing" in use else 0.0
    model.compile(optimizer=optimizer(recipe, steps, use), loss=keras.losses.BinaryCrossentropy(label_smoothing=smoothing))
    path = folder / "run.keras"
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=PLAIN["patience"]),
                 keras.callbacks.ModelCheckpoint(path, monitor="val_loss", save_best_only=True)]
    if "EMA" in use:
        callbacks.insert(0, keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    val_faces = make_dataset(val_rows, (48, 48, 1))
    start = time.perf_counter()
    fit = model.fit(make_dataset(train_rows, (48, 48, 1), training=True), validation_data=val_faces,
                    epochs=PLAIN["epochs"], class_weight=splits.balanced_class_weights(train_rows["label"]),
                    verbose=0, shuffle=False, callbacks=callbacks)
    seconds = time.perf_counter() - start
    y_val = val_rows["label"].to_numpy()
    p_sad = model_files.load_model(path).predict(val_faces, verbose=0).ravel()
    return {"epochs (best)": f"{len(fit.history['loss'])} ({int(np.argmin(fit.history['val_loss'])) + 1})",
            "minutes": round(seconds / 60, 1),
            "val accuracy": accuracy_score(y_val, model_files.decide(p_sad)),
            "val balanced accuracy": balanced_accuracy_score(y_val, model_files.decide(p_sad)),
            "val AUC": roc_auc_score(y_val, p_sad), "val cross-entropy": log_loss(y_val, p_sad)}


def main() -> int:
    recipe = model_files.read_facts(config.MODELS["happy_sad"].path()).get("recipe")
    if recipe is None:
        print(f"{config.MODELS['happy_sad'].path()}: no recipe in its facts: run notebook 04_better_recipe first",
              file=sys.stderr)
        return 2
    split = splits.load_split()
    train_rows, val_rows = split[split["split"] == "train"], split[split["split"] == "val"]
    runs = {"plain (lesson 03)": set(), **{f"plain + {a}": {a} for a in ADDITIONS}, "plain + all four": set(ADDITIONS)}
    rows = {}
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        for i, (name, use) in enumerate(runs.items(), 1):
            rows[name] = train(use, recipe, train_rows, val_rows, Path(folder))
            used = time.perf_counter() - began
            print(f"[{i}/{len(runs)}] {name}: {rows[name]['epochs (best)']} epochs, val accuracy "
                  f"{rows[name]['val accuracy']:.3f} | {used / 60:.1f} min, about {used / i * (len(runs) - i) / 60:.0f} min left",
                  flush=True)
    table = pd.DataFrame(rows).T.rename_axis("run")
    out = config.outputs_dir()
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "recipe_steps.csv")
    (out / "recipe_steps.md").write_text(table.to_markdown(floatfmt=".3f") + "\n")
    print(table.to_markdown(floatfmt=".3f"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
