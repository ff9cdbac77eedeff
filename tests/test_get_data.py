"""``make data`` (tools.get_data): verified against facts of the REAL fer2013.csv, through the real code.

Two kinds of test:
* **the real file's facts** (with ``$HAPPYSAD_DATA``, CI's ``../shared/data``): the real first 1,167
  rows of fer2013.csv pass the row check against the committed pins; one changed pixel fails it; the
  committed pins are exactly those computed from ``fer2013_reference/`` (facts of the real file,
  never our near copy ``fer2013/``); the excerpt alone is refused in one line. A full fer2013.csv,
  where one is at hand, is built end to end (``HAPPYSAD_FER2013_CSV`` and ``HAPPYSAD_FERPLUS_VOTES``).
* **a small fake world** with the quirks of the real one (a row FER+ names nothing, a FER+ name given
  to two rows with other pixels and to two with the same, a face in two parts of FER-2013, a training
  face equal to a happy PrivateTest face), its pins made by ``tools.make_pins`` from a fake reference
  written the way FER+'s script writes its images, the web photos and the votes served on 127.0.0.1
  (conftest's ``server``); Kaggle is faked at its call (it needs the network), with kagglehub's own
  check of a half-downloaded file.
"""
from __future__ import annotations

import hashlib
import io
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tools import download, get_data, make_pins

HAPPY, SAD, NEUTRAL = 3, 4, 6


def _face(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (48, 48), dtype=np.uint8)


def _jpeg_bytes(value: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((20, 30, 3), value, np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


def _csv_text(face: np.ndarray) -> str:
    return " ".join(map(str, face.ravel()))


# (usage, emotion, FER+ name or None, pixels seed). FER+'s names are not the row numbers, as in the real file.
ROWS = [
    *[("Training", HAPPY, f"fer00001{i:02d}.png", 100 + i) for i in range(8)],
    *[("Training", SAD, f"fer00002{i:02d}.png", 200 + i) for i in range(8)],
    ("Training", NEUTRAL, "fer0000300.png", 3),
    ("Training", HAPPY, None, 4),                                   # 17: FER+ names nothing (no face)
    ("Training", SAD, "fer0000301.png", 5),                         # 18: overwritten by row 19's image
    ("Training", NEUTRAL, "fer0000301.png", 6),                     # 19
    ("Training", NEUTRAL, "fer0000302.png", 7), ("Training", NEUTRAL, "fer0000302.png", 7),  # same pixels
    ("Training", HAPPY, "fer0000303.png", 8),                       # 22: also in PublicTest (row 23)
    ("PublicTest", HAPPY, "fer0000400.png", 8),
    *[("PublicTest", HAPPY, f"fer00004{i:02d}.png", 400 + i) for i in range(1, 4)],
    *[("PublicTest", SAD, f"fer00005{i:02d}.png", 500 + i) for i in range(4)],
    ("PublicTest", NEUTRAL, "fer0000600.png", 11),
    ("PrivateTest", SAD, "fer0000700.png", 12),
    ("PrivateTest", HAPPY, "fer0000701.png", 3),                    # equals training row 16: not in ferplus/
]
USAGE_COUNTS = {"Training": 23, "PublicTest": 9, "PrivateTest": 2}
CLASS_COUNTS = {("Training", "happy"): 10, ("Training", "sad"): 9, ("PublicTest", "happy"): 4,
                ("PublicTest", "sad"): 4, ("PrivateTest", "happy"): 1, ("PrivateTest", "sad"): 1}


def fake_reference(rows) -> pd.DataFrame:
    """What fer2013_reference/row_pixel_sha1.csv holds, made as the real one was: FER+'s script writes
    each row's image under its name (a later row overwrites an earlier one); a row whose pixels are
    its image's gets the image's SHA-1."""
    images = {name: _face(seed) for _, _, name, seed in rows if name}          # the last row wins
    facts = [(row, usage, name, hashlib.sha1(images[name].tobytes()).hexdigest())
             for row, (usage, _, name, seed) in enumerate(rows)
             if name and np.array_equal(images[name], _face(seed))]
    return pd.DataFrame(facts, columns=["row", "usage", "ferplus_name", "pixels_sha1"])


@pytest.fixture
def fakes(tmp_path, monkeypatch, server):
    """The sources, served or faked, and the pins made from a fake reference by tools.make_pins."""
    csv = pd.DataFrame({"emotion": [r[1] for r in ROWS], "pixels": [_csv_text(_face(r[3])) for r in ROWS],
                        "Usage": [r[0] for r in ROWS]})
    votes = pd.DataFrame({"Usage": [r[0] for r in ROWS], "Image name": [r[2] for r in ROWS]})
    rng = np.random.default_rng(0)
    for column in get_data.VOTES:
        votes[column] = rng.integers(0, 4, len(ROWS))
    votes.loc[17, get_data.VOTES] = 0
    www = server["root"]
    csv_path = tmp_path / "kaggle" / "fer2013.csv"
    csv_path.parent.mkdir()
    csv.to_csv(csv_path, index=False)
    (www / "ferplus").mkdir()
    votes.to_csv(www / "ferplus" / "fer2013new.csv", index=False)
    photos = {"happy/smile one.jpg": _jpeg_bytes(200), "sad/tears.jpg": _jpeg_bytes(30)}
    for name, data in photos.items():
        (www / "web" / name).parent.mkdir(parents=True, exist_ok=True)
        (www / "web" / name).write_bytes(data)

    reference = tmp_path / "shared" / "fer2013_reference" / "row_pixel_sha1.csv"
    reference.parent.mkdir(parents=True)
    fake_reference(ROWS).to_csv(reference, index=False)
    (tmp_path / "shared" / "web").mkdir()
    for name, data in photos.items():
        (tmp_path / "shared" / "web" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "shared" / "web" / name).write_bytes(data)
    sources = tmp_path / "sources"
    monkeypatch.setattr(make_pins, "SOURCES", sources)
    make_pins.main([str(tmp_path / "shared")])
    _, rows_sha256 = make_pins.fer2013_row_pins(reference)

    url = server["url"]
    votes_file = www / "ferplus" / "fer2013new.csv"
    for name, value in {
        "SOURCES": sources, "WEB_URL": f"{url}/web/", "WEB_COUNTS": {"happy": 1, "sad": 1},
        "FERPLUS_VOTES_FILE": {"url": f"{url}/ferplus/fer2013new.csv", "sha256": download.sha256_of(votes_file),
                               "size": votes_file.stat().st_size},
        "FER_USAGE_COUNTS": USAGE_COUNTS, "FER_CLASS_COUNTS": CLASS_COUNTS, "MIN_FREE_BYTES": 1,
        "FER2013_ROWS_SHA256": rows_sha256,
    }.items():
        monkeypatch.setattr(get_data, name, value)

    import kagglehub
    from kagglehub import http_resolver
    calls = []

    def kaggle(handle, path=None, *, force_download=False, output_dir=None):
        """Writes the CSV where kagglehub would, after kagglehub's own check of what is there."""
        calls.append({"handle": handle, "force_download": force_download})
        http_resolver._prepare_output_dir(output_dir, path, force_download=bool(force_download))
        shutil.copy(csv_path, Path(output_dir) / path)
        return str(Path(output_dir) / path)
    monkeypatch.setattr(kagglehub, "dataset_download", kaggle)
    return {"www": www, "csv": csv_path, "votes": votes_file, "kaggle_calls": calls, "data": tmp_path / "data"}


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_builds_each_face_from_its_row_named_as_ferplus_names_it(fakes):
    assert get_data.get_data(fakes["data"]) == []
    data = fakes["data"]
    for part in ("web", "fer2013", "ferplus"):
        assert (data / part / get_data.MARKER).exists()
    assert (data / "web" / "sad" / "tears.jpg").read_bytes() == _jpeg_bytes(30)
    assert fakes["kaggle_calls"][0]["handle"] == get_data.KAGGLE_CSV
    manifest = pd.read_csv(data / "fer2013" / "manifest.csv").set_index("path")
    # exactly the CSV's happy and sad Training and PublicTest rows, each with its own pixels and label
    assert manifest.groupby(["fer2013_usage", "label_fer2013"]).size().to_dict() == {
        key: n for key, n in CLASS_COUNTS.items() if key[0] != "PrivateTest"}
    for path, face in manifest.iterrows():
        usage, emotion, _, seed = ROWS[face["fer2013_csv_row"]]
        assert np.array_equal(_pixels(data / "fer2013" / path), _face(seed)), path
        assert face["label_fer2013"] == get_data.EMOTIONS[emotion] and face["fer2013_usage"] == usage
    assert manifest.loc["train/happy/fer0000100.png", "ferplus_png"] == "data/FER2013Train/fer0000100.png"
    overwritten = manifest.loc["train/sad/Training_row18.png"]            # FER+'s image shows row 19
    assert overwritten["pixel_source"] == get_data.FACE_SOURCE
    non_face = manifest.loc["train/happy/Training_row17.png"]
    assert non_face["pixel_source"] == "fer2013_csv_not_in_ferplus" and pd.isna(non_face["ferplus_NF"])
    twin = manifest.loc["train/happy/fer0000303.png"]
    assert twin["dup_group_size"] == 2 and twin["dup_splits"] == "publictest|train"

    votes = pd.read_csv(data / "ferplus" / "train_votes.csv")
    assert list(votes.columns) == ["image", *get_data.VOTES]
    expected = [f"fer00001{i:02d}.png" for i in range(8)] + [f"fer00002{i:02d}.png" for i in range(8)] + [
        "fer0000301.png", "fer0000302.png"]   # not row 16 (= a happy PrivateTest face) nor 22 (= a PublicTest one)
    assert list(votes["image"]) == expected                      # the CSV's order, each once
    assert np.array_equal(_pixels(data / "ferplus" / "train" / "fer0000301.png"), _face(6))   # the later row


def test_the_series_reads_what_make_data_builds(fakes, tmp_path):
    """The lessons' data code on make data's layout (FER+ names, not the image-folder copy's)."""
    from helpers import config, evaluation, splits
    from helpers import data as hdata
    assert get_data.get_data(fakes["data"], parts=("fer2013",)) == []
    source = hdata.locate(fakes["data"])
    assert not source.synthetic and source.manifest is not None
    assert hdata.class_names(source.fer / "train") == ["happy", "sad"]
    split = splits.prepare_fer_split(source, out_dir=tmp_path / "prepared")
    assert "fer2013/train/happy/Training_row17.png" not in set(split["path"])       # the non-face is out
    assert "fer2013/train/happy/fer0000303.png" not in set(split["path"])           # a test face: not trained on
    assert split.groupby("pixsha1")["split"].nunique().max() == 1
    crowd = evaluation.crowd_votes(split, source)
    assert crowd is not None and crowd[list(config.FERPLUS_VOTE_COLUMNS)].notna().all().all()   # every face's votes


def test_a_second_run_downloads_nothing_and_keeps_what_is_there(fakes, capsys):
    assert get_data.get_data(fakes["data"]) == []
    shutil.rmtree(fakes["www"])                      # every source gone: nothing may be needed
    fakes["kaggle_calls"].clear()
    assert get_data.get_data(fakes["data"]) == []
    assert fakes["kaggle_calls"] == [] and "already there (made by make data)" in capsys.readouterr().out


def test_an_interrupted_kaggle_download_is_started_again(fakes):
    left_over = fakes["data"] / "downloads" / "kaggle-fer2013" / "fer2013.csv"
    left_over.parent.mkdir(parents=True)
    left_over.write_text("emotion,pixels,Usage\n0,1 2 3")          # cut off, never marked complete
    lines = []
    assert get_data.get_data(fakes["data"], parts=("fer2013",), say=lines.append) == []
    assert [call["force_download"] for call in fakes["kaggle_calls"]] == [False, True]
    assert any("did not finish; downloading it again" in line for line in lines)


def test_a_wrong_kaggle_download_is_deleted_so_the_next_run_fetches_it_anew(fakes, tmp_path):
    edited = pd.read_csv(fakes["csv"])
    edited.loc[3, "pixels"] = _csv_text(_face(99))
    edited.to_csv(fakes["csv"], index=False)
    errors = get_data.get_data(fakes["data"], parts=("fer2013",))
    assert len(errors) == 1 and "row 3 (Training, happy)" in errors[0] and "deleted" in errors[0]
    assert not (fakes["data"] / "downloads" / "kaggle-fer2013").exists()


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
    fakes["votes"].unlink()
    errors = get_data.get_data(fakes["data"], parts=("fer2013",))
    assert len(errors) == 1 and "HTTP 404" in errors[0] and "--ferplus-votes" in errors[0]


def test_offline_every_missing_source_is_named(fakes, monkeypatch):
    import kagglehub
    import requests

    def offline(handle, **kwargs):
        raise requests.exceptions.ConnectionError("Failed to resolve 'www.kaggle.com'")
    monkeypatch.setattr(kagglehub, "dataset_download", offline)
    for name in ("WEB_URL",):
        monkeypatch.setattr(get_data, name, "http://127.0.0.1:9/web/")        # nothing listens there
    monkeypatch.setitem(get_data.FERPLUS_VOTES_FILE, "url", "http://127.0.0.1:9/fer2013new.csv")
    errors = get_data.get_data(fakes["data"])
    assert len(errors) == 3 and all("no connection" in line and "by hand" in line for line in errors)
    assert [line.split(":")[0] for line in errors] == [
        "web photo happy/smile one.jpg", "FER+ votes (fer2013new.csv)", "FER-2013 (fer2013.csv from Kaggle)"]
    assert get_data.KAGGLE_PAGE in errors[2] and "--fer2013-csv" in errors[2]


def test_a_csv_you_downloaded_yourself_is_used_and_checked(fakes, tmp_path):
    edited = pd.read_csv(fakes["csv"])
    edited.loc[0, "pixels"] = " ".join(["7"] * 2304)
    mine = tmp_path / "mine.csv"
    edited.to_csv(mine, index=False)
    errors = get_data.get_data(fakes["data"], parts=("fer2013",), fer2013_csv=mine)
    assert "row 0 (Training, happy) does not have the pixels of the real fer2013.csv" in errors[0]
    assert fakes["kaggle_calls"] == [] and mine.exists()        # the user's own file is never deleted


@pytest.mark.parametrize("change, expected", [
    (lambda t: t.iloc[::-1], "do not line up"),
    (lambda t: t.assign(emotion=t["emotion"].where(t.index != 2, 9)), "not a code 0-6"),
    (lambda t: t.assign(pixels=t["pixels"].where(t.index != 5, "1 2 3")), "row 5 is not 2,304 pixel values"),
    (lambda t: t.assign(emotion=t["emotion"].where(t.index != 0, SAD)), "happy/sad faces per usage"),
    (lambda t: t.rename(columns={"Usage": "usage"}), "expected emotion, pixels, Usage"),
])
def test_a_csv_of_the_wrong_shape_is_one_line(fakes, tmp_path, change, expected):
    mine = tmp_path / "mine.csv"
    change(pd.read_csv(fakes["csv"])).to_csv(mine, index=False)
    errors = get_data.get_data(fakes["data"], parts=("fer2013",), fer2013_csv=mine)
    assert len(errors) == 1 and expected in errors[0] and "\n" not in errors[0]


def test_a_votes_file_of_the_wrong_shape_is_one_line_with_exit_code_2(fakes, tmp_path, capsys):
    wrong = tmp_path / "votes.csv"
    pd.read_csv(fakes["votes"]).drop(columns="Usage").to_csv(wrong, index=False)   # same rows, no Usage
    assert get_data.main(["--data", str(fakes["data"]), "--only", "fer2013", "--fer2013-csv", str(fakes["csv"]),
                          "--ferplus-votes", str(wrong)]) == 2
    err = capsys.readouterr().err
    assert err.count("make data:") == 1 and "not FERPlus's fer2013new.csv" in err and "Traceback" not in err


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
    assert "web photos" not in err           # no progress bar for work that failed at once (no terminal)
    assert get_data.main(["--only", "webb"]) == 2


def test_help_is_plain_text(capsys):
    with pytest.raises(SystemExit):
        get_data.main(["--help"])
    out = capsys.readouterr().out
    assert "make data: fetch the real data" in out and "``" not in out and ":data:" not in out


def test_make_run_fetches_only_when_there_is_no_data_and_goes_on_loudly(fakes, monkeypatch, capsys):
    monkeypatch.setattr(get_data, "WEB_URL", "http://127.0.0.1:9/web/")
    assert get_data.main(["--data", str(fakes["data"]), "--if-none", "--only", "web"]) == 0
    captured = capsys.readouterr()
    assert "no data in" in captured.out and "SYNTHETIC DEMO" in captured.err
    (fakes["data"] / "web" / "happy").mkdir(parents=True)      # real data there: nothing to do
    assert get_data.main(["--data", str(fakes["data"]), "--if-none"]) == 0
    assert capsys.readouterr().out == ""


# ------------------------------------------------------------------ facts of the real file

@pytest.fixture
def reference(real_data) -> Path:
    folder = real_data / "fer2013_reference"
    if not (folder / "row_pixel_sha1.csv").exists():
        pytest.skip(f"no fer2013_reference/ in {real_data}")
    return folder


def _real_rows(reference: Path) -> pd.DataFrame:
    """The real first rows of fer2013.csv, indexed by row, with their pixels' SHA-1 (as make data reads them)."""
    table = pd.read_csv(reference / "fer2013_first_1167_rows.csv")
    faces = get_data.read_pixels(table, Path("excerpt"))
    return table.assign(pixsha1=[hashlib.sha1(face.tobytes()).hexdigest() for face in faces])


def test_the_pins_are_computed_from_the_facts_of_the_real_file(reference):
    pins, digest = make_pins.fer2013_row_pins(reference / "row_pixel_sha1.csv")
    committed = pd.read_csv(get_data.SOURCES / get_data.ROW_PINS, dtype={"pix": str})
    assert committed.equals(pins.reset_index(drop=True)) and len(committed) == 35_712
    assert digest == get_data.FER2013_ROWS_SHA256


def test_the_real_rows_pass_the_row_check(reference):
    rows = _real_rows(reference)
    assert len(rows.index.intersection(get_data.row_pins().index)) == 1_160     # the excerpt's rows FER+ names
    get_data.check_rows(rows)
    assert get_data.EMOTIONS[rows.at[1112, "emotion"]] == "sad"   # the row the near-copy pins refused


def test_one_changed_pixel_fails_the_row_check(reference):
    rows = _real_rows(reference)
    face = _face(0)
    face[:] = np.array(rows.at[1112, "pixels"].split(), np.uint8).reshape(48, 48)
    face[20, 20] ^= 1
    rows.at[1112, "pixsha1"] = hashlib.sha1(face.tobytes()).hexdigest()
    with pytest.raises(get_data.DataError, match=r"row 1112 \(Training, sad\) does not have the pixels"):
        get_data.check_rows(rows)


def test_the_real_excerpt_alone_is_refused_in_one_line(reference, tmp_path, capsys):
    excerpt = reference / "fer2013_first_1167_rows.csv"
    votes = tmp_path / "fer2013new.csv"
    votes.write_text("Usage,Image name\n")
    assert get_data.main(["--data", str(tmp_path / "data"), "--only", "fer2013,ferplus",
                          "--fer2013-csv", str(excerpt), "--ferplus-votes", str(votes)]) == 2
    err = capsys.readouterr().err
    assert err.count("make data:") == 1 and "not the complete fer2013.csv" in err and "Traceback" not in err
    assert not (tmp_path / "data" / "fer2013").exists()


def test_the_published_counts():
    """Goodfellow et al. 2013's counts, as fer2013_reference/README.md gives them."""
    assert sum(get_data.FER_USAGE_COUNTS.values()) == 35_887
    assert get_data.FER_CLASS_COUNTS[("Training", "happy")] == 7_215
    assert sum(n for (usage, _), n in get_data.FER_CLASS_COUNTS.items() if usage != "PrivateTest") == 13_593
    assert len(get_data._pinned_web_photos()) == sum(get_data.WEB_COUNTS.values()) == 301


@pytest.mark.skipif(not os.environ.get("HAPPYSAD_FER2013_CSV"),
                    reason="no full fer2013.csv at hand: set HAPPYSAD_FER2013_CSV (and HAPPYSAD_FERPLUS_VOTES)")
def test_a_full_real_fer2013_csv_is_built(tmp_path):
    csv, votes = os.environ["HAPPYSAD_FER2013_CSV"], os.environ["HAPPYSAD_FERPLUS_VOTES"]
    assert get_data.main(["--data", str(tmp_path), "--only", "fer2013,ferplus",
                          "--fer2013-csv", csv, "--ferplus-votes", votes]) == 0
    manifest = pd.read_csv(tmp_path / "fer2013" / "manifest.csv")
    assert manifest.groupby(["split", "label_fer2013"]).size().to_dict() == {
        ("train", "happy"): 7_215, ("train", "sad"): 4_830, ("test", "happy"): 895, ("test", "sad"): 653}
    assert len(list((tmp_path / "fer2013").rglob("*.png"))) == 13_593
    assert len(pd.read_csv(tmp_path / "ferplus" / "train_votes.csv")) > 28_000
