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
    with pytest.raises(ValueError, match=r"exactly two .*found 1 \(happy\)"):
        data.class_names(tmp_path)
    for name in ["sad", "angry"]:
        (tmp_path / name).mkdir()
    with pytest.raises(ValueError, match="exactly two"):
        data.class_names(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
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


def test_locate_prefers_real_data(fer_tree):
    source = data.locate(fer_tree)
    assert not source.synthetic and source.fer == fer_tree / "fer2013" and source.web is None


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


def _own_split(root):
    """A small split of files under ``root``, with an extra ``group`` column."""
    rng = np.random.default_rng(7)
    rows = []
    for i, which in enumerate(["train"] * 4 + ["val"] * 2 + ["test"] * 2):
        label = i % 2
        file = root / ["happy", "sad"][label] / f"{i}.png"
        file.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (20, 30, 3), np.uint8)).save(file)
        rows.append({"file": str(file), "label": label, "class": ["happy", "sad"][label],
                     "split": which, "group": f"g{i // 2}"})
    return pd.DataFrame(rows)


def test_save_split_round_trip(tmp_path):
    table = _own_split(tmp_path / "photos")
    path = data.save_split(table, tmp_path / "out", tmp_path / "photos")
    assert path == tmp_path / "out" / data.SPLIT_FILE
    loaded = data.load_split(tmp_path / "out")
    assert list(loaded.columns) == data.SPLIT_COLUMNS + ["group", "file"]
    assert list(loaded["file"]) == list(table["file"])
    assert list(loaded["path"]) == [f"{c}/{i}.png" for i, c in enumerate(table["class"])]
    pd.testing.assert_frame_equal(loaded[["label", "class", "split", "group"]],
                                  table[["label", "class", "split", "group"]])
    # pixsha1 was computed from the 1-channel pixels, as prepare_fer_split does
    assert loaded["pixsha1"][0] == data.pixel_hash(data.read_image(table["file"][0], 1))
    images, labels = data.load_xy(loaded, "val", channels=3)
    assert images.shape == (2, 20, 30, 3) and list(labels) == [0, 1]


def test_save_split_refuses_a_leak(tmp_path):
    table = _own_split(tmp_path / "photos")
    leak = table.copy()
    leak.loc[7, "file"] = leak.loc[0, "file"]           # one file in train and in test
    with pytest.raises(ValueError, match="path .*two splits"):
        data.save_split(leak, tmp_path / "out", tmp_path / "photos")
    same = table.assign(pixsha1="x" * 40)               # other files, the same pixels
    with pytest.raises(ValueError, match="pixsha1 .*two splits"):
        data.save_split(same, tmp_path / "out", tmp_path / "photos")
    with pytest.raises(ValueError, match="train, val or test"):
        data.save_split(table.assign(split="holdout"), tmp_path / "out", tmp_path / "photos")
    assert not (tmp_path / "out" / data.SPLIT_FILE).exists()


def test_saved_fer_split_shares_no_image(fer_tree, tmp_path, monkeypatch):
    """What every later notebook reads: no file and no duplicate image in two splits."""
    fer = fer_tree / "fer2013"
    for i in range(3):   # duplicates that the split must resolve, within and across splits
        shutil.copy(fer / f"train/happy/train_happy_{i:03d}.png", fer / f"train/happy/copy{i}.png")
        shutil.copy(fer / f"test/sad/test_sad_{i:03d}.png", fer / f"train/sad/copy{i}.png")
    _, _, out = _prepare(fer_tree, tmp_path, monkeypatch)
    _assert_disjoint(data.load_split(out))
