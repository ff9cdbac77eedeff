"""Checksummed downloads and safe extraction (in the style of d2l's ``DATA_HUB``).

Every dataset is a name in :data:`DATASETS` with a URL and the SHA-256 of the file
behind it. :func:`fetch` downloads into a cache and refuses a file whose hash is wrong;
:func:`extract` unpacks ``.zip`` / ``.tar(.gz/.bz2/.xz)`` after checking every member,
and refuses the whole archive (extracting nothing) if one could write outside the
destination: absolute paths, ``..``, links that escape, device files. An archive from
the internet is untrusted input: a member named ``../../.bashrc`` would overwrite yours.

    path = download.fetch(url, sha256)          # -> cached file, verified
    folder = download.extract(path, dest)       # -> dest, checked member by member
    folder = download.download("some-name")     # both, for an entry of DATASETS
"""
from __future__ import annotations

import hashlib
import os
import stat
import tarfile
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from helpers import config

# name -> {"url": ..., "sha256": ..., "extract_to": folder (or None: download only),
#          "root": "data" (default: extract below $HAPPYSAD_DATA) or "models" (below models/,
#          for trained models a teacher hands out so a class need not train)}.
# Teachers: add your own entries here. The one below is a TEMPLATE, not a real file:
# its URL and hash are placeholders, so download("example-template") fails on purpose.
DATASETS: dict[str, dict[str, str | None]] = {
    "example-template": {
        "url": "https://example.org/path/to/happy_sad_faces.zip",
        "sha256": "0" * 64,
        "extract_to": "example",   # -> $HAPPYSAD_DATA/example/
    },
}

CHUNK = 1 << 20          # read / hash in 1 MiB pieces
TIMEOUT_S = 60           # socket timeout for one download
MAX_BYTES = 2 << 30      # no download may be larger than 2 GiB (a cap: a server cannot fill the disk)


class ChecksumError(ValueError):
    """A file's SHA-256 is not the one we expected."""


class UnsafeArchiveError(ValueError):
    """An archive holds a member that could write outside the destination."""


def sha256_of(path: Path | str) -> str:
    """The SHA-256 of a file, as 64 lowercase hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def default_cache_dir() -> Path:
    """Default download cache: ``data/downloads/`` (git-ignored)."""
    return config.ROOT / "data" / "downloads"


class TooLargeError(ValueError):
    """A download grew past its size cap."""


def fetch(url: str, sha256: str, cache_dir: Path | str | None = None,
          filename: str | None = None, max_bytes: int | None = MAX_BYTES,
          show_progress: bool = True) -> Path:
    """Download ``url`` into ``cache_dir`` (reusing a cached file whose hash matches) and
    return its path. The bytes go to ``NAME.part``, renamed into place only once the
    SHA-256 checks out: a wrong download leaves nothing behind (:class:`ChecksumError`).

    An interrupted download keeps its ``.part`` and the next call resumes it (an HTTP
    ``Range`` request; a server that ignores it sends the file again from the start).
    More than ``max_bytes`` is refused (:class:`TooLargeError`). A progress bar shows the
    bytes unless ``show_progress`` is False.
    """
    expected = sha256.strip().lower()
    if len(expected) != 64 or any(ch not in "0123456789abcdef" for ch in expected):
        raise ValueError(f"sha256 must be 64 hex digits, got {sha256!r}")
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (filename or PurePosixPath(urllib.parse.urlparse(url).path).name or "download")

    if target.exists():
        if sha256_of(target) == expected:
            return target                       # cache hit
        target.unlink()                         # stale or corrupt: fetch again

    part = target.with_name(target.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    from tqdm.auto import tqdm
    progress = tqdm(desc=target.name, unit="B", unit_scale=True, leave=False, disable=not show_progress)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
            resumed = have and response.status == 206
            if not resumed:
                have = 0                        # the server sends it all again
            if response.length is not None:
                progress.reset(total=have + response.length)
            progress.update(have)
            with open(part, "ab" if resumed else "wb") as out:
                for block in iter(lambda: response.read(CHUNK), b""):
                    have += len(block)
                    if max_bytes is not None and have > max_bytes:
                        raise TooLargeError(f"{url} is larger than its cap of {max_bytes:,} bytes: "
                                            "refused, and the partial file deleted.")
                    out.write(block)
                    progress.update(len(block))
        actual = sha256_of(part)
        if actual != expected:
            raise ChecksumError(
                f"SHA-256 mismatch for {url}:\n  expected {expected}\n  got      {actual}\n"
                f"The download was deleted. The file changed on the server, or the "
                f"download was corrupted; check the URL and the hash.")
        os.replace(part, target)
    except (ChecksumError, TooLargeError):
        part.unlink(missing_ok=True)            # wrong bytes are never resumed
        raise
    finally:
        progress.close()
    return target


# ---------------------------------------------------------------- safe extraction

def _archive_kind(archive: Path) -> str:
    """"zip" or "tar", judged by content (tarfile reads .gz, .bz2 and .xz itself)."""
    if zipfile.is_zipfile(archive):
        return "zip"
    if tarfile.is_tarfile(archive):
        return "tar"
    raise ValueError(f"{archive.name}: not a .zip or .tar(.gz/.bz2/.xz) archive")


def _check_name(name: str, dest: Path, archive: Path) -> Path:
    """The resolved target of member ``name``; raises if it could land outside ``dest``."""
    def refuse(why: str) -> UnsafeArchiveError:
        return UnsafeArchiveError(f"{archive.name}: refusing to extract: member {name!r} {why}. "
                                  f"Nothing was extracted.")
    if not name or "\x00" in name:
        raise refuse("has an empty or invalid name")
    posix, windows = PurePosixPath(name), PureWindowsPath(name)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or name.startswith(("/", "\\")):
        raise refuse("has an absolute path")
    if ".." in posix.parts or ".." in windows.parts:
        raise refuse("has a '..' component")
    target = (dest / name).resolve()
    if not target.is_relative_to(dest):
        raise refuse("would be written outside the destination")
    return target


def _check_zip(archive: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            _check_name(info.filename, dest, archive)
            mode = info.external_attr >> 16
            if mode and stat.S_ISLNK(mode):
                # zipfile writes links as plain files, but refuse them: they mean trouble.
                raise UnsafeArchiveError(f"{archive.name}: refusing to extract: member "
                                         f"{info.filename!r} is a symbolic link. Nothing was extracted.")


def _check_tar(archive: Path, dest: Path) -> None:
    """Python's own ``data`` filter judges links and special files (it needs 3.10.12+)."""
    if not hasattr(tarfile, "data_filter"):
        raise UnsafeArchiveError(f"{archive.name}: refusing to extract: this Python has no "
                                 "tarfile.data_filter; update to Python 3.10.12 or later.")
    with tarfile.open(archive) as tf:
        for member in tf.getmembers():
            _check_name(member.name, dest, archive)
            try:
                tarfile.data_filter(member, str(dest))
            except tarfile.FilterError as error:
                raise UnsafeArchiveError(f"{archive.name}: refusing to extract: member "
                                         f"{member.name!r}: {error}. Nothing was extracted.") from None


def extract(archive: Path | str, dest: Path | str) -> Path:
    """Unpack an archive into ``dest`` and return it; one unsafe member raises
    :class:`UnsafeArchiveError` (a ``ValueError``) and nothing is extracted."""
    archive = Path(archive)
    dest = Path(dest).resolve()
    kind = _archive_kind(archive)
    if kind == "zip":
        _check_zip(archive, dest)
        dest.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(dest)
    else:
        _check_tar(archive, dest)
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tf:
            tf.extractall(dest, filter="data")     # a second line of defence
    return dest


def download(name: str, data_dir: Path | str | None = None) -> Path:
    """Fetch the registered entry ``name`` and extract it below the data folder
    (or below ``models/`` for an entry with ``"root": "models"``).

    Returns the extracted folder, or the downloaded file if the entry has no
    ``extract_to``.
    """
    if name not in DATASETS:
        known = ", ".join(sorted(DATASETS)) or "(none)"
        raise KeyError(f"unknown dataset {name!r}; known: {known}. Add it to tools/download.py's DATASETS.")
    entry = DATASETS[name]
    path = fetch(entry["url"], entry["sha256"])
    if not entry.get("extract_to"):
        return path
    if data_dir is not None:
        root = Path(data_dir)
    else:
        root = config.models_dir() if entry.get("root") == "models" else config.data_dir()
    return extract(path, root / entry["extract_to"])


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.download NAME``: fetch, verify and extract one registered entry."""
    import argparse
    parser = argparse.ArgumentParser(prog="python -m tools.download", description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(DATASETS))
    print(download(parser.parse_args(argv).name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

