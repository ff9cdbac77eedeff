"""tools.download: checksummed fetch from a local HTTP server, and safe extraction."""
from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tools import download


def _png_bytes(value: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8), value, np.uint8), "L").save(buf, "PNG")
    return buf.getvalue()


MEMBERS = {"faces/happy/h1.png": _png_bytes(200), "faces/happy/h2.png": _png_bytes(180),
           "faces/sad/s1.png": _png_bytes(40), "faces/sad/s2.png": _png_bytes(60)}




def _make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _make_tar(path: Path, members: dict[str, bytes], mode: str = "w:gz",
              links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


# ---------------------------------------------------------------- fetch

def test_sha256_of(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"happy or sad")
    assert download.sha256_of(path) == hashlib.sha256(b"happy or sad").hexdigest()


@pytest.mark.parametrize("name,maker", [("faces.zip", _make_zip), ("faces.tar.gz", _make_tar)])
def test_fetch_verify_extract(server, tmp_path, name, maker):
    archive = maker(server["root"] / name, MEMBERS)
    cache = tmp_path / "cache"
    path = download.fetch(f"{server['url']}/{name}", _sha(archive), cache_dir=cache)
    assert path == cache / name and path.read_bytes() == archive.read_bytes()
    dest = download.extract(path, tmp_path / "out")
    assert _files(dest) == set(MEMBERS)
    for member, data in MEMBERS.items():
        assert (dest / member).read_bytes() == data
    assert not [p for p in cache.iterdir() if p.name != name], "temp files left in the cache"


def test_cache_hit_does_not_download_again(server, tmp_path):
    archive = _make_zip(server["root"] / "faces.zip", MEMBERS)
    url, sha = f"{server['url']}/faces.zip", _sha(archive)
    first = download.fetch(url, sha, cache_dir=tmp_path)
    second = download.fetch(url, sha.upper(), cache_dir=tmp_path)
    assert first == second
    assert server["hits"] == ["/faces.zip"]


def test_corrupt_cache_is_downloaded_again(server, tmp_path):
    archive = _make_zip(server["root"] / "faces.zip", MEMBERS)
    (tmp_path / "faces.zip").write_bytes(b"half a download")
    path = download.fetch(f"{server['url']}/faces.zip", _sha(archive), cache_dir=tmp_path)
    assert path.read_bytes() == archive.read_bytes()
    assert len(server["hits"]) == 1


def test_custom_filename(server, tmp_path):
    archive = _make_zip(server["root"] / "faces.zip", MEMBERS)
    path = download.fetch(f"{server['url']}/faces.zip", _sha(archive), cache_dir=tmp_path,
                          filename="mine.zip")
    assert path == tmp_path / "mine.zip" and path.exists()


def test_wrong_checksum_raises_and_leaves_nothing(server, tmp_path):
    _make_zip(server["root"] / "faces.zip", MEMBERS)
    cache = tmp_path / "cache"
    with pytest.raises(download.ChecksumError, match="SHA-256 mismatch"):
        download.fetch(f"{server['url']}/faces.zip", "0" * 64, cache_dir=cache)
    assert list(cache.iterdir()) == []


def test_bad_hash_string_is_refused(tmp_path):
    with pytest.raises(ValueError, match="64 hex"):
        download.fetch("http://127.0.0.1:9/x.zip", "abc", cache_dir=tmp_path)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x.zip"])
def test_only_http_and_https_are_fetched(tmp_path, url):
    with pytest.raises(ValueError, match="only http:// and https://"):
        download.fetch(url, "0" * 64, cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_download_a_class_data_set_into_the_data_folder(server, tmp_path, monkeypatch):
    archive = _make_tar(server["root"] / "faces.tar.gz", MEMBERS)
    monkeypatch.setattr(download, "default_cache_dir", lambda: tmp_path / "cache")
    monkeypatch.setenv("HAPPYSAD_DATA", str(tmp_path / "data"))
    out = download.download(f"{server['url']}/faces.tar.gz", _sha(archive), "data")
    assert out == (tmp_path / "data").resolve()
    assert _files(out) == set(MEMBERS)


def test_a_single_file_stays_in_the_cache(server, tmp_path, monkeypatch):
    (server["root"] / "notes.txt").write_text("read me")
    monkeypatch.setattr(download, "default_cache_dir", lambda: tmp_path / "cache")
    out = download.download(f"{server['url']}/notes.txt", _sha(server["root"] / "notes.txt"), "models")
    assert out == tmp_path / "cache" / "notes.txt" and out.read_text() == "read me"


MODEL_MEMBERS = {"happy_sad.keras": b"PK zip", "happy_sad.json": b"{}", "happy_sad_int8.tflite": b"TFL3",
                 "untrained/happy_sad.keras": b"PK zip", "hog_linear.json": b"{}"}


def test_a_models_entry_extracts_below_models(server, tmp_path, monkeypatch):
    # A teacher's archive of trained models lands in models/, where the lessons look for them.
    archive = _make_tar(server["root"] / "trained.tar.gz", MODEL_MEMBERS)
    monkeypatch.setattr(download, "default_cache_dir", lambda: tmp_path / "cache")
    monkeypatch.setattr(download.config, "models_dir", lambda: tmp_path / "models")
    monkeypatch.setattr(download.config, "data_dir", lambda: tmp_path / "data")
    assert download.main([f"{server['url']}/trained.tar.gz", "--sha256", _sha(archive), "--into", "models"]) == 0
    out = tmp_path / "models"
    assert out == (tmp_path / "models").resolve()
    assert _files(out) == set(MODEL_MEMBERS) and not (tmp_path / "data").exists()


@pytest.mark.parametrize("bad", ["happy_sad.h5", "untrained/happy_sad.H5", "hog_linear.joblib", "model.pkl",
                                 "faces/happy/h1.png"])
def test_a_models_entry_refuses_anything_but_keras_tflite_json(server, tmp_path, monkeypatch, capsys, bad):
    # .h5 ignores Keras's safe mode and a pickle runs code when loaded: neither may land in models/.
    archive = _make_zip(server["root"] / "trained.zip", {**MODEL_MEMBERS, bad: b"payload"})
    monkeypatch.setattr(download, "default_cache_dir", lambda: tmp_path / "cache")
    monkeypatch.setattr(download.config, "models_dir", lambda: tmp_path / "models")
    assert download.main([f"{server['url']}/trained.zip", "--sha256", _sha(archive), "--into", "models"]) == 2
    last_line = capsys.readouterr().err.splitlines()[-1]          # after the download's progress bar
    assert last_line == (f"python -m tools.download: trained.zip: refusing to extract: member {bad!r} "
                         "is not a .keras / .tflite / .json file, the only kinds extracted into models/. "
                         "Nothing was extracted.")
    assert not (tmp_path / "models").exists()


def test_anything_extracted_below_the_projects_models_folder_is_checked(tmp_path):
    # extract() itself applies the rule to a destination in models/, whoever calls it.
    archive = _make_zip(tmp_path / "x.zip", {"net.h5": b"payload"})
    dest = download.config.ROOT / "models" / "never-created-by-this-test"
    with pytest.raises(download.UnsafeArchiveError, match="'net.h5' is not a .keras / .tflite / .json file"):
        download.extract(archive, dest)
    assert not dest.exists()


def test_a_wrong_hash_on_the_command_line_is_one_line(server, tmp_path, monkeypatch, capsys):
    _make_zip(server["root"] / "trained.zip", MODEL_MEMBERS)
    monkeypatch.setattr(download, "default_cache_dir", lambda: tmp_path / "cache")
    assert download.main([f"{server['url']}/trained.zip", "--sha256", "1" * 64, "--into", "models"]) == 2
    err = capsys.readouterr().err
    assert "SHA-256 mismatch" in err.splitlines()[-1] and "Traceback" not in err


# ---------------------------------------------------------------- safe extraction

@pytest.fixture
def sandbox(tmp_path):
    """dest lives two levels down, so '../' and '../../' escapes land in folders we can check."""
    dest = tmp_path / "a" / "b" / "dest"
    return tmp_path, dest


def _assert_refused(archive: Path, sandbox_root: Path, dest: Path, **caps) -> str:
    """extract() refuses in one line and leaves no file or folder behind; returns the line."""
    before = set(sandbox_root.rglob("*"))
    with pytest.raises(ValueError, match="refusing to extract") as error:
        download.extract(archive, dest, **caps)
    after = set(sandbox_root.rglob("*"))
    assert after == before, f"written: {after - before}"
    assert "\n" not in str(error.value) and str(error.value).startswith(f"{archive.name}: ")
    return str(error.value)


@pytest.mark.parametrize("bad", ["../evil.txt", "../../evil.txt", "ok/../../evil.txt"])
def test_zip_with_dotdot_is_refused(sandbox, bad):
    root, dest = sandbox
    archive = _make_zip(root / "bad.zip", {"faces/happy/h1.png": MEMBERS["faces/happy/h1.png"],
                                          bad: b"pwned"})
    _assert_refused(archive, root, dest)


def test_zip_with_absolute_path_is_refused(sandbox):
    root, dest = sandbox
    target = root / "absolute_evil.txt"
    archive = _make_zip(root / "bad.zip", {"ok.txt": b"fine", str(target): b"pwned"})
    _assert_refused(archive, root, dest)
    assert not target.exists()


def test_zip_with_symlink_is_refused(sandbox):
    root, dest = sandbox
    info = zipfile.ZipInfo("link")
    info.external_attr = (0o120777 << 16)
    with zipfile.ZipFile(root / "bad.zip", "w") as zf:
        zf.writestr("ok.txt", b"fine")
        zf.writestr(info, "/etc/passwd")
    _assert_refused(root / "bad.zip", root, dest)


@pytest.mark.parametrize("mode,suffix", [("w:gz", "tar.gz"), ("w", "tar"), ("w:bz2", "tar.bz2"),
                                         ("w:xz", "tar.xz")])
def test_tar_with_dotdot_is_refused(sandbox, mode, suffix):
    root, dest = sandbox
    archive = _make_tar(root / f"bad.{suffix}", {"ok.txt": b"fine", "../evil.txt": b"pwned"}, mode)
    _assert_refused(archive, root, dest)


def test_tar_with_absolute_path_is_refused(sandbox):
    root, dest = sandbox
    archive = _make_tar(root / "bad.tar.gz", {"ok.txt": b"fine", str(root / "evil.txt"): b"pwned"})
    _assert_refused(archive, root, dest)


@pytest.mark.parametrize("target", ["../../..", "/etc", "../outside"])
def test_tar_with_escaping_symlink_is_refused(sandbox, target):
    root, dest = sandbox
    # the classic attack: a link out of dest, then a file written "through" it
    archive = _make_tar(root / "bad.tar.gz", {"ok.txt": b"fine"}, links={"escape": target})
    _assert_refused(archive, root, dest)
    with tarfile.open(root / "bad2.tar.gz", "w:gz") as tf:
        link = tarfile.TarInfo("escape")
        link.type, link.linkname = tarfile.SYMTYPE, target
        tf.addfile(link)
        evil = tarfile.TarInfo("escape/evil.txt")
        evil.size = 5
        tf.addfile(evil, io.BytesIO(b"pwned"))
    _assert_refused(root / "bad2.tar.gz", root, dest)


def test_tar_with_escaping_hardlink_is_refused(sandbox):
    root, dest = sandbox
    with tarfile.open(root / "bad.tar", "w") as tf:
        info = tarfile.TarInfo("hard")
        info.type, info.linkname = tarfile.LNKTYPE, "../../../secret"
        tf.addfile(info)
    _assert_refused(root / "bad.tar", root, dest)


def test_tar_with_device_file_is_refused(sandbox):
    root, dest = sandbox
    with tarfile.open(root / "bad.tar", "w") as tf:
        info = tarfile.TarInfo("null")
        info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
        tf.addfile(info)
    _assert_refused(root / "bad.tar", root, dest)


def test_tar_with_internal_symlink_is_refused_too(sandbox):
    # A link that stays inside is harmless by itself, but no lesson needs one: only files and folders.
    root, dest = sandbox
    archive = _make_tar(root / "ok.tar.gz", {"faces/happy/h1.png": MEMBERS["faces/happy/h1.png"]},
                        links={"faces/latest.png": "happy/h1.png"})
    assert "'faces/latest.png' is a link" in _assert_refused(archive, root, dest)


# ---------------------------------------------------------------- size caps (zip bombs)

def _zeros_zip(path: Path, sizes: dict[str, int]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, size in sizes.items():
            zf.writestr(name, bytes(size))
    return path


def test_a_zip_bomb_is_refused_before_anything_is_written(sandbox):
    # 4 MB of zeros squeeze into a few kB; with the cap lowered to 1 MB in all it is a "bomb".
    root, dest = sandbox
    archive = _zeros_zip(root / "bomb.zip", {"a.bin": 1_000_000, "b.bin": 1_000_000, "c.bin": 2_000_000})
    assert archive.stat().st_size < 20_000
    line = _assert_refused(archive, root, dest, max_bytes=1_500_000, max_member_bytes=1_200_000)
    assert line == ("bomb.zip: refusing to extract: member 'b.bin' goes past the cap of 1,200,000 bytes per file "
                    "or 1,500,000 in all, uncompressed (a zip bomb?). Nothing was extracted.")
    assert "'c.bin' goes past" in _assert_refused(archive, root, dest, max_member_bytes=1_500_000)
    assert _files(download.extract(archive, dest, max_bytes=4_000_000)) == {"a.bin", "b.bin", "c.bin"}


def test_a_tar_bomb_is_refused(sandbox):
    root, dest = sandbox
    archive = _make_tar(root / "bomb.tar.xz", {"zeros.bin": bytes(3_000_000)}, "w:xz")
    assert "'zeros.bin' goes past the cap" in _assert_refused(archive, root, dest, max_member_bytes=1_000_000)


def test_a_zip_whose_header_understates_a_size_is_refused_and_undone(sandbox):
    # The declared size passes the check; the real bytes do not match it: nothing may stay behind.
    root, dest = sandbox
    archive = _zeros_zip(root / "liar.zip", {"fine.bin": 10, "liar.bin": 100_000})
    raw = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        local = zf.getinfo("liar.bin").header_offset
    central = raw.rindex(b"PK\x01\x02")                         # liar.bin is the last entry
    for size_at in (local + 22, central + 24):                  # "uncompressed size" in both headers
        raw[size_at:size_at + 4] = (1000).to_bytes(4, "little")
    archive.write_bytes(bytes(raw))
    assert zipfile.ZipFile(archive).getinfo("liar.bin").file_size == 1000
    assert "liar.zip: refusing to extract: it is damaged" in _assert_refused(archive, root, dest)


def test_extraction_counts_the_bytes_it_writes():
    # The second line of defence, on its own: a stream longer than its cap stops at the cap.
    out = io.BytesIO()
    with pytest.raises(download.TooLargeError, match="over"):
        download._copy_capped(io.BytesIO(bytes(3 * download.CHUNK)), out, download.CHUNK + 5,
                              lambda: download.TooLargeError("over"))
    assert len(out.getvalue()) == download.CHUNK
    assert download._copy_capped(io.BytesIO(b"12345"), io.BytesIO(), 5, None) == 5


def test_not_an_archive(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ValueError, match="not a .zip or .tar"):
        download.extract(path, tmp_path / "out")


def test_an_interrupted_download_resumes(tmp_path):
    """A ``.part`` left by an interruption is continued with a Range request."""
    payload = bytes(range(256)) * 40
    seen = []

    class Ranged(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            seen.append(self.headers.get("Range"))
            start = int(self.headers["Range"].split("=")[1].rstrip("-")) if self.headers.get("Range") else 0
            self.send_response(206 if start else 200)
            self.send_header("Content-Length", str(len(payload) - start))
            self.end_headers()
            self.wfile.write(payload[start:])
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ranged)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        (tmp_path / "blob.bin.part").write_bytes(payload[:3000])
        path = download.fetch(f"http://127.0.0.1:{httpd.server_address[1]}/blob.bin",
                              hashlib.sha256(payload).hexdigest(), cache_dir=tmp_path)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert path.read_bytes() == payload and seen == ["bytes=3000-"]
    assert not (tmp_path / "blob.bin.part").exists()


def test_a_download_over_its_cap_is_refused(server, tmp_path):
    archive = _make_zip(server["root"] / "faces.zip", MEMBERS)
    with pytest.raises(download.TooLargeError):
        download.fetch(f"{server['url']}/faces.zip", _sha(archive), cache_dir=tmp_path / "cache", max_bytes=100)
    assert list((tmp_path / "cache").iterdir()) == []
