"""Training, the way a practitioner does it.

* class weights, so the sad minority counts as much as the happy majority;
* a warm-up + cosine learning-rate schedule with AdamW;
* callbacks: EarlyStopping(restore_best_weights), ModelCheckpoint to ``.keras``,
  TensorBoard, CSVLogger;
* any ``tf.distribute`` strategy (MirroredStrategy when several GPUs are visible);
* the best checkpoint is reloaded from disk and re-saved without optimizer state,
  so the file we ship is the model we validated, and it stays small.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from . import config
from .data import make_dataset


def class_weights(labels) -> dict[int, float]:
    """Weights so each class contributes equally to the loss: n / (2 * n_class)."""
    labels = np.asarray(labels).astype(int)
    counts = np.bincount(labels, minlength=2)
    if (counts == 0).any():
        raise ValueError(f"Both classes need training images; counts per class: {counts.tolist()}")
    return {c: float(len(labels) / (2 * n)) for c, n in enumerate(counts)}


def default_strategy() -> tf.distribute.Strategy:
    """MirroredStrategy across GPUs when there are several; the default strategy otherwise."""
    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()


@dataclass
class TrainResult:
    path: Path                      # the best model, reloaded and re-saved
    history: pd.DataFrame           # one row per epoch
    seconds: float                  # wall time of model.fit
    best_epoch: int                 # 1-based epoch whose weights were kept
    info: dict = field(default_factory=dict)


class _EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.start, self.times = time.perf_counter(), []

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.start)
        if logs is not None:
            logs["elapsed_s"] = self.times[-1]


def train(build: Callable[[], keras.Model], split: pd.DataFrame, name: str, *,
          epochs: int, learning_rate: float = 1e-3, schedule: str = "cosine",
          weight_decay: float = 1e-4, patience: int = 5, min_epochs: int = 0,
          label_smoothing: float = 0.0, ema: float | None = None, mixup: float = 0.0,
          batch_size: int = config.BATCH_SIZE,
          strategy: tf.distribute.Strategy | None = None, out_dir: Path | None = None,
          verbose: int = 2) -> TrainResult:
    """Train ``build()`` on the split's train rows, validate on its val rows.

    ``name`` is the file name (``seed_cnn.keras``). Returns where the best
    model was saved and the per-epoch history (also saved beside the model).
    ``min_epochs``: early stopping only judges from this epoch on. With a cosine
    schedule the first epochs run at a high learning rate, and on a small dataset
    (a few hundred images: a handful of steps per epoch) the network may need a
    dozen epochs before it starts to learn at all - stopping earlier keeps a coin-flip.
    ``label_smoothing``: train towards 0.05/0.95 instead of 0/1 (for 0.1), so the
    network is not pushed to be certain about labels that are sometimes wrong.
    ``ema``: keep an exponential moving average of the weights (this momentum per
    step); validation, checkpoints and the saved model use the averaged weights,
    which are steadier than the last step's.
    """
    out_dir = Path(out_dir) if out_dir else config.models_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    stem = path.stem
    strategy = strategy or default_strategy()
    keras.utils.set_random_seed(config.SEED)

    train_rows, val_rows = split[split["split"] == "train"], split[split["split"] == "val"]
    global_batch = batch_size * strategy.num_replicas_in_sync
    with strategy.scope():
        model = build()
        input_shape = model.input_shape[1:]
        steps = int(np.ceil(len(train_rows) / global_batch)) * epochs
        if schedule == "cosine":
            lr = keras.optimizers.schedules.CosineDecay(
                learning_rate / 10, decay_steps=steps, alpha=0.01,
                warmup_target=learning_rate, warmup_steps=max(1, steps // 20))
        else:
            lr = learning_rate
        optimizer = keras.optimizers.AdamW(lr, weight_decay=weight_decay, use_ema=ema is not None,
                                           ema_momentum=ema or 0.99)
        model.compile(optimizer=optimizer,
                      loss=keras.losses.BinaryCrossentropy(label_smoothing=label_smoothing),
                      metrics=["accuracy", keras.metrics.AUC(name="auc")])

    # Files are decoded as stored (FER-2013: grayscale); make_dataset then fits
    # them to the model's input shape with the same to_model_input() as prediction.
    train_ds = make_dataset(train_rows["file"], train_rows["label"], input_shape, global_batch,
                            training=True, mixup=mixup)
    val_ds = make_dataset(val_rows["file"], val_rows["label"], input_shape, global_batch)
    log_dir = config.outputs_dir() / "logs" / stem
    timer = _EpochTimer()
    callbacks = [
        timer,
        # First, so that validation and every callback after it see the averaged weights.
        *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if ema is not None else []),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                      restore_best_weights=True, start_from_epoch=min_epochs),
        keras.callbacks.ModelCheckpoint(path, monitor="val_loss", save_best_only=True),
        keras.callbacks.TensorBoard(log_dir=str(log_dir)),
        keras.callbacks.CSVLogger(str(out_dir / f"{stem}.log.csv")),
    ]
    start = time.perf_counter()
    # shuffle=False: the dataset shuffles itself (training rows only, every epoch).
    fit = model.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=verbose, shuffle=False,
                    class_weight=class_weights(train_rows["label"]), callbacks=callbacks)
    seconds = time.perf_counter() - start

    history = pd.DataFrame(fit.history)
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    best_epoch = int(history["val_loss"].idxmin()) + 1
    # Ship the checkpoint we validated, not the in-memory model, and drop the
    # optimizer state (it would triple the file and is not needed to predict).
    best = keras.models.load_model(path, safe_mode=True, compile=False)
    best.save(path)
    from .data import split_class_names
    info = {"name": name, "class_names": split_class_names(split), "params": int(best.count_params()), "input_shape": list(input_shape),
            "epochs_run": len(history), "best_epoch": best_epoch, "train_seconds": round(seconds, 1),
            "train_images": len(train_rows), "val_images": len(val_rows), "fast": config.fast(),
            "replicas": strategy.num_replicas_in_sync, "saved_bytes": path.stat().st_size}
    history.to_csv(out_dir / f"{stem}.history.csv", index=False)
    (out_dir / f"{stem}.json").write_text(json.dumps(info, indent=2))
    return TrainResult(path, history, seconds, best_epoch, info)


def load_history(name: str, out_dir: Path | None = None) -> tuple[pd.DataFrame, dict]:
    """The per-epoch history and the training facts saved by :func:`train`."""
    from .notebook import require
    out_dir = Path(out_dir) if out_dir else config.models_dir()
    stem = Path(name).stem
    history = pd.read_csv(require(out_dir / f"{stem}.history.csv", "03_train", f"History of {name}"))
    info = json.loads((out_dir / f"{stem}.json").read_text())
    return history, info


def _compiled_with_batch(build, images, labels, optimizer, metrics=()):
    """(seeded, compiled model; its input batch; float labels) for the small checks below."""
    from .data import to_model_input
    keras.utils.set_random_seed(config.SEED)
    model = build()
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=list(metrics))
    x = np.asarray(to_model_input(np.asarray(images), model.input_shape[1:]))
    y = np.asarray(labels, dtype=np.float32)
    if len(x) != len(y):
        raise ValueError(f"{len(x)} images but {len(y)} labels")
    return model, x, y


def overfit_tiny_batch(build: Callable[[], keras.Model], images, labels, steps: int = 60,
                       learning_rate: float = 3e-3) -> dict:
    """The practitioner's sanity check: can the network memorise a handful of images?

    If it cannot drive the training loss near zero on ~32 images, something is
    broken (labels, preprocessing, learning rate, architecture) - no point
    training on 10,000 images yet. Returns the first and last loss and accuracy.
    """
    model, x, y = _compiled_with_batch(build, images, labels, keras.optimizers.Adam(learning_rate),
                                       metrics=["accuracy"])
    fit = model.fit(x, y, batch_size=len(y), epochs=steps, verbose=0)
    return {"first_loss": float(fit.history["loss"][0]), "last_loss": float(fit.history["loss"][-1]),
            "first_accuracy": float(fit.history["accuracy"][0]),
            "last_accuracy": float(fit.history["accuracy"][-1]), "history": fit.history}


def train_step_seconds(build: Callable[[], keras.Model], images, labels, batch_size: int = 64,
                       steps: int = 10) -> float:
    """Median wall time of one training step (forward, backward, update) on this machine.

    For comparing two designs side by side in one session; absolute numbers depend on
    the machine and whatever else runs on it. The first steps (graph tracing) are skipped.
    """
    model, x, y = _compiled_with_batch(build, np.asarray(images)[:batch_size],
                                       np.asarray(labels)[:batch_size], keras.optimizers.AdamW(1e-3))
    # The same warm-up + median timing as the inference measurements (evaluation.time_per_image).
    from .evaluation import time_per_image
    return time_per_image(lambda batch: model.train_on_batch(batch, y), x, len(x), steps) * len(x)


# ----------------------------------------------------------------------------- recipes
# How each network of the series is trained: one place, read by notebook 03 and the
# benchmark. Full mode gives the real numbers; fast mode only checks that it all runs.
RECIPES = {
    # The original network at its own 256x256x3 input (48x48 faces are resized up).
    "seed_cnn": dict(file=config.SEED_MODEL, build="seed", input_shape=(256, 256, 3),
                     epochs=15, fast_epochs=1, learning_rate=1e-3, schedule="constant",
                     weight_decay=0.0, patience=3),
    # The same network fed the faces at their native 48x48x1: the resolution experiment.
    "seed_cnn_48": dict(file="seed_cnn_48.keras", build="seed", input_shape=(48, 48, 1),
                        epochs=30, fast_epochs=1, learning_rate=1e-3, schedule="constant",
                        weight_decay=0.0, patience=4),
    # Ours: the series' final model. Label smoothing because FER-2013's labels are noisy
    # (the FER+ crowd votes about half the "sad" faces neutral); weight averaging (EMA)
    # because single-epoch weights swing. Early stopping may not stop before epoch 25,
    # when the cosine learning rate has started to come down (about 70% of its peak). 60 epochs: as long
    # a schedule as fits the 20-minute budget on 2 CPU cores (about 17.5 s per epoch).
    "happy_sad": dict(file=config.OUR_MODEL, build="ours", input_shape=(48, 48, 1),
                      epochs=60, fast_epochs=2, learning_rate=3e-3, schedule="cosine",
                      weight_decay=1e-4, patience=10, min_epochs=25,
                      label_smoothing=0.1, ema=0.99),
}


def recipe_builder(name: str, **overrides) -> Callable[[], keras.Model]:
    """A function that builds the untrained network of recipe ``name``.

    ``model=dict(...)`` in the recipe (or in ``overrides``) is passed to the builder,
    so the architecture of the series' network is written down in one place.
    """
    from . import models
    recipe = {**RECIPES[name], **overrides}
    if recipe["build"] == "seed":
        return lambda: models.build_seed_cnn(recipe["input_shape"])
    return lambda: models.build_happy_sad(recipe["input_shape"], **recipe.get("model", {}))


def train_recipe(name: str, split: pd.DataFrame, out_dir: Path | None = None,
                 strategy: tf.distribute.Strategy | None = None, **overrides) -> TrainResult:
    """Train network ``name`` of :data:`RECIPES` (fewer epochs in fast mode).

    ``overrides`` replace recipe entries (``epochs=3``, ``model=dict(filters=...)``), for
    exercises and experiments; ``out_dir`` and ``strategy`` are passed to :func:`train`.
    """
    recipe = {**RECIPES[name], **overrides}
    epochs = recipe["fast_epochs"] if config.fast() else recipe["epochs"]
    return train(recipe_builder(name, **overrides), split, recipe["file"], epochs=epochs,
                 out_dir=out_dir, strategy=strategy,
                 learning_rate=recipe["learning_rate"], schedule=recipe["schedule"],
                 weight_decay=recipe["weight_decay"], patience=recipe["patience"],
                 min_epochs=recipe.get("min_epochs", 0),
                 label_smoothing=recipe.get("label_smoothing", 0.0), ema=recipe.get("ema"),
                 mixup=recipe.get("mixup", 0.0),
                 batch_size=recipe.get("batch_size", config.BATCH_SIZE), verbose=recipe.get("verbose", 2))
