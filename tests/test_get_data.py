"""``make data`` (tools.get_data) on small local fakes of each source, through the real code.

The fakes: a tiny ``fer2013.csv`` and FER+ ``fer2013new.csv`` (rows in the same order, the
quirks of the real ones: a non-face FER+ left unnamed, a face in two parts of FER-2013, a
FER+ name given twice), a "trusted copy" laid out as ``../shared/data`` is, pinned with
``tools.make_pins`` exactly as the real pins were made, and the web photos and the votes
served over HTTP on 127.0.0.1 (conftest's ``server``). Kaggle is the one source faked at its call
(``kagglehub.dataset_download``): it needs the network.
"""
from __future__ import annotations

import hashlib
import io
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tools import download, get_data, make_pins

# The columns of ../shared/data/fer2013/manifest.csv, in order.
MANIFEST_COLUMNS = [
    "path", "split", "fer2013_usage", "label_fer2013", "kaggle_name", "fer2013_csv_row", "ferplus_png",
    "pixel_source", "match_rmse", "ferplus_neutral", "ferplus_happiness", "ferplus_surprise",
    "ferplus_sadness", "ferplus_anger", "ferplus_disgust", "ferplus_fear", "ferplus_contempt",
    "ferplus_unknown", "ferplus_NF", "std", "pixsha1", "dup_group_size", "dup_splits", "dup_labels"]
HAPPY, SAD, NEUTRAL = 3, 4, 6


def _face(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (48, 48), dtype=np.uint8)


def _png(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, "L").save(path)


def _jpeg_bytes(value: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((20, 30, 3), value, np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def fakes(tmp_path, monkeypatch, server):
    """Fake sources, a trusted copy of what they should build, and pins made from it."""
    rows = [  # (usage, emotion, FER+ name or None, pixels seed)
        ("Training", HAPPY, "fer0000000.png", 1), ("Training", SAD, "fer0000001.png", 2),
        ("Training", NEUTRAL, "fer0000002.png", 3), ("Training", HAPPY, None, 4),          # a non-face
        ("Training", HAPPY, "fer0000003.png", 5), ("Training", SAD, "fer0000004.png", 6),
        ("Training", NEUTRAL, "fer0000005.png", 7), ("Training", NEUTRAL, "fer0000005.png", 7),  # name twice
        ("Training", HAPPY, "fer0000006.png", 8),                                          # also in PublicTest
        ("PublicTest", HAPPY, "fer0000007.png", 8), ("PublicTest", SAD, "fer0000008.png", 10),
        ("PublicTest", NEUTRAL, "fer0000009.png", 11), ("PrivateTest", SAD, "fer0000010.png", 12),
        ("PrivateTest", HAPPY, "fer0000011.png", 3),   # equals a training face: left out of ferplus/
    ]
    csv = pd.DataFrame({"emotion": [r[1] for r in rows],
                        "pixels": [" ".join(map(str, _face(r[3]).ravel())) for r in rows],
                        "Usage": [r[0] for r in rows]})
    votes = pd.DataFrame({"Usage": [r[0] for r in rows], "Image name": [r[2] for r in rows]})
    rng = np.random.default_rng(0)
    for column in get_data.VOTES:
        votes[column] = rng.integers(0, 4, len(rows))
    votes.loc[3, get_data.VOTES] = 0
    votes.loc[3, "NF"] = 10
    www = server["root"]
    csv_path = tmp_path / "kaggle" / "fer2013.csv"
    csv_path.parent.mkdir()
    csv.to_csv(csv_path, index=False)
    (www / "ferplus").mkdir()
    votes.to_csv(www / "ferplus" / "fer2013new.csv", index=False)

    # The trusted copy: what the real sources hold, laid out as ../shared/data.
    trusted = tmp_path / "trusted"
    kaggle_names = {0: "Training_101", 1: "Training_102", 4: "Training_105", 5: "Training_106",
                    8: "Training_109", 9: "PublicTest_201", 10: "PublicTest_202"}
    manifest = []
    for row, name in kaggle_names.items():
        usage, emotion = rows[row][0], rows[row][1]
        split, label = get_data.SPLIT_OF_USAGE[usage], get_data.EMOTIONS[emotion]
        _png(_face(rows[row][3]), trusted / "fer2013" / split / label / f"{name}.png")
        manifest.append({"path": f"{split}/{label}/{name}.png", "label_fer2013": label,
                         "pixel_source": "ferplus_png_exact_csv_pixels"})
    _png(_face(4), trusted / "fer2013" / "train" / "happy" / "Training_row3.png")
    manifest.append({"path": "train/happy/Training_row3.png", "label_fer2013": "happy", "pixel_source": "jpeg"})
    pd.DataFrame(manifest).to_csv(trusted / "fer2013" / "manifest.csv", index=False)
    ferplus_rows = [0, 1, 2, 4, 5, 6, 8]        # Training, named; row 2 equals a happy PrivateTest face
    ferplus_rows.remove(2)
    for row in ferplus_rows:
        _png(_face(rows[row][3]), trusted / "ferplus" / "train" / rows[row][2])
    photos = {"happy/smile one.jpg": _jpeg_bytes(200), "sad/tears.jpg": _jpeg_bytes(30)}
    for name, data in photos.items():
        for root in (trusted / "web", www / "web"):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)

    sources = tmp_path / "sources"
    monkeypatch.setattr(make_pins, "SOURCES", sources)
    make_pins.main([str(trusted)])
    fer_sha = hashlib.sha256(b"".join(
        _face(rows[row][3]).tobytes() for row, _ in sorted(kaggle_names.items(), key=lambda x: x[1]))).hexdigest()
    ferplus_sha = hashlib.sha256(b"".join(
        _face(rows[row][3]).tobytes() for row in sorted(ferplus_rows, key=lambda r: rows[r][2]))).hexdigest()

    url = server["url"]
    for name, value in {
        "SOURCES": sources, "WEB_URL": f"{url}/web/", "WEB_COUNTS": {"happy": 1, "sad": 1},
        "FERPLUS_VOTES": {"url": f"{url}/ferplus/fer2013new.csv",
                          "sha256": download.sha256_of(www / "ferplus" / "fer2013new.csv"), "size": 10_000},
        "FER_USAGE_COUNTS": {"Training": 9, "PublicTest": 3, "PrivateTest": 2},
        "FER_COUNTS": {("train", "happy"): 4, ("train", "sad"): 2, ("test", "happy"): 1, ("test", "sad"): 1},
        "FER_NON_FACES": 1, "FERPLUS_FACES": 6, "MIN_FREE_BYTES": 1,
        "FER2013_PIXELS_SHA256": fer_sha, "FERPLUS_PIXELS_SHA256": ferplus_sha,
    }.items():
        monkeypatch.setattr(get_data, name, value)
    import kagglehub
    calls = []
    monkeypatch.setattr(kagglehub, "dataset_download",
                        lambda handle, **kw: calls.append((handle, kw)) or str(csv_path))
    return {"trusted": trusted, "www": www, "csv": csv_path, "kaggle_calls": calls, "url": url,
            "data": tmp_path / "data"}


def _pixels(path: Path) -> bytes:
    return np.asarray(Image.open(path)).tobytes()


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): _pixels(p) if p.suffix == ".png" else p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and p.suffix in (".png", ".jpg")}


def test_builds_the_layout_names_and_pixels_of_the_trusted_copy(fakes):
    assert get_data.get_data(fakes["data"]) == []
    data, trusted = fakes["data"], fakes["trusted"]
    for part in ("web", "fer2013", "ferplus"):
        assert _tree(data / part) == _tree(trusted / part), part
        assert (data / part / get_data.MARKER).exists()
    assert fakes["kaggle_calls"][0][0] == get_data.KAGGLE_CSV
    manifest = pd.read_csv(data / "fer2013" / "manifest.csv")
    assert list(manifest.columns) == MANIFEST_COLUMNS
    face = manifest.set_index("path").loc["train/happy/Training_109.png"]
    assert face["dup_group_size"] == 2 and face["dup_splits"] == "publictest|train"
    assert face["ferplus_png"] == "data/FER2013Train/fer0000006.png" and face["kaggle_name"] == "Training_109.jpg"
    non_face = manifest.set_index("path").loc["train/happy/Training_row3.png"]
    assert non_face["pixel_source"] == "fer2013_csv_not_in_ferplus" and pd.isna(non_face["ferplus_NF"])
    votes = pd.read_csv(data / "ferplus" / "train_votes.csv")
    assert list(votes.columns) == ["image", *get_data.VOTES]
    assert list(votes["image"]) == ["fer0000000.png", "fer0000001.png", "fer0000003.png", "fer0000004.png",
                                    "fer0000005.png", "fer0000006.png"]      # the CSV's order, each once


def test_the_series_reads_what_it_builds(fakes):
    from helpers import data as hdata
    get_data.get_data(fakes["data"], parts=("fer2013",))
    source = hdata.locate(fakes["data"])
    assert not source.synthetic and source.manifest is not None
    assert hdata.class_names(source.fer / "train") == ["happy", "sad"]


def test_a_second_run_downloads_nothing_and_keeps_what_is_there(fakes, capsys):
    assert get_data.get_data(fakes["data"]) == []
    shutil.rmtree(fakes["www"])                      # every source gone: nothing may be needed
    fakes["kaggle_calls"].clear()
    assert get_data.get_data(fakes["data"]) == []
    assert fakes["kaggle_calls"] == [] and "already there (made by make data)" in capsys.readouterr().out


def test_a_folder_it_did_not_make_is_never_touched(fakes):
    mine = fakes["data"] / "web" / "happy" / "my_photo.jpg"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"mine")
    lines = []
    assert get_data.get_data(fakes["data"], parts=("web",), say=lines.append) == []
    assert "not made by make data: left as it is" in lines[0]
    assert [p.name for p in (fakes["data"] / "web").rglob("*")] == ["happy", "my_photo.jpg"]


def test_a_wrong_photo_is_refused_with_what_to_do(fakes):
    (fakes["www"] / "web" / "sad" / "tears.jpg").write_bytes(_jpeg_bytes(31))
    errors = get_data.get_data(fakes["data"], parts=("web",))
    assert len(errors) == 1 and "web photo sad/tears.jpg" in errors[0] and "checksum is wrong" in errors[0]
    assert "by hand" in errors[0]
    assert not (fakes["data"] / "web").exists()      # nothing half-built is left where the series looks


def test_a_source_that_refuses_says_so(fakes):
    (fakes["www"] / "ferplus" / "fer2013new.csv").unlink()
    errors = get_data.get_data(fakes["data"], parts=("fer2013",))
    assert "HTTP 404" in errors[0] and "--ferplus-votes" in errors[0]


def test_offline_says_so(fakes, monkeypatch):
    monkeypatch.setattr(get_data, "WEB_URL", "http://127.0.0.1:9/web/")       # nothing listens there
    errors = get_data.get_data(fakes["data"], parts=("web",))
    assert "no connection" in errors[0]


def test_kaggle_unreachable_says_how_to_do_it_by_hand(fakes, monkeypatch):
    import kagglehub
    import requests

    def offline(handle, **kwargs):
        raise requests.exceptions.ConnectionError("Failed to resolve 'www.kaggle.com'")
    monkeypatch.setattr(kagglehub, "dataset_download", offline)
    errors = get_data.get_data(fakes["data"], parts=("fer2013",))
    assert "no connection" in errors[0] and get_data.KAGGLE_PAGE in errors[0] and "--fer2013-csv" in errors[0]


def test_a_csv_you_downloaded_yourself_is_used_and_checked(fakes, tmp_path):
    edited = pd.read_csv(fakes["csv"])
    edited.loc[0, "pixels"] = " ".join(["7"] * 2304)
    mine = tmp_path / "mine.csv"
    edited.to_csv(mine, index=False)
    errors = get_data.get_data(fakes["data"], parts=("fer2013",), fer2013_csv=mine)
    assert "row 0" in errors[0] and "not a pinned face" in errors[0]
    assert fakes["kaggle_calls"] == []


def test_rows_out_of_order_with_the_votes_are_refused(fakes, tmp_path):
    shuffled = pd.read_csv(fakes["csv"]).iloc[::-1]
    mine = tmp_path / "mine.csv"
    shuffled.to_csv(mine, index=False)
    errors = get_data.get_data(fakes["data"], parts=("fer2013",), fer2013_csv=mine)
    assert "do not line up" in errors[0]


def test_a_full_disk_is_named(fakes, monkeypatch):
    monkeypatch.setattr(get_data, "MIN_FREE_BYTES", 1 << 60)
    errors = get_data.get_data(fakes["data"])
    assert "free" in errors[0] and "HAPPYSAD_DATA" in errors[0]


def test_the_command_fails_in_one_line_with_exit_code_2(fakes, monkeypatch, capsys):
    monkeypatch.setattr(get_data, "WEB_URL", "http://127.0.0.1:9/web/")
    assert get_data.main(["--data", str(fakes["data"]), "--only", "web"]) == 2
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if line.startswith("make data:")]
    assert len(said) == 1 and said[0].startswith("make data: web photo") and "Traceback" not in err
    assert get_data.main(["--only", "webb"]) == 2


def test_the_pins_are_the_real_ones():
    """The committed pins: 301 photos, 13,522 faces, 28,446 FER+ faces, as the README says."""
    pins = get_data._pinned_web_photos()
    assert len(pins) == sum(get_data.WEB_COUNTS.values()) == 301
    assert all(len(digest) == 64 for digest in pins.values())
    faces = pd.read_csv(get_data.SOURCES / "fer2013_happy_sad.csv.gz")
    assert len(faces) == sum(get_data.FER_COUNTS.values()) - get_data.FER_NON_FACES
    assert faces["name"].is_unique
    assert len(pd.read_csv(get_data.SOURCES / "ferplus_train.csv.gz")) == get_data.FERPLUS_FACES


def test_make_run_fetches_only_when_there_is_no_data_and_goes_on_loudly(fakes, monkeypatch, capsys):
    monkeypatch.setattr(get_data, "WEB_URL", "http://127.0.0.1:9/web/")
    assert get_data.main(["--data", str(fakes["data"]), "--if-none", "--only", "web"]) == 0
    captured = capsys.readouterr()
    assert "no data in" in captured.out and "SYNTHETIC DEMO" in captured.err
    (fakes["data"] / "web" / "happy").mkdir(parents=True)      # real data there: nothing to do
    assert get_data.main(["--data", str(fakes["data"]), "--if-none"]) == 0
    assert capsys.readouterr().out == ""
