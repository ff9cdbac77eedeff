"""All settings of the series, read in one place.

Two environment variables steer everything (a third, ``HAPPYSAD_TRAINING_SEED``, only lesson 10's seed):

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

import dataclasses
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
    return base / "fast" if fast() else base


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
    """Lesson 10's training seed: ``$HAPPYSAD_TRAINING_SEED`` (``make bench`` sets it for a second seed),
    else :data:`SEED`. Another seed gives fresh starting weights, shuffles, augmentation and dropout;
    the split always uses :data:`SEED`."""
    value = os.environ.get("HAPPYSAD_TRAINING_SEED", "").strip()
    if value and not value.isdigit():
        raise ValueError(f"HAPPYSAD_TRAINING_SEED={value!r} is not a whole number: set it to one (e.g. 1) or unset it.")
    return int(value or SEED)


def seed_suffix(seed: int) -> str:
    """What a training seed adds to lesson 10's file names: nothing for :data:`SEED`, else ``_seed<N>``."""
    return "" if seed == SEED else f"_seed{seed}"

FER_SIZE = 48             # FER-2013 faces are 48x48 grayscale
# FER+'s vote columns (Barsoum et al. 2016; fer2013new.csv, the manifest's ferplus_*, ferplus/train_votes.csv),
# in its order: eight emotions, then "unknown" and "NF" (not a face).
FERPLUS_EMOTIONS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
FERPLUS_VOTE_COLUMNS = (*FERPLUS_EMOTIONS, "unknown", "NF")
VAL_FRACTION = 0.15       # share of fer2013/train carved out for validation
FAST_PER_CLASS = {"train": 150, "val": 40, "test": 60}   # images per class in fast mode
BATCH_SIZE = 64

# The series' models, listed once: name -> file, kind, and the notebook that writes it. Lesson 02
# defines each network once and saves it untrained to untrained_dir() (under the same file name);
# lesson 03 trains them the plain way and lesson 04 trains happy_sad with its recipe, each saving the best to
# models_dir(); lessons 06, 08 and 10 add the others.
@dataclasses.dataclass(frozen=True)
class SavedModel:
    """One model file of the series."""
    name: str          # what tables and the bench call it
    file: str          # its file name in models_dir()
    kind: str          # "network" (lesson 03 or 04 trains it), "baseline", "tflite" or "pretrained"
    written_by: str    # the notebook that writes it: the one to run when it is missing
    about: str

    def path(self, seed: int = SEED) -> Path:
        """Its path in models_dir(); lesson 10's file for a second training seed has its suffix (``_seed1``)."""
        file = Path(self.file)
        if self.kind == "pretrained":
            file = file.with_stem(file.stem + seed_suffix(seed))
        return models_dir() / file


TFLITE_MODES = ("float32", "dynamic", "int8")     # lesson 08's conversions of happy_sad
MODELS = {m.name: m for m in (
    SavedModel("original_cnn", "original_cnn.keras", "network", "03_train",
               "the original tutorial's network, at its 256x256 RGB input"),
    SavedModel("original_cnn_48", "original_cnn_48.keras", "network", "03_train",
               "the same layers at the faces' own 48x48 gray"),
    SavedModel("happy_sad_plain", "happy_sad_plain.keras", "network", "03_train",
               "our network trained the plain way (Adam, constant rate): lesson 04's reference"),
    SavedModel("happy_sad", "happy_sad.keras", "network", "04_better_recipe",
               "the series' network, trained with lesson 04's recipe"),
    SavedModel("hog_linear", "hog_linear.json", "baseline", "06_traditional_baseline",
               "HOG features + logistic regression, saved as JSON numbers (nothing pickled)"),
    *(SavedModel(f"happy_sad_{mode}", f"happy_sad_{mode}.tflite", "tflite", "08_efficiency_and_deployment",
                 f"happy_sad for LiteRT, {mode}") for mode in TFLITE_MODES),
    SavedModel("happy_sad_pretrained", "happy_sad_pretrained.keras", "pretrained", "10_transfer_learning",
               "happy_sad's architecture pretrained on every FER+ training face, then fine-tuned"),
)}


def models(kind: str) -> list[SavedModel]:
    """The series' models of one kind, in the order of :data:`MODELS`."""
    return [m for m in MODELS.values() if m.kind == kind]


ORIGINAL_MODEL = MODELS["original_cnn"].file        # the original tutorial's network, 256x256x3
ORIGINAL_48_MODEL = MODELS["original_cnn_48"].file  # the same layers at the faces' own 48x48x1
OUR_MODEL = MODELS["happy_sad"].file                # the series' network: happy_sad


def written_by(path: Path | str) -> str:
    """The notebook that writes a model file of :data:`MODELS` (found by its file name); ``03_train``, where
    training starts, for any other file."""
    name = Path(path).name
    return next((m.written_by for m in MODELS.values() if m.file == name), "03_train")


def untrained_dir() -> Path:
    """Where lesson 02 saves the untrained architectures (``models/untrained/``)."""
    return models_dir() / "untrained"


def make_dirs() -> list[Path]:
    """Create the folders the notebooks write into (models/, models/untrained/, outputs/, data/prepared/,
    or their fast/ sub-folders): the getters above only name them. ``notebook.setup`` calls this."""
    folders = [models_dir(), untrained_dir(), outputs_dir(), prepared_dir()]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    return folders


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
