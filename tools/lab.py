"""``make lab``: JupyterLab on the lessons, in this project's environment, to follow them cell by cell.

``python -m tools.lab [JUPYTERLAB OPTIONS]`` starts ``jupyter lab`` with this Python, in ``notebooks/``,
with the project's Jupyter settings in front (``tools/jupyter/``, see its README): the kernel keeps the
C++ libraries' start-up lines (TensorFlow's absl, oneDNN, CUDA probing) on the terminal instead of in
the notebook, as ``make run`` does, and JupyterLab does not ask about its news feed or check for
updates. ``HAPPYSAD_DATA`` is passed on as ``make run`` uses it; a relative path is made absolute
first (the kernels run in ``notebooks/``). Options given here come last, so they win
(e.g. ``--no-browser --port 8899``).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ROOT / "tools" / "jupyter"

# Server options: no news feed, no update check (the front-end settings are in SETTINGS/config/labconfig).
OPTIONS = ["--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]


def _first(path: Path, current: str | None) -> str:
    return os.pathsep.join([str(path), *([current] if current else [])])


def environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment: the project's kernel and settings first, HAPPYSAD_DATA absolute."""
    env = dict(os.environ if base is None else base)
    env["JUPYTER_PATH"] = _first(SETTINGS, env.get("JUPYTER_PATH"))
    env["JUPYTER_CONFIG_PATH"] = _first(SETTINGS / "config", env.get("JUPYTER_CONFIG_PATH"))
    if env.get("HAPPYSAD_DATA", "").strip():
        env["HAPPYSAD_DATA"] = str(Path(env["HAPPYSAD_DATA"].strip()).expanduser().resolve())
    return env


def command(extra: list[str] | None = None, notebooks: Path | None = None) -> list[str]:
    """``jupyter lab`` with this Python, serving ``notebooks`` (default: the lessons' folder)."""
    root = Path(notebooks) if notebooks else ROOT / "notebooks"
    return [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={root}", *OPTIONS, *(extra or [])]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    print("JupyterLab on notebooks/: open 01_collect_and_clean.ipynb and run it cell by cell "
          "(Shift+Enter). Stop with Ctrl+C twice.", flush=True)
    server = subprocess.Popen(command(argv), env=environment())
    while True:
        try:
            return server.wait()
        except KeyboardInterrupt:   # Ctrl+C reaches the server too: it asks, and stops on a second one
            continue


if __name__ == "__main__":
    raise SystemExit(main())
