"""make data: fetch the real data from its public sources, verified, into the data folder.

python -m tools.get_data [--data DIR] [--fer2013-csv FILE] [--ferplus-votes FILE] [--only web,fer2013,ferplus]
fills $HAPPYSAD_DATA (default data/) with the layout the series reads::

    web/{happy,sad}/*              the original tutorial's 301 web photos
    fer2013/{train,test}/{happy,sad}/*.png + manifest.csv
    ferplus/train/*.png + train_votes.csv   every FER-2013 training face, all emotions

The sources, and what is checked:

* web photos: the original tutorial's repository (nicknochnack/ImageClassification, folder
  data/) at the pinned commit WEB_COMMIT, one file at a time; each file's SHA-256 must be the
  one in tools/sources/web_photos.sha256. (The folder holds four more, large photos; they were
  never pinned, so they are not fetched.)
* FER+ votes: Microsoft's fer2013new.csv (MIT licence) at FERPLUS_COMMIT, by its SHA-256
  (downloaded or given with --ferplus-votes). Its rows are in fer2013.csv's order: each row's
  Usage must be the CSV's, and its image names name the faces.
* FER-2013: the CSV copy of the challenge's fer2013.csv on Kaggle (KAGGLE_CSV), through
  kagglehub (a public dataset: no account needed), or the file given with --fer2013-csv.
  Checked against facts of the REAL file, not against any copy of ours: the published counts
  (rows per usage, happy and sad faces per usage), and the pixels of every row FER+ names
  (35,712 of 35,887) against the SHA-1 of that row's FER+ image (tools/sources/fer2013_rows.csv.gz,
  made by tools/make_pins.py from the FER+ images), then one SHA-256 over all of them. Each
  face's label and usage are the verified CSV's own. A face is named by its FER+ image name
  (fer0000123.png, the name it has in ferplus/ too); rows FER+ names nothing, or whose FER+
  image a later row overwrote, are named by usage and row (Training_row1234.png).

Downloads go to DATA/downloads/ (resumed when interrupted, each with a progress bar; an
interrupted Kaggle download is started again), every part is built in NAME.partial/ and renamed
into place only when complete and verified, and a folder this command did not make is never
touched. Each source that fails gets one line that says what to do by hand, and the exit code is 2.
"""
from __future__ import annotations

import argparse
import errno
import hashlib
import json
import shutil
import socket
import sys
import time
import urllib.error
import urllib.parse
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from helpers import config
from tools import download
from tools.download import progress_bar

SOURCES = Path(__file__).with_name("sources")
MARKER = ".made_by_make_data"            # in every folder this command built

WEB_REPO = "nicknochnack/ImageClassification"
WEB_COMMIT = "ecbc2b219606c4153bdec47cd07f6ab00652c6d6"
WEB_URL = f"https://raw.githubusercontent.com/{WEB_REPO}/{WEB_COMMIT}/data/"
WEB_COUNTS = {"happy": 151, "sad": 150}

FERPLUS_COMMIT = "ae2128abf776409c93e50cf7c9d87180673314e6"
FERPLUS_VOTES_FILE = {"url": f"https://raw.githubusercontent.com/microsoft/FERPlus/{FERPLUS_COMMIT}/fer2013new.csv",
                      "sha256": "9206e20d62f56475939f516847d61753e4860caeac9718b560129541b776fc2c",
                      "size": 1_602_762}
FERPLUS_PAGE = f"github.com/microsoft/FERPlus (commit {FERPLUS_COMMIT[:8]})"

KAGGLE_CSV = "deadskull7/fer2013/versions/1"
KAGGLE_PAGE = "https://www.kaggle.com/datasets/deadskull7/fer2013"
# FER-2013's published sizes (Goodfellow et al. 2013): rows per usage, happy and sad faces per usage.
FER_USAGE_COUNTS = {"Training": 28_709, "PublicTest": 3_589, "PrivateTest": 3_589}
FER_CLASS_COUNTS = {("Training", "happy"): 7_215, ("Training", "sad"): 4_830,
                    ("PublicTest", "happy"): 895, ("PublicTest", "sad"): 653,
                    ("PrivateTest", "happy"): 879, ("PrivateTest", "sad"): 594}
# The pins: for every row FER+ gives an image of its own, the first 12 hex digits of the SHA-1 of
# that image's pixels (tools/make_pins.py), and one SHA-256 over those rows' whole SHA-1s (hex, one
# line each, in row order).
ROW_PINS = "fer2013_rows.csv.gz"
FER2013_ROWS_SHA256 = "8c3a13eb9bf896657eccd01c0e50c710193104db66c0b98d6fbe543750d8af75"

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")   # fer2013.csv's codes
SPLIT_OF_USAGE = {"Training": "train", "PublicTest": "test"}                       # PrivateTest: unused
TEST_USAGES = ("PublicTest", "PrivateTest")
FERPLUS_FOLDER = {"Training": "FER2013Train", "PublicTest": "FER2013Valid", "PrivateTest": "FER2013Test"}
VOTES = config.FERPLUS_VOTE_COLUMNS      # fer2013new.csv's vote columns, in its order
FACE_SOURCE = "ferplus_png_exact_csv_pixels"   # manifest: a face FER+ names (helpers.data reads it)
MIN_FREE_BYTES = 1 << 30                 # the CSV (~300 MB), its zip and the images fit in 1 GiB


class DataError(Exception):
    """One line for the user: what failed and what to do by hand."""


# ------------------------------------------------------------------ downloads

def _explain(error: BaseException, what: str, by_hand: str) -> DataError:
    """Turn a download error into one line that names the cause and the way out."""
    if isinstance(error, download.ChecksumError):
        cause = "the file's checksum is wrong (changed at the source, or corrupted)"
    elif isinstance(error, download.TooLargeError):
        cause = "the file is larger than it should be"
    elif isinstance(error, urllib.error.HTTPError):
        cause = f"the source refused it (HTTP {error.code} {error.reason})"
    elif isinstance(error, (urllib.error.URLError, socket.timeout, ConnectionError)):
        cause = "no connection (offline, or the host cannot be reached)"
    elif isinstance(error, OSError) and error.errno == errno.ENOSPC:
        cause = "the disk is full"
    else:
        cause = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    return DataError(f"{what}: {cause}. {by_hand}")


def _check_space(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < MIN_FREE_BYTES:
        raise DataError(f"{folder}: only {free / 2**20:.0f} MB free; make data needs about "
                        f"{MIN_FREE_BYTES / 2**30:.0f} GB. Free some space, or point HAPPYSAD_DATA elsewhere.")


def _pinned_web_photos() -> dict[str, str]:
    """relative path -> SHA-256, from tools/sources/web_photos.sha256."""
    pins = {}
    for line in (SOURCES / "web_photos.sha256").read_text().splitlines():
        digest, name = line.split(None, 1)
        pins[name.strip()] = digest
    return pins


def fetch_web_photos(cache: Path) -> Path:
    """Every pinned photo into ``cache/web/``, verified; returns that folder."""
    pins = _pinned_web_photos()
    folder = cache / "web"
    by_hand = (f"Download the folder data/ of github.com/{WEB_REPO} (commit {WEB_COMMIT[:8]}) by hand "
               f"and put its happy/ and sad/ into {cache.parent / 'web'}.")
    with progress_bar(total=len(pins), desc="web photos", unit="photo") as bar:    # one bar for all files
        for name, digest in pins.items():
            try:
                download.fetch(WEB_URL + urllib.parse.quote(name), digest, cache_dir=folder / Path(name).parent,
                               filename=Path(name).name, max_bytes=16 << 20, show_progress=False)
            except (download.ChecksumError, download.TooLargeError, OSError) as error:
                raise _explain(error, f"web photo {name}", by_hand) from None
            bar.update(1)
    return folder


def fetch_ferplus_votes(cache: Path) -> Path:
    try:
        return download.fetch(FERPLUS_VOTES_FILE["url"], FERPLUS_VOTES_FILE["sha256"], cache_dir=cache,
                              filename="fer2013new.csv", max_bytes=FERPLUS_VOTES_FILE["size"])
    except (download.ChecksumError, download.TooLargeError, OSError) as error:
        raise _explain(error, "FER+ votes (fer2013new.csv)",
                       f"Download fer2013new.csv from {FERPLUS_PAGE} by hand and pass it with "
                       "--ferplus-votes FILE.") from None


FER2013_BY_HAND = (f"Download it by hand from {KAGGLE_PAGE} (fer2013.csv, in a zip; unzip it) and pass it "
                   "with --fer2013-csv FILE.")


def fetch_fer2013_csv(cache: Path, say=print) -> Path:
    """fer2013.csv through kagglehub (its own progress bar). A download that was interrupted
    leaves a file kagglehub has not marked complete; kagglehub then refuses to go on
    (FileExistsError), so it is started again from the beginning."""
    import kagglehub
    folder = cache / "kaggle-fer2013"
    try:
        try:
            got = kagglehub.dataset_download(KAGGLE_CSV, path="fer2013.csv", output_dir=str(folder))
        except FileExistsError:
            say(f"{folder}: an earlier download of fer2013.csv did not finish; downloading it again ...")
            got = kagglehub.dataset_download(KAGGLE_CSV, path="fer2013.csv", output_dir=str(folder),
                                             force_download=True)
    except Exception as error:   # noqa: BLE001 - kagglehub raises many kinds; each becomes one line
        cause = error
        if "connect" in type(error).__name__.lower() or "resolve" in str(error).lower():
            cause = urllib.error.URLError(str(error))
        raise _explain(cause, "FER-2013 (fer2013.csv from Kaggle)", FER2013_BY_HAND) from None
    got = Path(got)
    found = [got] if got.is_file() else sorted(got.rglob("fer2013.csv"))
    if not found:
        raise DataError(f"FER-2013: the Kaggle download in {got} holds no fer2013.csv. {FER2013_BY_HAND}")
    return found[0]


# ------------------------------------------------------------------ reading and verifying

def _again(path: Path) -> str:
    return f"Get fer2013.csv again from {KAGGLE_PAGE} and run make data again (or pass it with --fer2013-csv FILE)."


def check_votes_file(votes_path: Path) -> None:
    """The FER+ votes must be FERPlus's own fer2013new.csv: its size, then its SHA-256."""
    size = votes_path.stat().st_size
    if size != FERPLUS_VOTES_FILE["size"] or download.sha256_of(votes_path) != FERPLUS_VOTES_FILE["sha256"]:
        raise DataError(f"{votes_path}: not FERPlus's fer2013new.csv ({size:,} bytes, its SHA-256 is not the "
                        f"pinned one). Download fer2013new.csv from {FERPLUS_PAGE} and pass it with "
                        "--ferplus-votes FILE.")


def read_pixels(table: pd.DataFrame, csv_path: Path) -> np.ndarray:
    """The ``pixels`` column as an (N, 48, 48) uint8 array; a row that is not 2,304 numbers in 0-255 is named."""
    faces = np.empty((len(table), 48, 48), np.uint8)
    rows = progress_bar(table["pixels"].items(), total=len(table), desc="reading faces", unit="face")
    for i, (row, text) in enumerate(rows):
        try:
            values = np.array(text.split(), dtype=np.int64)
        except (AttributeError, ValueError):
            values = np.array([])
        if values.size != 48 * 48 or values.min() < 0 or values.max() > 255:
            raise DataError(f"{csv_path}: row {row} is not 2,304 pixel values in 0-255 (48x48). {_again(csv_path)}")
        faces[i] = values.reshape(48, 48)
    return faces


def read_fer2013_csv(csv_path: Path, votes_path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """fer2013.csv with FER+'s votes beside each row, and its faces; checked: the shape, the
    published counts, the votes file, the same usage row by row, and every pinned row's pixels."""
    try:
        table = pd.read_csv(csv_path, dtype={"emotion": "Int64", "pixels": str, "Usage": str})
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(f"{csv_path}: not the FER-2013 CSV ({str(error).splitlines()[0]}). Expected the "
                        f"columns emotion, pixels, Usage. {_again(csv_path)}") from None
    if list(table.columns) != ["emotion", "pixels", "Usage"]:
        raise DataError(f"{csv_path}: columns {list(table.columns)}, expected emotion, pixels, Usage. "
                        f"{_again(csv_path)}")
    if table["emotion"].isna().any() or not table["emotion"].between(0, len(EMOTIONS) - 1).all():
        raise DataError(f"{csv_path}: an emotion that is not a code 0-6. {_again(csv_path)}")
    counts = {usage: int(n) for usage, n in table["Usage"].value_counts().items()}
    if counts != FER_USAGE_COUNTS:
        raise DataError(f"{csv_path}: row counts {counts}, published {FER_USAGE_COUNTS}. This is not the "
                        f"complete fer2013.csv. {_again(csv_path)}")
    table["class"] = [EMOTIONS[e] for e in table["emotion"]]
    classes = {key: int(n) for key, n in table.groupby(["Usage", "class"]).size().items()
               if key[1] in ("happy", "sad")}
    if classes != FER_CLASS_COUNTS:
        raise DataError(f"{csv_path}: happy/sad faces per usage {classes}, published {FER_CLASS_COUNTS}. "
                        f"{_again(csv_path)}")
    check_votes_file(votes_path)
    votes = pd.read_csv(votes_path)
    if len(votes) != len(table) or not (votes["Usage"].to_numpy() == table["Usage"].to_numpy()).all():
        raise DataError(f"{votes_path}: its rows do not line up with {csv_path.name}'s (FER+ lists them in "
                        f"the CSV's order). {_again(csv_path)}")
    table["ferplus_name"] = votes["Image name"].to_numpy()
    for column in VOTES:
        table[f"ferplus_{column}"] = votes[column].to_numpy()
    faces = read_pixels(table, csv_path)
    table["pixsha1"] = [hashlib.sha1(face.tobytes()).hexdigest() for face in faces]
    check_rows(table, csv_path)
    check_all_rows(table, csv_path)
    return table, faces


def row_pins() -> pd.Series:
    """row -> the first hex digits of the SHA-1 of its pixels, for every row FER+ gives an image of its own."""
    pins = pd.read_csv(SOURCES / ROW_PINS, dtype={"row": int, "pix": str})
    return pins.set_index("row")["pix"]


def check_rows(table: pd.DataFrame, csv_path: Path | str = "fer2013.csv") -> None:
    """Each row of ``table`` (indexed by its row in fer2013.csv, with ``pixsha1``) that has a pin
    must have the pinned pixels; the first that does not is named, with how many more."""
    pins = row_pins()
    pinned = table.index.intersection(pins.index)
    width = len(pins.iloc[0])
    wrong = [row for row in pinned if table.at[row, "pixsha1"][:width] != pins[row]]
    if wrong:
        first = table.loc[wrong[0]]
        more = f" (and {len(wrong) - 1:,} more rows)" if len(wrong) > 1 else ""
        raise DataError(f"{csv_path}: row {wrong[0]} ({first['Usage']}, {EMOTIONS[first['emotion']]}) does not "
                        f"have the pixels of the real fer2013.csv{more}. {_again(Path(csv_path))}")


def check_all_rows(table: pd.DataFrame, csv_path: Path | str = "fer2013.csv") -> None:
    """The SHA-256 over the whole SHA-1s of every pinned row, in row order, must be the pinned one."""
    pinned = table.loc[table.index.intersection(row_pins().index), "pixsha1"]
    digest = hashlib.sha256("".join(f"{sha}\n" for sha in pinned).encode()).hexdigest()
    if digest != FER2013_ROWS_SHA256:
        raise DataError(f"{csv_path}: its pixels' SHA-256 is not the pinned one. {_again(Path(csv_path))}")


# ------------------------------------------------------------------ building

def face_names(table: pd.DataFrame) -> pd.Series:
    """row -> file stem. A row FER+ gives an image of its own is named as that image (fer0000123);
    FER+'s script writes a repeated name's last row, so an earlier row with that name, and a row
    FER+ names nothing, is named by usage and row (Training_row5274)."""
    names = table["ferplus_name"].astype("string").str.strip().str.removesuffix(".png")
    own = names.notna() & ~names.duplicated(keep="last")
    by_row = table["Usage"] + "_row" + table.index.astype(str)
    return names.where(own, by_row).astype(str)


def _save_png(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, "L").save(path)


def fer2013_manifest(table: pd.DataFrame) -> pd.DataFrame:
    """One row per happy or sad Training and PublicTest face: where it goes and what is known of it."""
    happy_sad = table[table["class"].isin(["happy", "sad"])]
    # Exact duplicates among the happy/sad faces of all three FER-2013 parts.
    usage = happy_sad["Usage"].str.lower().replace({"training": "train"})      # as in the manifest
    group = pd.DataFrame({"sha": happy_sad["pixsha1"], "usage": usage, "class": happy_sad["class"]}).groupby("sha")
    joined = lambda values: "|".join(sorted(set(values)))  # noqa: E731
    used = happy_sad[happy_sad["Usage"].isin(SPLIT_OF_USAGE)]
    names = face_names(table)
    is_face = used["ferplus_name"].notna()
    manifest = pd.DataFrame({
        "path": used["Usage"].map(SPLIT_OF_USAGE) + "/" + used["class"] + "/" + names[used.index] + ".png",
        "split": used["Usage"].map(SPLIT_OF_USAGE), "fer2013_usage": used["Usage"], "label_fer2013": used["class"],
        "fer2013_csv_row": used.index,
        "ferplus_png": ("data/" + used["Usage"].map(FERPLUS_FOLDER) + "/" + used["ferplus_name"]).where(is_face, ""),
        "pixel_source": np.where(is_face, FACE_SOURCE, "fer2013_csv_not_in_ferplus"),
        **{f"ferplus_{v}": used[f"ferplus_{v}"].where(is_face) for v in VOTES},
        "pixsha1": used["pixsha1"],
        "dup_group_size": group["usage"].transform("size")[used.index],
        "dup_splits": group["usage"].transform(joined)[used.index],
        "dup_labels": group["class"].transform(joined)[used.index]})
    return manifest


def build_fer2013(table: pd.DataFrame, faces: np.ndarray, dest: Path) -> None:
    """``dest/{train,test}/{happy,sad}/NAME.png`` and ``dest/manifest.csv`` from the verified table."""
    manifest = fer2013_manifest(table)
    position = pd.Series(np.arange(len(table)), index=table.index)
    stds = []
    paths = progress_bar(manifest["path"].items(), total=len(manifest), desc="FER-2013 happy/sad", unit="face")
    for row, path in paths:
        pixels = faces[position[row]]
        _save_png(pixels, dest / path)
        stds.append(round(float(pixels.std()), 2))
    manifest.insert(manifest.columns.get_loc("pixsha1"), "std", stds)
    manifest.sort_values("path").to_csv(dest / "manifest.csv", index=False)


def ferplus_rows(table: pd.DataFrame) -> pd.Index:
    """The Training rows that ``ferplus/`` holds: each FER+ image of a Training face (a repeated
    name: its last row, as FER+'s script writes it), less those whose pixels are a happy or sad
    PublicTest or PrivateTest face (FER-2013 holds exact duplicates across its parts)."""
    names = face_names(table)
    own = table["ferplus_name"].notna() & (names + ".png" == table["ferplus_name"].astype("string").str.strip())
    tests = table["Usage"].isin(TEST_USAGES) & table["class"].isin(["happy", "sad"])
    keep = own & (table["Usage"] == "Training") & ~table["pixsha1"].isin(set(table.loc[tests, "pixsha1"]))
    return table.index[keep]


def build_ferplus(table: pd.DataFrame, faces: np.ndarray, dest: Path) -> None:
    """``dest/train/ferNNNNNNN.png`` + ``train_votes.csv`` (the CSV's order): the FER+ training faces."""
    rows = ferplus_rows(table)
    position = pd.Series(np.arange(len(table)), index=table.index)
    names = table.loc[rows, "ferplus_name"].str.strip()
    for row, name in progress_bar(names.items(), total=len(names), desc="FER+ faces", unit="face"):
        _save_png(faces[position[row]], dest / "train" / name)
    votes = table.loc[rows, [f"ferplus_{v}" for v in VOTES]]
    votes.columns = VOTES
    votes.insert(0, "image", names.to_numpy())
    votes.to_csv(dest / "train_votes.csv", index=False)


def build_web(photos: Path, dest: Path) -> None:
    """Copy the verified photos into ``dest/{happy,sad}/`` and check the counts."""
    shutil.copytree(photos, dest)
    have = {c.name: len(list(c.iterdir())) for c in sorted(dest.iterdir()) if c.is_dir()}
    if have != WEB_COUNTS:
        raise DataError(f"web photos: {have}, expected {WEB_COUNTS}. Run make data again.")


# ------------------------------------------------------------------ the command

def _status(folder: Path) -> str:
    """"missing", "ours" (built and complete) or "theirs" (there, not made by this command)."""
    if not folder.exists():
        return "missing"
    return "ours" if (folder / MARKER).exists() else "theirs"


def _install(build, folder: Path, sources: dict) -> None:
    """Build into ``folder.partial`` (emptied first), then rename it into place."""
    partial = folder.with_name(folder.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.parent.mkdir(parents=True, exist_ok=True)
    try:
        build(partial)
        (partial / MARKER).write_text(json.dumps({"made": time.strftime("%Y-%m-%d %H:%M:%S"),
                                                  "sources": sources}, indent=1) + "\n")
    except OSError as error:
        raise _explain(error, f"writing {partial}", "Free some space and run make data again.") from None
    partial.rename(folder)


def _fetch_each(fetchers: dict) -> tuple[dict, list[str]]:
    """Run every fetcher, even after one fails: name -> path, and one error line per failure."""
    got, errors = {}, []
    for name, fetch in fetchers.items():
        try:
            got[name] = fetch()
        except DataError as error:
            errors.append(str(error))
    return got, errors


def _missing(data: Path, parts, say) -> list[str]:
    """The parts not there yet; a part that is there is named and left alone."""
    todo = []
    for part in parts:
        state = _status(data / part)
        if state == "ours":
            say(f"{data / part}: already there (made by make data).")
        elif state == "theirs":
            say(f"{data / part}: already there, not made by make data: left as it is.")
        else:
            todo.append(part)
    return todo


def _build_fer_parts(data: Path, fer_parts: list[str], csv_path: Path, votes_path: Path, downloaded: bool,
                     say) -> None:
    """Read and verify fer2013.csv, then build fer2013/ and ferplus/ from it. A downloaded copy that
    fails the checks is deleted, so the next run fetches it anew (a file the user gave is never touched)."""
    say(f"reading {csv_path} ...")
    try:
        table, faces = read_fer2013_csv(csv_path, votes_path)
    except DataError as error:
        if not downloaded:
            raise
        shutil.rmtree(data / "downloads" / "kaggle-fer2013", ignore_errors=True)
        raise DataError(f"{error} (The downloaded copy was deleted.)") from None
    say(f"{csv_path}: {len(table):,} rows, every pinned row's pixels checked.")
    sources = {"fer2013.csv": str(csv_path), "fer2013new.csv": f"microsoft/FERPlus@{FERPLUS_COMMIT}"}
    if "fer2013" in fer_parts:
        _install(lambda d: build_fer2013(table, faces, d), data / "fer2013", sources)
        say(f"{data / 'fer2013'}: the happy and sad faces of Training and PublicTest + manifest.csv.")
    if "ferplus" in fer_parts:
        _install(lambda d: build_ferplus(table, faces, d), data / "ferplus", sources)
        say(f"{data / 'ferplus'}: {len(ferplus_rows(table)):,} training faces + train_votes.csv.")


def get_data(data: Path, parts=("web", "fer2013", "ferplus"), fer2013_csv: Path | None = None,
             ferplus_votes: Path | None = None, say=print) -> list[str]:
    """Build each missing part of ``data``; returns the error lines (empty: all done)."""
    cache = data / "downloads"
    todo = _missing(data, parts, say)
    if not todo:
        return []
    try:
        _check_space(data)
    except DataError as error:
        return [str(error)]

    fer_parts = [p for p in todo if p in ("fer2013", "ferplus")]
    fetchers = {"web": lambda: fetch_web_photos(cache)} if "web" in todo else {}
    if fer_parts:
        fetchers["votes"] = lambda: ferplus_votes or fetch_ferplus_votes(cache)
        fetchers["csv"] = lambda: fer2013_csv or fetch_fer2013_csv(cache, say)
    got, errors = _fetch_each(fetchers)          # every source is tried: each failure gets its line

    steps = []
    if "web" in got:
        def web():
            _install(lambda d: build_web(got["web"], d), data / "web", {"web": f"{WEB_REPO}@{WEB_COMMIT}"})
            say(f"{data / 'web'}: {sum(WEB_COUNTS.values())} photos, each SHA-256 checked.")
        steps.append(web)
    if fer_parts and "votes" in got and "csv" in got:
        steps.append(lambda: _build_fer_parts(data, fer_parts, Path(got["csv"]), Path(got["votes"]),
                                              downloaded=fer2013_csv is None, say=say))
    for step in steps:
        try:
            step()
        except DataError as error:
            errors.append(str(error))
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.get_data",
        description="make data: fetch the real data (the web photos, FER-2013 and the FER+ votes) from their "
                    "public sources, verified, into the data folder. README: 'Where data goes'.")
    parser.add_argument("--data", type=Path, default=None, help="the data folder (default: $HAPPYSAD_DATA or data/)")
    parser.add_argument("--only", default="web,fer2013,ferplus", help="comma-separated parts to build")
    parser.add_argument("--fer2013-csv", type=Path, help="a fer2013.csv you downloaded yourself")
    parser.add_argument("--ferplus-votes", type=Path, help="a fer2013new.csv you downloaded yourself")
    parser.add_argument("--if-none", action="store_true",
                        help="(make run) only when there is no real data; on failure, say so and go on")
    args = parser.parse_args(argv)
    data = (args.data or config.data_dir()).resolve()
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(parts) - {"web", "fer2013", "ferplus"}
    if unknown:
        print(f"make data: unknown part(s) {', '.join(sorted(unknown))}; choose from web, fer2013, ferplus.",
              file=sys.stderr)
        return 2
    for given in (args.fer2013_csv, args.ferplus_votes):
        if given is not None and not given.is_file():
            print(f"make data: {given} is not a file. Give the path of the file you downloaded.", file=sys.stderr)
            return 2
    if args.if_none:
        from helpers.data import locate
        if not locate(data).synthetic:
            return 0                          # real data is there: make run uses it as it is
        print(f"make run: no data in {data}; fetching it first (make data) ...")
    print(f"make data: into {data}")
    errors = get_data(data, parts, args.fer2013_csv, args.ferplus_votes)
    sys.stdout.flush()
    for line in errors:
        print(f"make data: {line}", file=sys.stderr)
    if errors and args.if_none:
        print(FALLBACK, file=sys.stderr)
        return 0                              # make run goes on, with the demo
    return 2 if errors else 0


FALLBACK = """
**********************************************************************************
  THE REAL DATA COULD NOT BE FETCHED (see the lines above): make run goes on with
  the SYNTHETIC DEMO, drawn faces made on this machine. Every step runs, but no
  number it prints says anything about real faces. Get the real data with
  `make data` once you are online (or by hand, as the lines above say), then
  `make run` again.
**********************************************************************************"""


if __name__ == "__main__":
    raise SystemExit(main())
