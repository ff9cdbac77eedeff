"""helpers.cleaning: every bad file is built here, inside tmp_path, by the test itself."""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import stat
import struct
import subprocess
import sys
import traceback
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers import cleaning, config
from helpers import faces as face_module

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ builders
def noise(seed: int, size=(64, 64)) -> np.ndarray:
    """A distinct RGB picture: smooth blobs, so resizing keeps its look (and its hash)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize(size[::-1], Image.Resampling.BICUBIC))


def save(path: Path, array_or_img, fmt: str = "PNG", **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = array_or_img if isinstance(array_or_img, Image.Image) else Image.fromarray(array_or_img)
    img.save(path, format=fmt, **kwargs)
    return path


def png_with_header_size(width: int, height: int) -> bytes:
    """A small valid PNG whose header claims width x height (a decompression bomb)."""
    buf = io.BytesIO()
    Image.new("L", (8, 8)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    ihdr = bytearray(data[12:29])                     # b"IHDR" + 13 bytes
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    return bytes(data)


def make_src(tmp_path: Path, n: int = 3) -> Path:
    """src/happy and src/sad with ``n`` distinct good PNGs each."""
    src = tmp_path / "src"
    for c, cls in enumerate(["happy", "sad"]):
        for i in range(n):
            save(src / cls / f"good{i}.png", noise(100 * c + i))
    return src


def run(src, dst, **kwargs) -> cleaning.CleaningResult:
    kwargs.setdefault("faces", "off")
    return cleaning.clean(src, dst, progress=False, verbose=False, **kwargs)


def row(result, source: str) -> pd.Series:
    rows = result.report[result.report["source"] == source]
    assert len(rows) == 1, f"{source} has {len(rows)} rows in the report"
    return rows.iloc[0]


def out_image(result, source: str) -> np.ndarray:
    r = row(result, source)
    assert r["status"] == "kept", r["reason"]
    outputs = r["output"].split("; ")
    assert len(outputs) == 1
    with Image.open(result.dst / outputs[0]) as img:
        assert img.format == "PNG" and img.mode == "RGB"
        return np.asarray(img)


def snapshot(folder: Path) -> dict:
    """Every path under ``folder`` with its content hash, size and mtime."""
    snap = {}
    for path in sorted(folder.rglob("*")):
        st = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        snap[path.relative_to(folder).as_posix()] = (digest, st.st_size, st.st_mtime_ns)
    return snap


def cli_process(*args) -> subprocess.CompletedProcess:
    """``python -m helpers clean ARGS --no-progress`` in a new Python, as a user runs it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "helpers", "clean", *map(str, args),
                           "--no-progress"], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)


def cli(*args) -> subprocess.CompletedProcess:
    """The same command through the same entry point (``helpers.__main__.main``), in this process
    (a new Python costs about a second): its exit code, stdout and stderr as :func:`cli_process`
    gives them; an uncaught exception is exit code 1 with its traceback on stderr, as in a process."""
    from helpers.__main__ import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["clean", *map(str, args), "--no-progress"])
        except SystemExit as exit_:                           # argparse's usage errors
            code = exit_.code if isinstance(exit_.code, int) else 1
        except Exception:  # noqa: BLE001 - shown as a process would show it
            traceback.print_exc()
            code = 1
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


# ------------------------------------------------------------------ rejections
def test_bad_files_are_rejected_with_reasons(tmp_path):
    src = make_src(tmp_path)
    happy = src / "happy"
    (happy / "notes.jpg").write_text("this is not a picture\n")
    good = io.BytesIO()
    Image.fromarray(np.random.default_rng(5).integers(0, 256, (200, 200, 3), np.uint8)).save(
        good, format="JPEG", quality=95)
    (happy / "cut.jpg").write_bytes(good.getvalue()[: len(good.getvalue()) // 2])
    save(happy / "tiny.png", noise(7, (8, 8)))
    save(happy / "thin.png", noise(8, (20, 100)))
    (happy / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    save(happy / "._good0.png", noise(9))                # macOS resource-fork twin
    (happy / "bomb.png").write_bytes(png_with_header_size(100_000, 100_000))  # Pillow's own limit
    (happy / "big.png").write_bytes(png_with_header_size(10_000, 6_000))      # over ours (50 MP)

    result = run(src, tmp_path / "dst")
    reasons = dict(zip(result.report["source"], result.report["reason"], strict=True))
    assert reasons["happy/notes.jpg"] == "not an image"
    assert reasons["happy/cut.jpg"] == "truncated file"
    assert reasons["happy/tiny.png"] == "too small: 8×8"
    assert reasons["happy/thin.png"] == "too small: 100×20"
    assert reasons["happy/.DS_Store"] == "hidden file"
    assert reasons["happy/._good0.png"] == "hidden file"
    assert reasons["happy/bomb.png"].startswith("image too large")
    assert reasons["happy/big.png"] == "image too large: 10000×6000"
    rejected = result.report[result.report["reason"] != ""]
    assert (rejected["status"] == "rejected").all() and (rejected["output"] == "").all()
    assert len(result.report) == 6 + 8                    # one row per file found
    assert result.n_kept == 6 and len(result.outputs("happy")) == 3


def test_pixel_limit_is_a_parameter(tmp_path):
    src = make_src(tmp_path)
    save(src / "happy" / "small.png", noise(60, (16, 16)))
    save(src / "sad" / "small.png", noise(61, (16, 16)))
    result = run(src, tmp_path / "dst", max_pixels=64 * 64 - 1, min_size=1)
    checks = result.report.set_index("source")["check"]
    assert checks.pop("happy/small.png") == "ok" and checks.pop("sad/small.png") == "ok"
    assert set(checks) == {"image too large"}


def test_a_png_named_jpg_is_kept_as_png(tmp_path):
    src = make_src(tmp_path)
    picture = noise(11)
    save(src / "happy" / "really_png.jpg", picture, "PNG")
    save(src / "sad" / "a" / "nested.bmp", noise(12), "BMP")     # nested folders are fine
    result = run(src, tmp_path / "dst")
    assert row(result, "happy/really_png.jpg")["format"] == "PNG"
    assert np.array_equal(out_image(result, "happy/really_png.jpg"), picture)
    assert row(result, "happy/really_png.jpg")["output"] == "happy/really_png.png"
    assert np.array_equal(out_image(result, "sad/a/nested.bmp"), noise(12))


# ------------------------------------------------------------------ standard form
def test_exif_rotated_jpeg_comes_out_upright(tmp_path):
    src = make_src(tmp_path)
    stored = np.zeros((40, 60, 3), np.uint8)          # as the camera stored it: 60 wide, 40 high
    stored[:, :30] = (255, 0, 0)                      # left half red
    stored[:, 30:] = (0, 0, 255)                      # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6                                  # "rotate 90° clockwise to display"
    save(src / "happy" / "phone.jpg", stored, "JPEG", exif=exif, quality=95)
    out = out_image(run(src, tmp_path / "dst"), "happy/phone.jpg")
    assert out.shape == (60, 40, 3)                   # now 40 wide, 60 high
    top, bottom = out[5:25, 5:35].mean(axis=(0, 1)), out[35:55, 5:35].mean(axis=(0, 1))
    assert top[0] > 200 and top[2] < 60, top          # left (red) is now on top
    assert bottom[2] > 200 and bottom[0] < 60, bottom


def test_palette_rgba_16bit_and_animation_are_converted(tmp_path):
    src = make_src(tmp_path)
    happy = src / "happy"
    colours = noise(20)
    palette = Image.fromarray(colours).quantize(16)
    save(happy / "palette.png", palette)
    expected_palette = np.asarray(palette.convert("RGB"))

    clear = Image.new("P", (64, 64), 0)
    clear.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    clear.paste(1, (0, 0, 32, 64))                     # left half red, right half index 0
    save(happy / "palette_transparent.png", clear, transparency=0)

    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[:, :32] = (0, 128, 0, 255)                    # opaque green
    rgba[:, 32:] = (0, 0, 0, 0)                        # fully transparent (black underneath)
    save(happy / "rgba.png", rgba)

    la = np.zeros((64, 64, 2), np.uint8)
    la[..., 0], la[..., 1] = 50, 0                     # transparent dark gray
    save(happy / "la.png", Image.fromarray(la, mode="LA"))

    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (64, 1))
    save(happy / "deep16.png", Image.fromarray(ramp))  # 16-bit grayscale

    frames = [Image.new("RGB", (64, 64), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(happy / "anim.gif", save_all=True, append_images=frames[1:], duration=100)

    result = run(src, tmp_path / "dst")
    assert np.array_equal(out_image(result, "happy/palette.png"), expected_palette)
    tp = out_image(result, "happy/palette_transparent.png")
    assert (tp[:, :32] == (255, 0, 0)).all() and (tp[:, 32:] == 255).all()
    rg = out_image(result, "happy/rgba.png")
    assert (rg[:, :32] == (0, 128, 0)).all() and (rg[:, 32:] == 255).all()
    assert (out_image(result, "happy/la.png") == 255).all()
    deep = out_image(result, "happy/deep16.png")
    assert deep[0, 0].tolist() == [0, 0, 0] and deep[0, -1].tolist() == [255, 255, 255]
    assert 110 < deep[0, 32, 0] < 145                  # the middle stays mid-gray, not white
    assert (deep[..., 0] == deep[..., 1]).all()
    anim = out_image(result, "happy/anim.gif")
    assert (np.abs(anim.astype(int) - (255, 0, 0)) < 8).all()   # the first frame: red


# ------------------------------------------------------------------ duplicates
def test_exact_duplicates_keep_the_first_copy(tmp_path):
    src = make_src(tmp_path)
    picture = noise(30)
    save(src / "happy" / "a.png", picture)
    save(src / "happy" / "b.png", picture)
    save(src / "happy" / "c.bmp", picture, "BMP")       # same pixels, other format
    result = run(src, tmp_path / "dst")
    assert row(result, "happy/a.png")["status"] == "kept"
    for copy in ("happy/b.png", "happy/c.bmp"):
        assert row(result, copy)["status"] == "rejected"
        assert row(result, copy)["reason"] == "duplicate of happy/a.png"
    assert len(result.outputs("happy")) == 4


def test_same_image_in_both_classes_is_rejected_everywhere(tmp_path):
    src = make_src(tmp_path)
    picture = noise(40)
    save(src / "happy" / "x.png", picture)
    save(src / "sad" / "y.png", picture)
    result = run(src, tmp_path / "dst")
    assert row(result, "happy/x.png")["reason"] == "same image in both classes (also in sad/y.png)"
    assert row(result, "sad/y.png")["reason"] == "same image in both classes (also in happy/x.png)"
    assert row(result, "happy/x.png")["status"] == "rejected"
    assert len(result.outputs("happy")) == 3 and len(result.outputs("sad")) == 3
    assert not (result.dst / "happy" / "x.png").exists()


def test_near_duplicates_are_noted_not_removed(tmp_path):
    src = make_src(tmp_path)
    picture = noise(50, (128, 128))
    save(src / "happy" / "orig.png", picture)
    smaller = Image.fromarray(picture).resize((100, 100), Image.Resampling.LANCZOS)
    save(src / "happy" / "resized.jpg", smaller, "JPEG", quality=85)
    result = run(src, tmp_path / "dst")
    for source, other in (("happy/orig.png", "happy/resized.jpg"),
                          ("happy/resized.jpg", "happy/orig.png")):
        r = row(result, source)
        assert r["status"] == "kept"
        assert r["note"].startswith(f"near-duplicate of {other}")
    notes = result.report.set_index("source")["note"]
    assert (notes.drop(["happy/orig.png", "happy/resized.jpg"]) == "").all()
    groups = result.report.set_index("source")["group"]
    assert groups["happy/resized.jpg"] == groups["happy/orig.png"] == "happy/orig.png"
    assert groups.drop(["happy/orig.png", "happy/resized.jpg"]).is_unique
    again = cleaning.near_duplicate_groups(result.report.set_index("source")["dhash"])
    assert again.to_dict() == groups.to_dict()          # the report's hashes give the same groups


def test_near_duplicate_groups_are_transitive():
    hashes = {"a": 0, "b": 0b111, "c": 0b111111, "d": (1 << 64) - 1, "e": "ffffffffffffffff"}
    # a-b and b-c are 3 bits apart, a-c 6: one group through b. d = e (e as the report's hex).
    groups = cleaning.near_duplicate_groups(hashes, near_bits=4)
    assert groups.to_dict() == {"a": "a", "b": "a", "c": "a", "d": "d", "e": "d"}
    assert cleaning.near_duplicate_groups(hashes, near_bits=2).to_dict() == {
        "a": "a", "b": "b", "c": "c", "d": "d", "e": "d"}
    linked = cleaning.near_duplicate_groups(hashes, near_bits=-1, links=[("c", "e")])
    assert linked.to_dict() == {"a": "a", "b": "b", "c": "c", "d": "d", "e": "c"}
    assert cleaning.near_pairs(hashes, near_bits=4) == [("a", "b", 3), ("b", "c", 3), ("d", "e", 0)]


# ------------------------------------------------------------------ faces
def test_face_modes(tmp_path, monkeypatch):
    src = make_src(tmp_path, n=2)
    boxes = {"happy/good0.png": [(10, 10, 30, 30), (40, 40, 20, 20)], "happy/good1.png": [],
             "sad/good0.png": [(0, 0, 20, 20)], "sad/good1.png": [(30, 20, 30, 30)]}
    pictures = {f"{c}/good{i}.png": noise(100 * k + i) for k, c in enumerate(["happy", "sad"])
                for i in range(2)}

    def fake_detect(image, detector, **kwargs):
        name = next(n for n, p in pictures.items() if np.array_equal(p, image))
        return [face_module.Face(box, None, detector) for box in boxes[name]]

    monkeypatch.setattr(face_module, "detect_faces", fake_detect)
    crop = run(src, tmp_path / "crop", faces="all", min_size=16)
    r = row(crop, "happy/good0.png")
    assert r["output"] == "happy/good0_face0.png; happy/good0_face1.png"
    assert r["face_box"] == "10,10,30,30; 40,40,20,20" and r["faces"] == 2
    with Image.open(crop.dst / "happy/good0_face0.png") as img:        # MTCNN framing: the box height
        assert np.array_equal(np.asarray(img), pictures["happy/good0.png"][10:40, 10:40])
    with Image.open(crop.dst / "sad/good0_face0.png") as img:          # at the edge: still square
        assert np.asarray(img).shape == (20, 20, 3)
    assert row(crop, "happy/good1.png")["reason"] == "no face found"

    largest = run(src, tmp_path / "largest", faces="largest", min_size=16)
    assert row(largest, "happy/good0.png")["output"] == "happy/good0_face0.png"
    assert row(largest, "happy/good0.png")["faces"] == 2          # found two, kept the largest
    assert row(largest, "happy/good0.png")["face_box"] == "10,10,30,30"
    assert len(largest.outputs("happy")) == 1

    off = run(src, tmp_path / "off", faces="off")
    assert row(off, "happy/good1.png")["output"] == "happy/good1.png"
    assert row(off, "happy/good1.png")["face_box"] == ""


def test_real_detector_finds_no_face_in_a_flat_picture(tmp_path):
    src = make_src(tmp_path, n=1)
    save(src / "happy" / "wall.png", np.full((120, 120, 3), 90, np.uint8))
    with pytest.raises(cleaning.CleaningError):      # the noise pictures have no face either
        run(src, tmp_path / "dst", faces="all")
    report = pd.read_csv(tmp_path / "dst" / cleaning.REPORT_NAME, keep_default_na=False)
    assert set(report["reason"]) == {"no face found"}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
def test_pipes_and_links_are_reported_and_pipes_never_opened(tmp_path, monkeypatch):
    src = make_src(tmp_path)
    os.mkfifo(src / "happy" / "pipe.png")                        # opening it to read would block
    (src / "sad" / "gone.png").symlink_to(tmp_path / "nowhere.png")
    (src / "sad" / "loop.png").symlink_to(src / "sad" / "loop.png")
    outside = save(tmp_path / "elsewhere" / "real.png", noise(70))
    (src / "sad" / "linked.png").symlink_to(outside)            # a link to a real file: read it
    (src / "happy" / "folder").symlink_to(outside.parent, target_is_directory=True)
    before = (outside.read_bytes(), outside.stat().st_mtime_ns)
    opened, pil_open = [], Image.open

    def only_regular_files(fp, *args, **kwargs):                 # fail instead of blocking
        assert stat.S_ISREG(os.stat(fp).st_mode), f"opened {fp}, not a regular file"
        opened.append(Path(fp).name)
        return pil_open(fp, *args, **kwargs)

    monkeypatch.setattr(Image, "open", only_regular_files)
    result = run(src, tmp_path / "dst")
    for source, reason in (("happy/pipe.png", "not a regular file"), ("sad/gone.png", "broken link"),
                           ("sad/loop.png", "broken link"), ("happy/folder", "not a regular file")):
        assert (row(result, source)["status"], row(result, source)["reason"]) == ("rejected", reason)
    assert not result.report["source"].str.startswith("happy/folder/").any()   # not followed
    assert np.array_equal(out_image(result, "sad/linked.png"), noise(70))
    assert "pipe.png" not in opened and "linked.png" in opened
    on_disk = pd.read_csv(result.report_path, keep_default_na=False).set_index("source")
    assert on_disk.loc["happy/pipe.png", "reason"] == "not a regular file"
    assert on_disk.loc["sad/gone.png", "reason"] == "broken link"
    assert stat.S_ISFIFO(os.lstat(src / "happy" / "pipe.png").st_mode)
    assert (outside.read_bytes(), outside.stat().st_mtime_ns) == before


# ------------------------------------------------------------------ source safety, reruns
def test_source_is_never_changed(tmp_path):
    src = make_src(tmp_path)
    (src / "happy" / "notes.jpg").write_text("not a picture")
    (src / "happy" / ".hidden.png").write_bytes(b"x")
    save(src / "sad" / "dup.png", noise(100))
    save(src / "happy" / "clash.png", noise(100))
    os.chmod(src / "happy" / "good0.png", 0o444)                   # read-only is fine
    before = snapshot(src)
    result = run(src, tmp_path / "dst")
    assert set(result.report["check"]) == {"ok", "not an image", "hidden file",
                                           "same image in both classes"}
    run(src, tmp_path / "dst")                                     # and again
    assert snapshot(src) == before


def test_rerun_gives_the_same_result(tmp_path):
    src = make_src(tmp_path)
    save(src / "happy" / "twin.png", noise(0))
    first = run(src, tmp_path / "dst")
    files_first = snapshot(tmp_path / "dst")
    (tmp_path / "dst" / "happy" / "stale.png").write_bytes(b"left over")   # from an old run
    (tmp_path / "dst" / "notes.txt").write_text("mine")                       # not ours: kept
    second = run(src, tmp_path / "dst")
    pd.testing.assert_frame_equal(first.report, second.report)
    files_second = snapshot(tmp_path / "dst")
    assert (tmp_path / "dst" / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "dst" / "happy" / "stale.png").exists()
    strip = {k: v[:2] for k, v in files_first.items()}
    assert strip == {k: v[:2] for k, v in files_second.items() if k != "notes.txt"}
    on_disk = pd.read_csv(tmp_path / "dst" / cleaning.REPORT_NAME, keep_default_na=False)
    assert list(on_disk["source"]) == list(second.report["source"])
    assert {"source", "class", "status", "reason", "width", "height", "output",
            "face_box", "note"} <= set(on_disk.columns)


def test_refuses_a_destination_inside_the_source(tmp_path):
    src = make_src(tmp_path)
    before = snapshot(src)
    for dst in (src / "clean", src / "happy" / "out", src):
        with pytest.raises(cleaning.CleaningError, match="inside the source"):
            run(src, dst)
    with pytest.raises(cleaning.CleaningError, match="inside the destination"):
        run(src, tmp_path)
    assert snapshot(src) == before


def test_refuses_to_overwrite_a_folder_it_did_not_make(tmp_path):
    src = make_src(tmp_path)
    save(tmp_path / "dst" / "happy" / "precious.png", noise(99))
    with pytest.raises(cleaning.CleaningError, match="not made by `clean`"):
        run(src, tmp_path / "dst")
    assert (tmp_path / "dst" / "happy" / "precious.png").exists()


# ------------------------------------------------------------------ the command line
def test_cli_cleans_and_exits_zero(tmp_path):
    src = make_src(tmp_path, n=2)
    done = cli_process(src, tmp_path / "dst", "--faces", "off")
    assert done.returncode == 0, done.stderr
    assert "kept" in done.stdout and "Files per check" in done.stdout
    assert (tmp_path / "dst" / cleaning.REPORT_NAME).is_file()
    assert len(list((tmp_path / "dst" / "sad").glob("*.png"))) == 2


def test_cli_missing_source(tmp_path):
    done = cli(tmp_path / "nowhere", tmp_path / "dst")
    assert done.returncode != 0
    assert "does not exist" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "dst").exists()


def test_cli_needs_two_classes(tmp_path):
    save(tmp_path / "src" / "happy" / "a.png", noise(1))
    done = cli(tmp_path / "src", tmp_path / "dst", "--faces", "off")
    assert done.returncode != 0
    assert "exactly two" in done.stderr and "found 1 (happy)" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_class_that_ends_up_empty(tmp_path):
    src = make_src(tmp_path, n=2)
    for path in (src / "sad").iterdir():
        path.unlink()
    (src / "sad" / "notes.jpg").write_text("no picture here")
    done = cli(src, tmp_path / "dst", "--faces", "off")
    assert done.returncode != 0
    assert "sad" in done.stderr and "ended up empty" in done.stderr
    assert "Traceback" not in done.stderr
    report = pd.read_csv(tmp_path / "dst" / cleaning.REPORT_NAME, keep_default_na=False)
    assert row_reason(report, "sad/notes.jpg") == "not an image"

    (src / "sad" / "notes.jpg").unlink()                            # a class folder with nothing
    done = cli(src, tmp_path / "dst", "--faces", "off")
    assert done.returncode != 0 and "ended up empty" in done.stderr


def one_error_line(done: subprocess.CompletedProcess) -> str:
    """Bad input: exit code 2 and one line on stderr, no traceback."""
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("error: ")
    return line


def test_cli_destination_that_is_a_file(tmp_path):
    src = make_src(tmp_path, n=1)
    mine = tmp_path / "some_file"
    mine.write_text("mine")
    line = one_error_line(cli_process(src, mine, "--faces", "off"))      # in a real process too
    assert f"The destination {mine.resolve()} is a file, not a folder" in line
    assert "give a new or empty folder" in line
    line = one_error_line(cli(src, mine / "sub", "--faces", "off"))
    assert f"in {mine.resolve()}, which is a file, not a folder" in line
    assert mine.read_text() == "mine"


def test_cli_other_destinations_it_refuses(tmp_path):
    src = make_src(tmp_path, n=1)
    before = snapshot(src)
    line = one_error_line(cli(src, src / "clean", "--faces", "off"))
    assert "inside the source" in line and "Pick a folder outside it" in line
    assert not (src / "clean").exists() and snapshot(src) == before
    save(tmp_path / "dst" / "happy" / "precious.png", noise(99))     # a folder it did not make
    (tmp_path / "dst" / "sad").write_text("a file named like a class")
    line = one_error_line(cli(src, tmp_path / "dst", "--faces", "off"))
    assert "already exists and was not made by `clean`" in line and "choose an empty" in line
    (tmp_path / "dst" / "happy" / "precious.png").unlink()          # only the file `sad` is left
    line = one_error_line(cli(src, tmp_path / "dst", "--faces", "off"))
    assert f"{(tmp_path / 'dst' / 'sad').resolve()} already exists and was not made" in line
    assert (tmp_path / "dst" / "sad").read_text() == "a file named like a class"
    assert not (tmp_path / "dst" / "happy" / cleaning.MARKER_NAME).exists()   # nothing changed
    assert not (tmp_path / "dst" / cleaning.REPORT_NAME).exists()


def row_reason(report: pd.DataFrame, source: str) -> str:
    return report.loc[report["source"] == source, "reason"].item()


def test_bad_faces_option(tmp_path):
    src = make_src(tmp_path, n=1)
    with pytest.raises(cleaning.CleaningError, match="faces must be one of"):
        cleaning.clean(src, tmp_path / "dst", faces="yes", progress=False, verbose=False)
    assert cli(src, tmp_path / "dst", "--faces", "yes").returncode == 2


# ------------------------------------------------------------------ real photos
WEB = config.data_dir() / "web"


@pytest.mark.skipif(not (WEB / "happy").is_dir(),
                    reason=f"real web photos not found at {WEB}: set HAPPYSAD_DATA")
def test_a_few_real_web_photos(tmp_path):
    """Read in place (never changed); only three of each class, to stay fast (MTCNN reads each)."""
    before = {p: p.stat().st_mtime_ns for p in sorted(WEB.rglob("*")) if p.is_file()}
    result = run(WEB, tmp_path / "web_clean", faces="all", limit=3)
    assert len(result.report) == 6
    assert result.n_kept >= 3
    kept = result.report[result.report["status"] == "kept"]
    assert (kept["face_box"] != "").all()
    assert {p: p.stat().st_mtime_ns for p in before} == before
