"""helpers: the shared, tested library behind the Happy or Sad? notebook series.

Import the sub-modules you need, e.g. ``from helpers import data, models``.
Importing ``helpers`` itself is cheap: TensorFlow loads only when a module needs it.
"""
from . import config  # noqa: F401

__all__ = ["config"]
