"""Checksummed downloads and safe extraction, for a teacher's archive (trained models, a class data set).

``python -m tools.download URL --sha256 HASH --into models`` (or ``--into data``) downloads ``URL``
(resumed if interrupted, capped in size), refuses it unless its SHA-256 is ``HASH``, and, for a
``.zip`` / ``.tar(.gz/.bz2/.xz)``, extracts it into ``models/`` or the data folder (``$HAPPYSAD_DATA``)
after checking every member: the whole archive is refused (nothing extracted) if one member could
write outside the destination (absolute paths, ``..``), is a link or a device file, unpacks past a
size cap (a zip bomb), or, below ``models/``, is anything but a ``.keras``, ``.tflite`` or ``.json``
file (a ``.h5`` model ignores Keras's safe mode; a pickle runs code when loaded). An archive from
the internet is untrusted input: a member named ``../../.bashrc`` would overwrite yours.

    path = download.fetch(url, sha256)          # -> cached file, verified
    folder = download.extract(path, dest)       # -> dest, checked member by member
    folder = download.download(url, sha256, "models")   # both, as the command does
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import sys
import tarfile
import urllib.parse
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath, PureWindowsPath

from helpers import config

CHUNK = 1 << 20          # read / hash in 1 MiB pieces
TIMEOUT_S = 60           # socket timeout for one download
MAX_BYTES = 2 << 30      # no download may be larger than 2 GiB (a cap: a server cannot fill the disk)
MAX_EXTRACT_BYTES = 4 << 30   # an archive unpacks to at most 4 GiB in all ...
MAX_MEMBER_BYTES = 1 << 30    # ... and 1 GiB per file (a zip of zeros can unpack a thousand times larger)
MODEL_SUFFIXES = (".keras", ".tflite", ".json")   # all that may be extracted below models/ (no .h5, no pickle)


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


def progress_bar(iterable=None, **kwargs):
    """A tqdm bar for the terminal: redrawn in place and gone when done, so the next line starts
    clean. Without a terminal (a log, CI) it first shows after 15 s and then every 15 s, ending
    with a line of its own; work that ends sooner (a failure at once, offline) prints no bar."""
    from tqdm.auto import tqdm
    if sys.stderr.isatty():
        return tqdm(iterable, mininterval=0.5, leave=False, **kwargs)
    return tqdm(iterable, mininterval=15, delay=15, leave=True, **kwargs)


def default_cache_dir() -> Path:
    """Default download cache: ``data/downloads/`` (git-ignored)."""
    return config.ROOT / "data" / "downloads"


class TooLargeError(ValueError):
    """A download, or what an archive unpacks to, grew past its size cap."""


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
    if urllib.parse.urlparse(url).scheme not in ("http", "https"):     # no file://, ftp:// or custom schemes
        raise ValueError(f"{url}: only http:// and https:// addresses are downloaded")
    progress = progress_bar(desc=target.name, unit="B", unit_scale=True, disable=not show_progress)
    try:
        _stream(url, part, max_bytes, progress)
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


def _stream(url: str, part: Path, max_bytes: int | None, progress) -> None:
    """Append ``url``'s bytes to ``part``, resuming after what it holds (an HTTP ``Range`` request;
    a server that ignores it sends everything again, and ``part`` starts over)."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})  # noqa: S310
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
        resumed = have and response.status == 206
        if not resumed:
            have = 0                            # the server sends it all again
        if response.length is not None:
            progress.total = have + response.length      # (reset() would draw the bar at once)
        progress.update(have)
        with open(part, "ab" if resumed else "wb") as out:
            for block in iter(lambda: response.read(CHUNK), b""):
                have += len(block)
                if max_bytes is not None and have > max_bytes:
                    raise TooLargeError(f"{url} is larger than its cap of {max_bytes:,} bytes: "
                                        "refused, and the partial file deleted.")
                out.write(block)
                progress.update(len(block))


# ---------------------------------------------------------------- safe extraction

def _archive_kind(archive: Path) -> str:
    """"zip" or "tar", judged by content (tarfile reads .gz, .bz2 and .xz itself)."""
    if zipfile.is_zipfile(archive):
        return "zip"
    if tarfile.is_tarfile(archive):
        return "tar"
    raise ValueError(f"{archive.name}: not a .zip or .tar(.gz/.bz2/.xz) archive")


def _refuse(archive: Path, name: str, why: str) -> UnsafeArchiveError:
    return UnsafeArchiveError(f"{archive.name}: refusing to extract: member {name!r} {why}. Nothing was extracted.")


def _check_name(name: str, dest: Path, archive: Path) -> Path:
    """The resolved target of member ``name``; raises if it could land outside ``dest``."""
    if not name or "\x00" in name:
        raise _refuse(archive, name, "has an empty or invalid name")
    posix, windows = PurePosixPath(name), PureWindowsPath(name)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or name.startswith(("/", "\\")):
        raise _refuse(archive, name, "has an absolute path")
    if ".." in posix.parts or ".." in windows.parts:
        raise _refuse(archive, name, "has a '..' component")
    target = (dest / name).resolve()
    if not target.is_relative_to(dest):
        raise _refuse(archive, name, "would be written outside the destination")
    return target


def _members(handle, kind: str):
    """(name, "dir" / "file" / what else it is, declared size, opener) for each member of an open archive."""
    if kind == "zip":
        for info in handle.infolist():
            mode = info.external_attr >> 16
            what = "dir" if info.is_dir() else "symbolic link" if stat.S_ISLNK(mode) else "file"
            yield info.filename, what, info.file_size, lambda info=info: handle.open(info)
        return
    for member in handle.getmembers():
        what = ("dir" if member.isdir() else "file" if member.isfile() else
                "link" if member.issym() or member.islnk() else "device or other special file")
        yield member.name, what, member.size, lambda member=member: handle.extractfile(member)


def _copy_capped(source, out, cap: int, refuse) -> int:
    """Copy ``source`` to ``out`` and return the bytes copied; ``refuse()`` is raised past ``cap``.
    The bytes are counted as they come, since an archive's declared sizes can lie."""
    copied = 0
    for block in iter(lambda: source.read(CHUNK), b""):
        copied += len(block)
        if copied > cap:
            raise refuse()
        out.write(block)
    return copied


def extract(archive: Path | str, dest: Path | str, *, allowed_suffixes: tuple[str, ...] | None = None,
            max_bytes: int | None = None, max_member_bytes: int | None = None) -> Path:
    """Unpack an archive into ``dest`` and return it. Only folders and regular files are written.

    Refused in one line naming the archive and the member, with nothing extracted
    (:class:`UnsafeArchiveError` or :class:`TooLargeError`, both ``ValueError``): a path that could
    land outside ``dest``; a link, device or other special file; a file whose name does not end in
    one of ``allowed_suffixes`` (default: any, but below ``models/`` only :data:`MODEL_SUFFIXES`);
    more than ``max_member_bytes`` in one file or ``max_bytes`` in all (defaults:
    :data:`MAX_MEMBER_BYTES`, :data:`MAX_EXTRACT_BYTES`), checked on the declared sizes first and
    counted again while writing. A damaged archive is refused the same way.
    """
    archive, dest = Path(archive), Path(dest).resolve()
    max_bytes = MAX_EXTRACT_BYTES if max_bytes is None else max_bytes
    max_member_bytes = MAX_MEMBER_BYTES if max_member_bytes is None else max_member_bytes
    if allowed_suffixes is None and dest.is_relative_to((config.ROOT / "models").resolve()):
        allowed_suffixes = MODEL_SUFFIXES

    def too_large(name: str):
        return lambda: TooLargeError(
            f"{archive.name}: refusing to extract: member {name!r} goes past the cap of {max_member_bytes:,} "
            f"bytes per file or {max_bytes:,} in all, uncompressed (a zip bomb?). Nothing was extracted.")

    kind = _archive_kind(archive)
    with (zipfile.ZipFile(archive) if kind == "zip" else tarfile.open(archive)) as handle:
        members = list(_members(handle, kind))
        _judge(members, archive, dest, allowed_suffixes, max_member_bytes, max_bytes, too_large)
        _write(members, archive, dest, max_member_bytes, max_bytes, too_large)
    return dest


def _judge(members, archive: Path, dest: Path, allowed_suffixes, max_member_bytes: int, max_bytes: int,
           too_large) -> None:
    """Step 1 of :func:`extract`: every member is judged before anything is written."""
    declared = 0
    for name, what, size, _ in members:
        _check_name(name, dest, archive)
        if what not in ("dir", "file"):
            raise _refuse(archive, name, f"is a {what}")
        if what == "file" and allowed_suffixes and not name.lower().endswith(allowed_suffixes):
            raise _refuse(archive, name, f"is not a {' / '.join(allowed_suffixes)} file, the only kinds "
                                         f"extracted into {dest.name}/")
        declared += size if what == "file" else 0
        if size > max_member_bytes or declared > max_bytes:
            raise too_large(name)()


def _write(members, archive: Path, dest: Path, max_member_bytes: int, max_bytes: int, too_large) -> None:
    """Step 2 of :func:`extract`: write every member (counting the bytes again), undone if anything fails."""
    written, created, copied = [], [], 0
    try:
        for name, what, _, opener in members:
            target = _check_name(name, dest, archive)
            folder = target if what == "dir" else target.parent
            for missing in reversed([f for f in (folder, *folder.parents) if not f.exists()]):
                missing.mkdir()
                created.append(missing)
            if what == "file":
                written.append((target.with_name(target.name + ".part"), target))
                with opener() as source, open(written[-1][0], "wb") as out:
                    copied += _copy_capped(source, out, min(max_member_bytes, max_bytes - copied),
                                           too_large(name))
        for part, target in written:
            os.replace(part, target)
    except BaseException as error:
        for part, _ in written:
            part.unlink(missing_ok=True)
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        if isinstance(error, (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error)):
            raise UnsafeArchiveError(f"{archive.name}: refusing to extract: it is damaged "
                                     f"({' '.join(str(error).split())}). Nothing was extracted.") from None
        raise


DESTINATIONS = ("models", "data")


def download(url: str, sha256: str, into: str) -> Path:
    """Fetch ``url`` (verified against ``sha256``) and, if it is an archive, extract it into ``models/``
    (``into="models"``: only .keras/.tflite/.json) or the data folder (``into="data"``). Returns the
    folder it extracted into, or the downloaded file when it is no archive."""
    if into not in DESTINATIONS:
        raise ValueError(f"--into {into}: choose models or data")
    path = fetch(url, sha256)
    try:
        _archive_kind(path)
    except ValueError:
        return path                              # a single file: it stays in the download cache
    if into == "models":
        return extract(path, config.models_dir(), allowed_suffixes=MODEL_SUFFIXES)
    return extract(path, config.data_dir())


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.download URL --sha256 HASH --into models|data``."""
    import argparse
    parser = argparse.ArgumentParser(
        prog="python -m tools.download",
        description="Download a file, refuse it unless its SHA-256 is the one given, and extract an archive "
                    "safely into models/ or the data folder (a teacher's trained models or class data).")
    parser.add_argument("url", help="an http:// or https:// address")
    parser.add_argument("--sha256", required=True, help="the file's SHA-256, as the teacher published it")
    parser.add_argument("--into", required=True, choices=DESTINATIONS,
                        help="models: trained models (only .keras/.tflite/.json); data: the data folder")
    args = parser.parse_args(argv)
    try:
        print(download(args.url, args.sha256, args.into))
    except (ValueError, OSError) as error:          # bad hash, unsafe or damaged archive, no network
        print(f"python -m tools.download: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
