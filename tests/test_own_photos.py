"""Lesson 09's path through helpers/ for a folder of your own photos: clean it, read the
near-duplicate groups from the report, split by group, save with ``splits.save_split`` and
read back with ``splits.load_split`` (the same reader as for FER-2013).

``CleaningResult.kept_files`` and ``splits.split_by_group`` (scikit-learn's
``StratifiedGroupKFold``) are what notebook 09 calls; here they must keep every copy of a
photo in one split, for any two class names and mixed image sizes.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers import cleaning, data, splits


def _noise(rng, size=(40, 56)) -> np.ndarray:
    return rng.integers(0, 256, (*size, 3), dtype=np.uint8)


def make_folder(root, classes=("cats", "dogs"), n=20, seed=0, sizes=((40, 56), (64, 64), (33, 47))):
    """root/<class>/img_XX.png: random pictures of mixed sizes, plus known copies: a pixel
    copy and a near-duplicate (brightened JPEG) in the first class, and a resized copy of a
    first-class picture in the second class."""
    rng = np.random.default_rng(seed)
    pictures = {}
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(n):
            pixels = _noise(rng, sizes[i % len(sizes)])
            pictures[f"{name}/img_{i:02d}.png"] = pixels
            Image.fromarray(pixels).save(root / name / f"img_{i:02d}.png")
    a, b = classes
    Image.fromarray(pictures[f"{a}/img_00.png"]).save(root / a / "copy_of_00.png")
    brighter = np.clip(pictures[f"{a}/img_01.png"].astype(int) + 6, 0, 255).astype(np.uint8)
    Image.fromarray(brighter).save(root / a / "near_01.jpg", quality=95)
    Image.fromarray(pictures[f"{a}/img_02.png"]).resize((50, 60)).save(root / b / "near_a02.png")
    return root


def test_copies_share_a_group_and_one_split(tmp_path):
    result = cleaning.clean(make_folder(tmp_path / "photos", n=30), tmp_path / "clean", faces="off",
                            progress=False, verbose=False)
    crops = result.kept_files()
    group = crops.set_index("source")["group"]
    # one of two pixel copies is dropped by cleaning (the first in sorted order is kept);
    # the near-duplicates share a group, across classes too
    assert "cats/copy_of_00.png" in group.index and "cats/img_00.png" not in group.index
    assert group["cats/img_01.png"] == group["cats/near_01.jpg"]
    assert group["cats/img_02.png"] == group["dogs/near_a02.png"]
    assert group.drop(["cats/near_01.jpg", "dogs/near_a02.png"]).is_unique

    table = splits.split_by_group(crops)
    assert (table.groupby("group")["split"].nunique() == 1).all()
    counts = pd.crosstab(table["class"], table["split"])
    assert (counts > 0).all().all()                               # every split has both classes
    assert (counts["test"] / counts.sum(axis=1)).between(0.05, 0.3).all()
    assert splits.split_by_group(crops)["split"].equals(table["split"])  # seeded: the same split again

    splits.save_split(table, tmp_path / "split", result.dst)
    loaded = splits.load_split(tmp_path / "split")
    assert splits.split_class_names(loaded) == ["cats", "dogs"]
    assert loaded["group"].tolist() == table["group"].tolist()
    images = data.load_images(loaded["file"], channels=1, size=(48, 48))   # mixed sizes, one batch
    assert images.shape == (len(loaded), 48, 48, 1)


@pytest.mark.parametrize("classes", [("happy", "sad"), ("Zebra crossing", "apples")])
def test_any_two_class_names(tmp_path, classes):
    result = cleaning.clean(make_folder(tmp_path / "photos", classes=classes, n=14), tmp_path / "clean",
                            faces="off", progress=False, verbose=False)
    table = splits.split_by_group(result.kept_files())
    splits.save_split(table, tmp_path / "split", result.dst)
    loaded = splits.load_split(tmp_path / "split")
    assert splits.split_class_names(loaded) == sorted(classes)
    assert (loaded.groupby("class")["split"].nunique() == 3).all()


def test_a_leaky_split_is_refused(tmp_path):
    """Split by file, ignoring groups, a copy can land in train and in test: save_split's
    pixel check catches exact copies; the group check is the notebook's assert."""
    result = cleaning.clean(make_folder(tmp_path / "photos", n=14), tmp_path / "clean", faces="off",
                            progress=False, verbose=False)
    table = splits.split_by_group(result.kept_files())
    first = table.index[0]
    copy = table.loc[[first]].assign(split="test" if table.loc[first, "split"] != "test" else "train",
                                     path=lambda t: t["path"].str.replace(".png", "_copy.png"))
    (result.dst / copy["path"].iloc[0]).write_bytes((result.dst / table.loc[first, "path"]).read_bytes())
    with pytest.raises(ValueError, match="leak"):
        splits.save_split(pd.concat([table, copy]), tmp_path / "split", result.dst)
