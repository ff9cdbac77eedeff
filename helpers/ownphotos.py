"""Lesson 08: the series on your own photos.

* :func:`near_duplicate_groups` - which cleaned files must stay together: the faces
  of one photo, exact pixel copies, and near-duplicates (the cleaning report's
  ``note`` column, plus a difference hash of the cleaned files themselves).
* :func:`prepare_folder_split` - split a cleaned ``<class>/`` folder ONCE, by file,
  stratified and seeded, keeping every group in one split, and save it in the same
  ``splits.csv`` format as :func:`helpers.data.prepare_fer_split`, so
  ``helpers.data.load_split(out_dir)`` reads it back.
* :func:`wilson_interval`, :func:`bootstrap_interval`, :func:`scores_with_intervals` -
  honest numbers for small test sets: a range, not one number.
* :func:`upload_widget`, :func:`uploaded_images` - a JupyterLab file upload, only when
  ``ipywidgets`` is installed.
* :func:`explain_faces` - Grad-CAM of each face found in a photo, over its crop.
"""
from __future__ import annotations

import io
import re
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd

from . import config

SPLITS = ("train", "val", "test")
MIN_PER_CLASS = 10       # fewer images than this in a class: no honest train/val/test split
GROUPS_FILE = "groups.csv"


class TooFewImagesError(ValueError):
    """A class has too few images (or groups) to give every split at least one."""


# ----------------------------------------------------------------------------- groups
class _UnionFind:
    def __init__(self, items):
        self.parent = {item: item for item in items}

    def find(self, item):
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:            # path compression
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)   # the smallest name names the group


def _report_pairs(report: pd.DataFrame) -> list[tuple[str, str]]:
    """(output, output) pairs that must stay together, read from a cleaning report.

    Every output of one source photo (crop mode: one file per face), and the outputs of
    sources the ``note`` column names as near-duplicates ("near-duplicate of happy/a.jpg
    (3 bits), ...: please look").
    """
    kept = report[report["output"].fillna("").astype(str) != ""]
    outputs = {row.source: [o for o in str(row.output).split("; ") if o]
               for row in kept.itertuples()}
    pairs = [(outs[0], other) for outs in outputs.values() for other in outs[1:]]
    for row in kept.itertuples():
        note = "" if pd.isna(row.note) else str(row.note)
        if not note.startswith("near-duplicate of"):
            continue
        for source, outs in outputs.items():
            if source != row.source and re.search(
                    r"(?:of |, )" + re.escape(source) + r" \(\d+ bits\)", note):
                pairs.append((outputs[row.source][0], outs[0]))
    return pairs


def near_duplicate_groups(folder: Path | str, files: list[str] | None = None,
                          near_bits: int | None = None) -> pd.Series:
    """A group name for every image under ``folder`` (paths relative to it, posix).

    Files are grouped when they come from one photo or are near-duplicates by the
    cleaning report (``cleaning_report.csv``, if the folder has one), when their pixels
    are identical, or when their difference hashes are at most ``near_bits`` bits apart
    (default ``cleaning.NEAR_BITS``; ``-1`` switches that check off). Groups are joined
    transitively: a~b and b~c put a, b and c together. The group name is its first file.
    """
    from .cleaning import NEAR_BITS, REPORT_NAME, difference_hash, hamming
    from .data import image_files, pixel_hash, read_image
    folder = Path(folder)
    near_bits = NEAR_BITS if near_bits is None else near_bits
    if files is None:
        files = [p.relative_to(folder).as_posix() for p in image_files(folder)]
    groups = _UnionFind(files)
    known = set(files)

    report_path = folder / REPORT_NAME
    if report_path.is_file():
        for a, b in _report_pairs(pd.read_csv(report_path)):
            if a in known and b in known:
                groups.union(a, b)

    first_by_hash: dict[str, str] = {}
    dhashes: dict[str, int] = {}
    for name in files:
        pixels = read_image(folder / name, channels=3)
        groups.union(first_by_hash.setdefault(pixel_hash(pixels), name), name)
        if near_bits >= 0:
            dhashes[name] = difference_hash(pixels)
    names = list(dhashes)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if hamming(dhashes[a], dhashes[b]) <= near_bits:
                groups.union(a, b)
    return pd.Series({name: groups.find(name) for name in files}, name="group")


# ----------------------------------------------------------------------------- the split
def _split_counts(n: int, val_fraction: float, test_fraction: float) -> dict[str, int]:
    n_test = max(1, round(n * test_fraction))
    n_val = max(1, round(n * val_fraction))
    return {"test": n_test, "val": n_val, "train": n - n_test - n_val}


def _assign(groups: pd.DataFrame, val_fraction: float, test_fraction: float,
            seed: int) -> dict[str, str]:
    """Group -> split. Per class (a group's majority label), shuffled groups fill test,
    then val, up to their share of the images; the rest is train."""
    rng = np.random.default_rng(seed)
    where = {}
    for _, part in groups.groupby("label", sort=True):
        order = part.iloc[rng.permutation(len(part))]
        target = _split_counts(int(order["size"].sum()), val_fraction, test_fraction)
        filled = {"test": 0, "val": 0}
        for row in order.itertuples():
            for which in ("test", "val"):
                # take the group if the split is short, and the group fits or the split is empty
                if filled[which] < target[which] and (
                        filled[which] + row.size <= target[which] or filled[which] == 0):
                    where[row.group] = which
                    filled[which] += row.size
                    break
            else:
                where[row.group] = "train"
    return where


def prepare_folder_split(clean_dir: Path | str, out_dir: Path | str, *,
                         val_fraction: float = config.VAL_FRACTION, test_fraction: float = 0.15,
                         seed: int = config.SEED, size: tuple[int, int] | None = (64, 64),
                         min_per_class: int = MIN_PER_CLASS, near_bits: int | None = None,
                         verbose: bool = True) -> pd.DataFrame:
    """Split ``clean_dir/<class>/*`` into train / val / test ONCE and save it in ``out_dir``.

    * by file, stratified by class and seeded, like ``prepare_fer_split``;
    * near-duplicates, exact copies and the faces of one photo form a group
      (:func:`near_duplicate_groups`), and a group never straddles two splits: else a
      copy of a test photo would sit in train, and the test score would be a leak;
    * ``size`` (height, width): every image is stored again at this size under
      ``out_dir/images/`` (cleaned crops come in every size, and a batch needs one size;
      the model still resizes to its own input). ``None`` keeps the files where they are
      and requires them to share one size.

    Writes ``splits.csv`` (``path`` relative to the data root, ``label``, ``class``,
    ``split``, ``pixsha1``), ``data_root.txt`` and ``groups.csv``; read it back with
    ``helpers.data.load_split(out_dir)``. Returns the split table (with ``group``).
    Raises :class:`TooFewImagesError` when a class has fewer than ``min_per_class``
    images, or too few groups to give each split one.
    """
    from .data import class_names, image_files, load_images, pixel_hash, read_image
    from PIL import Image
    clean_dir, out_dir = Path(clean_dir).resolve(), Path(out_dir).resolve()
    if not 0 < val_fraction < 1 or not 0 < test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise ValueError("val_fraction and test_fraction must be between 0 and 1, and sum below 1")
    names = class_names(clean_dir)
    rows = []
    for label, name in enumerate(names):
        files = image_files(clean_dir / name)
        if len(files) < max(min_per_class, 3):
            raise TooFewImagesError(
                f"Class '{name}' has {len(files)} image(s) in {clean_dir / name}; a train / val / "
                f"test split needs at least {max(min_per_class, 3)} per class. Add photos (or "
                f"lower min_per_class for a quick try; the scores will mean little).")
        rows += [{"file": f.relative_to(clean_dir).as_posix(), "label": label, "class": name}
                 for f in files]
    table = pd.DataFrame(rows)
    table["group"] = near_duplicate_groups(clean_dir, list(table["file"]), near_bits).values

    groups = (table.groupby("group")
              .agg(label=("label", lambda s: int(s.value_counts().sort_index().idxmax())),
                   size=("label", "size")).reset_index())
    for label, name in enumerate(names):
        n_groups = int((groups["label"] == label).sum())
        if n_groups < 3:
            raise TooFewImagesError(
                f"Class '{name}' has only {n_groups} group(s) of distinct photos (near-duplicates "
                f"count once); train, val and test need at least one each. Add different photos.")
    where = _assign(groups, val_fraction, test_fraction, seed)
    table["split"] = table["group"].map(where)

    out_dir.mkdir(parents=True, exist_ok=True)
    if size is None:
        shapes = {read_image(clean_dir / f).shape[:2] for f in table["file"]}
        if len(shapes) > 1:
            raise ValueError(f"The images in {clean_dir} have {len(shapes)} different sizes; "
                             f"pass size=(64, 64) (or the model's size) to store copies of one size.")
        root = clean_dir
        table["path"] = table["file"]
        table["pixsha1"] = [pixel_hash(read_image(clean_dir / f)) for f in table["file"]]
    else:
        root = out_dir / "images"
        table["path"] = [Path(f).with_suffix(".png").as_posix() for f in table["file"]]
        hashes = []
        for source, target in zip(table["file"], table["path"]):
            pixels = load_images([clean_dir / source], channels=3, size=tuple(size))[0]
            (root / target).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(root / target, format="PNG")
            hashes.append(pixel_hash(pixels))
        table["pixsha1"] = hashes

    from .data import SPLIT_FILE
    order = pd.Categorical(table["split"], categories=list(SPLITS), ordered=True)
    table = table.assign(_order=order).sort_values(["_order", "label", "path"]).drop(columns="_order")
    table = table.reset_index(drop=True)
    table[["path", "label", "class", "split", "pixsha1"]].to_csv(out_dir / SPLIT_FILE, index=False)
    table[["path", "group"]].to_csv(out_dir / GROUPS_FILE, index=False)
    (out_dir / "data_root.txt").write_text(str(root))
    if verbose:
        counts = pd.crosstab(table["class"], table["split"]).reindex(columns=list(SPLITS), fill_value=0)
        together = int((table["group"].map(table["group"].value_counts()) > 1).sum())
        print(f"{len(table)} images, {table['group'].nunique()} groups "
              f"({together} images share a group with another) -> {out_dir / SPLIT_FILE}")
        print(counts.to_string())
    return table[["path", "label", "class", "split", "pixsha1", "group"]]


def split_leaks(split: pd.DataFrame, groups: pd.Series | None = None) -> dict[str, int]:
    """How many pixel hashes (and groups, if given) sit in more than one split. Both 0: no leak."""
    out = {"pixel_copies_across_splits": int((split.groupby("pixsha1")["split"].nunique() > 1).sum())}
    if groups is not None:
        frame = split.assign(group=np.asarray(groups))
        out["groups_across_splits"] = int((frame.groupby("group")["split"].nunique() > 1).sum())
    return out


# ----------------------------------------------------------------------------- honest numbers
def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (say, accuracy = correct / n).

    Better than "p +- 1.96 * sqrt(p(1-p)/n)" for small n and for p near 0 or 1: it never
    leaves [0, 1] and is not zero-width at 0/n or n/n. Returns (nan, nan) for n = 0.
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return float("nan"), float("nan")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if successes == 0 else max(0.0, centre - half)      # exact at the ends
    high = 1.0 if successes == n else min(1.0, centre + half)
    return float(low), float(high)


def bootstrap_interval(y_true, p_class1, metric: str = "balanced_accuracy", threshold: float = 0.5,
                       n_boot: int = 1000, confidence: float = 0.95,
                       seed: int = config.SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of any key of ``evaluation.scores``.

    Resamples the test images with replacement within each class (so every resample has
    both classes), scores each resample with the series' one metric function.
    """
    from .evaluation import scores
    y = np.asarray(y_true).astype(int)
    p = np.asarray(p_class1, dtype=float)
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(y == c) for c in (0, 1) if (y == c).any()]
    values = []
    for _ in range(n_boot):
        idx = np.concatenate([rng.choice(ix, len(ix)) for ix in by_class])
        values.append(scores(y[idx], p[idx], threshold)[metric])
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def scores_with_intervals(y_true, p_class1, threshold: float = 0.5, class_names=("happy", "sad"),
                          confidence: float = 0.95, n_boot: int = 1000,
                          seed: int = config.SEED) -> pd.DataFrame:
    """Key test scores with a ``confidence`` interval each: Wilson for accuracy and each
    class's recall, bootstrap for balanced accuracy and ROC-AUC. One row per metric."""
    from .evaluation import scores
    y = np.asarray(y_true).astype(int)
    p = np.asarray(p_class1, dtype=float)
    point = scores(y, p, threshold, class_names)
    right = (p >= threshold).astype(int) == y
    rows = [("accuracy", point["accuracy"], *wilson_interval(int(right.sum()), len(y), confidence),
             len(y), "Wilson")]
    for label, name in enumerate(class_names):
        mine = y == label
        rows.append((f"{name}_recall", point[f"{name}_recall"],
                     *wilson_interval(int(right[mine].sum()), int(mine.sum()), confidence),
                     int(mine.sum()), "Wilson"))
    for metric in ("balanced_accuracy", "roc_auc"):
        rows.append((metric, point[metric],
                     *bootstrap_interval(y, p, metric, threshold, n_boot, confidence, seed),
                     len(y), "bootstrap"))
    table = pd.DataFrame(rows, columns=["metric", "value", "low", "high", "n", "interval"])
    return table.set_index("metric")


# ----------------------------------------------------------------------------- upload
def upload_widget(accept: str = "image/*", multiple: bool = True):
    """A JupyterLab file-upload button, or None when ipywidgets is not installed."""
    try:
        import ipywidgets
    except ImportError:
        return None
    return ipywidgets.FileUpload(accept=accept, multiple=multiple,
                                 description="Upload photos")


def uploaded_images(widget) -> list[tuple[str, np.ndarray]]:
    """(file name, RGB uint8 pixels) for each file uploaded so far; none if no widget.

    Decoded with lesson 01's safe decoder (``cleaning.load_image``): broken files and
    decompression bombs are skipped with a message, not a crash.
    """
    from .cleaning import Rejected, load_image
    if widget is None:
        return []
    value = widget.value
    items = value.values() if isinstance(value, dict) else value     # ipywidgets 7 / 8
    out = []
    for item in items:
        name = item.get("name") or item.get("metadata", {}).get("name", "upload")
        try:
            pixels, _ = load_image(io.BytesIO(bytes(item["content"])))
        except Rejected as why:
            print(f"{name}: skipped ({why.reason})")
            continue
        out.append((name, pixels))
    return out


# ----------------------------------------------------------------------------- explain
def explain_faces(model, rgb_image, found: list[dict], margin: float | None = None):
    """For each face of ``predict.predict_faces``: its crop and the Grad-CAM of the label
    the model gave it, laid over the crop. Returns (images, titles) for ``plots.image_grid``."""
    from . import explain, faces, predict
    margin = predict.DEFAULT_MARGIN if margin is None else margin
    images, titles = [], []
    for i, face in enumerate(found, 1):
        crop = faces.crop_face(rgb_image, face["box"], margin)
        cam = explain.grad_cam(model, crop, target=int(face["class_index"]))
        images += [crop, explain.overlay(crop, cam)]
        titles += [f"face {i}: {face['label']} {face['probability']:.2f}",
                   f"face {i}: why '{face['label']}'"]
    return images, titles


__all__ = ["prepare_folder_split", "near_duplicate_groups", "split_leaks", "wilson_interval",
           "bootstrap_interval", "scores_with_intervals", "upload_widget", "uploaded_images",
           "explain_faces", "TooFewImagesError", "MIN_PER_CLASS"]
