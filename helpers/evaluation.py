"""Metrics, thresholds and result tables: one implementation for every model.

Every model of the series (original_cnn, original_cnn_48, happy_sad, the HOG
baseline, TFLite files) is scored by :func:`scores` on the same test rows, and
every comparison table is made of :func:`comparison_row` rows, so the numbers
and column names of every table are comparable. Lesson 05 shows the
scikit-learn calls behind :func:`scores` once, in its cells.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from . import config
from .model_files import decide


def predict_proba(model, images, batch_size: int = 256) -> np.ndarray:
    """P(class 1) for raw 0-255 images of any size/channels: ``to_model_input``, then ``model.predict``.

    Converted ``batch_size`` images at a time, so 256x256 RGB inputs never fill the memory.
    """
    import logging
    from .data import to_model_input
    images = np.asarray(images)
    out = [np.zeros(0, np.float32)]
    # Each new batch shape (a last, smaller batch; another split) makes Keras trace its predict
    # step again, and TensorFlow warns about "retracing" after a few: expected here, not a fault.
    tf_logger = logging.getLogger("tensorflow")
    level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)
    try:
        for start in range(0, len(images), batch_size):
            batch = to_model_input(images[start:start + batch_size], model.input_shape[1:])
            out.append(np.asarray(model.predict(batch, batch_size=batch_size, verbose=0)).reshape(-1))
    finally:
        tf_logger.setLevel(level)
    return np.concatenate(out).astype(np.float32)


def scores(y_true, p_class1, threshold: float = 0.5, class_names=("happy", "sad")) -> dict:
    """Accuracy, balanced accuracy, per-class precision/recall/F1, ROC-AUC, PR-AUC, threshold, n.

    Per-class keys are named after the classes: ``f"{class_names[1]}_recall"`` etc.
    """
    y_true = np.asarray(y_true).astype(int)
    p = np.asarray(p_class1, dtype=float)
    y_pred = decide(p, threshold)
    out = {"accuracy": skm.accuracy_score(y_true, y_pred),
           "balanced_accuracy": skm.balanced_accuracy_score(y_true, y_pred)}
    prec, rec, f1, _ = skm.precision_recall_fscore_support(y_true, y_pred, labels=[0, 1],
                                                           zero_division=0)
    for i, name in enumerate(class_names):
        out[f"{name}_precision"], out[f"{name}_recall"], out[f"{name}_f1"] = prec[i], rec[i], f1[i]
    both = len(np.unique(y_true)) == 2
    out["roc_auc"] = skm.roc_auc_score(y_true, p) if both else float("nan")
    out["pr_auc"] = skm.average_precision_score(y_true, p) if both else float("nan")
    out = {k: float(v) for k, v in out.items()}
    return {**out, "threshold": float(threshold), "n": len(y_true)}


def key_columns(class_names=("happy", "sad")) -> list[str]:
    """The columns every comparison table shows, in this order."""
    happy, sad = class_names
    return ["accuracy", "balanced_accuracy", f"{happy}_f1", f"{sad}_precision", f"{sad}_recall",
            f"{sad}_f1", "roc_auc"]


def comparison_row(y_true, p_class1, class_names=("happy", "sad"), threshold: float = 0.5,
                   **extra) -> dict:
    """One row of a comparison table: the :func:`key_columns` scores, the threshold, then ``extra``.

    ``extra`` are facts about the model (``params=...``, ``macs=...``, ``saved_mb=...``,
    ``latency_ms=...``, ``images_per_s=...``): the one row builder of lessons 05, 06, 08 and the benchmark.
    """
    s = scores(y_true, p_class1, threshold, class_names)
    return {**{k: s[k] for k in key_columns(class_names)}, "threshold": s["threshold"], **extra}


def comparison_table(rows: dict[str, dict], columns=None) -> pd.DataFrame:
    """One row per model from ``{name: comparison_row(...) or scores(...)}``; the index is named "model".

    ``columns`` picks and orders columns (names not present are skipped).
    """
    table = pd.DataFrame.from_dict(rows, orient="index")
    if columns is not None:
        table = table[[c for c in columns if c in table.columns]]
    table.index.name = "model"
    return table


def save_table(table: pd.DataFrame, name: str, out_dir: Path | str | None = None) -> Path:
    """Save a table as ``outputs/<name>.csv`` (index column named, "model" by default) and ``.md``."""
    out_dir = Path(out_dir) if out_dir else config.outputs_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.csv"
    table.to_csv(path, index_label=table.index.name or "model")
    (out_dir / f"{name}.md").write_text(table.to_markdown(floatfmt=".3f"))
    return path


def choose_threshold(y_val, p_val) -> float:
    """The threshold on P(class 1) with the highest balanced accuracy on VALIDATION data.

    One ``roc_curve`` call gives every threshold at once (each distinct P, ``p >= t``), and
    balanced accuracy = (TPR + TNR) / 2 = (tpr + 1 - fpr) / 2; the first best wins (the highest
    threshold). Never call this with test data: a threshold tuned on test flatters the test score.
    """
    fpr, tpr, thresholds = skm.roc_curve(np.asarray(y_val).astype(int), np.asarray(p_val, dtype=float),
                                         drop_intermediate=False)
    finite = np.isfinite(thresholds)          # roc_curve's first threshold is +inf: "nothing is class 1"
    return float(thresholds[finite][np.argmax((tpr + 1 - fpr)[finite] / 2)])


# ----------------------------------------------------------------------------- error analysis
# FER+ (Barsoum et al. 2016): ten crowd workers re-labelled every FER-2013 image. The
# manifest has one vote column per emotion, ``ferplus_<emotion>``.
CROWD_EMOTION = {"happy": "happiness", "sad": "sadness"}   # our class name -> FER+ emotion
CROWD_PREFIX = "ferplus_"


def confident_mistakes(rows: pd.DataFrame, p_class1, threshold: float = 0.5,
                       class_names=("happy", "sad"), n: int | None = None) -> pd.DataFrame:
    """The wrongly classified rows, most confident first.

    ``rows`` has a ``label`` column (0/1) in the same order as ``p_class1``. Adds
    ``p_class1``, ``predicted`` (the class name) and ``confidence`` (the model's
    probability of the class it wrongly chose). Keeps ``rows``' index, so the result
    joins with :func:`crowd_votes`. ``n`` keeps only the first ``n``.
    """
    p = np.asarray(p_class1, dtype=float)
    if len(p) != len(rows):
        raise ValueError(f"{len(rows)} rows but {len(p)} probabilities")
    predicted = decide(p, threshold)
    out = rows.assign(p_class1=p, predicted=np.asarray(class_names, dtype=object)[predicted],
                      confidence=np.where(predicted == 1, p, 1.0 - p))
    out = out[predicted != rows["label"].to_numpy().astype(int)]
    out = out.sort_values("confidence", ascending=False, kind="stable")
    return out if n is None else out.head(n)


def crowd_majority(votes: pd.DataFrame, prefix: str = "") -> pd.Series:
    """The one FER+ vote rule: per row, the emotion that got strictly the most votes, else None.

    ``votes`` has a column ``prefix + name`` for each of ``config.FERPLUS_VOTE_COLUMNS`` (the
    manifest's ``ferplus_*`` columns: ``prefix="ferplus_"``). There is no majority (None) when two
    emotions tie for the most votes, when "unknown" or "NF" (not a face) got at least as many votes
    as the top emotion, or when the row has no votes at all.
    """
    emotions = votes[[prefix + e for e in config.FERPLUS_EMOTIONS]].to_numpy(dtype=float)
    others = votes[[prefix + c for c in config.FERPLUS_VOTE_COLUMNS[len(config.FERPLUS_EMOTIONS):]]]
    counts = np.nan_to_num(emotions, nan=-1.0)
    top = counts.max(axis=1)
    tied = (counts == top[:, None]).sum(axis=1) > 1
    no_emotion = np.nan_to_num(others.to_numpy(dtype=float), nan=-1.0).max(axis=1) >= top
    winner = np.asarray(config.FERPLUS_EMOTIONS, dtype=object)[counts.argmax(axis=1)]
    return pd.Series(np.where(tied | no_emotion | (top <= 0), None, winner), index=votes.index, dtype=object)


def crowd_votes(split: pd.DataFrame, source=None) -> pd.DataFrame | None:
    """FER+ crowd votes for the rows of ``split`` (same index), or None without a manifest.

    ``split`` is a table from ``helpers.splits.load_split`` (``path`` relative to the
    data root, ``class``). The manifest's ``path`` is relative to ``fer2013/``.
    Columns: one per vote column (``config.FERPLUS_VOTE_COLUMNS``), ``crowd_majority``
    (:func:`crowd_majority`: None for a tie), ``crowd_share`` (share of votes for the
    FER-2013 label) and ``crowd_agrees``: the majority is the label. Rows missing
    from the manifest get NaN / None / False; if no row is in the manifest, the answer is None.
    """
    from .data import locate
    source = source or locate()
    if source.manifest is None:
        return None
    columns = [CROWD_PREFIX + c for c in config.FERPLUS_VOTE_COLUMNS]
    manifest = pd.read_csv(source.manifest, usecols=["path", *columns])
    prefix = source.fer.relative_to(source.root)
    manifest["path"] = [(prefix / p).as_posix() for p in manifest["path"]]
    table = split[["path", "class"]].merge(manifest.drop_duplicates("path"), on="path", how="left")
    table.index = split.index
    found = table[columns].notna().all(axis=1)
    if not found.any():
        return None
    out = table[columns].set_axis(list(config.FERPLUS_VOTE_COLUMNS), axis=1).astype(float)
    out["crowd_majority"] = crowd_majority(table, CROWD_PREFIX).where(found, None)
    label_emotion = table["class"].map(lambda name: CROWD_EMOTION.get(name, name))
    own = [out.at[i, e] if e in out.columns else np.nan for i, e in label_emotion.items()]
    total = out[list(config.FERPLUS_VOTE_COLUMNS)].sum(axis=1, min_count=1)
    out["crowd_share"] = np.divide(own, total, out=np.full(len(out), np.nan), where=(total > 0).to_numpy())
    out["crowd_agrees"] = (out["crowd_majority"] == label_emotion).to_numpy()
    return out
