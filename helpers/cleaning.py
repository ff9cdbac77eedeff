"""Lesson 01: clean a folder of collected images into a new, standard folder.

``clean(src, dst)`` reads ``src/<class>/...`` and writes ``dst/<class>/*.png`` plus
``dst/cleaning_report.csv``: one row per file found, kept or rejected, with the reason
in plain words. ``src`` is never changed. The checks, in order (lesson 01 explains each):
hidden files; "not a regular file" or "broken link", by ``stat`` alone (a named pipe is never
opened; a link to a file is read like the file, one to a folder is not followed); decoding by
``data.load_image``, the series' one decoder ("not an image", "truncated file", "image too large";
upright 8-bit RGB); "too small"; exact duplicates (first copy kept; the same pixels in both classes rejects
every copy); faces (``helpers.faces``); near-duplicates are only noted and grouped
(:func:`near_duplicate_groups`).

    python -m helpers clean SRC DST [--faces all|largest|off] [--detector mtcnn|haar] [--min-size 32] [--limit N]
"""
from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import faces as face_module
from .data import MAX_PIXELS, Rejected, class_names, load_image, pixel_hash   # one of each for the series

REPORT_NAME = "cleaning_report.csv"
MARKER_NAME = ".made-by-helpers-clean"   # marks DST/<class> folders we may recreate
NEAR_BITS = 4              # difference hashes at most this many bits apart are "near-duplicates"

REPORT_COLUMNS = ["source", "class", "status", "reason", "check", "width", "height", "format",
                  "mode", "faces", "output", "face_box", "note", "pixsha1", "dhash", "group"]


class CleaningError(ValueError):
    """The input cannot be cleaned (missing folder, not two classes, an empty class...)."""

    def __init__(self, message: str, result: CleaningResult | None = None):
        super().__init__(message)
        self.result = result


@dataclass
class CleaningResult:
    """What ``clean()`` did. ``report`` has one row per file found in ``src``."""
    src: Path
    dst: Path
    class_names: list[str]
    faces: str
    report: object = field(repr=False)   # pandas.DataFrame

    @property
    def report_path(self) -> Path:
        return self.dst / REPORT_NAME

    @property
    def n_kept(self) -> int:
        return int((self.report["status"] == "kept").sum())

    def kept_files(self):
        """One row per written file: ``path`` (relative to ``dst``), class, label, group, source."""
        kept = self.report[self.report["status"] == "kept"]
        rows = kept.assign(path=kept["output"].str.split("; ")).explode("path")
        rows = rows.assign(label=rows["class"].map(self.class_names.index)).reset_index(drop=True)
        return rows[["path", "class", "label", "group", "source"]]

    def outputs(self, class_name: str) -> list[Path]:
        return sorted((self.dst / class_name).glob("*.png"))

    def counts(self):
        """Kept / rejected files and written outputs per class (a DataFrame)."""
        import pandas as pd
        table = pd.crosstab(self.report["class"], self.report["status"])
        table = table.reindex(columns=["kept", "rejected"], fill_value=0)
        table["outputs"] = [len(self.outputs(c)) if c in self.class_names else 0 for c in table.index]
        table.loc["total"] = table.sum()
        return table

    def reasons(self):
        """Number of files per check ("ok" for kept files), by class (a DataFrame)."""
        import pandas as pd
        table = pd.crosstab(self.report["check"], self.report["class"], margins=True, margins_name="total")
        return table.sort_values("total", ascending=False)

    def summary(self) -> str:
        return "\n".join([f"Cleaned {self.src} -> {self.dst} (faces={self.faces})", "",
                          self.counts().to_string(), "", "Files per check:",
                          self.reasons().to_string(), "", f"Report: {self.report_path}"])


# --------------------------------------------------------------------------- near-duplicates
def difference_hash(array: np.ndarray, size: int = 8) -> int:
    """64-bit perceptual hash: is each pixel of a 9x8 gray thumbnail brighter than its neighbour?

    Resizing, recompressing or a small colour change flips only a few bits, so two
    hashes a few bits apart (Hamming distance) are probably the same photo.
    """
    from PIL import Image
    thumb = Image.fromarray(array.squeeze()).convert("L").resize((size + 1, size), Image.Resampling.LANCZOS)
    pixels = np.asarray(thumb, dtype=np.int16)
    bits = (pixels[:, 1:] > pixels[:, :-1]).flatten()
    return int(sum(1 << i for i, bit in enumerate(bits) if bit))


def _hashes(hashes) -> dict:
    """name -> int, from a mapping (or Series) of ints or hex strings (the report's ``dhash``)."""
    return {name: int(h, 16) if isinstance(h, str) else int(h) for name, h in dict(hashes).items()}


def near_pairs(hashes, near_bits: int = NEAR_BITS) -> list[tuple[str, str, int]]:
    """``(a, b, bits)`` for every two names whose hashes are at most ``near_bits`` apart."""
    values = _hashes(hashes)
    names = sorted(values)
    return [(a, b, bits) for i, a in enumerate(names) for b in names[i + 1:]
            if (bits := (values[a] ^ values[b]).bit_count()) <= near_bits]   # Hamming distance


def near_duplicate_groups(hashes, near_bits: int = NEAR_BITS, links=(), pairs=None):
    """A group name for every name in ``hashes`` (name -> difference hash).

    Names whose hashes are at most ``near_bits`` apart, and the pairs in ``links`` (e.g.
    two faces of one photo), join one group, transitively: a~b and b~c put a, b, c
    together (the graph's connected components), named after its first name, sorted. Split by
    group, and no copy of a photo can sit in training while another sits in the test set.
    ``pairs``: :func:`near_pairs` of ``hashes``, when the caller has them already.
    """
    import pandas as pd
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    names = sorted(_hashes(hashes))
    index = {name: i for i, name in enumerate(names)}
    pairs = [(a, b) for a, b, _ in (near_pairs(hashes, near_bits) if pairs is None else pairs)] + list(links)
    rows, cols = [index[a] for a, _ in pairs], [index[b] for _, b in pairs]
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(names), len(names)))
    _, component = connected_components(graph, directed=False)
    return pd.Series(names, names, object, "group").groupby(component).transform("first").astype(object)


# --------------------------------------------------------------------------- folders
def _list_files(src: Path, classes: list[str]) -> list[tuple[str, str]]:
    """(relative posix path, class) for every entry under ``src`` but real folders, sorted."""
    rows = []
    for path in src.rglob("*"):                   # never walks into a link to a folder
        if path.is_symlink() or not path.is_dir():
            rel = path.relative_to(src).as_posix()
            top = rel.split("/", 1)[0]
            rows.append((rel, top if top in classes and "/" in rel else ""))
    return sorted(rows)


def _prepare_dst(src: Path, dst: Path, classes: list[str]) -> None:
    if dst.is_relative_to(src):
        raise CleaningError(f"The destination {dst} is inside the source {src}. Pick a folder "
                            "outside it: the source must stay untouched.")
    if src.is_relative_to(dst):
        raise CleaningError(f"The source {src} is inside the destination {dst}. Pick a new, "
                            "separate destination folder.")
    if file := next((p for p in (dst, *dst.parents) if p.exists() and not p.is_dir()), None):
        raise CleaningError(f"The destination {dst} is{'' if file == dst else f' in {file}, which is'} a "
                            "file, not a folder: give a new or empty folder (the file stays as it is).")
    try:
        for folder in [dst / name for name in classes]:   # check them all before changing any
            if folder.exists() and not (folder.is_dir() and ((folder / MARKER_NAME).exists()
                                                             or not any(folder.iterdir()))):
                raise CleaningError(f"{folder} already exists and was not made by `clean`. Refusing "
                                    "to overwrite it: choose an empty destination folder.")
        dst.mkdir(parents=True, exist_ok=True)
        for folder in [dst / name for name in classes]:
            shutil.rmtree(folder, ignore_errors=True)  # ours (checked above); a link stays
            folder.mkdir()
            (folder / MARKER_NAME).write_text("Made by `python -m helpers clean`; recreated on rerun.\n")
    except OSError as error:                          # e.g. no permission; a link in the way
        raise CleaningError(f"Cannot write {error.filename or dst} ({error.strerror}): give a "
                            "destination folder you can write to.") from None


def _output_stem(rel_in_class: str) -> str:
    stem = rel_in_class.rsplit(".", 1)[0] if "." in rel_in_class.rsplit("/", 1)[-1] else rel_in_class
    return stem.replace("/", "__").strip() or "image"


# --------------------------------------------------------------------------- clean
def clean(src, dst, faces: str = "all", min_size: int = 32, *, limit: int | None = None,
          max_pixels: int = MAX_PIXELS, near_bits: int = NEAR_BITS,
          detector: str = face_module.DETECTOR, progress: bool = True,
          verbose: bool = True) -> CleaningResult:
    """Clean ``src/<class>/...`` into ``dst/<class>/*.png`` and ``dst/cleaning_report.csv``.

    faces: "all" (each face found becomes its own image, framed like a FER-2013 face),
        "largest" (only the largest face) or "off" (the whole picture).
    detector: "mtcnn" (default) or "haar" (``helpers.faces``).
    min_size: pictures whose shorter side is below this many pixels are rejected.
    limit: only the first ``limit`` files of each class (sorted), for a quick look.
    max_pixels: pictures with more pixels are rejected unread ("image too large").
    near_bits: difference-hash distance at or below which kept pictures are noted as
        near-duplicates and share a ``group`` (never removed).
    Raises :class:`CleaningError` for unusable input, or when a class ends up empty
    (the report is written first; the error carries the result).
    """
    import pandas as pd
    from tqdm import tqdm   # plain text bar: works in a terminal and in Jupyter

    src, dst, classes = _start(src, dst, faces, detector)
    files = _list_files(src, classes)
    if limit is not None:
        picked = [f for c in classes for f in [g for g in files if g[1] == c][:limit]]
        files = sorted([f for f in files if not f[1]] + picked)
    first_by_hash: dict[tuple[str, str], str] = {}    # (class, pixel hash) -> first source
    used_names: dict[str, set[str]] = {c: set() for c in classes}
    rows = [_clean_one(src, dst, rel, cls, faces, min_size, max_pixels, detector, first_by_hash, used_names)
            for rel, cls in tqdm(files, desc="cleaning", unit="file", disable=not progress,
                                 file=sys.stderr, mininterval=1.0)]
    report = pd.DataFrame(rows, columns=REPORT_COLUMNS)
    _reject_in_both_classes(report, dst)
    _note_near_duplicates(report, near_bits)
    report = report.astype(dict.fromkeys(("width", "height", "faces"), "Int64"))
    report.to_csv(dst / REPORT_NAME, index=False)
    result = CleaningResult(src=src, dst=dst, class_names=classes, faces=faces, report=report)
    if verbose:
        print(result.summary())
    _refuse_an_empty_class(result)
    return result


def _start(src, dst, faces: str, detector: str) -> tuple[Path, Path, list[str]]:
    """Check the settings and folders before any file is read: (src, dst, class names)."""
    if faces not in face_module.FACE_MODES:
        raise CleaningError(f"faces must be one of {', '.join(face_module.FACE_MODES)}, not {faces!r}.")
    src, dst = Path(src).expanduser().resolve(), Path(dst).expanduser().resolve()
    try:
        classes = class_names(src)
    except (FileNotFoundError, ValueError) as error:
        raise CleaningError(str(error)) from None
    _prepare_dst(src, dst, classes)
    if faces != "off":
        face_module.detector_model(detector)    # fail early, with a clear message
    return src, dst, classes


def _clean_one(src: Path, dst: Path, rel: str, cls: str, faces: str, min_size: int, max_pixels: int,
               detector: str, first_by_hash: dict, used_names: dict) -> dict:
    """One file: checked, decoded, its faces cropped and saved; its row of the report."""
    row = dict.fromkeys(REPORT_COLUMNS, "") | {"source": rel, "class": cls, "width": None,
                                               "height": None, "faces": None}
    try:
        if any(part.startswith(".") for part in rel.split("/")):
            raise Rejected("hidden file")
        if not cls:
            raise Rejected("not in a class folder")
        array, info = load_image(src / rel, max_pixels=max_pixels)
        row.update(info)
        if min(array.shape[:2]) < min_size:
            raise Rejected("too small", f"too small: {info['width']}×{info['height']}")
        row["pixsha1"] = pixel_hash(array)
        first = first_by_hash.setdefault((cls, row["pixsha1"]), rel)
        if first != rel:
            raise Rejected("duplicate", f"duplicate of {first}")
        row["dhash"] = f"{difference_hash(array):016x}"
        found = face_module.face_crops(array, "off" if faces == "off" else "all", detector)
        if faces != "off":
            row["faces"] = len(found)
            if not found:
                raise Rejected("no face found")
        outputs, boxes = _save_crops(found[:1] if faces == "largest" else found, faces, rel, cls, dst,
                                     used_names[cls])
        row.update(status="kept", check="ok", output="; ".join(outputs), face_box="; ".join(boxes))
    except Rejected as rejection:
        row.update(status="rejected", check=rejection.check, reason=rejection.reason)
    return row


def _save_crops(found, faces: str, rel: str, cls: str, dst: Path, used: set) -> tuple[list[str], list[str]]:
    """Save each crop as ``dst/<class>/<name>.png`` under a name no other file of the class has;
    returns the outputs and the face boxes."""
    from PIL import Image
    outputs, boxes = [], []
    stem = _output_stem(rel.split("/", 1)[1])
    for i, (face, piece) in enumerate(found):
        name = stem if faces == "off" else f"{stem}_face{i}"
        n, base = 1, name
        while name.lower() in used:
            n += 1
            name = f"{base}~{n}"
        used.add(name.lower())
        outputs.append(f"{cls}/{name}.png")
        Image.fromarray(piece).save(dst / outputs[-1], format="PNG", compress_level=3)
        boxes += [] if faces == "off" else [",".join(str(int(v)) for v in face.box)]
    return outputs, boxes


def _reject_in_both_classes(report, dst: Path) -> None:
    """The same pixels in two classes: which label is right? Every copy is rejected (its crops deleted)."""
    for _, group in report[report["pixsha1"] != ""].groupby("pixsha1"):
        if group["class"].nunique() < 2:
            continue
        for index, row in group.iterrows():
            others = ", ".join(s for s in group["source"] if s != row["source"])
            for out in filter(None, str(row["output"]).split("; ")):
                (dst / out).unlink(missing_ok=True)
            report.loc[index, ["status", "check", "reason", "output", "face_box"]] = [
                "rejected", "same image in both classes",
                f"same image in both classes (also in {others})", "", ""]


def _note_near_duplicates(report, near_bits: int) -> None:
    """Near-duplicates among the kept files: a note for a human to look at and a shared ``group``
    (for a split that keeps each group on one side), never removed. The pairs are computed once."""
    kept = report[report["status"] == "kept"].set_index("source")["dhash"]
    pairs = near_pairs(kept, near_bits)
    similar: dict[str, list[str]] = {}
    for a, b, bits in pairs:
        similar.setdefault(a, []).append(f"{b} ({bits} bits)")
        similar.setdefault(b, []).append(f"{a} ({bits} bits)")
    for source, others in similar.items():
        more = f" and {len(others) - 3} more" if len(others) > 3 else ""
        report.loc[report["source"] == source, "note"] = \
            f"near-duplicate of {', '.join(others[:3])}{more}: please look"
    groups = near_duplicate_groups(kept, near_bits, pairs=pairs)
    report["group"] = report["source"].map(groups).astype(object).fillna("")   # "" for rejected files


def _refuse_an_empty_class(result: CleaningResult) -> None:
    report, classes, dst = result.report, result.class_names, result.dst
    empty = [c for c in classes if not result.outputs(c)]
    if empty:
        details = "; ".join(f"{c}: {int((report['class'] == c).sum())} file(s) found, none kept"
                            for c in empty)
        raise CleaningError(
            f"Class folder(s) {', '.join(empty)} ended up empty after cleaning ({details}). "
            f"A classifier needs images of every class: add good pictures, or see "
            f"{dst / REPORT_NAME} for why each file was rejected.", result)


# --------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m helpers clean",
        description="Clean SRC/<class>/... into DST/<class>/*.png and DST/cleaning_report.csv. "
                    "SRC is never changed.")
    parser.add_argument("src", help="folder with one sub-folder per class")
    parser.add_argument("dst", help="new folder for the cleaned copies (not inside SRC)")
    parser.add_argument("--faces", choices=face_module.FACE_MODES, default="all",
                        help="crop every face (all, the default), only the largest, or off")
    parser.add_argument("--detector", choices=face_module.DETECTORS, default=face_module.DETECTOR,
                        help="face detector: mtcnn (default) or haar (faster, frontal faces only)")
    parser.add_argument("--min-size", type=int, default=32,
                        help="reject pictures whose shorter side is smaller (default 32)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N files of each class")
    parser.add_argument("--max-pixels", type=int, default=MAX_PIXELS,
                        help=f"reject larger pictures unread (default {MAX_PIXELS})")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        clean(args.src, args.dst, faces=args.faces, min_size=args.min_size, limit=args.limit,
              max_pixels=args.max_pixels, detector=args.detector, progress=not args.no_progress)
    except (CleaningError, face_module.DetectorMissingError) as error:
        print("error: " + " ".join(str(error).splitlines()), file=sys.stderr)   # one line
        return 2
    return 0
