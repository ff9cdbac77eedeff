"""``make data``: fetch the real data from its public sources, verified, into the data folder.

``python -m tools.get_data [--data DIR] [--fer2013-csv FILE] [--only web,fer2013,ferplus]``
fills ``$HAPPYSAD_DATA`` (default ``data/``) with the layout the series reads::

    web/{happy,sad}/*              the original tutorial's 301 web photos
    fer2013/{train,test}/{happy,sad}/*.png + manifest.csv
    ferplus/train/*.png + train_votes.csv   every FER-2013 training face, all emotions

The sources, and what is checked:

* **web photos**: the original tutorial's repository (``nicknochnack/ImageClassification``,
  folder ``data/``) at the pinned commit :data:`WEB_COMMIT`, one file at a time; each file's
  SHA-256 must be the one in ``tools/sources/web_photos.sha256``. (The folder holds four
  more, large photos; they were never pinned, so they are not fetched.)
* **FER-2013**: the CSV copy of the challenge's ``fer2013.csv`` on Kaggle
  (:data:`KAGGLE_CSV`), through ``kagglehub`` (a public dataset: no account needed). The CSV,
  not the image-folder copy: its pixels are exact (the image-folder copy is JPEG), it has
  all seven emotions (pretraining reads them) and its rows are in the order of FER+'s votes.
  Checked: the published row counts, the pixels of every pinned face (the SHA-1 of each,
  then one SHA-256 over all of them) and its class (``tools/sources/*.csv.gz``).
* **FER+ votes**: Microsoft's ``fer2013new.csv`` (MIT licence) at :data:`FERPLUS_COMMIT`,
  checked against its SHA-256; its ``Usage`` column must match the CSV's row by row.

Downloads go to ``DATA/downloads/`` (resumed when interrupted, each with a progress bar),
every part is built in ``NAME.partial/`` and renamed into place only when complete and
verified, and a folder this command did not make is never touched. A failure prints one
line that says what to do by hand, and the exit code is 2.
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

SOURCES = Path(__file__).with_name("sources")
MARKER = ".made_by_make_data"            # in every folder this command built

WEB_REPO = "nicknochnack/ImageClassification"
WEB_COMMIT = "ecbc2b219606c4153bdec47cd07f6ab00652c6d6"
WEB_URL = f"https://raw.githubusercontent.com/{WEB_REPO}/{WEB_COMMIT}/data/"
WEB_COUNTS = {"happy": 151, "sad": 150}

FERPLUS_COMMIT = "ae2128abf776409c93e50cf7c9d87180673314e6"
FERPLUS_VOTES = {"url": f"https://raw.githubusercontent.com/microsoft/FERPlus/{FERPLUS_COMMIT}/fer2013new.csv",
                 "sha256": "9206e20d62f56475939f516847d61753e4860caeac9718b560129541b776fc2c",
                 "size": 1_602_762}

KAGGLE_CSV = "deadskull7/fer2013/versions/1"
KAGGLE_PAGE = "https://www.kaggle.com/datasets/deadskull7/fer2013"
# FER-2013's published sizes (Goodfellow et al. 2013) and the happy/sad faces the series uses.
FER_USAGE_COUNTS = {"Training": 28_709, "PublicTest": 3_589, "PrivateTest": 3_589}
FER_COUNTS = {("train", "happy"): 7_215, ("train", "sad"): 4_830,
              ("test", "happy"): 895, ("test", "sad"): 653}
FER_NON_FACES = 71                       # happy/sad faces FER+ left out (blank, icons, text)
FERPLUS_FACES = 28_446
# SHA-256 over the pixels of every pinned face, in order (tools/make_pins.py prints them).
FER2013_PIXELS_SHA256 = "b4974657011c8da738c37fce5fe3d4dddbf467ed051f06851a36fa18b2ac0624"
FERPLUS_PIXELS_SHA256 = "22ca44d45044b4f8ffcbe6126b06336650f250b02f08676cae04e3090c3c8b76"

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")   # fer2013.csv's codes
SPLIT_OF_USAGE = {"Training": "train", "PublicTest": "test"}                       # PrivateTest: unused
FERPLUS_FOLDER = {"Training": "FER2013Train", "PublicTest": "FER2013Valid", "PrivateTest": "FER2013Test"}
VOTES = ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
         "unknown", "NF"]
MIN_FREE_BYTES = 1 << 30                 # the CSV (~300 MB), its zip and the images fit in 1 GiB


def _bar(iterable=None, **kwargs):
    """A tqdm bar; in a log (no terminal) a line every 15 s instead of a redraw per step."""
    from tqdm.auto import tqdm
    return tqdm(iterable, mininterval=0.5 if sys.stderr.isatty() else 15, **kwargs)


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
    with _bar(total=len(pins), desc="web photos", unit="photo") as bar:    # one bar for all files
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
        return download.fetch(FERPLUS_VOTES["url"], FERPLUS_VOTES["sha256"], cache_dir=cache,
                              filename="fer2013new.csv", max_bytes=FERPLUS_VOTES["size"])
    except (download.ChecksumError, download.TooLargeError, OSError) as error:
        raise _explain(error, "FER+ votes (fer2013new.csv)",
                       f"Download fer2013new.csv from github.com/microsoft/FERPlus (commit "
                       f"{FERPLUS_COMMIT[:8]}) by hand and pass it with --ferplus-votes FILE.") from None


def fetch_fer2013_csv(cache: Path) -> Path:
    """fer2013.csv through kagglehub (its own progress bar and resume)."""
    by_hand = (f"Download it by hand from {KAGGLE_PAGE} (fer2013.csv, in a zip) and pass it with "
               f"--fer2013-csv FILE.")
    try:
        import kagglehub
        got = Path(kagglehub.dataset_download(KAGGLE_CSV, path="fer2013.csv",
                                              output_dir=str(cache / "kaggle-fer2013")))
    except Exception as error:   # noqa: BLE001 - kagglehub raises many kinds; each becomes one line
        cause = error
        if "connect" in type(error).__name__.lower() or "resolve" in str(error).lower():
            cause = urllib.error.URLError(str(error))
        raise _explain(cause, "FER-2013 (fer2013.csv from Kaggle)", by_hand) from None
    found = [got] if got.is_file() else sorted(got.rglob("fer2013.csv"))
    if not found:
        raise DataError(f"FER-2013: the Kaggle download in {got} holds no fer2013.csv. {by_hand}")
    return found[0]


# ------------------------------------------------------------------ building

def read_fer2013_csv(csv_path: Path, votes_path: Path) -> pd.DataFrame:
    """fer2013.csv with FER+'s votes beside each row (checked: same rows, same usages)."""
    try:
        table = pd.read_csv(csv_path, dtype={"emotion": int, "pixels": str, "Usage": str})
    except (ValueError, pd.errors.ParserError) as error:
        raise DataError(f"{csv_path}: not the FER-2013 CSV ({error}). Expected the columns emotion, pixels, Usage; "
                        f"download it again from {KAGGLE_PAGE}.") from None
    if list(table.columns) != ["emotion", "pixels", "Usage"]:
        raise DataError(f"{csv_path}: columns {list(table.columns)}, expected emotion, pixels, Usage. "
                        f"Download fer2013.csv again from {KAGGLE_PAGE}.")
    counts = table["Usage"].value_counts().to_dict()
    if counts != FER_USAGE_COUNTS:
        raise DataError(f"{csv_path}: row counts {counts}, published {FER_USAGE_COUNTS}. "
                        f"This is not the complete fer2013.csv; download it again from {KAGGLE_PAGE}.")
    votes = pd.read_csv(votes_path)
    if len(votes) != len(table) or not (votes["Usage"].to_numpy() == table["Usage"].to_numpy()).all():
        raise DataError(f"{votes_path}: its rows do not line up with {csv_path.name}'s (FER+ lists them in "
                        "the CSV's order). Use the original fer2013.csv and FERPlus's fer2013new.csv.")
    table["class"] = [EMOTIONS[e] for e in table["emotion"]]
    table["ferplus_name"] = votes["Image name"].to_numpy()
    for column in VOTES:
        table[f"ferplus_{column}"] = votes[column].to_numpy()
    return table


def _pixels(text: str) -> np.ndarray:
    values = np.array(text.split(), dtype=np.uint8)
    if values.size != 48 * 48:
        raise DataError(f"fer2013.csv: a row has {values.size} pixels, expected 2304 (48x48). "
                        f"Download it again from {KAGGLE_PAGE}.")
    return values.reshape(48, 48)


def _save_png(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, "L").save(path)


def _aggregate(raw_in_order, aggregate: str, what: str) -> None:
    """The SHA-256 over all pinned pixels, in the pins' order, must be the pinned one."""
    digest = hashlib.sha256()
    for data in raw_in_order:
        digest.update(data)
    if digest.hexdigest() != aggregate:
        raise DataError(f"{what}: the pixels' SHA-256 is not the pinned one. Download fer2013.csv "
                        f"again from {KAGGLE_PAGE}.")


def name_faces(faces: pd.DataFrame, sha: dict, pins: pd.DataFrame) -> dict:
    """row -> file name, matching each FER+ face to a pinned name by usage, class and pixels.

    The Kaggle image-folder copy's names are not in the CSV, so a face is found by its
    pixels; faces with equal pixels (FER-2013 has exact duplicates) get their names in order.
    """
    pins = pins.assign(usage=pins["name"].str.split("_").str[0]).sort_values("name")
    wanted = pins.groupby(["usage", "class", "pix"])["name"].apply(list).to_dict()
    width = len(pins["pix"].iloc[0])
    names = {}
    for row, face in faces.iterrows():
        queue = wanted.get((face["Usage"], face["class"], sha[row][:width]))
        if not queue:
            raise DataError(f"FER-2013: fer2013.csv row {row} ({face['Usage']}, {face['class']}) is not a "
                            f"pinned face. Download fer2013.csv again from {KAGGLE_PAGE}.")
        names[row] = queue.pop(0)
    left = sum(len(q) for q in wanted.values())
    if left:
        raise DataError(f"FER-2013: {left} pinned faces are not in this fer2013.csv. Download it again "
                        f"from {KAGGLE_PAGE}.")
    return names


def build_fer2013(table: pd.DataFrame, dest: Path) -> None:
    """``dest/{train,test}/{happy,sad}/NAME.png`` and ``dest/manifest.csv`` from the table."""
    pins = pd.read_csv(SOURCES / "fer2013_happy_sad.csv.gz")
    happy_sad = table[table["class"].isin(["happy", "sad"])]
    raw = {row: _pixels(text).tobytes() for row, text in
           _bar(happy_sad["pixels"].items(), total=len(happy_sad), desc="FER-2013 happy/sad", unit="face")}
    sha = {row: hashlib.sha1(data).hexdigest() for row, data in raw.items()}
    used = happy_sad[happy_sad["Usage"].isin(SPLIT_OF_USAGE)]
    named = used["ferplus_name"].notna()
    names = name_faces(used[named], sha, pins)
    _aggregate((raw[row] for row, _ in sorted(names.items(), key=lambda item: item[1])),
               FER2013_PIXELS_SHA256, "FER-2013")
    non_faces = used[~named]
    if len(non_faces) != FER_NON_FACES:
        raise DataError(f"FER-2013: {len(non_faces)} happy/sad images without a FER+ face, published "
                        f"{FER_NON_FACES}. Download fer2013.csv again from {KAGGLE_PAGE}.")
    for row in non_faces.index:      # FER+ judged them no face: kept, marked, named by row
        names[row] = f"{table.at[row, 'Usage']}_row{row}"

    # Exact duplicates among the happy/sad faces of all three FER-2013 parts.
    usage = happy_sad["Usage"].str.lower().replace({"training": "train"})      # as in the manifest
    info = pd.DataFrame({"sha": pd.Series(sha), "usage": usage, "class": happy_sad["class"]})
    joined = lambda values: "|".join(sorted(set(values)))  # noqa: E731
    group = info.groupby("sha")
    info["dup_group_size"] = group["usage"].transform("size")
    info["dup_splits"] = group["usage"].transform(joined)
    info["dup_labels"] = group["class"].transform(joined)

    records = []
    for row, face in used.iterrows():
        split, name = SPLIT_OF_USAGE[face["Usage"]], names[row]
        path = f"{split}/{face['class']}/{name}.png"
        pixels = np.frombuffer(raw[row], np.uint8).reshape(48, 48)
        _save_png(pixels, dest / path)
        is_face = bool(named[row])
        records.append({
            "path": path, "split": split, "fer2013_usage": face["Usage"], "label_fer2013": face["class"],
            "kaggle_name": f"{name}.jpg" if is_face else "", "fer2013_csv_row": row,
            "ferplus_png": f"data/{FERPLUS_FOLDER[face['Usage']]}/{face['ferplus_name']}" if is_face else "",
            "pixel_source": "ferplus_png_exact_csv_pixels" if is_face else "fer2013_csv_not_in_ferplus",
            "match_rmse": 0.0 if is_face else "",   # the CSV's pixels are the pixels: nothing matched
            **{f"ferplus_{v}": face[f"ferplus_{v}"] if is_face else "" for v in VOTES},
            "std": round(float(pixels.std()), 2), "pixsha1": sha[row],
            **info.loc[row, ["dup_group_size", "dup_splits", "dup_labels"]].to_dict()})
    manifest = pd.DataFrame.from_records(records)
    have = {key: int(n) for key, n in manifest.groupby(["split", "label_fer2013"]).size().items()}
    if have != FER_COUNTS:
        raise DataError(f"FER-2013: built {have} faces, published {FER_COUNTS}. Download fer2013.csv again "
                        f"from {KAGGLE_PAGE}.")
    manifest.sort_values("path").to_csv(dest / "manifest.csv", index=False)


def build_ferplus(table: pd.DataFrame, dest: Path) -> None:
    """``dest/train/ferNNNNNNN.png`` + ``train_votes.csv``: the pinned FER+ training faces.

    FER+ names three training faces twice; its own script writes the later row's pixels
    last. Here the row whose pixels match the pin is taken, whichever it is.
    """
    pins = pd.read_csv(SOURCES / "ferplus_train.csv.gz")
    training = table[(table["Usage"] == "Training") & table["ferplus_name"].notna()]
    candidates = {}
    for row, name in training["ferplus_name"].items():
        candidates.setdefault(name.strip(), []).append(row)
    raw, chosen = {}, []
    for name, pix in _bar(zip(pins["image"], pins["pix"]), total=len(pins), desc="FER+ faces", unit="face"):
        rows = candidates.get(name, [])
        datas = [_pixels(table.at[r, "pixels"]).tobytes() for r in rows]
        match = [d for d in datas if hashlib.sha1(d).hexdigest()[:len(pix)] == pix]
        if not match:
            raise DataError(f"FER+ faces: {name} is missing or its pixels are not the pinned ones. "
                            f"Download fer2013.csv again from {KAGGLE_PAGE}.")
        raw[name] = match[0]
        chosen.append(rows[datas.index(match[0])])
        _save_png(np.frombuffer(match[0], np.uint8).reshape(48, 48), dest / "train" / name)
    _aggregate((raw[name] for name in pins["image"]), FERPLUS_PIXELS_SHA256, "FER+ faces")
    votes = table.loc[chosen, [f"ferplus_{v}" for v in VOTES]]
    votes.columns = VOTES
    votes.insert(0, "image", list(pins["image"]))
    votes["first_row"] = [candidates[name][0] for name in pins["image"]]      # the CSV's order
    votes.sort_values("first_row").drop(columns="first_row").to_csv(dest / "train_votes.csv", index=False)


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


def get_data(data: Path, parts=("web", "fer2013", "ferplus"), fer2013_csv: Path | None = None,
             ferplus_votes: Path | None = None, say=print) -> list[str]:
    """Build each missing part of ``data``; returns the error lines (empty: all done)."""
    cache, errors = data / "downloads", []
    todo = []
    for part in parts:
        state = _status(data / part)
        if state == "ours":
            say(f"{data / part}: already there (made by make data).")
        elif state == "theirs":
            say(f"{data / part}: already there, not made by make data: left as it is.")
        else:
            todo.append(part)
    if not todo:
        return errors
    try:
        _check_space(data)
    except DataError as error:
        return [str(error)]

    if "web" in todo:
        try:
            photos = fetch_web_photos(cache)
            _install(lambda d: build_web(photos, d), data / "web", {"web": f"{WEB_REPO}@{WEB_COMMIT}"})
            say(f"{data / 'web'}: {sum(WEB_COUNTS.values())} photos, each SHA-256 checked.")
        except DataError as error:
            errors.append(str(error))
    fer_parts = [p for p in todo if p in ("fer2013", "ferplus")]
    if fer_parts:
        try:
            votes_path = ferplus_votes or fetch_ferplus_votes(cache)
            csv_path = fer2013_csv or fetch_fer2013_csv(cache)
            say(f"reading {csv_path} ...")
            table = read_fer2013_csv(Path(csv_path), Path(votes_path))
            sources = {"fer2013.csv": str(csv_path), "fer2013new.csv": f"microsoft/FERPlus@{FERPLUS_COMMIT}"}
            if "fer2013" in fer_parts:
                _install(lambda d: build_fer2013(table, d), data / "fer2013", sources)
                say(f"{data / 'fer2013'}: {sum(FER_COUNTS.values())} happy/sad faces + manifest.csv, pixels checked.")
            if "ferplus" in fer_parts:
                _install(lambda d: build_ferplus(table, d), data / "ferplus", sources)
                say(f"{data / 'ferplus'}: {FERPLUS_FACES} training faces + train_votes.csv, pixels checked.")
        except DataError as error:
            errors.append(str(error))
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.get_data", description=__doc__.splitlines()[0])
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
