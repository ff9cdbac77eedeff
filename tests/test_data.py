"""The split, the loaders and the one preprocessing function."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers import config, data


def test_class_names_are_sorted_folders(tmp_path):
    for name in ["sad", "happy", ".hidden"]:
        (tmp_path / name).mkdir()
    assert data.class_names(tmp_path) == ["happy", "sad"]


def test_class_names_needs_exactly_two(tmp_path):
    (tmp_path / "happy").mkdir()
    with pytest.raises(ValueError, match="exactly two"):
        data.class_names(tmp_path)
    for name in ["sad", "angry"]:
        (tmp_path / name).mkdir()
    with pytest.raises(ValueError, match="exactly two"):
        data.class_names(tmp_path)
    with pytest.raises(FileNotFoundError):
        data.class_names(tmp_path / "missing")


def test_any_two_classes_work(tmp_path, fer_tree, monkeypatch):
    monkeypatch.delenv("HAPPYSAD_FAST", raising=False)
    for split in ("train", "test"):
        base = fer_tree / "fer2013" / split
        (base / "happy").rename(base / "cats")
        (base / "sad").rename(base / "dogs")
    split = data.prepare_fer_split(data.locate(fer_tree), out_dir=tmp_path / "out")
    assert data.split_class_names(split) == ["cats", "dogs"]


def _prepare(fer_tree, tmp_path, monkeypatch):
    monkeypatch.delenv("HAPPYSAD_FAST", raising=False)
    out = tmp_path / "prepared"
    split = data.prepare_fer_split(data.locate(fer_tree), out_dir=out)
    return split, pd.read_csv(out / data.DROPPED_FILE), out


def test_split_drops_leaks_conflicts_and_blanks(fer_tree, tmp_path, monkeypatch):
    fer = fer_tree / "fer2013"
    # a train image that is also a test image (the leak the original tutorial had)
    shutil.copy(fer / "test/happy/test_happy_000.png", fer / "train/happy/leak.png")
    # the same pixels under both labels
    shutil.copy(fer / "train/happy/train_happy_001.png", fer / "train/sad/conflict.png")
    # an exact duplicate within train
    shutil.copy(fer / "train/sad/train_sad_002.png", fer / "train/sad/zz_dup.png")
    # a blank frame
    Image.fromarray(np.zeros((48, 48), np.uint8)).save(fer / "train/sad/blank.png")

    split, dropped, _ = _prepare(fer_tree, tmp_path, monkeypatch)
    reasons = dict(zip(dropped["path"].str.split("/").str[-1], dropped["reason"]))
    assert reasons["leak.png"] == "train image also in test"
    assert reasons["conflict.png"] == "same image with both labels"
    assert reasons["train_happy_001.png"] == "same image with both labels"
    assert reasons["blank.png"].startswith("blank image")
    assert reasons["zz_dup.png"] == "exact duplicate"
    assert "train_sad_002.png" in set(split["path"].str.split("/").str[-1])   # first copy kept
    _assert_disjoint(split)


def _assert_disjoint(split):
    for a, b in [("train", "val"), ("train", "test"), ("val", "test")]:
        rows_a, rows_b = split[split["split"] == a], split[split["split"] == b]
        assert not set(rows_a["path"]) & set(rows_b["path"]), f"{a} and {b} share a file"
        assert not set(rows_a["pixsha1"]) & set(rows_b["pixsha1"]), f"{a} and {b} share an image"
    assert not split["pixsha1"].duplicated().any()


def test_split_is_stratified_seeded_and_saved(fer_tree, tmp_path, monkeypatch):
    split, _, out = _prepare(fer_tree, tmp_path, monkeypatch)
    assert set(split["split"]) == {"train", "val", "test"}
    val = split[split["split"] == "val"]
    assert abs(val["label"].mean() - 0.5) < 0.1             # stratified: both classes in val
    again = data.prepare_fer_split(data.locate(fer_tree), out_dir=tmp_path / "again")
    pd.testing.assert_frame_equal(split, again)             # seeded: same split twice
    loaded = data.load_split(out)
    assert list(loaded["path"]) == list(split["path"])
    assert all(p.startswith(str(fer_tree)) for p in loaded["file"])


def test_load_split_names_the_notebook_when_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="01_collect_and_clean"):
        data.load_split(tmp_path)


def test_real_split_shares_no_image_between_train_val_and_test(real_data, tmp_path, monkeypatch):
    """The real FER-2013 split: no file and no pixel-identical image in two splits."""
    split, dropped, _ = _prepare(real_data, tmp_path, monkeypatch)
    _assert_disjoint(split)
    # Cross-check with the manifest's own pixel hashes and duplicate groups.
    manifest = pd.read_csv(real_data / "fer2013" / "manifest.csv", usecols=["path", "pixsha1", "pixel_source"])
    manifest["path"] = "fer2013/" + manifest["path"]
    merged = split.merge(manifest, on="path", suffixes=("", "_manifest"))
    assert len(merged) == len(split)
    by_split = merged.groupby("pixsha1_manifest")["split"].nunique()
    assert (by_split == 1).all()
    assert (merged["pixel_source"] == data.FACE_SOURCE).all()   # no non-face survives
    assert (dropped["reason"] == "train image also in test").sum() > 0
    assert 0.13 < (split["split"] == "val").sum() / (split["split"] != "test").sum() < 0.17


def test_to_model_input_fits_any_image_to_any_model():
    rgb = np.zeros((2, 10, 20, 3), np.uint8)
    rgb[..., 0] = 255                                            # pure red
    gray = data.to_model_input(rgb, (48, 48, 1)).numpy()
    assert gray.shape == (2, 48, 48, 1)
    assert np.allclose(gray, 255 * 0.2989, atol=1.0)             # luminance of red, not of blue
    back = data.to_model_input(np.full((48, 48, 1), 7, np.uint8), (256, 256, 3)).numpy()
    assert back.shape == (1, 256, 256, 3) and np.allclose(back, 7)   # values stay 0-255


def test_make_dataset_batches_and_keeps_labels(fer_tree):
    files = data.image_files(fer_tree / "fer2013" / "test")
    labels = [int("sad" in f.parts) for f in files]
    ds = data.make_dataset(files, labels, (48, 48, 1), batch_size=8)
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    assert xs[0].shape == (8, 48, 48, 1) and xs[0].dtype == np.float32
    assert list(np.concatenate(ys)) == labels                    # not shuffled when not training
    first = np.concatenate(ys)
    train = data.make_dataset(files, labels, (64, 64, 3), batch_size=8, training=True)
    x, y = next(iter(train))
    assert x.shape == (8, 64, 64, 3)
    assert sorted(np.concatenate([b.numpy() for _, b in train])) == sorted(first)


def test_locate_prefers_real_data(fer_tree):
    source = data.locate(fer_tree)
    assert not source.synthetic and source.fer == fer_tree / "fer2013" and source.web is None


def test_leaky_split_demo_shows_the_leak():
    result = data.leaky_split_demo(n=60)
    assert result["test_set_changed_between_passes"]
    assert result["test_items_also_trained_on"] > result["test_size"] // 2


def test_load_split_refuses_a_split_of_other_data(fer_tree, tmp_path, monkeypatch):
    monkeypatch.delenv("HAPPYSAD_FAST", raising=False)
    out = tmp_path / "prepared"
    data.prepare_fer_split(data.locate(fer_tree), out_dir=out)
    monkeypatch.setenv("HAPPYSAD_DATA", str(fer_tree))
    assert len(data.load_split(out, check_source=True)) > 0
    other = tmp_path / "other"
    (other / "fer2013" / "train").mkdir(parents=True)
    monkeypatch.setenv("HAPPYSAD_DATA", str(other))
    with pytest.raises(FileNotFoundError, match="01_collect_and_clean"):
        data.load_split(out, check_source=True)


def test_mixup_blends_images_and_labels_alike():
    import tensorflow as tf
    rng = np.random.default_rng(3)
    images = tf.constant(rng.uniform(0, 255, (8, 4, 4, 1)), tf.float32)
    labels = tf.constant([0, 1, 0, 1, 1, 0, 0, 1], tf.float32)
    mixed, soft = data._mixup(images, labels, alpha=0.4, seed=1)
    mixed, soft, x, y = (np.asarray(t) for t in (mixed, soft, images, labels))
    # each image is lam * itself + (1 - lam) * its partner in the reversed batch
    lam = np.array([np.linalg.lstsq((x[i] - x[::-1][i]).reshape(-1, 1),
                                    (mixed[i] - x[::-1][i]).reshape(-1), rcond=None)[0][0]
                    for i in range(8)])
    assert ((lam >= 0.5 - 1e-4) & (lam <= 1 + 1e-4)).all()
    assert np.allclose(soft, lam * y + (1 - lam) * y[::-1], atol=1e-4)
    assert not np.allclose(mixed, x)                     # something was blended
