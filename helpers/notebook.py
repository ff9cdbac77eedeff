"""What every notebook does first: check versions, find the data, say how it runs.

Also re-exports ``config.require``, which turns "file not found" into "run notebook NN first".
"""
from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from importlib import metadata

from packaging.version import Version

from . import config, data   # data imports config only: no cycle
from .config import MissingStepError, require  # noqa: F401  (re-exported for the notebooks)

# Minimum versions. Keras: 3.15.1, the newest security release (requirements.txt lists the CVEs it covers).
MIN_VERSIONS = {"tensorflow": "2.16", "keras": "3.15.1", "scikit-learn": "1.3",
                "matplotlib": "3.7", "Pillow": "10.0", "opencv-python-headless": "4.8",
                "mtcnn": "1.0"}


def check_versions(minimums: dict[str, str] = MIN_VERSIONS) -> dict[str, str]:
    """Installed versions of the packages that matter; raises if one is too old."""
    found = {}
    for package, minimum in minimums.items():
        try:
            version = metadata.version(package)
        except metadata.PackageNotFoundError:
            raise ImportError(f"{package} is not installed. Run `make run` once, or "
                              f"`pip install -r requirements.txt`.") from None
        if Version(version) < Version(minimum):
            raise ImportError(f"{package} {version} is too old: the lessons need >= {minimum}. "
                              f"Run `pip install -r requirements.txt`.")
        found[package] = version
    return found


def load_tensorflow_quietly(log: Path) -> None:
    """Import TensorFlow and probe its devices with the process's C-level stderr (file descriptor 2)
    sent to ``log``. TensorFlow 2.21's C++ start-up lines ("All log messages before absl::InitializeLog()",
    the oneDNN notice, the CUDA probing) ignore TF_CPP_MIN_LOG_LEVEL; in JupyterLab they would fill the
    first cell in red. Only those lines go: Python's warnings (``sys.stderr``) and anything later show."""
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(log, "ab") as out:
            os.dup2(out.fileno(), 2)
            import tensorflow as tf
            tf.config.list_physical_devices("GPU")
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def seed_everything(seed: int = config.SEED) -> None:
    """Same seed for Python, NumPy and TensorFlow, so reruns give the same numbers."""
    import keras
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    keras.utils.set_random_seed(seed)       # seeds Python's random, NumPy and TensorFlow


def measured_times(title: str) -> str:
    """What the last ``make run`` measured for notebook ``NN`` (from ``outputs/**/timings.csv``)."""
    import csv
    found, outputs = [], config.ROOT / "outputs"
    for mode, path in (("fast", outputs / "fast" / "timings.csv"), ("full", outputs / "timings.csv")):
        for row in (csv.DictReader(path.open()) if path.exists() else []):
            if row["notebook"][:2] == title[:2] and row["status"] == "ok":
                seconds = float(row["seconds"])
                found.append(f"{mode} {seconds:.0f} s" if seconds < 120 else f"{mode} {seconds / 60:.1f} min")
    return ", ".join(found) or "not yet measured here (run `make run`)"


def setup(title: str = "", gpu_check: bool = True) -> dict:
    """Print what this notebook runs on; seed everything. Returns the facts as a dict."""
    versions = check_versions()
    config.make_dirs()
    load_tensorflow_quietly(config.outputs_dir() / "tensorflow_startup.log")   # its C++ lines go there
    seed_everything()
    source = data.ensure_demo(data.locate())      # the demo is drawn here, once, when there is no data
    facts = {
        "python": platform.python_version(),
        **versions,
        "mode": "FAST (small subset, few epochs)" if config.fast() else "full",
        "data": str(source.root),
        "synthetic": source.synthetic,
        "time (last make run)": measured_times(title),
    }
    if gpu_check:
        import tensorflow as tf
        gpus = tf.config.list_physical_devices("GPU")
        facts["device"] = f"GPU x{len(gpus)}" if gpus else f"CPU ({os.cpu_count()} cores)"
    print(f"== {title} ==" if title else "== setup ==")
    for key, value in facts.items():
        if key != "synthetic":
            print(f"{key:>24}: {value}")
    if source.synthetic:
        print("\n" + "!" * 72 + "\n!! NO REAL DATA FOUND: running on the SYNTHETIC demo (drawn faces).\n"
              "!! Numbers below say nothing about real photos. Get the real data with\n"
              f"!! `make data` (into {config.data_dir()}; README: 'Where data goes'), then rerun.\n"
              + "!" * 72)
    return facts
