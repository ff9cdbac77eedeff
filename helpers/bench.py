"""The benchmark: every model of the series, measured side by side in one run.

``python -m helpers bench`` (``make bench``) in full mode:

1. makes what is missing by running the lessons that make it (01 split, 03 models,
   05 HOG baseline, 07 TFLite exports) - the same code paths as ``make run``;
2. scores every model on the test split with :func:`helpers.evaluation.scores`
   at the 0.5 threshold;
3. measures CPU speed (batch-64 throughput, batch-1 latency: medians of repeated
   runs, all models in this one process);
4. writes ``outputs/benchmark.md`` (+ ``.csv``) with the targets and whether each is met.

Numbers live here, not in tests: tests check behaviour, this measures.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
from pathlib import Path

import numpy as np
import pandas as pd

from . import config

NETWORKS = [("seed_cnn", config.SEED_MODEL), ("seed_cnn_48", "seed_cnn_48.keras"),
            ("happy_sad (ours)", config.OUR_MODEL)]
TFLITE = ["happy_sad_float32.tflite", "happy_sad_dynamic.tflite", "happy_sad_int8.tflite"]
TARGETS = {"accuracy": 0.92, "balanced_accuracy": 0.91, "saved_mb": 1.0, "train_minutes": 20.0,
           "speedup_vs_seed": 5.0, "int8_accuracy_drop": 0.01}


def _missing_steps() -> list[str]:
    models_dir = config.models_dir()
    steps = []
    if not (config.prepared_dir() / "splits.csv").exists():
        steps.append("01")
    if not all((models_dir / f).exists() for f in (config.SEED_MODEL, config.OUR_MODEL)):
        steps += ["03"]
    if not (models_dir / "hog_linear.joblib").exists():
        steps.append("05")
    if not all((models_dir / f).exists() for f in TFLITE):
        steps.append("07")
    return steps


def measure(repeats: int = 30) -> pd.DataFrame:
    """One row per model: size, training facts, test scores, speed."""
    from . import baseline, data, efficiency, evaluation, export, models, training
    split = data.load_split()
    names = data.split_class_names(split)
    x_test, y_test = data.load_xy(split, "test")
    sample = x_test[:64]
    rows = {}
    for label, file in NETWORKS:
        path = config.models_dir() / file
        if not path.exists():
            continue
        model = models.load_model(path)
        _, info = training.load_history(file)
        fitted = np.asarray(data.to_model_input(sample, model.input_shape[1:]))
        rows[label] = efficiency.table_row(
            evaluation.predict_proba(model, x_test), y_test, names,
            efficiency.keras_predict_fn(model), fitted, repeats=repeats,
            kind="Keras CNN", input="x".join(map(str, model.input_shape[1:])),
            **efficiency.model_facts(model, path), train_minutes=info["train_seconds"] / 60,
            epochs=info["epochs_run"], best_epoch=info["best_epoch"])
    hog_path = config.models_dir() / baseline.BASELINE_FILE
    if hog_path.exists():
        pipe = baseline.load(hog_path)
        score, threshold = baseline.predict_score(pipe, x_test)
        rows["HOG + logistic regression"] = efficiency.table_row(
            score, y_test, names, lambda batch: baseline.predict_score(pipe, batch)[0], sample,
            threshold=threshold, repeats=max(5, repeats // 3), kind="scikit-learn", input="48x48x1",
            params=None, macs=None, saved_bytes=hog_path.stat().st_size)
    for file in TFLITE:
        path = config.models_dir() / file
        if not path.exists():
            continue
        predictor = export.TFLitePredictor(path)
        rows[f"ours, TFLite {path.stem.split('_')[-1]}"] = efficiency.table_row(
            predictor.predict_proba(x_test), y_test, names, predictor.predict_proba, sample,
            repeats=repeats, kind="TFLite", input="x".join(map(str, predictor.input_shape)),
            saved_bytes=path.stat().st_size)
    table = pd.DataFrame(rows).T.rename(columns={"images_per_s": "images_per_s_b64",
                                                 "latency_ms": "latency_ms_b1"})
    table["saved_mb"] = table["saved_bytes"].astype(float) / 1e6
    return table


def targets(table: pd.DataFrame) -> pd.DataFrame:
    """Each target of the series, the measured value, and whether it is met."""
    ours = table.loc["happy_sad (ours)"]
    seed = table.loc["seed_cnn"] if "seed_cnn" in table.index else None
    rows = [("test accuracy (0.5 threshold)", f">= {TARGETS['accuracy']}", ours["accuracy"],
             ours["accuracy"] >= TARGETS["accuracy"]),
            ("test balanced accuracy", f">= {TARGETS['balanced_accuracy']}", ours["balanced_accuracy"],
             ours["balanced_accuracy"] >= TARGETS["balanced_accuracy"]),
            ("saved .keras size (MB)", f"<= {TARGETS['saved_mb']}", ours["saved_mb"],
             ours["saved_mb"] <= TARGETS["saved_mb"]),
            ("training wall time (min)", f"<= {TARGETS['train_minutes']}", ours["train_minutes"],
             ours["train_minutes"] <= TARGETS["train_minutes"])]
    if seed is not None:
        speedup = ours["images_per_s_b64"] / seed["images_per_s_b64"]
        rows.append(("batch-64 throughput vs seed_cnn", f">= {TARGETS['speedup_vs_seed']}x", speedup,
                     speedup >= TARGETS["speedup_vs_seed"]))
    int8 = "ours, TFLite int8"
    if int8 in table.index:
        drop = ours["accuracy"] - table.loc[int8, "accuracy"]
        rows.append(("int8 TFLite accuracy loss", f"<= {TARGETS['int8_accuracy_drop']}", drop,
                     drop <= TARGETS["int8_accuracy_drop"]))
    return pd.DataFrame(rows, columns=["target", "goal", "measured", "met"]).set_index("target")


COLUMNS = ["kind", "input", "params", "macs", "saved_mb", "train_minutes", "epochs", "best_epoch",
           "accuracy", "balanced_accuracy", "sad_f1", "roc_auc", "images_per_s_b64", "latency_ms_b1"]


def write(table: pd.DataFrame, out_dir: Path | None = None) -> Path:
    """``benchmark.md`` and ``benchmark.csv`` under ``outputs/``."""
    import tensorflow as tf
    out_dir = Path(out_dir) if out_dir else config.outputs_dir()
    table.to_csv(out_dir / "benchmark.csv")
    shown = table[[c for c in COLUMNS if c in table.columns]]
    lines = [
        "# Benchmark", "",
        f"Measured {_dt.datetime.now():%Y-%m-%d %H:%M} on {platform.machine()}, {os.cpu_count()} CPU cores, "
        f"Python {platform.python_version()}, TensorFlow {tf.__version__}; mode: "
        f"{'FAST (numbers meaningless)' if config.fast() else 'full'}; data: {config.data_dir()}.",
        "Test split: FER-2013 PublicTest happy/sad faces after cleaning (notebook 01); threshold 0.5.",
        "Speed: CPU, medians of repeated runs, all models measured in this one process.", "",
        shown.to_markdown(floatfmt=".3f"), "",
    ]
    if "happy_sad (ours)" in table.index:
        lines += ["## Targets", "", targets(table).to_markdown(floatfmt=".3f"), ""]
    path = out_dir / "benchmark.md"
    path.write_text("\n".join(lines))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers bench", description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30, help="timing repeats per measurement")
    parser.add_argument("--no-train", action="store_true", help="measure what exists; run no lesson")
    args = parser.parse_args(argv)
    missing = _missing_steps()
    if missing and not args.no_train:
        from . import report
        print(f"Making what is missing by running notebooks {', '.join(missing)} ...")
        status, _ = report.run(only=",".join(missing))
        if status:
            return status
    table = measure(args.repeats)
    if table.empty:
        print("Nothing to measure: run `make run` first.")
        return 1
    path = write(table)
    print(path.read_text())
    print(f"\nwritten: {path}")
    return 0
