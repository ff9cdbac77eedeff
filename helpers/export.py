"""Shipping the model: TensorFlow Lite export and a predictor for ``.tflite`` files.

* :func:`to_tflite` - convert a Keras model in one of three modes:

  - ``"float32"``: the same maths as Keras, in a small runtime. BatchNorm and the
    ``Rescaling`` layer are folded into the convolutions by the converter.
  - ``"dynamic"`` (dynamic-range quantisation): weights stored as int8 (about 4x
    smaller), activations stay float; no data needed.
  - ``"int8"`` (full-integer quantisation): weights AND activations int8. The
    converter needs a *representative dataset* to choose each activation's
    range; we draw it from TRAINING images (never test), fitted with
    ``to_model_input`` exactly like training.

  For ``"int8"`` the input and output are int8 too (``inference_input_type`` /
  ``inference_output_type``). Why: that is what integer-only hardware
  (microcontrollers, Edge TPU, many NPUs) needs, and for our raw 0-255 pixels the
  input costs nothing: calibration on 0-255 data gives scale 1.0 and zero point
  -128, so every pixel value is stored exactly. The sigmoid output becomes an
  int8 with scale 1/256 and zero point -128: probabilities come back on a grid
  of steps of 0.0039. :class:`TFLitePredictor` applies both scale/zero-point
  pairs, so callers always pass 0-255 pixels and always get P(class 1) in [0, 1].

* :class:`TFLitePredictor` - ``.input_shape`` ``(H, W, C)`` and
  ``.predict_proba(images_uint8)``, the interface of ``helpers.predict``. It
  uses ``ai_edge_litert`` (the LiteRT interpreter) if that package is installed,
  else ``tf.lite.Interpreter``. It resizes the interpreter's input to the batch
  size (re-allocating only when the size changes) and runs batches of at most
  ``max_batch`` images, instead of looping image by image.

Keras 3 models are converted through a ``tf.function`` with a fixed input
signature ``[None, H, W, C]`` float32 and ``training=False``: in that call the
augmentation layers (RandomFlip, RandomRotation, ...) return their input
unchanged, so no random op reaches the ``.tflite`` file (:func:`op_names` lets
you check; the tests do).
"""
from __future__ import annotations

import contextlib
import json
import os
import warnings
from pathlib import Path

import numpy as np

MODES = ("float32", "dynamic", "int8")
MAX_REPRESENTATIVE = 500     # calibration images used for int8 (more adds time, little accuracy)


@contextlib.contextmanager
def _quiet():
    """Silence the converter's and interpreter's chatter (deprecation notes, calibration logs)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _concrete_function(model):
    import tensorflow as tf
    height, width, channels = (int(d) for d in model.input_shape[1:])
    spec = tf.TensorSpec([None, height, width, channels], tf.float32, name="pixels")

    @tf.function(input_signature=[spec])
    def serve(pixels):
        return model(pixels, training=False)      # augmentation layers: identity here

    return serve.get_concrete_function()


def representative_dataset(images, input_shape, limit: int = MAX_REPRESENTATIVE):
    """A generator function for the converter: one fitted float32 image at a time.

    ``images`` are raw 0-255 TRAINING images (any size / channels); at most ``limit``
    of them are used, spread evenly over the array.
    """
    from .data import to_model_input
    images = np.asarray(images)
    if len(images) == 0:
        raise ValueError("int8 export needs representative images (training images, 0-255)")
    pick = np.unique(np.linspace(0, len(images) - 1, min(limit, len(images))).round().astype(int))

    def generate():
        for i in pick:
            yield [np.asarray(to_model_input(images[i:i + 1], input_shape), np.float32)]

    return generate


def to_tflite(model, path: Path | str, mode: str = "float32", representative_images=None,
              facts: dict | None = None) -> Path:
    """Convert ``model`` to a ``.tflite`` file at ``path`` and return the path.

    ``mode``: ``"float32"``, ``"dynamic"`` or ``"int8"`` (see the module docstring).
    ``representative_images``: raw 0-255 training images, required for ``"int8"``.
    ``facts``: optional dict saved beside the file as ``<stem>.json`` (for example
    the class names and threshold of the Keras model's sidecar, so that
    ``python -m helpers predict --model X.tflite`` decides like the ``.keras``).
    """
    import tensorflow as tf
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    path = Path(path)
    if path.suffix != ".tflite":
        raise ValueError(f"{path.name}: a TFLite model file should end in .tflite")
    input_shape = tuple(int(d) for d in model.input_shape[1:])

    converter = tf.lite.TFLiteConverter.from_concrete_functions([_concrete_function(model)], model)
    if mode in ("dynamic", "int8"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "int8":
        if representative_images is None:
            raise ValueError("mode='int8' needs representative_images: a sample of TRAINING images")
        converter.representative_dataset = representative_dataset(representative_images, input_shape)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    with _quiet():
        flatbuffer = converter.convert()

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(flatbuffer)
    if facts is not None:
        info = {**facts, "mode": mode, "input_shape": list(input_shape), "saved_bytes": len(flatbuffer)}
        path.with_suffix(".json").write_text(json.dumps(info, indent=2))
    return path


def _interpreter(path: Path, num_threads: int | None):
    """The LiteRT interpreter if ``ai_edge_litert`` is installed, else ``tf.lite.Interpreter``."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf
        Interpreter = tf.lite.Interpreter
    with _quiet():
        return Interpreter(model_path=str(path), num_threads=num_threads)


def _quantise(x: np.ndarray, detail: dict) -> np.ndarray:
    """Float values -> the tensor's dtype, applying its scale / zero point if it has one."""
    dtype = detail["dtype"]
    if np.issubdtype(dtype, np.floating):
        return x.astype(dtype)
    scale, zero_point = detail["quantization"]
    info = np.iinfo(dtype)
    q = np.round(x / scale + zero_point) if scale else np.round(x)
    return np.clip(q, info.min, info.max).astype(dtype)


def _dequantise(q: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    if np.issubdtype(detail["dtype"], np.floating) or not scale:
        return q.astype(np.float32)
    return ((q.astype(np.float32) - zero_point) * scale).astype(np.float32)


class TFLitePredictor:
    """Run a ``.tflite`` model like a saved Keras model: 0-255 pixels in, P(class 1) out.

    ``input_shape`` is ``(H, W, C)``; ``input_dtype`` tells float32 from int8 models.
    ``predict_proba`` fits the images with ``to_model_input``, quantises them if the
    model takes integers, resizes the interpreter to the batch (at most
    ``max_batch`` images per invoke) and dequantises the output.
    """

    def __init__(self, path: Path | str, num_threads: int | None = None, max_batch: int = 256):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"No TFLite model at {self.path}")
        if num_threads is None:
            num_threads = os.cpu_count() or 1
        self.max_batch = int(max_batch)
        self.interpreter = _interpreter(self.path, num_threads)
        self.interpreter.allocate_tensors()
        self._input = self.interpreter.get_input_details()[0]
        self._output = self.interpreter.get_output_details()[0]
        self.input_shape = tuple(int(d) for d in self._input["shape"][1:])
        self.input_dtype = np.dtype(self._input["dtype"])
        self._batch = int(self._input["shape"][0])
        side = self.path.with_suffix(".json")
        facts = json.loads(side.read_text()) if side.is_file() else {}
        self.class_names = tuple(facts["class_names"]) if facts.get("class_names") else None

    @property
    def quantization(self) -> dict:
        """(scale, zero_point) of the input and output tensors; (0.0, 0) means float."""
        return {"input": tuple(self._input["quantization"]),
                "output": tuple(self._output["quantization"])}

    def _run(self, x: np.ndarray) -> np.ndarray:
        if len(x) != self._batch:
            self.interpreter.resize_tensor_input(self._input["index"], [len(x), *self.input_shape])
            self.interpreter.allocate_tensors()
            self._batch = len(x)
        self.interpreter.set_tensor(self._input["index"], _quantise(x, self._input))
        self.interpreter.invoke()
        return _dequantise(self.interpreter.get_tensor(self._output["index"]), self._output)

    def predict_proba(self, images_uint8) -> np.ndarray:
        """P(class 1) per image, in [0, 1], for raw 0-255 images of any size / channels."""
        from .data import to_model_input
        images = np.asarray(images_uint8)
        if images.ndim == 3:
            images = images[None]                 # one (H, W, C) image, as in to_model_input
        if len(images) == 0:
            return np.zeros(0, np.float32)
        out = []
        for start in range(0, len(images), self.max_batch):
            x = np.asarray(to_model_input(images[start:start + self.max_batch], self.input_shape),
                           np.float32)
            out.append(self._run(x).reshape(-1))
        return np.clip(np.concatenate(out), 0.0, 1.0).astype(np.float32)

    def predict_fn(self):
        """``batch -> P`` for images already at ``input_shape`` (float 0-255): for timing."""
        return lambda batch: self._run(np.asarray(batch, np.float32))

    def __repr__(self) -> str:
        return (f"TFLitePredictor({self.path.name}, input_shape={self.input_shape}, "
                f"input_dtype={self.input_dtype.name})")


def op_names(path: Path | str) -> list[str]:
    """The operators inside a ``.tflite`` file, in execution order (e.g. CONV_2D, LOGISTIC)."""
    interpreter = _interpreter(Path(path), 1)
    return [op["op_name"] for op in interpreter._get_ops_details()]


__all__ = ["to_tflite", "TFLitePredictor", "representative_dataset", "op_names", "MODES"]
