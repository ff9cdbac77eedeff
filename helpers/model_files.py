"""Saved model files: safe loading, the facts saved beside them, a layer table. No architecture lives here.

Beside each trained ``name.keras`` (lesson 03) sits ``name.json``: what lesson 03 measured (class names,
epochs, training time, ...) and, once lesson 04 has chosen it on validation, the decision ``threshold``.
Lesson 07 writes the same facts beside each ``.tflite`` file. Everything that predicts reads them.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

from . import config


def load_model(path: Path | str, notebook: str = "03_train"):
    """A ``.keras`` model loaded in Keras's safe mode (no code from the file runs). A missing file stops with
    "run notebook ``notebook`` first"; any other file with a one-line ValueError."""
    import keras
    path = config.require(path, notebook, f"The model {Path(path).name}")
    if path.suffix != ".keras":             # .h5 and SavedModel folders ignore safe mode (CVE-2025-9905)
        raise ValueError(f"{path}: only .keras files load here (Keras safe mode): use the .keras file lesson 03 saves.")
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
    return json.loads(path.read_text()) if path.exists() else {}


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
