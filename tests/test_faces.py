"""helpers.faces: the Haar detector and the face crop.

The detection tests read a few real photos in place from ``$HAPPYSAD_DATA/web`` and
are skipped (with the reason) when that folder is absent.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from helpers import config, faces

WEB = config.data_dir() / "web"
needs_web = pytest.mark.skipif(
    not (WEB / "happy").is_dir(),
    reason=f"real web photos not found at {WEB}: set HAPPYSAD_DATA to the data folder "
           "(CI uses ../shared/data)")


def _load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(ImageOps.exif_transpose(img).convert("RGB"))


def _sample(folder: Path, n: int) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    step = max(1, len(files) // n)
    return files[::step][:n]


@pytest.fixture(scope="module")
def happy_photos():
    return [(p, _load_rgb(p)) for p in _sample(WEB / "happy", 16)]


# ------------------------------------------------------------------ the cascade
def test_cascade_is_loaded_once():
    assert faces.cascade_path().is_file()
    assert faces._detector() is faces._detector()


def test_missing_cascade_gives_a_clear_error(monkeypatch, tmp_path):
    import cv2
    monkeypatch.setattr(cv2.data, "haarcascades", str(tmp_path) + "/")
    faces._detector.cache_clear()
    try:
        with pytest.raises(faces.CascadeMissingError, match=r"opencv-python-headless<5"):
            faces.detect_faces(np.zeros((50, 50, 3), np.uint8))
    finally:
        monkeypatch.undo()
        faces._detector.cache_clear()
    assert faces.detect_faces(np.zeros((50, 50, 3), np.uint8)) == []


# ------------------------------------------------------------------ inputs
def test_blank_image_has_no_face():
    assert faces.detect_faces(np.full((200, 300, 3), 128, np.uint8)) == []


def test_gray_and_rgba_inputs_are_accepted():
    assert faces.detect_faces(np.full((80, 80), 200, np.uint8)) == []
    assert faces.detect_faces(np.full((80, 80, 4), 200, np.uint8)) == []


def test_rejects_non_uint8_and_odd_shapes():
    with pytest.raises(TypeError):
        faces.detect_faces(np.zeros((50, 50, 3), np.float32))
    with pytest.raises(ValueError):
        faces.detect_faces(np.zeros((50, 50, 2), np.uint8))


# ------------------------------------------------------------------ crop geometry
def test_crop_adds_the_margin_and_is_a_sub_image():
    image = np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8)
    crop = faces.crop_face(image, (100, 50, 50, 60), margin=0.2)
    assert crop.shape == (60 + 2 * 12, 50 + 2 * 10, 3)
    assert np.array_equal(crop, image[50 - 12:50 + 60 + 12, 100 - 10:100 + 50 + 10])
    crop[:] = 0                                   # a copy, not a view of the photo
    assert image[50:110, 100:150].any()


def test_crop_margin_is_clipped_at_the_edges():
    image = np.random.default_rng(1).integers(0, 256, (100, 120, 3), dtype=np.uint8)
    crop = faces.crop_face(image, (5, 0, 40, 40), margin=0.2)        # top-left corner
    assert np.array_equal(crop, image[0:48, 0:53])
    crop = faces.crop_face(image, (100, 70, 20, 30), margin=0.5)     # bottom-right corner
    assert np.array_equal(crop, image[55:100, 90:120])
    assert faces.crop_face(image, (10, 10, 20, 20), margin=0).shape == (20, 20, 3)
    with pytest.raises(ValueError):
        faces.crop_face(image, (10, 10, 20, 20), margin=-0.1)


def test_face_crops_detect_largest_crop(monkeypatch):
    image = np.random.default_rng(2).integers(0, 256, (100, 120, 3), dtype=np.uint8)
    found = [(10, 10, 40, 40), (70, 50, 20, 20)]
    monkeypatch.setattr(faces, "detect_faces", lambda im, **kwargs: found)
    every = faces.face_crops(image, "all")
    assert [box for box, _ in every] == found
    assert every[0][1].shape == (40 + 2 * 8, 40 + 2 * 8, 3)         # faces.MARGIN = 0.2 each side
    assert np.array_equal(every[1][1], faces.crop_face(image, found[1], faces.MARGIN))
    assert [box for box, _ in faces.face_crops(image, "largest")] == [found[0]]
    assert faces.face_crops(image, "all", margin=0)[1][1].shape == (20, 20, 3)
    (box, whole), = faces.face_crops(image, "off")                   # no detection at all
    assert box == (0, 0, 120, 100) and np.array_equal(whole, image)
    monkeypatch.setattr(faces, "detect_faces", lambda im, **kwargs: [])
    assert faces.face_crops(image, "largest") == [] and faces.face_crops(image, "all") == []
    with pytest.raises(ValueError, match="largest, all, off"):
        faces.face_crops(image, "crop")


def test_face_crops_with_the_real_detector_on_gray():
    assert faces.face_crops(np.full((80, 80, 1), 200, np.uint8), "all") == []


def test_largest_face():
    assert faces.largest_face([]) is None
    assert faces.largest_face([(0, 0, 10, 10), (5, 5, 30, 20), (1, 1, 20, 20)]) == (5, 5, 30, 20)


# ------------------------------------------------------------------ real photos
@needs_web
def test_finds_faces_in_most_happy_web_photos(happy_photos):
    found = 0
    for path, image in happy_photos:
        boxes = faces.detect_faces(image)
        height, width = image.shape[:2]
        areas = [w * h for _, _, w, h in boxes]
        assert areas == sorted(areas, reverse=True), f"{path.name}: not largest first"
        for x, y, w, h in boxes:
            assert 0 <= x < x + w <= width and 0 <= y < y + h <= height, path.name
        if boxes:
            assert faces.largest_face(boxes) == boxes[0]
        found += bool(boxes)
    # Measured: the detector finds a face in about half of web/happy (group photos,
    # cartoons, text banners and backs of heads make up the rest).
    assert found >= 0.35 * len(happy_photos), f"faces found in only {found}/{len(happy_photos)}"
    assert found < len(happy_photos), "a face in every web photo? the detector looks too eager"


@needs_web
def test_crop_of_a_real_face_is_the_box_plus_margin(happy_photos):
    path, image = next((p, im) for p, im in happy_photos if faces.detect_faces(im))
    box = faces.detect_faces(image)[0]
    x, y, w, h = faces.margin_box(box, image.shape, 0.2)
    crop = faces.crop_face(image, box, margin=0.2)
    assert np.array_equal(crop, image[y:y + h, x:x + w])
    assert crop.shape[0] >= box[3] and crop.shape[1] >= box[2]
    assert crop.shape[0] <= round(box[3] * 1.4) + 1 and crop.shape[1] <= round(box[2] * 1.4) + 1


@needs_web
def test_boxes_of_a_downscaled_run_map_back_to_full_size(happy_photos):
    """Detecting on a shrunk copy must give boxes in the full-size photo's pixels."""
    path, image = next((p, im) for p, im in happy_photos
                       if max(im.shape[:2]) >= 500 and faces.detect_faces(im))
    full = faces.detect_faces(image, max_side=max(image.shape[:2]))     # no shrinking
    shrunk = faces.detect_faces(image, max_side=max(image.shape[:2]) // 2)
    assert full and shrunk, path.name

    def iou(a, b):
        ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
        iw = max(0, min(ax1, bx1) - max(a[0], b[0]))
        ih = max(0, min(ay1, by1) - max(a[1], b[1]))
        inter = iw * ih
        return inter / (a[2] * a[3] + b[2] * b[3] - inter)

    best = max(iou(shrunk[0], f) for f in full)
    assert best > 0.5, f"{path.name}: largest box {shrunk[0]} matches nothing in {full}"
