"""The split, made once: FER-2013's train / val / test, any split saved and read back, its images.

* :func:`prepare_fer_split` makes the FER-2013 split once (non-faces, label conflicts and train faces
  that are also test faces removed first, then validation carved out, stratified and seeded);
* :func:`save_split` writes any split (also lesson 09's own photos) as ``splits.csv`` and refuses one
  where two parts share a file or a pixel hash; :func:`load_split` reads it back;
* :func:`load_xy` gives one part's images and labels, :func:`balanced_class_weights` its class weights.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import config
from .data import DataSource, class_names, image_files, load_images, locate, pixel_hash, read_image

FACE_SOURCE = "ferplus_png_exact_csv_pixels"   # manifest rows whose pixels are real faces
MIN_PIXEL_STD = 8.0    # below this a 48x48 "face" is a blank or near-blank frame


# ----------------------------------------------------------------------------- the split
SPLIT_FILE = "splits.csv"
SPLIT_COLUMNS = ["path", "label", "class", "split", "pixsha1"]
DROPPED_FILE = "dropped.csv"


def _list_fer(source: DataSource) -> pd.DataFrame:
    rows = []
    for split in ("train", "test"):
        split_dir = source.fer / split
        for label, name in enumerate(class_names(split_dir)):
            for path in image_files(split_dir / name):
                pixels = read_image(path, channels=1)
                rows.append({"path": path.relative_to(source.root).as_posix(), "label": label,
                             "class": name, "orig_split": split, "pixsha1": pixel_hash(pixels),
                             "std": float(pixels.std())})
    return pd.DataFrame(rows)


def _drop(df: pd.DataFrame, mask: pd.Series, reason: str, dropped: list) -> pd.DataFrame:
    if mask.any():
        dropped.append(df[mask].assign(reason=reason))
    return df[~mask]


def prepare_fer_split(source: DataSource | None = None, val_fraction: float = config.VAL_FRACTION,
                      seed: int = config.SEED, out_dir: Path | None = None) -> pd.DataFrame:
    """Make the train / val / test split once and save it. Returns the split table.

    Order matters: first remove what must never be learned from (non-faces, label
    conflicts, train images that are also test images), then split.
    """
    from sklearn.model_selection import train_test_split

    source = source or locate()
    if source.fer is None:
        raise FileNotFoundError(f"No fer2013/ folder under {source.root}. See README: 'Where data goes'.")
    df = _list_fer(source)
    dropped: list[pd.DataFrame] = []

    # 1. Non-faces: the manifest knows; without one, a near-constant image is no face.
    if source.manifest is not None:
        manifest = pd.read_csv(source.manifest, usecols=["path", "pixel_source"])
        manifest["path"] = (source.fer.relative_to(source.root) / manifest["path"]).map(Path.as_posix)
        df = df.merge(manifest, on="path", how="left")
        df = _drop(df, df["pixel_source"].notna() & (df["pixel_source"] != FACE_SOURCE),
                   "not a face (manifest pixel_source)", dropped)
        df = df.drop(columns="pixel_source")
    df = _drop(df, df["std"] < MIN_PIXEL_STD, f"blank image (pixel std < {MIN_PIXEL_STD})", dropped)

    # 2. The same pixels with two labels: no copy can be trusted.
    n_labels = df.groupby("pixsha1")["label"].transform("nunique")
    df = _drop(df, n_labels > 1, "same image with both labels", dropped)

    # 3. Train images that also sit in test would let the model see test answers.
    in_test = df["pixsha1"].isin(df.loc[df["orig_split"] == "test", "pixsha1"])
    df = _drop(df, in_test & (df["orig_split"] == "train"), "train image also in test", dropped)

    # 4. Remaining exact duplicates within a split: keep the first copy.
    df = df.sort_values("path")
    df = _drop(df, df.duplicated(["orig_split", "pixsha1"]), "exact duplicate", dropped)

    # 5. Carve validation out of train, stratified by label and seeded.
    train = df[df["orig_split"] == "train"]
    tr_idx, val_idx = train_test_split(train.index, test_size=val_fraction,
                                       stratify=train["label"], random_state=seed)
    df = df.assign(split=df["orig_split"])
    df.loc[val_idx, "split"] = "val"

    if config.fast():   # a small, stratified, seeded subset of every split
        df = pd.concat([group.sample(min(len(group), config.FAST_PER_CLASS[which]), random_state=seed)
                        for (which, _), group in df.groupby(["split", "label"])])

    split = df[SPLIT_COLUMNS].sort_values(["split", "label", "path"]).reset_index(drop=True)
    out_dir = Path(out_dir) if out_dir else config.prepared_dir()
    save_split(split, out_dir, source.root)
    drops = (pd.concat(dropped) if dropped else df.iloc[:0].assign(reason=""))
    drops[["path", "class", "orig_split", "pixsha1", "reason"]].to_csv(out_dir / DROPPED_FILE, index=False)
    return split


def split_by_group(table: pd.DataFrame, seed: int = config.SEED) -> pd.DataFrame:
    """``table`` with a ``split`` column: test = one of 7 group folds, val = one of 6 of the rest.

    Stratified by ``label``, seeded, and by ``group``: near-duplicates stay in one split.
    """
    from sklearn.model_selection import StratifiedGroupKFold
    y, groups = table["label"].to_numpy(), table["group"].to_numpy()
    rest, test = next(StratifiedGroupKFold(7, shuffle=True, random_state=seed).split(table, y, groups))
    _, val = next(StratifiedGroupKFold(6, shuffle=True, random_state=seed).split(rest, y[rest], groups[rest]))
    where = np.full(len(table), "train", dtype=object)
    where[test], where[rest[val]] = "test", "val"
    return table.assign(split=where)


def save_split(table: pd.DataFrame, out_dir: Path | str, data_root: Path | str) -> Path:
    """Write a split to ``out_dir/splits.csv`` (and ``data_root.txt``); return the CSV's path.

    ``table`` has ``path`` (relative to ``data_root``) or ``file`` (absolute), ``label``,
    ``class``, ``split`` (train / val / test) and ``pixsha1`` (computed when missing);
    any other column (e.g. ``group``) is saved too, ``file`` is not. A table in which two
    splits share a file or an image (same ``pixsha1``) is refused: that would be a leak.
    """
    out_dir, data_root = Path(out_dir), Path(data_root)
    table = table.copy()
    if "path" not in table:
        table["path"] = [Path(f).resolve().relative_to(data_root.resolve()).as_posix()
                         for f in table["file"]]
    if "pixsha1" not in table:
        table["pixsha1"] = [pixel_hash(read_image(data_root / p, 1)) for p in table["path"]]
    if not set(table["split"]) <= {"train", "val", "test"}:
        raise ValueError(f"split must be train, val or test, not {set(table['split'])}")
    for column in ("path", "pixsha1"):
        shared = table.groupby(column)["split"].nunique()
        if (shared > 1).any():
            raise ValueError(f"{(shared > 1).sum()} {column} value(s) sit in two splits, "
                             f"e.g. {shared[shared > 1].index[0]}: a leak between splits.")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / SPLIT_FILE
    extra = [c for c in table.columns if c not in SPLIT_COLUMNS and c != "file"]
    table[SPLIT_COLUMNS + extra].to_csv(path, index=False)
    (out_dir / "data_root.txt").write_text(str(data_root))
    return path


def load_split(out_dir: Path | None = None, check_source: bool | None = None) -> pd.DataFrame:
    """The saved split (notebook 01's, or the one in ``out_dir``), with ``file``: the absolute path.

    For the project's own split it also checks that it was made from the data
    ``HAPPYSAD_DATA`` points at now (never a synthetic split with real data, or back).
    """
    from .config import MissingStepError, require
    if check_source is None:
        check_source = out_dir is None
    out_dir = Path(out_dir) if out_dir else config.prepared_dir()
    path = require(out_dir / SPLIT_FILE, "01_collect_and_clean", "The saved FER-2013 split")
    split = pd.read_csv(path)
    root = Path((out_dir / "data_root.txt").read_text().strip())
    if check_source:
        current = locate().root
        if current.resolve() != root.resolve():
            raise MissingStepError(
                f"The saved split was made from {root}, but the data now comes from {current}.\n"
                f"Run notebook 01_collect_and_clean again (or `make run`) to split this data.")
    split["file"] = [str(root / p) for p in split["path"]]
    return split


def split_class_names(split: pd.DataFrame) -> list[str]:
    """Class names in label order, read from the split table."""
    pairs = split[["label", "class"]].drop_duplicates().sort_values("label")
    return list(pairs["class"])


def balanced_class_weights(labels) -> dict[int, float]:
    """Lesson 03's class weights, {0: w0, 1: w1}: faces / (2 x faces of that class), so both classes
    weigh the same in the loss (scikit-learn's "balanced"). For lessons 04, 09 and 10, which train again."""
    from sklearn.utils.class_weight import compute_class_weight
    weights = compute_class_weight("balanced", classes=np.array([0, 1]), y=np.asarray(labels))
    return {0: float(weights[0]), 1: float(weights[1])}


def load_xy(split: pd.DataFrame, which: str, channels: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of one split ('train', 'val' or 'test')."""
    part = split[split["split"] == which]
    return load_images(part["file"], channels=channels), part["label"].to_numpy()
