"""Shared fixtures. Test images are generated here; no dataset image is committed."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def real_data_dir() -> Path | None:
    """``$HAPPYSAD_DATA`` when it holds the real data (CI points it at ../shared/data)."""
    value = os.environ.get("HAPPYSAD_DATA")
    if value and (Path(value) / "fer2013" / "train").is_dir():
        return Path(value)
    return None


@pytest.fixture
def real_data() -> Path:
    root = real_data_dir()
    if root is None:
        pytest.skip("real data not found: set HAPPYSAD_DATA to a folder with fer2013/ (CI: ../shared/data)")
    return root


def face(label: int, rng: np.random.Generator, size: int = 48) -> np.ndarray:
    """A crude 48x48 grayscale 'face' for tests: a bright bar, horizontal for label 1,
    vertical for label 0, at a random place, on noise. A local pattern, as a mouth is:
    a translation-invariant network (global pooling) can learn it; its position can't."""
    img = rng.normal(110, 25, (size, size)).clip(0, 255)
    r, c = rng.integers(8, size - 20, 2)
    if label:
        img[r:r + 5, c:c + 14] = 240
    else:
        img[r:r + 14, c:c + 5] = 240
    return img.astype(np.uint8)


def make_fer_tree(root: Path, n_train: int = 40, n_test: int = 12, seed: int = 0) -> Path:
    """A tiny FER-2013-like tree: root/fer2013/{train,test}/{happy,sad}/*.png, 48x48 gray."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        for label, name in enumerate(["happy", "sad"]):
            folder = root / "fer2013" / split / name
            folder.mkdir(parents=True)
            for i in range(n):
                Image.fromarray(face(label, rng)).save(folder / f"{split}_{name}_{i:03d}.png")
    return root


@pytest.fixture
def fer_tree(tmp_path: Path) -> Path:
    return make_fer_tree(tmp_path / "data")


def make_notebook(path: Path, *sources: str) -> Path:
    """A notebook file with a title cell and one code cell per source (for tools.run_series)."""
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {path.stem}")]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def no_data_lookup(monkeypatch):
    """run_series' report names the data; the real lookup may generate the synthetic demo."""
    from tools import run_series
    monkeypatch.setattr(run_series, "_data_source", lambda: "TEST DATA at /nowhere")


@pytest.fixture
def server(tmp_path):
    """A local HTTP server on 127.0.0.1 serving tmp_path/www; counts GET requests."""
    import functools
    import http.server
    import threading

    root = tmp_path / "www"
    root.mkdir()
    hits: list[str] = []

    class Counting(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def do_GET(self):
            hits.append(self.path)
            super().do_GET()

    handler = functools.partial(Counting, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"root": root, "url": f"http://127.0.0.1:{httpd.server_address[1]}", "hits": hits}
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
