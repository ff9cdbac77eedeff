"""Finding the data and reading its images - the same way in every notebook (the split: ``splits.py``).

* :func:`locate` finds the real data (``$HAPPYSAD_DATA``) or the synthetic demo's folder; it only
  looks (:func:`ensure_demo` draws the demo).
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
from PIL import Image, UnidentifiedImageError

from . import config

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
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
    if isinstance(path, (bytes, bytearray)):          # e.g. an upload in lesson 09
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


def load_images(files, channels: int = 1, size: tuple[int, int] | None = None) -> np.ndarray:
    """Decode files into one uint8 array ``(N, H, W, channels)``. ``size`` (H, W): each image is
    fitted by :func:`to_model_input`, exactly as prediction fits a face."""
    arrays = [read_image(file, channels) if size is None else
              np.asarray(to_model_input(read_image(file), (*size, channels)))[0].round().astype(np.uint8)
              for file in files]
    return np.stack(arrays) if arrays else np.zeros((0, *(size or (0, 0)), channels), np.uint8)


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

