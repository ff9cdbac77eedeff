"""helpers.synthetic: the offline demo data set."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, UnidentifiedImageError

from helpers import config, synthetic

N_TRAIN, N_TEST, N_WEB = 300, 100, 30       # the defaults of make_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    # called exactly as helpers.data.locate() calls it: one positional path, defaults
    root = tmp_path_factory.mktemp("data") / "synthetic"
    assert synthetic.make_demo(root) == root
    return root


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_layout_and_counts(demo):
    assert (demo / synthetic.MARKER).is_file()
    assert "SYNTHETIC" in (demo / synthetic.MARKER).read_text()
    assert synthetic.is_complete(demo)
    assert sorted(p.name for p in (demo / "fer2013").iterdir()) == ["test", "train"]
    for split, count in (("train", N_TRAIN), ("test", N_TEST)):
        assert sorted(p.name for p in (demo / "fer2013" / split).iterdir()) == ["happy", "sad"]
        for cls in synthetic.CLASSES:
            files = list((demo / "fer2013" / split / cls).iterdir())
            assert len(files) == count and all(f.suffix == ".png" for f in files)
    bad = {demo / rel for rel in synthetic.WEB_BAD_INPUTS.values()}
    for cls in synthetic.CLASSES:
        good = [f for f in (demo / "web" / cls).iterdir() if f not in bad]
        assert len(good) == N_WEB
    assert not list(demo.parent.glob(f".{demo.name}.tmp-*")), "temporary folder left behind"


def test_fer_images_are_48x48_grayscale(demo):
    for path in _files(demo / "fer2013")[::37]:
        with Image.open(path) as img:
            assert img.format == "PNG" and img.mode == "L" and img.size == (48, 48)
            arr = np.asarray(img)
        assert arr.dtype == np.uint8 and arr.std() > 10          # not blank


def test_web_images_are_rgb_jpeg_and_png(demo):
    bad = {demo / rel for rel in synthetic.WEB_BAD_INPUTS.values()}
    formats = set()
    for path in _files(demo / "web"):
        if path in bad:
            continue
        with Image.open(path) as img:
            img.load()
            assert img.mode == "RGB"
            assert all(160 <= side <= 400 for side in img.size)
            assert img.format == {".jpg": "JPEG", ".png": "PNG"}[path.suffix]
            formats.add(img.format)
    assert formats == {"JPEG", "PNG"}


def test_bad_inputs_are_present(demo):
    bad = {kind: demo / rel for kind, rel in synthetic.WEB_BAD_INPUTS.items()}
    assert all(p.is_file() for p in bad.values())
    with pytest.raises(UnidentifiedImageError):
        Image.open(bad["not_an_image"])
    with pytest.raises(OSError), Image.open(bad["truncated"]) as img:   # opens (header is fine), fails to decode
        img.load()
    with Image.open(bad["too_small"]) as img:
        assert img.size == (10, 10)
    for copy, original in synthetic.DUPLICATE_OF.items():
        assert (demo / copy).read_bytes() == (demo / original).read_bytes()
    dup, both = bad["duplicate"], bad["in_both_classes"]
    assert dup.parent == (demo / synthetic.DUPLICATE_OF[dup.relative_to(demo).as_posix()]).parent
    assert both.parent != (demo / synthetic.DUPLICATE_OF[both.relative_to(demo).as_posix()]).parent


def test_same_seed_same_bytes(tmp_path):
    kwargs = dict(n_train=4, n_test=2, n_web=3, seed=7)
    a = synthetic.make_demo(tmp_path / "a", **kwargs)
    b = synthetic.make_demo(tmp_path / "b", **kwargs)
    files_a, files_b = _files(a), _files(b)
    assert [p.relative_to(a) for p in files_a] == [p.relative_to(b) for p in files_b]
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(files_a, files_b, strict=True))
    c = synthetic.make_demo(tmp_path / "c", **{**kwargs, "seed": 8})
    assert (a / "fer2013/train/happy/happy_0000.png").read_bytes() != \
        (c / "fer2013/train/happy/happy_0000.png").read_bytes()


def test_make_demo_twice_replaces(tmp_path):
    root = synthetic.make_demo(tmp_path / "demo", n_train=3, n_test=1, n_web=2)
    (root / "fer2013" / "train" / "happy" / "stray.png").write_bytes(b"x")
    synthetic.make_demo(root, n_train=2, n_test=1, n_web=2)
    assert len(list((root / "fer2013" / "train" / "happy").iterdir())) == 2
    assert synthetic.is_complete(root)
    assert not synthetic.is_complete(tmp_path / "nothing-here")


def _load(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for label, cls in enumerate(synthetic.CLASSES):
        for path in sorted((folder / cls).glob("*.png")):
            images.append(np.asarray(Image.open(path), dtype=np.float32))
            labels.append(label)
    return np.stack(images), np.array(labels)


def _mouth_features(images: np.ndarray) -> np.ndarray:
    x = images[:, 26:44, 10:38].reshape(len(images), -1)     # the lower middle: the mouth
    return (x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1e-6)


def test_classes_are_learnable(demo):
    """A logistic regression on the mouth region beats chance by a clear margin.

    (A small CNN gets close to 100%; this is the cheap check.)
    """
    x_train, y_train = _load(demo / "fer2013" / "train")
    x_test, y_test = _load(demo / "fer2013" / "test")
    a, b = _mouth_features(x_train), _mouth_features(x_test)
    w, bias = np.zeros(a.shape[1]), 0.0
    for _ in range(500):
        p = 1 / (1 + np.exp(-(a @ w + bias)))
        w -= 0.05 * (a.T @ (p - y_train) / len(a) + 1e-3 * w)
        bias -= 0.05 * float((p - y_train).mean())
    accuracy = float(((b @ w + bias > 0) == y_test).mean())
    assert accuracy > 0.7, accuracy


def test_web_images_vary(demo):
    bad = {demo / rel for rel in synthetic.WEB_BAD_INPUTS.values()}
    centers = []
    for path in _files(demo / "web"):
        if path not in bad:
            with Image.open(path) as img:
                centers.append(np.asarray(img.convert("L"), dtype=np.float32).mean())
    assert np.std(centers) > 10


def test_older_demo_is_not_complete(tmp_path):
    root = synthetic.make_demo(tmp_path / "demo", n_train=1, n_test=1, n_web=2)
    marker = root / synthetic.MARKER
    marker.write_text(marker.read_text().replace(f"version: {synthetic.VERSION}", "version: 1"))
    assert not synthetic.is_complete(root)


def test_root_is_not_private(demo):
    assert demo.stat().st_mode & 0o055 == 0o055      # readable by group and others, like mkdir



def test_skin_tone_is_balanced_across_classes(tmp_path, monkeypatch):
    """Both classes get the same skin tones, so tone cannot stand in for the label."""
    calls = []
    original = synthetic.web_face

    def spy(rng, happy, tone=None):
        calls.append((happy, tone))
        return original(rng, happy, tone)

    monkeypatch.setattr(synthetic, "web_face", spy)
    synthetic.make_demo(tmp_path / "d", n_train=1, n_test=1, n_web=10)
    n = len(synthetic.SKIN_TONES)
    tones = {happy: sorted(t % n for h, t in calls if h == happy and t is not None)
             for happy in (True, False)}
    assert len(tones[True]) == 10 and tones[True] == tones[False]
    light = original(synthetic._rng(1, 2, 3), happy=True, tone=0)
    dark = original(synthetic._rng(1, 2, 3), happy=True, tone=n - 1)
    assert np.asarray(light).mean() > np.asarray(dark).mean()     # the tone is used


def test_demo_ferplus_is_shaped_like_the_real_one(demo):
    """ferplus/ holds every demo training face (same pixels, as FER+ holds FER-2013's) plus neutral
    ones, never a test face; train_votes.csv has the real columns, ten votes a face, and a clear majority
    for the drawn expression, which lesson 10 reads."""
    import pandas as pd
    from helpers import data
    votes = pd.read_csv(demo / "ferplus" / "train_votes.csv")
    assert list(votes.columns) == ["image", *config.FERPLUS_VOTE_COLUMNS]
    assert sorted(votes["image"]) == sorted(p.name for p in (demo / "ferplus" / "train").iterdir())
    emotions = votes[list(config.FERPLUS_VOTE_COLUMNS)]
    assert (emotions.sum(axis=1) == 10).all() and (emotions.max(axis=1) >= 6).all()
    majority = emotions.idxmax(axis=1).value_counts().to_dict()
    assert majority == {"happiness": N_TRAIN, "sadness": N_TRAIN, "neutral": N_TRAIN}
    hashes = {data.pixel_hash(data.read_image(p, 1)) for p in (demo / "ferplus" / "train").iterdir()}
    for split, inside in (("train", True), ("test", False)):
        for path in _files(demo / "fer2013" / split)[::29]:
            assert (data.pixel_hash(data.read_image(path, 1)) in hashes) is inside, path
    assert data.locate(demo).ferplus == demo / "ferplus"
