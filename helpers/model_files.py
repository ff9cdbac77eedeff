"""Saved model files: safe loading, the facts saved beside them, the decision rule, a layer table.
No architecture lives here.

Beside each trained ``name.keras`` (lessons 03, 04) sits ``name.json``: what its lesson measured (class names,
epochs, training time, ...) and, once lesson 05 has chosen it on validation, the decision ``threshold``.
Lesson 08 writes the same facts beside each ``.tflite`` file. Everything that predicts reads them, and
every answer is :func:`decide`: the one place a probability is compared with a threshold.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from . import config

DEFAULT_THRESHOLD = 0.5     # the threshold before lesson 05 has chosen one on validation


def decide(p_class1, threshold: float = DEFAULT_THRESHOLD):
    """The decision rule of the series: class 1 when P(class 1) >= ``threshold``, else class 0.

    An array gives an int array of 0s and 1s, one number gives an int. A probability exactly on
    the threshold is class 1. Scores, mistakes, plots, ``predict`` and the TFLite path all call this.
    """
    chosen = np.asarray(p_class1, dtype=float) >= float(threshold)
    return chosen.astype(int) if chosen.ndim else int(chosen)


def load_model(path: Path | str, notebook: str | None = None):
    """A ``.keras`` model loaded in Keras's safe mode (no code from the file runs). A missing file stops with
    "run notebook ``notebook`` first" (default: the notebook ``config.MODELS`` says writes that file, else
    ``03_train``); any other file with a one-line ValueError."""
    import keras
    notebook = notebook or config.written_by(path)
    path = config.require(path, notebook, f"The model {Path(path).name}")
    if path.suffix != ".keras":             # .h5 and SavedModel folders ignore safe mode (CVE-2025-9905)
        raise ValueError(f"{path}: only .keras files load here (Keras safe mode): use the .keras files lessons 03 and 04 save.")
    try:
        if not zipfile.is_zipfile(path):
            raise zipfile.BadZipFile
        return keras.models.load_model(path, safe_mode=True, compile=False)
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError):     # no zip, or not Keras's
        raise ValueError(f"{path} is not a .keras model file (a zip archive Keras writes): run "
                         f"notebook {notebook} again, or download it again.") from None


def facts_path(model_path: Path | str) -> Path:
    """``name.json`` beside ``name.keras`` or ``name.tflite``."""
    return Path(model_path).with_suffix(".json")


def read_facts(model_path: Path | str) -> dict:
    """The facts saved beside a model, or ``{}`` when there are none."""
    path = facts_path(model_path)
    if not path.exists():
        return {}
    rerun = (f"Delete it and run the notebook that writes it again ({config.written_by(model_path)}; "
             "05_evaluate for the threshold).")
    try:
        facts = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a facts file this series wrote ({error}). {rerun}") from None
    if not isinstance(facts, dict):
        raise ValueError(f"{path}: not a facts file this series wrote (no JSON object). {rerun}")
    return facts


def write_facts(model_path: Path | str, *, fresh: bool = False, **updates) -> dict:
    """Merge ``updates`` into the facts beside a model; returns all of them. ``fresh=True`` (a newly
    trained model) starts from none, so an older model's threshold and mirror choice cannot outlive it."""
    facts = {**({} if fresh else read_facts(model_path)), **updates}
    facts_path(model_path).write_text(json.dumps(facts, indent=2, default=str))
    return facts


def layer_table(model):
    """A DataFrame, one row per layer: type, output shape, parameters and their share of the total."""
    import pandas as pd
    total = model.count_params()
    rows = [{"layer": layer.name, "type": type(layer).__name__,
             "output shape": tuple(layer.output.shape[1:]),
             "parameters": layer.count_params(),
             "share": layer.count_params() / total if total else 0.0} for layer in model.layers]
    return pd.DataFrame(rows).set_index("layer")
