"""Write the pins ``make data`` checks against, from a trusted copy of the data.

``python -m tools.make_pins DATA`` (maintainers only; ``DATA`` laid out as ``make data``
builds it, e.g. the developers' ``../shared/data``) writes ``tools/sources/``:

* ``web_photos.sha256`` - the SHA-256 of every web photo (``sha256sum`` format);
* ``fer2013_happy_sad.csv.gz`` - each happy/sad FER-2013 face with a FER+ image: its file
  name (the Kaggle image-folder copy's), class and the first 12 hex digits of the SHA-1 of
  its pixels (faces are matched to ``fer2013.csv`` rows by pixels: the copy's names are not
  in the CSV);
* ``ferplus_train.csv.gz`` - each face of ``ferplus/train``: name and pixel SHA-1 prefix;

and prints the SHA-256 of all pinned pixels in name order (``tools.get_data`` holds them).
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

SOURCES = Path(__file__).with_name("sources")


def pixels(path: Path) -> bytes:
    return np.asarray(Image.open(path).convert("L"), dtype=np.uint8).tobytes()


def main(argv: list[str] | None = None) -> int:
    data = Path((argv or sys.argv[1:])[0])
    SOURCES.mkdir(exist_ok=True)
    lines = []
    for path in sorted((data / "web").glob("*/*")):
        lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.relative_to(data / 'web').as_posix()}")
    (SOURCES / "web_photos.sha256").write_text("\n".join(lines) + "\n")

    manifest = pd.read_csv(data / "fer2013" / "manifest.csv")
    faces = manifest[manifest["pixel_source"] == "ferplus_png_exact_csv_pixels"]
    digest, rows = hashlib.sha256(), []
    for row in faces.sort_values("path", key=lambda p: p.map(lambda x: Path(x).stem)).itertuples():
        raw = pixels(data / "fer2013" / row.path)
        digest.update(raw)
        rows.append((Path(row.path).stem, row.label_fer2013, hashlib.sha1(raw).hexdigest()[:12]))
    pd.DataFrame(rows, columns=["name", "class", "pix"]).to_csv(SOURCES / "fer2013_happy_sad.csv.gz", index=False)
    print("FER2013_PIXELS_SHA256 =", digest.hexdigest(), len(rows))

    digest, rows = hashlib.sha256(), []
    for path in sorted((data / "ferplus" / "train").glob("*.png")):
        raw = pixels(path)
        digest.update(raw)
        rows.append((path.name, hashlib.sha1(raw).hexdigest()[:12]))
    pd.DataFrame(rows, columns=["image", "pix"]).to_csv(SOURCES / "ferplus_train.csv.gz", index=False)
    print("FERPLUS_PIXELS_SHA256 =", digest.hexdigest(), len(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
