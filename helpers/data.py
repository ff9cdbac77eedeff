"""Finding, splitting and loading the data - once, the same way in every notebook.

* :func:`locate` finds the real data (``$HAPPYSAD_DATA``) or the synthetic demo.
* :func:`prepare_fer_split` makes the FER-2013 split once; :func:`save_split` writes
  any split (also lesson 08's own photos) as ``splits.csv``; :func:`load_split` reads it.
* :func:`load_image` is the one decoder (cleaning, training, evaluation, prediction, uploads), and
  :func:`to_model_input` the one step outside the model (antialiased resize, channels), used by
  training (:func:`load_images` too), evaluation and prediction alike.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from . import config

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
FACE_SOURCE = "ferplus_png_exact_csv_pixels"   # manifest rows whose pixels are real faces
MIN_PIXEL_STD = 8.0    # below this a 48x48 "face" is a blank or near-blank frame
MAX_PIXELS = 50_000_000    # 50 megapixels: larger pictures are refused unread ("image too large")
# The formats the decoder opens. Pillow knows dozens more; some hand the file to other programs
# (a PostScript file named .jpg goes to Ghostscript): anything else is "not an image".
FORMATS = ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP")


@dataclass(frozen=True)
class DataSource:
    """Where the data is. ``fer`` / ``web`` are None when that part is absent."""
    root: Path
    fer: Path | None
    web: Path | None
    synthetic: bool

    @property
    def ferplus(self) -> Path | None:
        """``ferplus/`` (every FER-2013 training face with its FER+ votes) when it is there."""
        path = self.root / "ferplus"
        return path if (path / "train_votes.csv").is_file() else None

    @property
    def manifest(self) -> Path | None:
        path = self.fer / "manifest.csv" if self.fer else None
        return path if path and path.exists() else None


def locate(root: Path | None = None) -> DataSource:
    """Where the series' data is: the real data under ``$HAPPYSAD_DATA`` if it is there, else the
    synthetic demo's folder. It only looks: nothing is written (:func:`ensure_demo` makes the demo)."""
    root = Path(root) if root else config.data_dir()
    fer, web = root / "fer2013", root / "web"
    if (fer / "train").is_dir() or web.is_dir():
        return DataSource(root, fer if (fer / "train").is_dir() else None,
                          web if web.is_dir() else None, synthetic=False)
    demo = config.ROOT / "data" / "synthetic"
    return DataSource(demo, demo / "fer2013", demo / "web", synthetic=True)


def ensure_demo(source: DataSource) -> DataSource:
    """Write the synthetic demo where ``source`` points, if ``source`` is the demo and it is not
    complete yet (made once; made again when its generator changes). Returns ``source``."""
    from . import synthetic
    if source.synthetic and not synthetic.is_complete(source.root):
        synthetic.make_demo(source.root)
    return source


def class_names(folder: Path | str) -> list[str]:
    """The class names: the sub-folder names of ``folder`` (hidden ones skipped), sorted.

    Exactly two: the series is a binary classifier (class 0 and class 1).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"The folder {folder} does not exist (or is not a folder): "
                                f"expected one sub-folder per class.")
    names = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(names) != 2:
        raise ValueError(f"{folder} needs one sub-folder per class, exactly two (for example "
                         f"happy/ and sad/); found {len(names)} ({', '.join(names) or 'none'}).")
    return names


def image_files(folder: Path, suffixes=IMAGE_SUFFIXES) -> list[Path]:
    """Every image file below ``folder`` (by suffix; ``None``: every file), sorted, hidden files skipped."""
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and (suffixes is None or p.suffix.lower() in suffixes)
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


class Rejected(ValueError):
    """One file is rejected; ``check`` is the short group name, ``reason`` the full words."""

    def __init__(self, check: str, reason: str | None = None):
        super().__init__(reason or check)
        self.check, self.reason = check, reason or check


def standardise(img: Image.Image) -> Image.Image:
    """Any decoded PIL image -> upright 8-bit RGB (transparency composited on white)."""
    from PIL import ImageOps
    with contextlib.suppress(AttributeError, EOFError):
        img.seek(0)                      # first frame of an animation
    img = ImageOps.exif_transpose(img)   # a phone photo taken sideways comes out upright
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        arr = np.asarray(img)            # 16/32-bit gray: scale (not clip) to 8 bits
        if img.mode.startswith("I;16") or (img.mode == "I" and arr.size and arr.max() > 255):
            arr = arr.astype(np.float64) / 257.0       # 0..65535 -> 0..255
        img = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), mode="L")
    if img.mode in ("P", "PA", "LA", "La", "RGBa"):      # palette, or transparency not yet RGBA
        img = img.convert("RGB" if img.mode == "P" and "transparency" not in img.info else "RGBA")
    if img.mode == "RGBA":
        img = Image.alpha_composite(Image.new("RGBA", img.size, (255, 255, 255, 255)), img)
    return img.convert("RGB")


def load_image(path, max_pixels: int = MAX_PIXELS, channels: int = 3) -> tuple[np.ndarray, dict]:
    """Decode a file (or its bytes) safely: ``(uint8 (H, W, channels) array, info)``, RGB (never the BGR
    of ``cv2.imread``) or gray for ``channels=1``; ``info``: the file's ``format`` and ``mode``, ``width``
    and ``height`` after EXIF rotation. Only :data:`FORMATS`. Raises :class:`Rejected` with the reason."""
    if isinstance(path, (bytes, bytearray)):          # e.g. an upload in lesson 08
        path = io.BytesIO(path)
    elif not (path := Path(path)).is_file():   # by stat: never open a named pipe (it would block)
        raise Rejected("not a regular file" if path.exists() else
                       "broken link" if path.is_symlink() else "no such file")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that: a bomb is always rejected
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=FORMATS) as img:
                info = {"format": img.format or "", "mode": img.mode}
                if img.width * img.height > max_pixels:   # the header says: refuse before decoding
                    raise Rejected("image too large", f"image too large: {img.width}×{img.height}")
                img.load()
                array = np.asarray(standardise(img).convert("L" if channels == 1 else "RGB"), np.uint8)
    except Rejected:
        raise
    except UnidentifiedImageError:            # no image, or not one of FORMATS
        raise Rejected("not an image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError):
        raise Rejected("image too large") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
        if "truncated" in (text := str(exc).lower()) or "premature" in text or isinstance(exc, EOFError):
            raise Rejected("truncated file") from None
        raise Rejected("broken file", f"broken file ({type(exc).__name__}: {exc})"[:120]) from None
    info["width"], info["height"] = array.shape[1], array.shape[0]
    return (array[..., None] if channels == 1 else array), info


def read_image(path, channels: int = 3) -> np.ndarray:
    """The pixels of :func:`load_image` alone: a photo as every lesson reads it."""
    return load_image(path, channels=channels)[0]


def pixel_hash(array: np.ndarray) -> str:
    """SHA-1 of the decoded pixels and their shape: same picture, same hash, whatever the file.

    Used for exact duplicates in cleaning (lesson 01) and in the FER-2013 split.
    """
    digest = hashlib.sha1(str(array.shape).encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


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


def load_images(files, channels: int = 1, size: tuple[int, int] | None = None) -> np.ndarray:
    """Decode files into one uint8 array ``(N, H, W, channels)``. ``size`` (H, W): each image is
    fitted by :func:`to_model_input`, exactly as prediction fits a face."""
    arrays = [read_image(file, channels) if size is None else
              np.asarray(to_model_input(read_image(file), (*size, channels)))[0].round().astype(np.uint8)
              for file in files]
    return np.stack(arrays) if arrays else np.zeros((0, *(size or (0, 0)), channels), np.uint8)


def balanced_class_weights(labels) -> dict[int, float]:
    """Lesson 03's class weights, {0: w0, 1: w1}: faces / (2 x faces of that class), so both classes
    weigh the same in the loss (scikit-learn's "balanced"). For lessons 08 and 09, which train again."""
    from sklearn.utils.class_weight import compute_class_weight
    weights = compute_class_weight("balanced", classes=np.array([0, 1]), y=np.asarray(labels))
    return {0: float(weights[0]), 1: float(weights[1])}


def load_xy(split: pd.DataFrame, which: str, channels: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of one split ('train', 'val' or 'test')."""
    part = split[split["split"] == which]
    return load_images(part["file"], channels=channels), part["label"].to_numpy()


# ----------------------------------------------------------------------------- preprocessing
def to_model_input(images, input_shape):
    """Make raw 0-255 images fit a model's input: set the channels, resize to (H, W).

    The one resize to a model's input (training, evaluation, prediction): bilinear and
    antialiased, so a big face crop shrinks smoothly instead of skipping pixels. Values
    stay 0-255 (the model rescales itself). Works on a NumPy batch or a tf tensor,
    inside or outside ``tf.data``.
    """
    import tensorflow as tf
    height, width, channels = input_shape[-3:]
    x = tf.convert_to_tensor(images)
    if x.shape.rank == 3:
        x = x[None]
    x = tf.cast(x, tf.float32)
    if x.shape[-1] == 3 and channels == 1:
        x = tf.image.rgb_to_grayscale(x)
    elif x.shape[-1] == 1 and channels == 3:
        x = tf.image.grayscale_to_rgb(x)
    if x.shape[1] != height or x.shape[2] != width:
        x = tf.image.resize(x, (height, width), method="bilinear", antialias=True)
    return tf.clip_by_value(x, 0.0, 255.0)

