"""Predicting new photos: find the faces, crop them, say happy or sad.

* :func:`load_predictor` - a ``.keras`` file (Keras safe mode), a ``.tflite`` file
  (lesson 07's ``helpers.export.TFLitePredictor``) or an in-memory Keras model, all
  behind one small interface: ``.input_shape`` and ``.predict_proba(batch_uint8)``.
* :func:`predict_faces` - one RGB photo -> a list of faces, each a dict with
  ``box``, ``label``, ``class_index``, ``p_class1`` (also as ``p_<class 1 name>``,
  e.g. ``p_sad``) and ``probability`` (of the predicted label).
* :func:`main` - ``python -m helpers predict IMAGE_OR_FOLDER... [--model PATH]
  [--threshold T] [--faces largest|all|off] [--json]``.

Pixels are read with Pillow as RGB (``helpers.data.read_image``) and fitted to the
model with ``helpers.data.to_model_input`` - the same step as in training. The
original tutorial read photos with ``cv2.imread``, which returns BGR: red and blue
swapped before the model ever saw them.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

from . import config

FACE_MODES = ("largest", "all", "off")
DEFAULT_CLASSES = ("happy", "sad")     # the series' classes, sorted; used only without better info
DEFAULT_MARGIN = 0.2


# ----------------------------------------------------------------------------- predictors
def sidecar(path: Path | str) -> dict:
    """The facts saved beside a model file (``happy_sad.keras`` -> ``happy_sad.json``)."""
    side = Path(path).with_suffix(".json")
    if side.is_file():
        try:
            return json.loads(side.read_text())
        except ValueError:
            return {}
    return {}


def default_class_names() -> tuple[str, str]:
    """The sorted class folders of the data, else the series' ``happy``/``sad``."""
    from .data import class_names
    for folder in (config.data_dir() / "fer2013" / "train", config.data_dir() / "web"):
        try:
            return tuple(class_names(folder))
        except (FileNotFoundError, ValueError):
            continue
    return DEFAULT_CLASSES


class KerasPredictor:
    """A Keras model behind the predictor interface."""

    def __init__(self, model, path: Path | None = None):
        self.model = model
        self.path = path
        self.input_shape = tuple(int(d) for d in model.input_shape[1:])
        facts = sidecar(path) if path else {}
        self.class_names = tuple(facts["class_names"]) if facts.get("class_names") else None

    def predict_proba(self, batch_uint8) -> np.ndarray:
        """P(class 1) for a batch of 0-255 images (any size; fitted by ``to_model_input``)."""
        from .evaluation import predict_proba
        return predict_proba(self.model, batch_uint8)

    def __repr__(self) -> str:
        return f"KerasPredictor({self.path or self.model.name}, input_shape={self.input_shape})"


def load_predictor(model):
    """A predictor for ``model``: a ``.keras`` / ``.tflite`` path, a Keras model, or a predictor.

    The result has ``.input_shape`` ``(H, W, C)`` and ``.predict_proba(batch_uint8)``
    returning P(class 1) per image.
    """
    if hasattr(model, "predict_proba") and hasattr(model, "input_shape"):
        return model                                    # already a predictor
    if isinstance(model, (str, Path)):
        path = Path(model)
        if path.suffix == ".keras":
            from .models import load_model
            return KerasPredictor(load_model(path), path)
        if path.suffix == ".tflite":
            if importlib.util.find_spec("helpers.export") is None:
                raise RuntimeError(
                    f"{path.name} is a TensorFlow Lite model; reading it needs helpers/export.py "
                    "(lesson 07), which this checkout does not have. Use a .keras model instead.")
            from .notebook import require
            from .export import TFLitePredictor
            return TFLitePredictor(require(path, "07_efficiency_and_deployment", f"The model {path.name}"))
        raise ValueError(f"{path}: expected a .keras or .tflite model file")
    if hasattr(model, "input_shape") and callable(model):
        return KerasPredictor(model)                    # an in-memory Keras model
    raise TypeError(f"cannot predict with a {type(model).__name__}")


# ----------------------------------------------------------------------------- faces
def _fit(images, input_shape) -> np.ndarray:
    """Each image resized to the model input (own sizes allowed), as one uint8 batch."""
    from .data import to_model_input
    batch = [np.asarray(to_model_input(image, input_shape)) for image in images]
    return np.round(np.concatenate(batch)).astype(np.uint8)


def predict_faces(model, rgb_image, faces_mode: str = "largest", class_names=None,
                  threshold: float = 0.5, margin: float = DEFAULT_MARGIN) -> list[dict]:
    """Faces in one RGB uint8 photo with the model's verdict, largest face first.

    ``faces_mode``: ``"largest"`` (one face, the biggest), ``"all"``, or ``"off"``
    (the whole image is the face: for ready-made crops like FER-2013). The label is
    ``class_names[int(p >= threshold)]``; class names come from the argument, the
    model's sidecar, or the data's sorted class folders. Returns ``[]`` when no face
    is found.
    """
    from . import faces
    if faces_mode not in FACE_MODES:
        raise ValueError(f"faces_mode must be one of {FACE_MODES}, not {faces_mode!r}")
    predictor = load_predictor(model)
    image = np.asarray(rgb_image)
    if image.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image (0-255), got {image.dtype}")
    if image.ndim == 2:
        image = image[..., None]
    names = tuple(class_names or getattr(predictor, "class_names", None) or default_class_names())

    if faces_mode == "off":
        boxes = [(0, 0, image.shape[1], image.shape[0])]
        crops = [image]
    else:
        boxes = faces.detect_faces(image if image.shape[2] != 1 else image[..., 0])
        if faces_mode == "largest":
            boxes = boxes[:1]
        crops = [faces.crop_face(image, box, margin) for box in boxes]
    if not boxes:
        return []
    p = np.asarray(predictor.predict_proba(_fit(crops, predictor.input_shape)), float).reshape(-1)
    out = []
    for box, p1 in zip(boxes, p):
        index = int(p1 >= threshold)
        out.append({"box": tuple(int(v) for v in box), "label": names[index], "class_index": index,
                    "p_class1": float(p1), f"p_{names[1]}": float(p1),
                    "probability": float(p1 if index else 1.0 - p1), "threshold": float(threshold)})
    return out


def predict_file(model, path, **kwargs) -> list[dict]:
    """:func:`predict_faces` on an image file (read as RGB by Pillow)."""
    from .data import read_image
    return predict_faces(model, read_image(path, channels=3), **kwargs)


def photos_with_faces(files, n: int = 2, max_faces: int | None = None) -> list[Path]:
    """The first ``n`` readable images among ``files`` in which the detector finds a face.

    ``max_faces`` skips crowded photos (more faces than that). Used by lesson 04
    to pick a few web photos worth predicting; unreadable files are skipped.
    """
    from . import faces
    from .data import read_image
    picked = []
    for path in files:
        if len(picked) >= n:
            break
        try:
            image = read_image(path, channels=3)
        except Exception:                 # any decoding problem: not a photo to show
            continue
        found = faces.detect_faces(image)
        if found and (max_faces is None or len(found) <= max_faces):
            picked.append(Path(path))
    return picked


# ----------------------------------------------------------------------------- command line
def _inputs(paths) -> list[Path]:
    """Files as given, folders expanded to every (non-hidden) file below them, sorted."""
    files = []
    for item in map(Path, paths):
        if item.is_dir():
            files += sorted(p for p in item.rglob("*") if p.is_file()
                            and not any(part.startswith(".") for part in p.relative_to(item).parts))
        else:
            files.append(item)
    return files


def _read(path: Path):
    """RGB pixels, or the reason they cannot be had."""
    from PIL import Image, UnidentifiedImageError
    from .data import read_image
    if not path.exists():
        return None, "no such file"
    try:
        return read_image(path, channels=3), None
    except (UnidentifiedImageError, Image.DecompressionBombError) as err:
        return None, "not an image" if isinstance(err, UnidentifiedImageError) else "image too large"
    except (OSError, ValueError, SyntaxError) as err:
        return None, f"not an image ({type(err).__name__}: {err})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m helpers predict",
        description="Find the faces in photos and say, for each, happy or sad with P(class 1).")
    parser.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER")
    parser.add_argument("--model", default=None,
                        help=f"a .keras or .tflite model (default: models/{config.OUR_MODEL}, "
                             "models/fast/ in fast mode)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="decision threshold on P(class 1) (default: the model's sidecar, else 0.5)")
    parser.add_argument("--faces", choices=FACE_MODES, default="largest",
                        help="largest face (default), all faces, or off: the whole image is the face")
    parser.add_argument("--margin", type=float, default=DEFAULT_MARGIN,
                        help="border added around each face box, as a fraction of its size")
    parser.add_argument("--json", action="store_true", help="print one JSON list instead of lines")
    args = parser.parse_args(argv)

    model_path = Path(args.model) if args.model else config.models_dir() / config.OUR_MODEL
    try:
        predictor = load_predictor(model_path)
    except (FileNotFoundError, RuntimeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    facts = sidecar(model_path)
    threshold = args.threshold if args.threshold is not None else float(facts.get("threshold", 0.5))
    names = tuple(getattr(predictor, "class_names", None) or default_class_names())
    positive = names[1]

    records, predicted = [], 0
    for path in _inputs(args.inputs):
        image, problem = _read(path)
        if problem is None:
            faces = predict_faces(predictor, image, args.faces, names, threshold, args.margin)
            problem = None if faces else "no face found"
        if problem:
            records.append({"file": str(path), "error": problem})
            if not args.json:
                print(f"{path}: {problem}")
            continue
        predicted += 1
        for face in faces:
            record = {"file": str(path), "box": list(face["box"]), "label": face["label"],
                      f"p_{positive}": round(face["p_class1"], 4), "threshold": threshold}
            records.append(record)
            if not args.json:
                x, y, w, h = face["box"]
                print(f"{path}: box=({x},{y},{w},{h}) {face['label']:<6} "
                      f"P({positive})={face['p_class1']:.2f}")
    if args.json:
        print(json.dumps(records, indent=1))
    if not predicted:
        print("nothing could be predicted (no readable image with a face)", file=sys.stderr)
        return 1
    return 0


__all__ = ["load_predictor", "predict_faces", "predict_file", "photos_with_faces", "KerasPredictor",
           "main", "FACE_MODES", "default_class_names", "sidecar"]
