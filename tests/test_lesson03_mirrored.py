"""Lesson 03's training cells run unchanged under MirroredStrategy (here on the CPU).

The lesson builds and compiles inside ``strategy.scope()``; on a machine with several GPUs
that strategy is MirroredStrategy. This test executes the notebook itself in fast mode with
``HAPPYSAD_MIRRORED=1``, which makes the lesson pick MirroredStrategy on the CPU.
"""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from helpers import config, models

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _execute(name: str) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return nb


def _text(nb) -> str:
    return "\n".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                     for out in cell.get("outputs", []))


def test_lesson_03_trains_under_mirrored_strategy(monkeypatch):
    monkeypatch.setenv("HAPPYSAD_FAST", "1")
    # Inputs of lesson 03: the split (lesson 01) and the untrained networks (lesson 02).
    if not (config.prepared_dir() / "splits.csv").exists():
        _execute("01_collect_and_clean.ipynb")
    if not (config.untrained_dir() / config.OUR_MODEL).exists():
        _execute("02_build_the_network.ipynb")
    monkeypatch.setenv("HAPPYSAD_MIRRORED", "1")
    saved = config.models_dir() / config.OUR_MODEL
    saved.unlink(missing_ok=True)
    nb = _execute("03_train.ipynb")
    assert "MirroredStrategy | replicas: 1" in _text(nb)
    facts = models.read_facts(saved)       # written by the lesson's own training cell
    assert facts["epochs_run"] >= 1 and facts["class_names"] == sorted(facts["class_names"])
