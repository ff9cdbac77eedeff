"""The split, the loaders and the one preprocessing function."""
from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers import config, data, splits


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
    split = splits.prepare_fer_split(data.locate(fer_tree), out_dir=tmp_path / "out")
    assert splits.split_class_names(split) == ["cats", "dogs"]


def _prepare(fer_tree, tmp_path, monkeypatch):
    monkeypatch.delenv("HAPPYSAD_FAST", raising=False)
    out = tmp_path / "prepared"
    split = splits.prepare_fer_split(data.locate(fer_tree), out_dir=out)
    return split, pd.read_csv(out / splits.DROPPED_FILE), out


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
    reasons = dict(zip(dropped["path"].str.split("/").str[-1], dropped["reason"], strict=True))
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
    again = splits.prepare_fer_split(data.locate(fer_tree), out_dir=tmp_path / "again")
    pd.testing.assert_frame_equal(split, again)             # seeded: same split twice
    loaded = splits.load_split(out)
    assert list(loaded["path"]) == list(split["path"])
    assert all(p.startswith(str(fer_tree)) for p in loaded["file"])


def test_load_split_names_the_notebook_when_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="01_collect_and_clean"):
        splits.load_split(tmp_path)


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
    assert (merged["pixel_source"] == splits.FACE_SOURCE).all()   # no non-face survives
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
    assert source.ferplus is None                        # no ferplus/ there: lesson 10 says to run make data
    (fer_tree / "ferplus" / "train").mkdir(parents=True)
    assert data.locate(fer_tree).ferplus is None         # a folder without its votes is not the pretraining set
    (fer_tree / "ferplus" / "train_votes.csv").write_text("image,neutral\n")
    assert data.locate(fer_tree).ferplus == fer_tree / "ferplus"


def test_training_seed_is_the_seed_unless_set(monkeypatch):
    monkeypatch.delenv("HAPPYSAD_TRAINING_SEED", raising=False)
    assert config.training_seed() == config.SEED
    monkeypatch.setenv("HAPPYSAD_TRAINING_SEED", "7")
    assert config.training_seed() == 7 and config.SEED == 42     # the split's seed never moves
    assert config.seed_suffix(7) == "_seed7" and config.seed_suffix(config.SEED) == ""
    monkeypatch.setenv("HAPPYSAD_TRAINING_SEED", "one")
    with pytest.raises(ValueError, match="HAPPYSAD_TRAINING_SEED='one' is not a whole number"):
        config.training_seed()


def test_load_split_refuses_a_split_of_other_data(fer_tree, tmp_path, monkeypatch):
    monkeypatch.delenv("HAPPYSAD_FAST", raising=False)
    out = tmp_path / "prepared"
    splits.prepare_fer_split(data.locate(fer_tree), out_dir=out)
    monkeypatch.setenv("HAPPYSAD_DATA", str(fer_tree))
    assert len(splits.load_split(out, check_source=True)) > 0
    other = tmp_path / "other"
    (other / "fer2013" / "train").mkdir(parents=True)
    monkeypatch.setenv("HAPPYSAD_DATA", str(other))
    with pytest.raises(FileNotFoundError, match="01_collect_and_clean"):
        splits.load_split(out, check_source=True)


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
    path = splits.save_split(table, tmp_path / "out", tmp_path / "photos")
    assert path == tmp_path / "out" / splits.SPLIT_FILE
    loaded = splits.load_split(tmp_path / "out")
    assert list(loaded.columns) == splits.SPLIT_COLUMNS + ["group", "file"]
    assert list(loaded["file"]) == list(table["file"])
    assert list(loaded["path"]) == [f"{c}/{i}.png" for i, c in enumerate(table["class"])]
    pd.testing.assert_frame_equal(loaded[["label", "class", "split", "group"]],
                                  table[["label", "class", "split", "group"]])
    # pixsha1 was computed from the 1-channel pixels, as prepare_fer_split does
    assert loaded["pixsha1"][0] == data.pixel_hash(data.read_image(table["file"][0], 1))
    images, labels = splits.load_xy(loaded, "val", channels=3)
    assert images.shape == (2, 20, 30, 3) and list(labels) == [0, 1]


def test_save_split_refuses_a_leak(tmp_path):
    table = _own_split(tmp_path / "photos")
    leak = table.copy()
    leak.loc[7, "file"] = leak.loc[0, "file"]           # one file in train and in test
    with pytest.raises(ValueError, match="path .*two splits"):
        splits.save_split(leak, tmp_path / "out", tmp_path / "photos")
    same = table.assign(pixsha1="x" * 40)               # other files, the same pixels
    with pytest.raises(ValueError, match="pixsha1 .*two splits"):
        splits.save_split(same, tmp_path / "out", tmp_path / "photos")
    with pytest.raises(ValueError, match="train, val or test"):
        splits.save_split(table.assign(split="holdout"), tmp_path / "out", tmp_path / "photos")
    assert not (tmp_path / "out" / splits.SPLIT_FILE).exists()


def test_saved_fer_split_shares_no_image(fer_tree, tmp_path, monkeypatch):
    """What every later notebook reads: no file and no duplicate image in two splits."""
    fer = fer_tree / "fer2013"
    for i in range(3):   # duplicates that the split must resolve, within and across splits
        shutil.copy(fer / f"train/happy/train_happy_{i:03d}.png", fer / f"train/happy/copy{i}.png")
        shutil.copy(fer / f"test/sad/test_sad_{i:03d}.png", fer / f"train/sad/copy{i}.png")
    _, _, out = _prepare(fer_tree, tmp_path, monkeypatch)
    _assert_disjoint(splits.load_split(out))


# ----------------------------------------------------------------------------- the one decoder
def _png_claiming(width: int, height: int) -> bytes:
    """A small valid PNG whose header claims width x height."""
    import struct
    import zlib
    buf = io.BytesIO()
    Image.new("L", (8, 8)).save(buf, format="PNG")
    png = bytearray(buf.getvalue())
    png[16:24] = struct.pack(">II", width, height)                  # IHDR's width and height
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])) & 0xFFFFFFFF)
    return bytes(png)


def test_pixel_cap_refuses_a_bomb_unread_for_training_too(tmp_path):
    """Was: data.read_image (training, lessons 05 and 09) had no cap of its own."""
    path = tmp_path / "big.png"
    path.write_bytes(_png_claiming(10_000, 6_000))                  # 60 MP: over MAX_PIXELS (50)
    for read in (lambda: data.load_images([path]), lambda: data.read_image(path.read_bytes())):
        with pytest.raises(data.Rejected, match=r"image too large: 10000×6000"):
            read()
    with pytest.raises(data.Rejected, match="image too large"):
        data.load_image(tmp_path / "big.png", max_pixels=10)


def test_transparent_png_is_composited_on_white_everywhere(tmp_path):
    """Was: data.read_image dropped the alpha channel: the transparent half came out black."""
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[:, :16] = (0, 128, 0, 255)                                 # opaque green
    Image.fromarray(rgba).save(tmp_path / "clear.png")              # right half: transparent black
    for pixels in (data.read_image(tmp_path / "clear.png"), data.load_images([tmp_path / "clear.png"], 3)[0],
                   data.read_image((tmp_path / "clear.png").read_bytes())):
        assert (pixels[:, :16] == (0, 128, 0)).all() and (pixels[:, 16:] == 255).all()


def test_16_bit_png_is_scaled_not_clipped(tmp_path):
    """Was: data.read_image clipped 16-bit values: everything above 255 of 65535 came out white."""
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (64, 1))
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    for pixels in (data.read_image(tmp_path / "deep.png", 1)[..., 0],
                   data.load_images([tmp_path / "deep.png"], 1)[0, ..., 0]):
        assert pixels[0, 0] == 0 and pixels[0, -1] == 255 and 110 < pixels[0, 32] < 145
        assert (np.diff(pixels[0].astype(int)) >= 0).all()            # still a ramp


def test_other_formats_named_jpg_are_refused(tmp_path):
    """A PostScript file named .jpg: Pillow would hand it to Ghostscript. Only data.FORMATS open.
    Was: "broken file (OSError: Unable to locate Ghostscript ...)" or, with Ghostscript, an image."""
    eps = tmp_path / "holiday.jpg"
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 16 16\nnewpath 0 0 moveto showpage\n")
    Image.new("RGB", (16, 16)).save(tmp_path / "icon.jpg", format="ICO")       # Pillow knows ICO too
    for path in (eps, tmp_path / "icon.jpg"):
        with pytest.raises(data.Rejected, match="^not an image$"):
            data.read_image(path)


# ----------------------------------------------------------------------------- the one resize
def test_one_antialiased_resize_for_training_and_prediction(tmp_path):
    """Fine stripes shrunk 3x: an antialiased resize averages them to gray; a plain bilinear
    one samples single columns and keeps full-contrast stripes (aliasing). Was: to_model_input
    aliased, while load_images (lesson 09's training) used Pillow's antialiased resize."""
    stripes = np.zeros((144, 144, 3), np.uint8)
    stripes[:, ::2] = 255
    Image.fromarray(stripes).save(tmp_path / "stripes.png")
    for_prediction = np.asarray(data.to_model_input(stripes, (48, 48, 1)))[0].round().astype(np.uint8)
    for_training = data.load_images([tmp_path / "stripes.png"], channels=1, size=(48, 48))[0]
    np.testing.assert_array_equal(for_training, for_prediction)
    assert for_prediction.std() < 50 and abs(for_prediction.mean() - 127.5) < 10


# ----------------------------------------------------------------------------- no second one
DECODE_OR_RESIZE = re.compile(r"Image\.open\(|imread\(|imdecode\(|(?<!\w)decode_(?:image|png|jpeg|bmp|gif|webp)\("
                              r"|load_img\(|imageio|\.resize\(|resize_with|smart_resize|Resizing\(")
ALLOWED = {   # (file, code on the line, without spaces): why it is neither a decoder nor a model-input resize
    ("helpers/data.py", "Image.open(path,formats=FORMATS)"): "THE decoder",
    ("helpers/data.py", "tf.image.resize(x,(height,width)"): "THE resize to a model's input",
    ("helpers/faces.py", "cv2.resize("): "shrinks a photo for the face detector only; the boxes are "
                                         "mapped back and the crop is cut from the full photo",
    ("helpers/cleaning.py", ".resize((size+1,size)"): "the 9x8 thumbnail of a difference hash",
    ("helpers/plots.py", "photo=photo.resize("): "scales the photo of a predict --explain picture for display; "
                                                  "the model saw the face predict_faces cut",
    ("helpers/plots.py", ".resize((side,side),Image.Resampling.NEAREST)"): "enlarges a face's Grad-CAM "
                                                                            "panel for display",
    ("helpers/plots.py", "cv2.resize(np.asarray(heatmap,np.float32)"): "a Grad-CAM map stretched "
                                                                         "over the photo for display",
    ("helpers/synthetic.py", ".resize((size,size)"): "draws the demo faces (writes images, reads none)",
    ("helpers/synthetic.py", ".resize((10,10)"): "draws the demo's too-small file",
    ("notebooks/01_collect_and_clean.ipynb", "cv2.resize(face48"): "enlarges a face for display",
    ("notebooks/03_train.ipynb", "tf.io.decode_image(tf.io.read_file(path)"):
        "lesson 03's tf.data chain reads the split's FER-2013 PNGs (8-bit gray, each decoded by "
        "data.read_image when the split was made) and fits them with data.to_model_input",
    ("helpers/lessons.py", "tf.io.decode_image(tf.io.read_file(path)"):
        "lesson 03's tf.data chain, copied from its #@save cell by make lesson-code for lesson 04",
    ("notebooks/07_inside_the_network.ipynb", "tf.image.resize(np.asarray(a,np.float32)"): "two maps "
                                                                                           "brought to one size to compare",
}


def _code_lines(path: Path):
    """(line, code without comments, strings and spaces) of a .py file or a notebook's code cells."""
    import tokenize
    if path.suffix == ".ipynb":
        import nbformat
        sources = [c.source for c in nbformat.read(path, 4).cells if c.cell_type == "code"]
    else:
        sources = [path.read_text()]
    for source in sources:
        code: dict[int, str] = {}
        try:
            for token in tokenize.generate_tokens(io.StringIO(source).readline):
                if token.type not in (tokenize.COMMENT, tokenize.STRING) and token.string.strip():
                    code[token.start[0]] = code.get(token.start[0], "") + token.string.strip()
        except (tokenize.TokenError, SyntaxError):            # e.g. a %magic line: read it raw
            code = {i: line.replace(" ", "") for i, line in enumerate(source.splitlines(), 1)}
        yield from ((source.splitlines()[i - 1].strip(), text) for i, text in code.items())


def decoders_and_resizes(root: Path) -> tuple[list[str], set]:
    """Lines that decode an image file or resize an image, outside :data:`ALLOWED`; and the
    allowed entries found (an entry no longer found is stale)."""
    found, used = [], set()
    for path in sorted([*root.glob("helpers/*.py"), *root.glob("tools/**/*.py"), *root.glob("notebooks/*.ipynb")]):
        name = path.relative_to(root).as_posix()
        for line, code in _code_lines(path):
            if DECODE_OR_RESIZE.search(code):
                allowed = [key for key in ALLOWED if key[0] == name and key[1] in code]
                used.update(allowed)
                if not allowed:
                    found.append(f"{name}: {line}")
    return found, used


def test_one_decoder_and_one_model_input_resize(tmp_path):
    found, used = decoders_and_resizes(config.ROOT)
    assert not found, "a second image decoder or resize (use data.load_image / data.to_model_input, " \
                      "or add the line to ALLOWED with the reason):\n" + "\n".join(found)
    assert used == set(ALLOWED), f"stale ALLOWED entries: {set(ALLOWED) - used}"
    # The scan finds one: a notebook that opens uploads with Pillow itself, as lesson 09 once did.
    (tmp_path / "notebooks").mkdir()
    import nbformat
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "rgb = np.asarray(Image.open(io.BytesIO(content)).convert('RGB'))  # Image.open( in a comment")])
    nbformat.write(notebook, tmp_path / "notebooks" / "09_x.ipynb")
    assert decoders_and_resizes(tmp_path)[0] == ["notebooks/09_x.ipynb: rgb = np.asarray(Image.open("
                                                 "io.BytesIO(content)).convert('RGB'))  # Image.open( in a comment"]


def test_balanced_class_weights_by_hand():
    # 4 faces, 3 of class 0 and 1 of class 1: 4 / (2 x 3) and 4 / (2 x 1)
    assert splits.balanced_class_weights([0, 0, 0, 1]) == pytest.approx({0: 4 / 6, 1: 2.0})


def test_the_decoder_turns_a_sideways_phone_photo_upright(tmp_path):
    """EXIF orientation 6 ("rotate 90° clockwise to display"): a 40x20 stored image is shown 20 wide, 40 tall,
    its left edge at the top."""
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :10] = 255                              # a white band on the stored image's left
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.png"
    Image.fromarray(stored).save(path, exif=exif)
    array, info = data.load_image(path)
    assert array.shape == (40, 20, 3) and (info["width"], info["height"]) == (20, 40)
    assert array[:10].mean() > 250 and array[-20:].mean() < 5    # the band is now at the top
    assert data.read_image(path.read_bytes()).shape == (40, 20, 3)     # bytes (an upload) too


def test_finding_data_writes_nothing(tmp_path, monkeypatch):
    """locate() only looks and the folder getters only name: the demo and the folders are explicit calls."""
    monkeypatch.setattr(config, "ROOT", tmp_path)
    monkeypatch.setenv("HAPPYSAD_DATA", str(tmp_path / "empty"))
    monkeypatch.delenv("HAPPYSAD_FAST", raising=False)
    source = data.locate()
    assert source.synthetic and source.root == tmp_path / "data" / "synthetic"
    for folder in (config.models_dir(), config.untrained_dir(), config.outputs_dir(), config.prepared_dir()):
        assert folder.is_relative_to(tmp_path)
    assert list(tmp_path.iterdir()) == []                       # nothing was written
    assert set(config.make_dirs()) == {tmp_path / "models", tmp_path / "models" / "untrained",
                                       tmp_path / "outputs", tmp_path / "data" / "prepared"}
