"""Find faces in a photo and crop them: the one face path of cleaning and prediction.

OpenCV's Haar cascade ``haarcascade_frontalface_default.xml`` finds upright, frontal
faces. It is old and fast, ships inside the ``opencv-python-headless`` wheel and needs
no GPU. It misses profiles, tilted heads and cartoons, and sometimes fires on a
patterned shirt: the cleaning report shows what it found, so you can look.

Images are ``uint8`` RGB ``(H, W, 3)`` or gray ``(H, W)`` / ``(H, W, 1)`` arrays; boxes
are ``(x, y, w, h)`` in pixels of that array. :func:`face_crops` is detect -> largest
-> crop in one call, for the three modes of both command lines (:data:`FACE_MODES`).
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

CASCADE_FILE = "haarcascade_frontalface_default.xml"

# Detection settings. The image is shrunk to at most DETECT_MAX_SIDE pixels on its
# longest side first: a 36-megapixel photo takes seconds at full size and finds
# nothing more. Boxes are mapped back to full-size pixels.
DETECT_MAX_SIDE = 1024
SCALE_FACTOR = 1.1      # step between the sizes the detector tries (smaller = slower, finds more)
MIN_NEIGHBORS = 5       # overlapping hits needed to accept a face (higher = fewer false faces)
MIN_FACE = 24           # smallest face, in pixels of the (shrunk) image the detector sees
MARGIN = 0.2            # crops keep this fraction of the box on every side: chin, brows, hairline
FACE_MODES = ("largest", "all", "off")   # one face per photo, every face, or the whole image

Box = tuple[int, int, int, int]


class CascadeMissingError(FileNotFoundError):
    """OpenCV is installed without its Haar cascade files."""


def cascade_path() -> Path:
    """Where the frontal-face cascade file lives inside the installed OpenCV."""
    try:
        import cv2
    except ImportError:
        raise ImportError("OpenCV is not installed. Run `pip install -r requirements.txt` "
                          "(it installs opencv-python-headless<5).") from None
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    path = Path(folder) / CASCADE_FILE if folder else None
    if path is None or not path.is_file() or not hasattr(cv2, "CascadeClassifier"):
        raise CascadeMissingError(
            f"The Haar cascade file {CASCADE_FILE} is missing from OpenCV {cv2.__version__}. "
            "OpenCV 5 wheels ship no Haar cascades: install the pinned version with "
            "`pip install -r requirements.txt` (opencv-python-headless<5).")
    return path


@functools.lru_cache(maxsize=1)
def _detector():
    import cv2
    path = cascade_path()
    detector = cv2.CascadeClassifier(str(path))
    if detector.empty():
        raise CascadeMissingError(f"OpenCV could not read the cascade file {path}.")
    return detector


def _to_gray(image: np.ndarray) -> np.ndarray:
    import cv2
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return cv2.cvtColor(np.ascontiguousarray(image[:, :, :3]), cv2.COLOR_RGB2GRAY)
    raise ValueError(f"expected an (H, W, 3) RGB or (H, W) gray image, got shape {image.shape}")


def detect_faces(image: np.ndarray, *, max_side: int = DETECT_MAX_SIDE,
                 scale_factor: float = SCALE_FACTOR, min_neighbors: int = MIN_NEIGHBORS,
                 min_face: int = MIN_FACE) -> list[Box]:
    """Frontal faces in an RGB uint8 image, as ``(x, y, w, h)`` boxes, largest first."""
    import cv2
    gray = _to_gray(image)
    height, width = gray.shape
    scale = min(1.0, max_side / max(height, width)) if max(height, width) else 1.0
    if scale < 1.0:
        small = cv2.resize(gray, (max(1, round(width * scale)), max(1, round(height * scale))),
                           interpolation=cv2.INTER_AREA)
    else:
        small = gray
    small = cv2.equalizeHist(small)      # evens out dark and over-exposed photos
    found = _detector().detectMultiScale(small, scaleFactor=scale_factor,
                                         minNeighbors=min_neighbors,
                                         minSize=(min_face, min_face))
    boxes = []
    for x, y, w, h in (found if len(found) else []):
        # map back to full-size pixels, and keep the box inside the image
        x0, y0 = int(round(x / scale)), int(round(y / scale))
        x1, y1 = int(round((x + w) / scale)), int(round((y + h) / scale))
        x0, y0 = max(0, x0), max(0, y0)
        x1, y1 = min(width, x1), min(height, y1)
        if x1 > x0 and y1 > y0:
            boxes.append((x0, y0, x1 - x0, y1 - y0))
    # largest first; ties broken top-to-bottom, left-to-right so the order is stable
    return sorted(boxes, key=lambda b: (-b[2] * b[3], b[1], b[0]))


def largest_face(boxes: list[Box]) -> Box | None:
    """The box with the largest area, or None when there is none."""
    boxes = list(boxes)
    if not boxes:
        return None
    return max(boxes, key=lambda b: (b[2] * b[3], -b[1], -b[0]))


def margin_box(box: Box, image_shape: tuple[int, ...], margin: float = MARGIN) -> Box:
    """``box`` grown by ``margin`` x its width/height on each side, clipped to the image."""
    if margin < 0:
        raise ValueError("margin must be >= 0")
    height, width = image_shape[:2]
    x, y, w, h = (int(v) for v in box)
    dx, dy = int(round(w * margin)), int(round(h * margin))
    x0, y0 = max(0, x - dx), max(0, y - dy)
    x1, y1 = min(width, x + w + dx), min(height, y + h + dy)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"box {box} lies outside the image ({width}x{height})")
    return (x0, y0, x1 - x0, y1 - y0)


def crop_face(image: np.ndarray, box: Box, margin: float = MARGIN) -> np.ndarray:
    """A copy of the face in ``box`` plus ``margin`` on every side, clipped at the photo's edges."""
    image = np.asarray(image)
    x, y, w, h = margin_box(box, image.shape, margin)
    return image[y:y + h, x:x + w].copy()


def face_crops(image: np.ndarray, mode: str = "largest", margin: float = MARGIN,
               **detect_kwargs) -> list[tuple[Box, np.ndarray]]:
    """``(box, crop)`` pairs of one photo, largest face first; ``[]`` when none is found.

    ``mode``: "largest" (the biggest face only), "all" (every face) or "off" (no
    detection: the whole image is the face, for ready-made crops like FER-2013).
    """
    if mode not in FACE_MODES:
        raise ValueError(f"faces must be one of {', '.join(FACE_MODES)}, not {mode!r}.")
    image = np.asarray(image)
    if mode == "off":
        return [((0, 0, image.shape[1], image.shape[0]), image)]
    boxes = detect_faces(image, **detect_kwargs)
    return [(box, crop_face(image, box, margin)) for box in boxes[:1 if mode == "largest" else None]]
