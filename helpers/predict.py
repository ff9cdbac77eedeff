"""Predicting new photos: find the faces, crop them, say which class (``python -m helpers predict``).

* :func:`load_predictor` - a ``.keras`` file (Keras safe mode) or a ``.tflite`` file behind
  one interface: ``.predict_proba(images_uint8)`` -> P(class 1), ``.input_shape`` ``(H, W, C)``,
  ``.class_names`` and the decision rule: ``.threshold`` with ``.flip`` (average with the mirror
  image), both from the facts saved beside the model (lesson 05 chose them together on
  validation; lesson 08 copies them beside each ``.tflite``). Without a saved threshold the
  predictor says so: ``.threshold_source == "default 0.5"``.
* :func:`predict_faces` - one RGB photo -> a list of faces: ``box``, ``face`` ("detected" or
  "whole image" when no face was found), ``label``, ``class_index``, ``p_class1`` (also as
  ``p_<class 1 name>``) and ``probability`` (of the label).
* :func:`main` - the CLI. Photos decoded by ``data.read_image``, faces by ``helpers.faces``,
  fitted by ``data.to_model_input``: the series' one decoder and one resize, as in training.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from . import config, data, model_files
from . import faces as face_module     # `faces` is the setting: which faces to answer for

DEFAULT_THRESHOLD = model_files.DEFAULT_THRESHOLD


def default_class_names() -> tuple[str, ...]:
    """The sorted class folders of the data the series uses (``data.locate()``: the real data,
    else the synthetic demo's classes): ``fer2013/train``, else ``web``."""
    source = data.locate()
    if source.synthetic:
        from .synthetic import CLASSES
        return tuple(sorted(CLASSES))
    for folder in filter(None, (source.fer and source.fer / "train", source.web)):
        with contextlib.suppress(FileNotFoundError, ValueError):
            return tuple(data.class_names(folder))
    raise FileNotFoundError(f"No class names: the model has no saved facts and {source.root} "
                            "has no class folders. Pass class_names=(...).")


class _Predictor:
    """What both predictors share: the facts saved beside the model file."""

    def _read_facts(self, path: Path | None) -> None:
        facts = model_files.read_facts(path) if path else {}
        self.class_names = tuple(facts["class_names"]) if facts.get("class_names") else None
        saved = facts.get("threshold")
        self.threshold = float(saved) if saved is not None else DEFAULT_THRESHOLD
        self.threshold_source = "saved" if saved is not None else f"default {DEFAULT_THRESHOLD}"
        self.flip = bool(facts.get("flip_average"))   # chosen with the threshold: one decision rule

    def predict_proba(self, images_uint8) -> np.ndarray:
        """P(class 1) for 0-255 images of any size / channels; with ``.flip``, the mean of the
        image and its mirror image (a mirrored smile is still a smile)."""
        images = np.asarray(images_uint8)
        images = images[None] if images.ndim == 3 else images
        p = self._proba(images)
        return (p + self._proba(images[:, :, ::-1])) / 2 if self.flip else p


class KerasPredictor(_Predictor):
    """A Keras model (loaded or in memory) behind the predictor interface."""

    def __init__(self, model, path: Path | None = None):
        self.model, self.path = model, path
        self.input_shape = tuple(int(d) for d in model.input_shape[1:])
        self._read_facts(path)

    def _proba(self, images) -> np.ndarray:
        from .evaluation import predict_proba
        return predict_proba(self.model, images)


class TFLitePredictor(_Predictor):
    """A ``.tflite`` model like a saved Keras model: 0-255 pixels in, P(class 1) out.

    Integer models (lesson 08's int8 export) take and return int8: the input pixels are
    quantised and the output dequantised with each tensor's scale and zero point. The
    interpreter is resized to the batch (at most ``max_batch`` images per invoke).
    """

    def __init__(self, path: Path | str, max_batch: int = 256, num_threads: int | None = None):
        try:        # LiteRT, the maintained runtime: it verifies the FlatBuffer (a cut file is an error)
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:                          # tf.lite's: a cut file can crash the process
            import tensorflow as tf
            Interpreter = tf.lite.Interpreter
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"No TFLite model at {self.path}")
        advice = "run notebook 08_efficiency_and_deployment again, or download it again."
        with open(self.path, "rb") as file:            # a FlatBuffer names its kind at byte 4
            if file.read(8)[4:] != b"TFL3":            # (else the interpreter's error is garbled)
                raise ValueError(f"{self.path} is not a .tflite model file (TFLiteConverter's FlatBuffer): {advice}")
        self.max_batch = int(max_batch)
        try:
            with warnings.catch_warnings():          # tf.lite.Interpreter's deprecation note
                warnings.simplefilter("ignore")
                self.interpreter = Interpreter(model_path=str(self.path),
                                               num_threads=num_threads or os.cpu_count() or 1)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as err:      # e.g. a cut download: "not a valid Flatbuffer"
            raise ValueError(f"{self.path} is not a complete .tflite model ({err}): {advice}") from None
        self._input, self._output = self.interpreter.get_input_details()[0], self.interpreter.get_output_details()[0]
        self.input_shape = tuple(int(d) for d in self._input["shape"][1:])
        self.input_dtype = np.dtype(self._input["dtype"])
        self._read_facts(self.path)

    @property
    def quantization(self) -> dict:
        """(scale, zero_point) of the input and output tensors; (0.0, 0) means float."""
        return {"input": tuple(self._input["quantization"]),
                "output": tuple(self._output["quantization"])}

    def _run(self, x: np.ndarray) -> np.ndarray:
        """One invoke on images already at ``input_shape`` (float 0-255): lesson 08's ``tflite_proba``
        (quantise, invoke, de-quantise), the function the lesson writes, from ``helpers/lessons.py``."""
        from .lessons import tflite_proba
        return tflite_proba(self.interpreter, x).astype(np.float32)

    def _proba(self, images) -> np.ndarray:
        out = [np.zeros(0, np.float32)]
        for start in range(0, len(images), self.max_batch):
            x = np.asarray(data.to_model_input(images[start:start + self.max_batch], self.input_shape))
            out.append(self._run(x).reshape(-1))
        return np.clip(np.concatenate(out), 0.0, 1.0).astype(np.float32)


def load_predictor(model):
    """A predictor for a ``.keras`` / ``.tflite`` path, an in-memory Keras model, or a predictor."""
    if hasattr(model, "predict_proba") and hasattr(model, "threshold"):
        return model                                       # already a predictor
    if not isinstance(model, (str, Path)):
        return KerasPredictor(model)                       # an in-memory Keras model
    path = Path(model)
    if path.suffix == ".keras":
        return KerasPredictor(model_files.load_model(path), path)
    if path.suffix == ".tflite":
        return TFLitePredictor(config.require(path, "08_efficiency_and_deployment",
                                              f"The model {path.name}"))
    raise ValueError(f"{path}: expected a .keras or .tflite model file")


def predict_faces(model, rgb_image, faces: str = "largest", class_names=None,
                  threshold: float | None = None, detector: str = face_module.DETECTOR,
                  whole_image: bool = True, keep_input: bool = False) -> list[dict]:
    """The faces in one uint8 photo with the model's verdict, largest face first.

    ``faces``: ``"largest"`` (one face), ``"all"``, or ``"off"`` (the whole image is
    the face, for ready-made crops like FER-2013). When no face is found, the whole image
    is classified instead (``"face": "whole image"``), unless ``whole_image=False``: then
    the answer is ``[]``. The label is ``class_names[model_files.decide(p, threshold)]``; ``threshold``
    and ``class_names`` default to the model's saved facts. ``keep_input=True`` adds each face as the
    model saw it (``"input"``: uint8 at the model's input shape), for :func:`explain`.
    """
    predictor = load_predictor(model)
    threshold = predictor.threshold if threshold is None else float(threshold)
    names = tuple(class_names or predictor.class_names or default_class_names())
    image = np.asarray(rgb_image)
    if image.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image (0-255), got {image.dtype}")
    image = image[..., None] if image.ndim == 2 else image
    found = face_module.face_crops(image, faces, detector)
    if not found and whole_image:
        found = face_module.face_crops(image, "off")
    if not found:
        return []
    boxes, crops = zip(*found, strict=True)
    batch = np.concatenate([np.asarray(data.to_model_input(c, predictor.input_shape)) for c in crops])
    p = np.asarray(predictor.predict_proba(np.round(batch).astype(np.uint8)), float).reshape(-1)
    out = []
    for face, p1, fitted in zip(boxes, p, batch, strict=True):
        index = model_files.decide(p1, threshold)
        out.append({"box": tuple(int(v) for v in face.box), "eyes": face.eyes,
                    "face": "whole image" if face.detector == "off" else "detected",
                    "label": names[index], "class_index": index,
                    "p_class1": float(p1), f"p_{names[1]}": float(p1),
                    "probability": float(p1 if index else 1.0 - p1), "threshold": threshold,
                    **({"input": np.round(fitted).astype(np.uint8)} if keep_input else {})})
    return out


def explain(predictor, found: list[dict]) -> np.ndarray:
    """Lesson 07's Grad-CAM map (N, h, w) for each face :func:`predict_faces` found with ``keep_input``:
    the evidence for what the network said, at its last feature maps, from one pass of the face.
    The lesson's own functions (``helpers/lessons.py``, copied from its ``#@save`` cells)."""
    from . import lessons
    model = getattr(predictor, "model", None)
    if model is None:
        raise ValueError("Grad-CAM follows the gradients of a Keras model: explain with the .keras file, "
                         "not a .tflite one.")
    images = np.stack([face["input"] for face in found])
    return lessons.grad_cam(model, lessons.grad_cam_layer(model), images, [face["class_index"] for face in found])


def predict_file(model, path, **kwargs) -> list[dict]:
    """:func:`predict_faces` on an image file, decoded by ``data.load_image`` (RGB);
    an unreadable file raises ``data.Rejected`` with the reason."""
    return predict_faces(model, data.read_image(path), **kwargs)


def photos_with_faces(files, n: int = 2, max_faces: int | None = None,
                      detector: str = face_module.DETECTOR) -> list[Path]:
    """The first ``n`` readable images among ``files`` with 1 to ``max_faces`` faces found."""
    picked = []
    for path in files:
        try:
            found = face_module.detect_faces(data.read_image(path), detector)
        except data.Rejected:             # unreadable: not a photo to show (a detector error still says so)
            continue
        if found and (max_faces is None or len(found) <= max_faces):
            picked.append(Path(path))
            if len(picked) == n:
                break
    return picked


# ----------------------------------------------------------------------------- command line
def _inputs(paths) -> list[Path]:
    """Files as given, folders expanded to every (non-hidden) file below them, sorted."""
    return [file for item in map(Path, paths) for file in
            (data.image_files(item, suffixes=None) if item.is_dir() else [item])]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m helpers predict",
        description="Find the faces in photos and say, for each, its class with P(class 1).")
    parser.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER")
    parser.add_argument("--model", default=None, help=f"a .keras or .tflite model (default: "
                        f"models/{config.OUR_MODEL}, models/fast/ in fast mode)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="decision threshold on P(class 1) (default: the one notebook 05 "
                             f"saved beside the model, else {DEFAULT_THRESHOLD})")
    parser.add_argument("--faces", choices=face_module.FACE_MODES, default="largest",
                        help="largest face (default), all faces, or off: the whole image is the face")
    parser.add_argument("--detector", choices=face_module.DETECTORS, default=face_module.DETECTOR,
                        help="face detector: mtcnn (default; finds more faces) or haar (faster)")
    parser.add_argument("--strict", action="store_true",
                        help="answer only for detected faces (default: when no face is found, "
                             "classify the whole image and say so)")
    parser.add_argument("--json", action="store_true", help="print one JSON list instead of lines")
    parser.add_argument("--explain", action="store_true",
                        help="also write a picture per photo: the face boxes, the answers and lesson 07's "
                             "Grad-CAM map of each face (a .keras model only)")
    parser.add_argument("--out", default=None,
                        help="folder for the --explain pictures (default: outputs/explained/)")
    return parser


def _explained(path: Path, image, found: list[dict], predictor, names, out: Path) -> str:
    """Write ``out/<photo>.explained.png`` (its PNG title holds the answers); returns its path."""
    from PIL import Image, PngImagePlugin
    from . import plots
    picture, title = plots.explanation_picture(image, found, explain(predictor, found), names)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{path.stem}.explained.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("Title", title)
    Image.fromarray(picture).save(target, pnginfo=info)
    return str(target)


def _records(path: Path, predictor, args, names, threshold: float, source: str) -> list[dict]:
    """The answers for one file: a record per face, or one record with the ``error`` (the decoder's
    words: "not an image", ...; or "no face found"). A missing detector is raised."""
    try:
        image = data.read_image(path)
        found = predict_faces(predictor, image, args.faces, names, threshold,
                              args.detector, whole_image=not args.strict, keep_input=args.explain)
    except data.Rejected as rejected:
        return [{"file": str(path), "error": rejected.reason}]
    if not found:
        return [{"file": str(path), "error": "no face found"}]
    picture = {"picture": _explained(path, image, found, predictor, names, Path(args.out or config.outputs_dir()
                                                                                  / "explained"))} if args.explain else {}
    return [{"file": str(path), "face": face["face"], "box": list(face["box"]), "detector": args.detector,
             "label": face["label"], f"p_{names[1]}": round(face["p_class1"], 4), "p_class1": face["p_class1"],
             "threshold": threshold, "threshold_source": source, **picture} for face in found]


def _line(record: dict, faces: str, positive: str) -> str:
    """One record as the line the terminal shows."""
    if "error" in record:
        return f"{record['file']}: {record['error']}"
    x, y, w, h = record["box"]
    where = ("whole image (no face found)" if record["face"] == "whole image" and faces != "off"
             else f"box=({x},{y},{w},{h})")
    picture = f" -> {record['picture']}" if "picture" in record else ""
    return (f"{record['file']}: {where} {record['label']:<6} P({positive})={record['p_class1']:.2f} "
            f"(threshold {record['threshold']:.2f}, {record['threshold_source']}){picture}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    model_path = Path(args.model) if args.model else config.models_dir() / config.OUR_MODEL
    try:
        predictor = load_predictor(model_path)
        names = predictor.class_names or default_class_names()
    except (FileNotFoundError, ValueError) as err:
        print("error: " + " ".join(str(err).splitlines()), file=sys.stderr)   # one line
        return 2
    if args.explain and getattr(predictor, "model", None) is None:
        print(f"error: --explain draws Grad-CAM, which follows a Keras model's gradients: give a .keras model, "
              f"not {model_path.name}.", file=sys.stderr)
        return 2
    threshold, source = ((predictor.threshold, predictor.threshold_source) if args.threshold is None
                         else (args.threshold, "--threshold"))
    if source.startswith("default"):
        print(f"note: no threshold saved beside {model_path.name} (notebook 05_evaluate saves it): "
              f"using the default {DEFAULT_THRESHOLD}", file=sys.stderr)
    records = []
    for path in _inputs(args.inputs):
        try:
            found = _records(path, predictor, args, names, threshold, source)
        except face_module.DetectorMissingError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        records += found
        if not args.json:
            print("\n".join(_line(record, args.faces, names[1]) for record in found))
    for record in records:
        record.pop("p_class1", None)               # the JSON names it p_<class 1>
    if args.json:
        print(json.dumps(records, indent=1))
    if all("error" in record for record in records):
        print("nothing could be predicted (no readable image" + (" with a face)" if args.strict else ")"),
              file=sys.stderr)
        return 1
    return 0
