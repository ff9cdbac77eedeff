"""Lesson 08 helpers: a leak-free split of your own folder, honest intervals, the upload."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers import cleaning, data, ownphotos


def _noise(rng, size=(40, 56)) -> np.ndarray:
    return rng.integers(0, 256, (*size, 3), dtype=np.uint8)


def make_folder(root, classes=("cats", "dogs"), n=20, seed=0, sizes=((40, 56), (64, 64), (33, 47))):
    """root/<class>/img_XX.png: random pictures of mixed sizes, plus known copies:
    a pixel copy and a near-duplicate (brightened) in the first class, and a
    near-duplicate of a first-class picture in the second class."""
    rng = np.random.default_rng(seed)
    pictures = {}
    for c, name in enumerate(classes):
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


def _group_of(table, path_part):
    return table.loc[table["path"].str.contains(path_part, regex=False), "group"]


# ----------------------------------------------------------------------------- the split
def test_split_is_stratified_seeded_and_loadable(tmp_path):
    folder = make_folder(tmp_path / "clean", n=40)
    out = tmp_path / "split"
    table = ownphotos.prepare_folder_split(folder, out, verbose=False)
    assert set(table["split"]) == {"train", "val", "test"}
    counts = pd.crosstab(table["class"], table["split"])
    for name in ("cats", "dogs"):
        share = counts.loc[name] / counts.loc[name].sum()
        assert share["test"] == pytest.approx(0.15, abs=0.05)
        assert share["val"] == pytest.approx(0.15, abs=0.05)
    # the same call gives the same split; another seed another one
    again = ownphotos.prepare_folder_split(folder, tmp_path / "again", verbose=False)
    assert again[["path", "split"]].equals(table[["path", "split"]])
    other = ownphotos.prepare_folder_split(folder, tmp_path / "other", seed=7, verbose=False)
    assert not other.set_index("path")["split"].equals(table.set_index("path")["split"])
    # helpers.data reads it back, in the FER split's format
    loaded = data.load_split(out)
    assert list(loaded.columns) == ["path", "label", "class", "split", "pixsha1", "file"]
    assert data.split_class_names(loaded) == ["cats", "dogs"]
    assert loaded["path"].is_unique
    shapes = {data.read_image(f).shape for f in loaded["file"]}
    assert shapes == {(64, 64, 3)}                    # stored at one size: batches work
    assert (out / "groups.csv").is_file()


def test_no_file_copy_or_near_duplicate_across_splits(tmp_path):
    folder = make_folder(tmp_path / "clean", n=30)
    table = ownphotos.prepare_folder_split(folder, tmp_path / "split", verbose=False)
    assert table["path"].is_unique
    # the known copies share a group ...
    assert _group_of(table, "cats/img_00").iloc[0] == _group_of(table, "cats/copy_of_00").iloc[0]
    assert _group_of(table, "cats/img_01").iloc[0] == _group_of(table, "cats/near_01").iloc[0]
    assert _group_of(table, "cats/img_02").iloc[0] == _group_of(table, "dogs/near_a02").iloc[0]
    # ... and no group, and no pixel copy, sits in two splits
    assert ownphotos.split_leaks(table, table["group"]) == {
        "pixel_copies_across_splits": 0, "groups_across_splits": 0}
    assert (table.groupby("group")["split"].nunique() == 1).all()


def test_groups_from_the_cleaning_report(tmp_path):
    """Pairs only the report knows (near_bits=-1 switches the pixel check off): the faces
    of one photo, and sources named in the note column, stay together."""
    folder = make_folder(tmp_path / "clean", n=12)
    report = pd.DataFrame([
        {"source": "cats/group_photo.jpg", "class": "cats", "status": "kept",
         "output": "cats/img_03.png; cats/img_04.png", "note": ""},
        {"source": "cats/x.jpg", "class": "cats", "status": "kept", "output": "cats/img_05.png",
         "note": "near-duplicate of dogs/y.jpg (3 bits): please look"},
        {"source": "dogs/y.jpg", "class": "dogs", "status": "kept", "output": "dogs/img_06.png",
         "note": "near-duplicate of cats/x.jpg (3 bits): please look"},
        {"source": "dogs/bad.gif", "class": "dogs", "status": "rejected", "output": None,
         "note": None},
    ])
    report.to_csv(folder / cleaning.REPORT_NAME, index=False)
    groups = ownphotos.near_duplicate_groups(folder, near_bits=-1)
    assert groups["cats/img_03.png"] == groups["cats/img_04.png"]
    assert groups["cats/img_05.png"] == groups["dogs/img_06.png"]
    assert groups["cats/img_07.png"] != groups["cats/img_08.png"]
    assert groups["cats/img_00.png"] == groups["cats/copy_of_00.png"]   # pixel copy, always


@pytest.mark.parametrize("classes", [("happy", "sad"), ("Zebra crossing", "apples")])
def test_any_two_class_names(tmp_path, classes):
    folder = make_folder(tmp_path / "clean", classes=classes, n=12)
    table = ownphotos.prepare_folder_split(folder, tmp_path / "split", verbose=False)
    names = sorted(classes)
    assert data.split_class_names(table) == names
    assert (table.groupby("class")["split"].nunique() == 3).all()


def test_too_few_images_is_a_clear_error(tmp_path):
    folder = make_folder(tmp_path / "clean", n=5)
    with pytest.raises(ownphotos.TooFewImagesError, match="needs at least 10 per class"):
        ownphotos.prepare_folder_split(folder, tmp_path / "split", verbose=False)
    table = ownphotos.prepare_folder_split(folder, tmp_path / "split", min_per_class=3, verbose=False)
    assert (table.groupby("class")["split"].nunique() == 3).all()


def test_too_few_distinct_photos_is_a_clear_error(tmp_path):
    folder = tmp_path / "clean"
    rng = np.random.default_rng(1)
    for name in ("a", "b"):
        (folder / name).mkdir(parents=True)
    same = _noise(rng)
    for i in range(12):                               # class a: 12 copies of 2 pictures
        Image.fromarray(same if i % 2 else 255 - same).save(folder / "a" / f"{i}.png")
        Image.fromarray(_noise(rng)).save(folder / "b" / f"{i}.png")
    with pytest.raises(ownphotos.TooFewImagesError, match="only 2 group"):
        ownphotos.prepare_folder_split(folder, tmp_path / "split", verbose=False)


def test_size_none_keeps_files_of_one_size(tmp_path):
    folder = make_folder(tmp_path / "clean", n=12, sizes=((32, 32),))
    for extra in ("copy_of_00.png", "near_01.jpg"):
        (folder / "cats" / extra).unlink()
    (folder / "dogs" / "near_a02.png").unlink()
    table = ownphotos.prepare_folder_split(folder, tmp_path / "split", size=None, verbose=False)
    loaded = data.load_split(tmp_path / "split")
    assert loaded["file"].map(lambda f: str(f).startswith(str(folder.resolve()))).all()
    assert len(table) == 24
    mixed = make_folder(tmp_path / "mixed", n=12)
    with pytest.raises(ValueError, match="different sizes"):
        ownphotos.prepare_folder_split(mixed, tmp_path / "split2", size=None, verbose=False)


# ----------------------------------------------------------------------------- intervals
def test_wilson_interval_known_values():
    low, high = ownphotos.wilson_interval(8, 10)
    assert (low, high) == (pytest.approx(0.4902, abs=1e-3), pytest.approx(0.9433, abs=1e-3))
    low, high = ownphotos.wilson_interval(0, 20)
    assert low == 0.0 and 0.1 < high < 0.2          # not zero-width at 0/n
    assert ownphotos.wilson_interval(20, 20)[1] == 1.0
    narrow = ownphotos.wilson_interval(800, 1000)
    assert narrow[1] - narrow[0] < high              # more images, narrower
    assert np.isnan(ownphotos.wilson_interval(0, 0)).all()
    with pytest.raises(ValueError):
        ownphotos.wilson_interval(11, 10)


def test_bootstrap_and_table():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 30)
    p = np.clip(y * 0.4 + rng.uniform(0, 0.6, len(y)), 0, 1)
    low, high = ownphotos.bootstrap_interval(y, p, "balanced_accuracy", n_boot=200)
    table = ownphotos.scores_with_intervals(y, p, class_names=("cats", "dogs"), n_boot=200)
    assert list(table.index) == ["accuracy", "cats_recall", "dogs_recall", "balanced_accuracy", "roc_auc"]
    assert (table["low"] <= table["value"]).all() and (table["value"] <= table["high"]).all()
    assert table.loc["balanced_accuracy", "low"] == pytest.approx(low)
    assert table.loc["cats_recall", "n"] == 30
    # seeded: the same numbers twice
    assert ownphotos.bootstrap_interval(y, p, n_boot=200) == ownphotos.bootstrap_interval(y, p, n_boot=200)


# ----------------------------------------------------------------------------- upload
class _FakeUpload:
    def __init__(self, value):
        self.value = value


def _png_bytes(pixels) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_uploaded_images_decodes_and_skips_broken(capsys):
    pixels = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    widget = _FakeUpload(({"name": "me.png", "content": memoryview(_png_bytes(pixels))},
                          {"name": "notes.txt", "content": memoryview(b"hello")}))
    [(name, decoded)] = ownphotos.uploaded_images(widget)
    assert name == "me.png" and np.array_equal(decoded, pixels)
    assert "notes.txt: skipped (not an image)" in capsys.readouterr().out
    assert ownphotos.uploaded_images(None) == []
    old_style = _FakeUpload({"me.png": {"metadata": {"name": "me.png"}, "content": _png_bytes(pixels)}})
    assert len(ownphotos.uploaded_images(old_style)) == 1


def test_upload_widget_is_optional(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_widgets(name, *args, **kwargs):
        if name == "ipywidgets":
            raise ImportError("no ipywidgets")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_widgets)
    assert ownphotos.upload_widget() is None


# ----------------------------------------------------------------------------- explain
def test_explain_faces_shapes():
    from helpers import models
    model = models.build_happy_sad()
    photo = np.random.default_rng(0).integers(0, 256, (120, 100, 3), dtype=np.uint8)
    found = [{"box": (20, 30, 40, 40), "label": "sad", "class_index": 1, "probability": 0.7}]
    images, titles = ownphotos.explain_faces(model, photo, found)
    assert len(images) == 2 and titles[1] == "face 1: why 'sad'"
    assert images[0].shape == images[1].shape and images[1].dtype == np.uint8
