"""All settings of the series, read in one place.

Two environment variables steer everything (a third, ``HAPPYSAD_TRAINING_SEED``, only lesson 09's seed):

* ``HAPPYSAD_DATA`` - the data folder (default: the project's ``data/``).
  Under it: ``fer2013/{train,test}/<class>/``, ``ferplus/`` and ``web/<class>/``.
* ``HAPPYSAD_FAST=1`` - fast mode: a small subset and one or two epochs, so the
  whole series runs in minutes (used by the tests). Default: the full run.

Everything the notebooks write goes below the project folder: ``models/``,
``outputs/`` and ``data/prepared/`` (all git-ignored). Fast mode writes to a
``fast/`` sub-folder of each, so running the tests never overwrites the models
of a full run.
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def data_dir() -> Path:
    """The raw data folder: ``$HAPPYSAD_DATA`` or the project's ``data/``."""
    value = os.environ.get("HAPPYSAD_DATA", "").strip()
    return Path(value).expanduser().resolve() if value else ROOT / "data"


def fast() -> bool:
    """True in fast mode (``HAPPYSAD_FAST=1``)."""
    return _flag("HAPPYSAD_FAST")


def _run_dir(base: Path) -> Path:
    path = base / "fast" if fast() else base
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    """Where trained ``.keras`` / ``.tflite`` files go (``models/``)."""
    return _run_dir(ROOT / "models")


def outputs_dir() -> Path:
    """Where figures, tables and executed notebooks go (``outputs/``)."""
    return _run_dir(ROOT / "outputs")


def prepared_dir() -> Path:
    """Where derived data goes: cleaned copies, the saved split (``data/prepared/``)."""
    return _run_dir(ROOT / "data" / "prepared")


SEED = 42                 # one seed for splits, shuffling and weight init


def training_seed() -> int:
    """Lesson 09's training seed: ``$HAPPYSAD_TRAINING_SEED`` (``make bench`` sets it for a second seed),
    else :data:`SEED`. Another seed gives fresh starting weights, shuffles, augmentation and dropout;
    the split always uses :data:`SEED`."""
    value = os.environ.get("HAPPYSAD_TRAINING_SEED", "").strip()
    if value and not value.isdigit():
        raise ValueError(f"HAPPYSAD_TRAINING_SEED={value!r} is not a whole number: set it to one (e.g. 1) or unset it.")
    return int(value or SEED)


def seed_suffix(seed: int) -> str:
    """What a training seed adds to lesson 09's file names: nothing for :data:`SEED`, else ``_seed<N>``."""
    return "" if seed == SEED else f"_seed{seed}"

FER_SIZE = 48             # FER-2013 faces are 48x48 grayscale
# FER+'s vote columns (Barsoum et al. 2016; fer2013new.csv, the manifest's ferplus_*, ferplus/train_votes.csv),
# in its order: eight emotions, then "unknown" and "NF" (not a face).
FERPLUS_EMOTIONS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
FERPLUS_VOTE_COLUMNS = (*FERPLUS_EMOTIONS, "unknown", "NF")
VAL_FRACTION = 0.15       # share of fer2013/train carved out for validation
FAST_PER_CLASS = {"train": 150, "val": 40, "test": 60}   # images per class in fast mode
BATCH_SIZE = 64

# Model file names, shared by training, evaluation, prediction and export.
# Lesson 02 defines each architecture once and saves it untrained to untrained_dir();
# lesson 03 loads those files, trains them and saves the best to models_dir().
ORIGINAL_MODEL = "original_cnn.keras"        # the original tutorial's network, 256x256x3
ORIGINAL_48_MODEL = "original_cnn_48.keras"  # the same layers at the faces' own 48x48x1
OUR_MODEL = "happy_sad.keras"                # the series' network: happy_sad


def untrained_dir() -> Path:
    """Where lesson 02 saves the untrained architectures (``models/untrained/``)."""
    path = models_dir() / "untrained"
    path.mkdir(parents=True, exist_ok=True)
    return path


class MissingStepError(FileNotFoundError):
    """Something an earlier notebook writes is missing."""


def require(path: Path | str, notebook: str, what: str | None = None) -> Path:
    """Return ``path`` if it exists, else stop with a message naming the notebook to run."""
    path = Path(path)
    if not path.exists():
        raise MissingStepError(
            f"{what or path.name} is missing ({path}).\n"
            f"Run notebook {notebook} first (or `make run`), then run this notebook again.")
    return path
