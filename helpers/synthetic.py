"""Offline demo data: drawn happy and sad faces, so the series runs without real data.

:func:`make_demo` writes the layout of the real data: ``fer2013/{train,test}/{happy,sad}/*.png``
(48x48 gray, like FER-2013), ``ferplus/`` (lesson 10's pretraining faces), ``web/{happy,sad}/*`` (larger RGB JPEG/PNG "photos", plus
the deliberately bad files of :data:`WEB_BAD_INPUTS` for lesson 01) and ``SYNTHETIC.txt``.
Each face is an oval head with eyes and a mouth arc curving up (happy) or down (sad);
size, position, tilt, brightness, skin tone, background and noise vary, so a model has
to look at the mouth. Same seed, same bytes. Numbers measured on it mean nothing for photos.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from . import config

CLASSES = ("happy", "sad")
MARKER = "SYNTHETIC.txt"
VERSION = 4                 # bump when the drawing changes: older demos count as incomplete
FER_SIZE = 48
_SUPERSAMPLE = 2            # draw FER faces at 2x, then shrink: smoother edges

# Deliberately bad files in web/ (relative to root), for the cleaning lesson.
# The names are neutral on purpose: the lesson finds them by checking, not by name.
WEB_BAD_INPUTS = {
    "not_an_image": "web/happy/happy_900.jpg",       # a text file named .jpg
    "truncated": "web/sad/sad_901.jpg",              # a JPEG cut off half-way
    "too_small": "web/happy/happy_902.png",          # a 10x10 image
    "duplicate": "web/sad/sad_903.jpg",              # same bytes as web/sad/sad_000.jpg
    "in_both_classes": "web/sad/sad_904.jpg",        # same bytes as web/happy/happy_001.jpg
}
DUPLICATE_OF = {"web/sad/sad_903.jpg": "web/sad/sad_000.jpg",
                "web/sad/sad_904.jpg": "web/happy/happy_001.jpg"}


# Skin tones (RGB) for the web photos, light to dark; each face jitters around one.
SKIN_TONES = [(255, 224, 196), (241, 194, 150), (224, 172, 122), (198, 134, 86),
              (160, 102, 62), (120, 74, 44), (84, 52, 32)]

_MARKER_TEXT = """\
SYNTHETIC DEMO DATA - NOT REAL FACES
version: {version}

Drawn by helpers/synthetic.py (make_demo, seed={seed}) so the series runs without real data:
fer2013/ holds {n_train} train and {n_test} test 48x48 drawings per class, ferplus/ the same
train drawings plus {n_train} neutral ones with made-up votes, web/ {n_web} larger RGB drawings per class plus a few bad files on purpose for lesson 01:
{bad}
Happy mouths curve up, sad ones down: accuracy here is high and MEANS NOTHING about
real photos. Point HAPPYSAD_DATA at the real data (see README). Safe to delete.
"""


def _rng(seed: int, *tags: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *tags]))


def _mouth(draw: ImageDraw.ImageDraw, rng: np.random.Generator, happy: bool | None,
           cx: float, cy: float, rx: float, ry: float, color, lip_width: int) -> None:
    """A smile (arc curving up at the ends), a frown (arc curving down) or, for ``happy=None``,
    a straight line (neutral, only in the demo's ``ferplus/``)."""
    w = rng.uniform(0.45, 0.75) * rx                 # half-width of the mouth
    d = rng.uniform(0.18, 0.32) * ry                 # how deep it curves
    my = cy + rng.uniform(0.38, 0.50) * ry           # mouth line
    cx = cx + rng.uniform(-0.06, 0.06) * rx
    open_mouth = rng.random() < 0.3
    if happy is None:
        draw.line([cx - w, my + d / 2, cx + w, my + d / 2], fill=color, width=lip_width)
        return
    if happy:   # bottom half of an ellipse: ends up, middle down -> a smile
        box = [cx - w, my - d, cx + w, my + d]
        start, end = 0, 180
    else:       # top half of an ellipse: ends down, middle up -> a frown
        box = [cx - w, my, cx + w, my + 2 * d]
        start, end = 180, 360
    if open_mouth:
        draw.chord(box, start, end, fill=color)
    else:
        draw.arc(box, start, end, fill=color, width=lip_width)


def _face_layer(size: tuple[int, int], rng: np.random.Generator, happy: bool | None,
                head: tuple[float, float, float, float], skin, ink, *, rgb: bool) -> Image.Image:
    """The face alone on a transparent layer, already rotated a little."""
    mode = "RGBA" if rgb else "LA"
    layer = Image.new(mode, size, (0, 0, 0, 0) if rgb else (0, 0))
    draw = ImageDraw.Draw(layer)
    cx, cy, rx, ry = head
    unit = max(1, round(rx / 12))                    # line width scale

    def color(value, alpha=255):
        return (*value, alpha) if rgb else (int(value), alpha)

    if rgb and rng.random() < 0.8:                   # hair behind the head
        hair = tuple(int(v) for v in rng.integers(10, 120, 3))
        draw.ellipse([cx - rx * 1.08, cy - ry * 1.12, cx + rx * 1.08, cy + ry * 0.3],
                     fill=color(hair))
    draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=color(skin))

    # eyes
    ex = rng.uniform(0.32, 0.44) * rx
    ey = cy - rng.uniform(0.12, 0.28) * ry
    er = rng.uniform(0.09, 0.14) * rx
    for side in (-1, 1):
        x = cx + side * ex
        if rgb:   # shaded socket, white, dark iris: the dark-eyes pattern face detectors look for
            socket = tuple(int(v * 0.72) for v in skin)
            draw.ellipse([x - er * 2.2, ey - er * 1.6, x + er * 2.2, ey + er * 1.3], fill=color(socket))
            draw.ellipse([x - er * 1.4, ey - er * 0.85, x + er * 1.4, ey + er * 0.85],
                         fill=color((235, 235, 235)))
            iris = tuple(int(v) for v in rng.integers(15, 80, 3))
            draw.ellipse([x - er * 0.8, ey - er * 0.8, x + er * 0.8, ey + er * 0.8], fill=color(iris))
            draw.ellipse([x - er * 0.35, ey - er * 0.35, x + er * 0.35, ey + er * 0.35],
                         fill=color((10, 10, 10)))
        else:
            draw.ellipse([x - er, ey - er * 0.8, x + er, ey + er * 0.8], fill=color(ink))
    # eyebrows: tilt is random and independent of the class (a distractor)
    if rng.random() < 0.7 or rgb:
        tilt = rng.uniform(-0.12, 0.12) * ry
        for side in (-1, 1):
            x = cx + side * ex
            y = ey - rng.uniform(0.22, 0.3) * ry
            draw.line([x - er * 1.4, y + side * tilt, x + er * 1.4, y - side * tilt],
                      fill=color(ink), width=unit * 2 if rgb else unit)
    # nose
    if rng.random() < 0.6:
        draw.line([cx, cy - 0.05 * ry, cx - 0.06 * rx, cy + 0.18 * ry, cx + 0.04 * rx, cy + 0.2 * ry],
                  fill=color(ink), width=max(1, unit - 1) if rgb else unit)
    lips = (tuple(int(v) for v in np.clip(np.array(ink) + [60, 0, 0], 0, 255)) if rgb else ink)
    _mouth(draw, rng, happy, cx, cy, rx, ry, color(lips), lip_width=max(2, round(unit * 2)))

    angle = rng.uniform(-12, 12) * (0.5 if rgb else 1.0)   # photos: tilt less, for the detector
    return layer.rotate(angle, resample=Image.Resampling.BICUBIC, center=(cx, cy))


# ---------------------------------------------------------------- FER-style images

def fer_face(rng: np.random.Generator, happy: bool | None, size: int = FER_SIZE) -> np.ndarray:
    """One 48x48 uint8 grayscale drawn face (``happy=None``: a neutral one)."""
    big = size * _SUPERSAMPLE
    skin = rng.uniform(90, 235)
    bg = rng.uniform(10, 245)
    if abs(bg - skin) < 45:                           # keep the head visible
        bg = skin - 60 if skin > 140 else skin + 60
    ink = max(0.0, skin - rng.uniform(70, 150))
    # background: flat gray with a soft vertical gradient
    grad = np.linspace(-1, 1, big)[:, None] * rng.uniform(-25, 25)
    background = np.clip(bg + grad + np.zeros((big, big)), 0, 255).astype(np.uint8)
    canvas = Image.fromarray(background, "L").convert("LA")

    rx = rng.uniform(0.30, 0.40) * big
    ry = rx * rng.uniform(1.15, 1.35)
    cx = big / 2 + rng.uniform(-0.07, 0.07) * big
    cy = big / 2 + rng.uniform(-0.06, 0.06) * big
    layer = _face_layer((big, big), rng, happy, (cx, cy, rx, ry), skin, ink, rgb=False)
    canvas.alpha_composite(layer)
    img = canvas.convert("L").resize((size, size), Image.Resampling.LANCZOS)

    arr = np.asarray(img, dtype=np.float32)
    arr = arr * rng.uniform(0.75, 1.2) + rng.uniform(-20, 20)        # brightness, contrast
    arr += rng.normal(0, rng.uniform(2, 10), arr.shape)              # sensor noise
    return np.clip(arr, 0, 255).round().astype(np.uint8)


# ---------------------------------------------------------------- web-style photos

def web_face(rng: np.random.Generator, happy: bool, tone: int | None = None) -> Image.Image:
    """One RGB 'photo' (160-400 px a side) with a drawn face.

    ``tone`` picks the skin tone from :data:`SKIN_TONES` (default: at random).
    """
    w, h = (int(v) for v in rng.integers(160, 401, 2))
    top, bottom = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = np.linspace(0, 1, h)[:, None, None]
    bg = (top * (1 - t) + bottom * t) * np.ones((1, w, 1))
    canvas = Image.fromarray(bg.astype(np.uint8), "RGB").convert("RGBA")
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(0, 6))):                          # clutter
        x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
        x1, y1 = x0 + rng.uniform(10, w / 2), y0 + rng.uniform(10, h / 2)
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.rectangle if rng.random() < 0.5 else draw.ellipse)([x0, y0, x1, y1], fill=fill)

    drawn = int(rng.integers(len(SKIN_TONES)))
    base = np.array(SKIN_TONES[drawn if tone is None else tone % len(SKIN_TONES)], dtype=float)
    skin = tuple(int(v) for v in np.clip(base + rng.normal(0, 8, 3), 0, 255))
    ink = tuple(int(v) for v in np.clip(base * rng.uniform(0.25, 0.45), 0, 255))
    rx = rng.uniform(0.20, 0.32) * min(w, h)
    ry = rx * rng.uniform(1.15, 1.35)
    cx = rng.uniform(rx * 1.15, w - rx * 1.15)
    cy = rng.uniform(ry * 1.15, h - ry * 1.05)
    canvas.alpha_composite(_face_layer((w, h), rng, happy, (cx, cy, rx, ry), skin, ink, rgb=True))
    img = canvas.convert("RGB")
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5)))
    arr = np.asarray(img, dtype=np.float32) + rng.normal(0, rng.uniform(1, 6), (h, w, 1))
    return Image.fromarray(np.clip(arr, 0, 255).round().astype(np.uint8), "RGB")


def _save_web(img: Image.Image, path: Path) -> None:
    if path.suffix == ".jpg":
        img.save(path, "JPEG", quality=90)
    else:
        img.save(path, "PNG")


# ---------------------------------------------------------------- the whole folder

def _write(tmp: Path, n_train: int, n_test: int, n_web: int, seed: int) -> None:
    for s, (split, count) in enumerate((("train", n_train), ("test", n_test))):
        for c, name in enumerate(CLASSES):
            folder = tmp / "fer2013" / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                arr = fer_face(_rng(seed, 1, s, c, i), happy=(name == "happy"))
                Image.fromarray(arr, "L").save(folder / f"{name}_{i:04d}.png")

    _write_ferplus(tmp, n_train, seed)
    for c, name in enumerate(CLASSES):
        folder = tmp / "web" / name
        folder.mkdir(parents=True)
        for i in range(n_web):
            rng = _rng(seed, 2, c, i)
            ext = ".png" if (rng.random() < 0.35 and i >= 2) else ".jpg"  # 0, 1: see DUPLICATE_OF
            # skin tones cycle the same way in both classes: tone says nothing about the class
            _save_web(web_face(rng, happy=(name == "happy"), tone=i),
                      folder / f"{name}_{i:03d}{ext}")

    _write_bad_inputs(tmp, seed)
    bad = "\n".join(f"  {path}  ({kind.replace('_', ' ')})"
                    for kind, path in WEB_BAD_INPUTS.items())
    (tmp / MARKER).write_text(_MARKER_TEXT.format(version=VERSION, seed=seed, n_train=n_train, n_test=n_test,
                                                  n_web=n_web, bad=bad), encoding="utf-8")


def _write_ferplus(tmp: Path, n_neutral: int, seed: int) -> None:
    """``ferplus/``, shaped like the real one: every demo training face (the same pixels, as in
    FER+) plus ``n_neutral`` neutral ones, and ``train_votes.csv``: 10 votes each, 6-10 of them
    for the drawn expression and the rest for one other."""
    folder = tmp / "ferplus" / "train"
    folder.mkdir(parents=True)
    drawn = [(f, e) for c, e in ((CLASSES[0], "happiness"), (CLASSES[1], "sadness"))
             for f in sorted((tmp / "fer2013" / "train" / c).glob("*.png"))]
    drawn += [(i, "neutral") for i in range(n_neutral)]
    rng, rows = _rng(seed, 4), []
    for number, (face, emotion) in enumerate(drawn):
        name = f"fer{number:07d}.png"
        if isinstance(face, Path):
            shutil.copyfile(face, folder / name)
        else:
            Image.fromarray(fer_face(_rng(seed, 5, face), happy=None), "L").save(folder / name)
        votes = dict.fromkeys(config.FERPLUS_VOTE_COLUMNS, 0)
        votes[emotion] = int(rng.integers(6, 11))
        votes[str(rng.choice([v for v in config.FERPLUS_EMOTIONS if v != emotion]))] += 10 - votes[emotion]
        rows.append({"image": name, **votes})
    header = ",".join(["image", *config.FERPLUS_VOTE_COLUMNS])
    lines = [",".join([row["image"], *(str(row[v]) for v in config.FERPLUS_VOTE_COLUMNS)]) for row in rows]
    (tmp / "ferplus" / "train_votes.csv").write_text("\n".join([header, *lines]) + "\n")


def _write_bad_inputs(tmp: Path, seed: int) -> None:
    rng = _rng(seed, 3)
    bad = {kind: tmp / rel for kind, rel in WEB_BAD_INPUTS.items()}
    bad["not_an_image"].write_text("This is not an image, just text with a .jpg name.\n",
                                   encoding="utf-8")
    jpeg = tmp / "web" / "sad" / ".whole.jpg"
    _save_web(web_face(rng, happy=False), jpeg)
    data = jpeg.read_bytes()
    bad["truncated"].write_bytes(data[: len(data) // 2])
    jpeg.unlink()
    small = web_face(rng, happy=True).resize((10, 10), Image.Resampling.LANCZOS)
    small.save(bad["too_small"], "PNG")
    for copy, original in DUPLICATE_OF.items():
        source = tmp / original
        if not source.exists():            # n_web too small to hold the original: draw one
            _save_web(web_face(rng, happy=original.startswith("web/happy")), source)
        shutil.copyfile(source, tmp / copy)


def is_complete(root: Path | str) -> bool:
    """True if ``root`` holds a finished demo of this :data:`VERSION` (the marker is written last)."""
    root = Path(root)
    if not ((root / MARKER).is_file() and all((root / part).is_dir() for part in ("fer2013", "ferplus", "web"))):
        return False
    return f"version: {VERSION}\n" in (root / MARKER).read_text(encoding="utf-8")


def make_demo(root: Path | str, n_train: int = 300, n_test: int = 100, n_web: int = 30,
              seed: int = 42) -> Path:
    """Write the demo data set below ``root`` and return ``root``.

    ``n_train`` / ``n_test`` are FER-style images per class, ``n_web`` web photos per
    class (plus the bad inputs of :data:`WEB_BAD_INPUTS`). Same seed, same bytes.
    Everything is written to a temporary folder first and moved into place at the end,
    so an interrupted run never leaves a half-written demo behind. Existing
    ``fer2013/``, ``web/`` and the marker under ``root`` are replaced.
    """
    root = Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
    os.chmod(tmp, 0o755)                   # mkdtemp makes it private; the demo is not
    try:
        _write(tmp, n_train, n_test, n_web, seed)
        if not root.exists():
            try:
                os.rename(tmp, root)
                return root
            except OSError:                 # another process finished first
                if not root.exists():
                    raise
        root.mkdir(parents=True, exist_ok=True)
        (root / MARKER).unlink(missing_ok=True)       # incomplete until the marker is back
        for name in ("fer2013", "ferplus", "web"):
            if (root / name).exists():
                shutil.rmtree(root / name)
            os.replace(tmp / name, root / name)
        os.replace(tmp / MARKER, root / MARKER)
        return root
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)

