"""Write the pins ``make data`` checks against, from facts of the real sources.

``python -m tools.make_pins DATA`` (maintainers only; ``DATA`` is the developers' ``../shared/data``)
writes ``tools/sources/``:

* ``web_photos.sha256`` - the SHA-256 of every photo of ``DATA/web`` (``sha256sum`` format): the
  original tutorial's photos, checked equal to its repository's files at the pinned commit;
* ``fer2013_rows.csv.gz`` - from ``DATA/fer2013_reference/row_pixel_sha1.csv``, the facts of the
  real ``fer2013.csv`` (the SHA-1 of the pixels of every row FER+ gives an image, computed from
  FER+'s images, which FER+'s own script writes from the CSV): each row and the first
  :data:`PIN_HEX` hex digits of that SHA-1;

and prints the SHA-256 over those rows' whole SHA-1s (hex, one line each, in row order), which
``tools.get_data.FER2013_ROWS_SHA256`` holds. Nothing here reads ``DATA/fer2013``: it is a near
copy (rebuilt from a JPEG copy of FER-2013), and a check derived from it refuses the real file.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pandas as pd

SOURCES = Path(__file__).with_name("sources")
PIN_HEX = 12                       # 48 bits a row: a changed row is found; the SHA-256 covers the rest


def fer2013_row_pins(reference: Path) -> tuple[pd.DataFrame, str]:
    """(row, pix) for every row of the reference, and the SHA-256 over the whole SHA-1s in row order."""
    facts = pd.read_csv(reference, dtype={"row": int, "pixels_sha1": str}).sort_values("row")
    digest = hashlib.sha256("".join(f"{sha}\n" for sha in facts["pixels_sha1"]).encode()).hexdigest()
    return pd.DataFrame({"row": facts["row"], "pix": facts["pixels_sha1"].str[:PIN_HEX]}), digest


def main(argv: list[str] | None = None) -> int:
    data = Path((argv or sys.argv[1:])[0])
    SOURCES.mkdir(exist_ok=True)
    lines = []
    for path in sorted((data / "web").glob("*/*")):
        lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.relative_to(data / 'web').as_posix()}")
    (SOURCES / "web_photos.sha256").write_text("\n".join(lines) + "\n")

    pins, digest = fer2013_row_pins(data / "fer2013_reference" / "row_pixel_sha1.csv")
    pins.to_csv(SOURCES / "fer2013_rows.csv.gz", index=False, compression={"method": "gzip", "mtime": 0})
    print("FER2013_ROWS_SHA256 =", digest, len(pins))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
