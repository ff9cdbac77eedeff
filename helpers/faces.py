"""Find faces in a photo, level and frame them like FER-2013 faces: the one face path of
cleaning and prediction. Lesson 01 compares the two detectors and measures the framing.

* ``"mtcnn"`` (default): MTCNN (Zhang et al., 2016; the ``mtcnn`` package, MIT licence, its
  weights inside the wheel: offline). Finds small, tilted and half-turned faces, and the eyes.
* ``"haar"``: OpenCV's Haar cascade (2001): much faster, upright frontal faces only, no eyes.

:func:`crop_face` cuts a square around the box, :data:`FRAME` x its height (FER-2013's
framing, measured by running each detector on FER-2013 faces), rotated so the eyes are
level, at the photo's resolution. Images are ``uint8`` RGB ``(H, W, 3)`` or gray
``(H, W)`` / ``(H, W, 1)``; boxes are ``(x, y, w, h)`` in pixels of that image.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np

CASCADE_FILE = "haarcascade_frontalface_default.xml"
DETECTORS = ("mtcnn", "haar")
DETECTOR = "mtcnn"
FACE_MODES = ("largest", "all", "off")   # one face per photo, every face, or the whole image

# The photo is shrunk to at most DETECT_MAX_SIDE pixels first: a 36-megapixel photo takes
# seconds at full size and finds nothing more. Boxes are mapped back to full-size pixels.
DETECT_MAX_SIDE = 640
PAD = 0.1               # MTCNN: border (x the longest side) added first, so a face filling the frame is found
MIN_FACE = 24           # Haar: smallest face, in pixels of the (shrunk) image it sees
                        # (MTCNN keeps its own 20: its image pyramid is built for that size)
SCALE_FACTOR = 1.1      # Haar: step between the sizes it tries (smaller = slower, finds more)
MIN_NEIGHBORS = 5       # Haar: overlapping hits needed to accept a face (higher = fewer false faces)
FRAME = {"mtcnn": 1.0, "haar": 1.2}   # side of the crop / height of the box, measured on FER-2013

Box = tuple[int, int, int, int]


class Face(NamedTuple):
    box: Box                      # (x, y, w, h) in pixels of the photo
    eyes: tuple | None = None     # ((x, y), (x, y)) of the two eye centres (MTCNN only)
    detector: str = "haar"        # which FRAME applies


class DetectorMissingError(ImportError):
    """The detector's package or files are not installed."""


def cascade_path() -> Path:
    """Where the frontal-face cascade file lives inside the installed OpenCV."""
    try:
        import cv2
    except ImportError:
        raise DetectorMissingError("OpenCV is not installed. Run `pip install -r requirements.txt` "
                                   "(it installs opencv-python-headless<5).") from None
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    path = Path(folder) / CASCADE_FILE if folder else None
    if path is None or not path.is_file() or not hasattr(cv2, "CascadeClassifier"):
        raise DetectorMissingError(
            f"The Haar cascade file {CASCADE_FILE} is missing from OpenCV {cv2.__version__}. "
            "OpenCV 5 wheels ship no Haar cascades: install the pinned version with "
            "`pip install -r requirements.txt` (opencv-python-headless<5).")
    return path


@functools.lru_cache(maxsize=2)
def detector_model(name: str = DETECTOR):
    """The loaded detector (made once per process); a clear error when it is not installed."""
    if name not in DETECTORS:
        raise ValueError(f"detector must be one of {', '.join(DETECTORS)}, not {name!r}.")
    if name == "haar":
        import cv2
        model = cv2.CascadeClassifier(str(cascade_path()))
        if model.empty():
            raise DetectorMissingError(f"OpenCV could not read the cascade file {cascade_path()}.")
        return model
    try:
        from mtcnn import MTCNN
    except ImportError:
        raise DetectorMissingError("The MTCNN face detector is not installed: run `pip install -r "
                                   "requirements.txt`, or use the Haar detector (detector='haar').") from None
    return MTCNN(device="CPU:0")


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return np.repeat(image.reshape(image.shape[:2] + (1,)), 3, axis=2)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return np.ascontiguousarray(image[:, :, :3])
    raise ValueError(f"expected an (H, W, 3) RGB or (H, W) gray image, got shape {image.shape}")


def _haar(small: np.ndarray, scale_factor: float, min_neighbors: int, min_face: int) -> list:
    import cv2
    gray = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))   # evens out dark photos
    found = detector_model("haar").detectMultiScale(gray, scaleFactor=scale_factor,
                                                    minNeighbors=min_neighbors, minSize=(min_face, min_face))
    return [((x, y, x + w, y + h), None) for x, y, w, h in (found if len(found) else [])]


def _mtcnn(small: np.ndarray) -> list:
    import cv2
    pad = round(PAD * max(small.shape[:2]))
    padded = cv2.copyMakeBorder(small, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    found = detector_model("mtcnn").detect_faces(padded)
    out = []
    for face in found:
        x, y, w, h = face["box"]
        eyes = tuple((ex - pad, ey - pad) for ex, ey in (face["keypoints"]["left_eye"],
                                                         face["keypoints"]["right_eye"]))
        out.append(((x - pad, y - pad, x + w - pad, y + h - pad), eyes))
    return out


def detect_faces(image: np.ndarray, detector: str = DETECTOR, *, max_side: int = DETECT_MAX_SIDE,
                 min_face: int = MIN_FACE, scale_factor: float = SCALE_FACTOR,
                 min_neighbors: int = MIN_NEIGHBORS) -> list[Face]:
    """The faces in a uint8 image, largest first, as :class:`Face` (box, eyes, detector)."""
    import cv2
    rgb = _rgb(image)
    detector_model(detector)                        # a clear error before any work
    height, width = rgb.shape[:2]
    scale = min(1.0, max_side / max(height, width)) if max(height, width) else 1.0
    small = rgb if scale == 1.0 else cv2.resize(
        rgb, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    found = (_haar(small, scale_factor, min_neighbors, min_face) if detector == "haar"
             else _mtcnn(small))
    result = []
    for (x0, y0, x1, y1), eyes in found:
        # back to full-size pixels, the box kept inside the image
        x0, y0 = max(0, int(round(x0 / scale))), max(0, int(round(y0 / scale)))
        x1, y1 = min(width, int(round(x1 / scale))), min(height, int(round(y1 / scale)))
        if x1 > x0 and y1 > y0:
            eyes = None if eyes is None else tuple((ex / scale, ey / scale) for ex, ey in eyes)
            result.append(Face((x0, y0, x1 - x0, y1 - y0), eyes, detector))
    # largest first; ties broken top-to-bottom, left-to-right so the order is stable
    return sorted(result, key=lambda f: (-f.box[2] * f.box[3], f.box[1], f.box[0]))


def eye_angle(eyes) -> float:
    """Degrees the line between the eyes dips to the right (0 for level eyes)."""
    (lx, ly), (rx, ry) = sorted(eyes)               # left-most eye first
    return math.degrees(math.atan2(ry - ly, rx - lx))


def crop_face(image: np.ndarray, face, frame: float | None = None) -> np.ndarray:
    """The square around ``face`` framed like a FER-2013 face, eyes levelled when known.

    ``face``: a :class:`Face` or a plain ``(x, y, w, h)`` box. The square's side is ``frame``
    x the box height (default: :data:`FRAME` of the face's detector), centred on the box,
    at the photo's resolution; parts beyond the photo's edge repeat its edge pixels.
    """
    import cv2
    face = face if isinstance(face, Face) else Face(tuple(int(v) for v in face))
    frame = FRAME[face.detector] if frame is None else float(frame)
    if frame <= 0:
        raise ValueError("frame must be > 0")
    image = np.asarray(image)
    x, y, w, h = face.box
    if w <= 0 or h <= 0 or x >= image.shape[1] or y >= image.shape[0] or x + w <= 0 or y + h <= 0:
        raise ValueError(f"box {face.box} lies outside the image ({image.shape[1]}x{image.shape[0]})")
    side = max(1, int(round(frame * h)))
    centre = (x + w / 2, y + h / 2)
    angle = eye_angle(face.eyes) if face.eyes is not None else 0.0
    matrix = cv2.getRotationMatrix2D(centre, angle, 1.0)        # rotates about the box centre
    matrix[:, 2] += (side / 2 - centre[0], side / 2 - centre[1])  # and moves it to the middle
    crop = cv2.warpAffine(image, matrix, (side, side), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    return crop.reshape(side, side, *image.shape[2:])


def face_crops(image: np.ndarray, faces: str = "largest", detector: str = DETECTOR,
               frame: float | None = None, **detect_kwargs) -> list[tuple[Face, np.ndarray]]:
    """``(face, crop)`` pairs of one photo, largest face first; ``[]`` when none is found.

    ``faces``: "largest" (the biggest face only), "all" (every face) or "off" (no
    detection: the whole image is the face, for ready-made crops like FER-2013).
    """
    if faces not in FACE_MODES:
        raise ValueError(f"faces must be one of {', '.join(FACE_MODES)}, not {faces!r}.")
    image = np.asarray(image)
    if faces == "off":
        return [(Face((0, 0, image.shape[1], image.shape[0]), None, "off"), image)]
    found = detect_faces(image, detector, **detect_kwargs)
    return [(face, crop_face(image, face, frame)) for face in found[:1 if faces == "largest" else None]]
