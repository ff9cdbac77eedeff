"""Lesson 01: clean a folder of collected images into a new, standard folder.

``clean(src, dst)`` reads ``src/<class>/...`` and writes ``dst/<class>/*.png`` plus
``dst/cleaning_report.csv``: one row per file found, kept or rejected, with the reason
in plain words. ``src`` is never changed: nothing is deleted, moved or rewritten there.

Command line::

    python -m helpers clean SRC DST [--faces crop|largest|off] [--min-size 32] [--limit N]

What is checked, in this order:

1. hidden files (``.DS_Store``, ``._photo.jpg``) are skipped;
2. the file is decoded (by content, not by its extension): "not an image",
   "truncated file", "image too large" (a decompression bomb: the size is read from
   the header and refused *before* the pixels are decoded);
3. the picture is standardised: EXIF orientation applied, first frame of an animation,
   16-bit and palette/transparent images converted properly, RGB 8-bit;
4. "too small: W×H" when the shorter side is under ``min_size``;
5. exact duplicates (same pixels): within a class the first copy (sorted path order)
   is kept; the same pixels in two classes is a label conflict and every copy is rejected;
6. faces (``faces="crop"`` or ``"largest"``): "no face found" when the detector finds none;
7. near-duplicates (a 64-bit difference hash a few bits apart) are only *noted* for review.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .data import pixel_hash   # one pixel hash for cleaning and the FER-2013 split

REPORT_NAME = "cleaning_report.csv"
MARKER_NAME = ".made-by-helpers-clean"   # marks DST/<class> folders we may recreate
FACE_MODES = ("crop", "largest", "off")
MAX_PIXELS = 50_000_000    # 50 megapixels: larger pictures are refused as "image too large"
NEAR_BITS = 4              # difference hashes at most this many bits apart are "near-duplicates"
FACE_MARGIN = 0.2

REPORT_COLUMNS = ["source", "class", "status", "reason", "check", "width", "height", "format",
                  "mode", "faces", "output", "face_box", "note", "pixsha1"]


class CleaningError(ValueError):
    """The input cannot be cleaned (missing folder, too few classes, an empty class...)."""

    def __init__(self, message: str, result: "CleaningResult | None" = None):
        super().__init__(message)
        self.result = result


class Rejected(Exception):
    """One file is rejected; ``check`` is the short group name, ``reason`` the full words."""

    def __init__(self, check: str, reason: str | None = None):
        super().__init__(reason or check)
        self.check = check
        self.reason = reason or check


@dataclass
class CleaningResult:
    """What ``clean()`` did. ``report`` has one row per file found in ``src``."""
    src: Path
    dst: Path
    class_names: list[str]
    faces: str
    report: "object" = field(repr=False)   # pandas.DataFrame

    @property
    def report_path(self) -> Path:
        return self.dst / REPORT_NAME

    @property
    def n_kept(self) -> int:
        return int((self.report["status"] == "kept").sum())

    @property
    def n_rejected(self) -> int:
        return int((self.report["status"] == "rejected").sum())

    @property
    def n_outputs(self) -> int:
        """Files written (in crop mode one photo can give several faces)."""
        return sum(len(self.outputs(c)) for c in self.class_names)

    def outputs(self, class_name: str) -> list[Path]:
        return sorted((self.dst / class_name).glob("*.png"))

    def counts(self):
        """Kept / rejected files and written outputs per class (a DataFrame)."""
        import pandas as pd
        table = pd.crosstab(self.report["class"], self.report["status"])
        for column in ("kept", "rejected"):
            if column not in table:
                table[column] = 0
        table = table[["kept", "rejected"]]
        table["outputs"] = [len(self.outputs(c)) if c in self.class_names else 0
                            for c in table.index]
        table.loc["total"] = table.sum()
        return table

    def reasons(self):
        """Number of files per check ("ok" for kept files), by class (a DataFrame)."""
        import pandas as pd
        table = pd.crosstab(self.report["check"], self.report["class"], margins=True,
                            margins_name="total")
        return table.sort_values("total", ascending=False)

    def summary(self) -> str:
        lines = [f"Cleaned {self.src} -> {self.dst} (faces={self.faces})",
                 "", self.counts().to_string(), "", "Files per check:",
                 self.reasons().to_string(), "", f"Report: {self.report_path}"]
        return "\n".join(lines)


# --------------------------------------------------------------------------- decoding
def _to_uint8_gray(img):
    """16-bit / 32-bit / float grayscale -> 8-bit, scaling (not clipping) 16-bit values."""
    from PIL import Image
    arr = np.asarray(img)
    if img.mode.startswith("I;16") or (img.mode == "I" and arr.size and arr.max() > 255):
        arr = arr.astype(np.float64) / 257.0       # 0..65535 -> 0..255
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), mode="L")


def standardise(img):
    """Any decoded PIL image -> upright 8-bit RGB (transparency composited on white)."""
    from PIL import Image, ImageOps
    try:
        img.seek(0)                      # first frame of an animation
    except (AttributeError, EOFError):
        pass
    img = ImageOps.exif_transpose(img)   # a phone photo taken sideways comes out upright
    mode = img.mode
    if mode in ("I", "F") or mode.startswith("I;16"):
        img = _to_uint8_gray(img)
        mode = img.mode
    if mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
    elif mode in ("PA", "LA", "La", "RGBa"):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img)
    return img.convert("RGB")


def _reject_decode_error(exc: BaseException) -> Rejected:
    text = str(exc).lower()
    if "truncated" in text or "premature" in text or isinstance(exc, EOFError):
        return Rejected("truncated file")
    return Rejected("broken file", f"broken file ({type(exc).__name__}: {exc})"[:120])


def load_image(path: Path, max_pixels: int = MAX_PIXELS):
    """Decode ``path`` safely. Returns ``(rgb_array, info)``; raises :class:`Rejected`."""
    from PIL import Image, UnidentifiedImageError
    info = {}
    with warnings.catch_warnings():
        # Pillow warns above Image.MAX_IMAGE_PIXELS and raises above twice that; make the
        # warning an error too, so a bomb is always a clean rejection.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(path)
        except UnidentifiedImageError:
            raise Rejected("not an image") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise Rejected("image too large") from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise _reject_decode_error(exc) from None
        with img:
            info.update(format=img.format, mode=img.mode, width=img.width, height=img.height)
            # the header says how big the picture is: refuse a bomb before decoding it
            if img.width * img.height > max_pixels:
                raise Rejected("image too large",
                               f"image too large: {img.width}×{img.height}")
            try:
                img.load()
                rgb = standardise(img)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise Rejected("image too large") from None
            except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
                raise _reject_decode_error(exc) from None
            except MemoryError:
                raise Rejected("image too large") from None
    array = np.asarray(rgb, dtype=np.uint8)
    info["width"], info["height"] = array.shape[1], array.shape[0]   # after EXIF rotation
    return array, info


# --------------------------------------------------------------------------- hashes
def difference_hash(array: np.ndarray, size: int = 8) -> int:
    """64-bit perceptual hash: is each pixel of a 9x8 gray thumbnail brighter than its neighbour?

    Resizing, recompressing or a small colour change flips only a few bits, so two
    hashes a few bits apart (Hamming distance) are probably the same photo.
    """
    from PIL import Image
    thumb = Image.fromarray(array).convert("L").resize((size + 1, size), Image.Resampling.LANCZOS)
    pixels = np.asarray(thumb, dtype=np.int16)
    bits = (pixels[:, 1:] > pixels[:, :-1]).flatten()
    return int(sum(1 << i for i, bit in enumerate(bits) if bit))


def hamming(a: int, b: int) -> int:
    return bin(a ^ b).count("1")


# --------------------------------------------------------------------------- folders
def _is_inside(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
        return True
    except ValueError:
        return False


def find_classes(src: Path) -> list[str]:
    """Sorted names of the class sub-folders of ``src`` (hidden folders ignored)."""
    src = Path(src)
    if not src.exists():
        raise CleaningError(f"The source folder {src} does not exist.")
    if not src.is_dir():
        raise CleaningError(f"The source {src} is not a folder.")
    classes = sorted(p.name for p in src.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        found = ", ".join(classes) or "none"
        raise CleaningError(
            f"{src} needs one sub-folder per class, at least two (e.g. happy/ and sad/); "
            f"found {len(classes)} ({found}).")
    return classes


def _list_files(src: Path, classes: list[str]) -> list[tuple[str, str]]:
    """(relative posix path, class) for every file under ``src``, sorted."""
    rows = []
    for path in sorted(src.rglob("*")):
        if path.is_file():
            rel = path.relative_to(src).as_posix()
            top = rel.split("/", 1)[0]
            rows.append((rel, top if top in classes and "/" in rel else ""))
    return sorted(rows)


def _prepare_dst(src: Path, dst: Path, classes: list[str]) -> None:
    if dst == src or _is_inside(dst, src):
        raise CleaningError(f"The destination {dst} is inside the source {src}. Pick a folder "
                            "outside it: the source must stay untouched.")
    if _is_inside(src, dst):
        raise CleaningError(f"The source {src} is inside the destination {dst}. Pick a new, "
                            "separate destination folder.")
    import shutil
    dst.mkdir(parents=True, exist_ok=True)
    for name in classes:
        folder = dst / name
        if folder.exists():
            if not (folder / MARKER_NAME).exists() and any(folder.iterdir()):
                raise CleaningError(
                    f"{folder} already exists and was not made by `clean`. Refusing to overwrite "
                    "it: choose an empty destination folder.")
            shutil.rmtree(folder)
        folder.mkdir()
        (folder / MARKER_NAME).write_text("Made by `python -m helpers clean`; recreated on rerun.\n")


def _output_stem(rel_in_class: str) -> str:
    stem = rel_in_class.rsplit(".", 1)[0] if "." in rel_in_class.rsplit("/", 1)[-1] else rel_in_class
    return stem.replace("/", "__").strip() or "image"


# --------------------------------------------------------------------------- clean
def clean(src, dst, faces: str = "crop", min_size: int = 32, *, limit: int | None = None,
          max_pixels: int = MAX_PIXELS, near_bits: int = NEAR_BITS, margin: float = FACE_MARGIN,
          progress: bool = True, verbose: bool = True) -> CleaningResult:
    """Clean ``src/<class>/...`` into ``dst/<class>/*.png`` and ``dst/cleaning_report.csv``.

    faces: "crop" (each face found becomes its own image, with a ``margin`` around it),
        "largest" (only the largest face) or "off" (the whole picture).
    min_size: pictures whose shorter side is below this many pixels are rejected.
    limit: only the first ``limit`` files of each class (sorted), for a quick look.
    max_pixels: pictures with more pixels are rejected unread ("image too large").
    near_bits: difference-hash distance at or below which two pictures are noted as
        near-duplicates (noted only, never removed).
    Raises :class:`CleaningError` for unusable input, or when a class ends up empty
    (the report is written first; the error carries the result).
    """
    import pandas as pd
    from PIL import Image
    from tqdm import tqdm   # plain text bar: works in a terminal and in Jupyter

    if faces not in FACE_MODES:
        raise CleaningError(f"faces must be one of {', '.join(FACE_MODES)}, not {faces!r}.")
    src = Path(src).expanduser().resolve()
    dst = Path(dst).expanduser().resolve()
    classes = find_classes(src)
    _prepare_dst(src, dst, classes)
    if faces != "off":
        from . import faces as face_module
        face_module.cascade_path()         # fail early, with a clear message

    files = _list_files(src, classes)
    if limit is not None:
        per_class: dict[str, int] = {}
        selected = []
        for rel, cls in files:
            per_class[cls] = per_class.get(cls, 0) + 1
            if cls == "" or per_class[cls] <= limit:
                selected.append((rel, cls))
        files = selected

    rows: list[dict] = []
    first_by_hash: dict[tuple[str, str], str] = {}    # (class, hash) -> first source
    used_names: dict[str, set[str]] = {c: set() for c in classes}
    dhashes: dict[int, int] = {}                        # row index -> difference hash

    bar = tqdm(files, desc="cleaning", unit="file", disable=not progress, file=sys.stderr,
               mininterval=1.0)
    for rel, cls in bar:
        row = {"source": rel, "class": cls, "status": "rejected", "reason": "", "check": "",
               "width": None, "height": None, "format": "", "mode": "", "faces": None,
               "output": "", "face_box": "", "note": "", "pixsha1": ""}
        rows.append(row)
        try:
            if any(part.startswith(".") for part in rel.split("/")):
                raise Rejected("hidden file")
            if not cls:
                raise Rejected("not in a class folder")
            array, info = load_image(src / rel, max_pixels=max_pixels)
            row.update(format=info["format"] or "", mode=info["mode"],
                       width=info["width"], height=info["height"])
            height, width = array.shape[:2]
            if min(height, width) < min_size:
                raise Rejected("too small", f"too small: {width}×{height}")
            digest = pixel_hash(array)
            row["pixsha1"] = digest
            first = first_by_hash.setdefault((cls, digest), rel)
            if first != rel:
                raise Rejected("duplicate", f"duplicate of {first}")
            dhashes[len(rows) - 1] = difference_hash(array)

            if faces == "off":
                pieces = [("", None, array)]
            else:
                from . import faces as face_module
                boxes = face_module.detect_faces(array)
                row["faces"] = len(boxes)
                if faces == "largest":
                    boxes = boxes[:1]
                pieces = [(f"_face{i}", box, face_module.crop_face(array, box, margin))
                          for i, box in enumerate(boxes)]
                if not pieces:
                    raise Rejected("no face found")
            outputs, boxes_text = [], []
            stem = _output_stem(rel.split("/", 1)[1])
            for suffix, box, piece in pieces:
                name = f"{stem}{suffix}"
                n = 1
                while name.lower() in used_names[cls]:
                    n += 1
                    name = f"{stem}{suffix}~{n}"
                used_names[cls].add(name.lower())
                out = f"{cls}/{name}.png"
                Image.fromarray(piece).save(dst / out, format="PNG", compress_level=3)
                outputs.append(out)
                if box is not None:
                    boxes_text.append(",".join(str(int(v)) for v in box))
            row.update(status="kept", check="ok", output="; ".join(outputs),
                       face_box="; ".join(boxes_text))
        except Rejected as rejection:
            row.update(status="rejected", check=rejection.check, reason=rejection.reason)
    bar.close()

    # The same pixels in two classes: which label is right? Reject every copy.
    report = pd.DataFrame(rows, columns=REPORT_COLUMNS)
    decoded = report[report["pixsha1"] != ""]
    for digest, group in decoded.groupby("pixsha1"):
        if group["class"].nunique() < 2:
            continue
        for index, row in group.iterrows():
            others = ", ".join(s for s in group["source"] if s != row["source"])
            for out in filter(None, str(row["output"]).split("; ")):
                (dst / out).unlink(missing_ok=True)
            report.loc[index, ["status", "check", "reason", "output", "face_box"]] = [
                "rejected", "same image in both classes",
                f"same image in both classes (also in {others})", "", ""]
            dhashes.pop(index, None)

    # Near-duplicates: noted for a human to look at, never removed.
    indices = sorted(dhashes)
    notes: dict[int, list[str]] = {i: [] for i in indices}
    for a_pos, a in enumerate(indices):
        for b in indices[a_pos + 1:]:
            bits = hamming(dhashes[a], dhashes[b])
            if bits <= near_bits:
                notes[a].append(f"{report.at[b, 'source']} ({bits} bits)")
                notes[b].append(f"{report.at[a, 'source']} ({bits} bits)")
    for index, similar in notes.items():
        if similar:
            shown = ", ".join(similar[:3]) + (f" and {len(similar) - 3} more" if len(similar) > 3 else "")
            report.at[index, "note"] = f"near-duplicate of {shown}: please look"

    report["width"] = report["width"].astype("Int64")
    report["height"] = report["height"].astype("Int64")
    report["faces"] = report["faces"].astype("Int64")
    report.to_csv(dst / REPORT_NAME, index=False)
    result = CleaningResult(src=src, dst=dst, class_names=classes, faces=faces, report=report)
    if verbose:
        print(result.summary())

    empty = [c for c in classes if not result.outputs(c)]
    if empty:
        found = {c: int((report["class"] == c).sum()) for c in empty}
        details = "; ".join(f"{c}: {n} file(s) found, none kept" for c, n in found.items())
        raise CleaningError(
            f"Class folder(s) {', '.join(empty)} ended up empty after cleaning ({details}). "
            f"A classifier needs images of every class: add good pictures, or see "
            f"{dst / REPORT_NAME} for why each file was rejected.", result)
    return result


# --------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m helpers clean",
        description="Clean SRC/<class>/... into DST/<class>/*.png and DST/cleaning_report.csv. "
                    "SRC is never changed.")
    parser.add_argument("src", help="folder with one sub-folder per class")
    parser.add_argument("dst", help="new folder for the cleaned copies (not inside SRC)")
    parser.add_argument("--faces", choices=FACE_MODES, default="crop",
                        help="crop every face (default), keep only the largest, or off")
    parser.add_argument("--min-size", type=int, default=32,
                        help="reject pictures whose shorter side is smaller (default 32)")
    parser.add_argument("--limit", type=int, default=None,
                        help="only the first N files of each class")
    parser.add_argument("--max-pixels", type=int, default=MAX_PIXELS,
                        help=f"reject larger pictures unread (default {MAX_PIXELS})")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        clean(args.src, args.dst, faces=args.faces, min_size=args.min_size, limit=args.limit,
              max_pixels=args.max_pixels, progress=not args.no_progress)
    except CleaningError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
