"""helpers: the shared, tested library behind the Happy or Sad? notebook series.

Import the sub-modules you need, e.g. ``from helpers import data, model_files``.
Importing ``helpers`` itself is cheap: TensorFlow loads only when a module needs it.
"""
import os as _os

# Keep TensorFlow's C++ start-up chatter (CUDA probing on CPU-only machines) out of
# the lessons; warnings and errors still show. Must be set before TensorFlow loads.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from . import config  # noqa: E402,F401

__all__ = ["config"]
