"""helpers.report: the `make run` runner, on tiny notebooks written by the test."""
from __future__ import annotations

import csv
import json

import nbformat
import pytest
from PIL import Image

from helpers import report


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {path.stem}")]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, str(path))
    return path


@pytest.fixture(autouse=True)
def _no_data_lookup(monkeypatch):
    # the real lookup may generate the synthetic demo under data/; not needed here
    monkeypatch.setattr(report, "_data_source", lambda: "TEST DATA at /nowhere")


def _timings(out):
    with open(out / "timings.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_select_and_only(tmp_path):
    for name in ("01_a.ipynb", "02_b.ipynb", "10_c.ipynb", "scratch.ipynb", "3_bad.ipynb"):
        _notebook(tmp_path / name, "1")
    assert [p.name for p in report.select(tmp_path)] == ["01_a.ipynb", "02_b.ipynb", "10_c.ipynb"]
    assert [p.name for p in report.select(tmp_path, "1,10")] == ["01_a.ipynb", "10_c.ipynb"]
    assert [p.name for p in report.select(tmp_path, ["02"])] == ["02_b.ipynb"]
    with pytest.raises(ValueError, match="no notebook matches"):
        report.select(tmp_path, "07")


def test_runs_notebooks_in_order_and_writes_report(tmp_path, monkeypatch):
    nbs, out = tmp_path / "nbs", tmp_path / "out"
    nbs.mkdir()
    # 01 writes a file into its working folder (must be the notebooks folder); 02 reads it
    _notebook(nbs / "01_first.ipynb", "from pathlib import Path\nPath('made_by_01.txt').write_text('hi')",
              "print('hello from 01')")
    _notebook(nbs / "02_second.ipynb", "print(open('made_by_01.txt').read() + ' again')")
    (nbs / "notes.ipynb").write_text("not a lesson, not run")
    out.mkdir()
    (out / "metrics.csv").write_text("model,accuracy\nseed_cnn,0.8123\n")
    Image.new("RGB", (4, 4)).save(out / "confusion_matrix.png")

    status, results = report.run(nbs, out, timeout=120)

    assert status == 0 and [r.status for r in results] == ["ok", "ok"]
    assert (nbs / "made_by_01.txt").read_text() == "hi"
    executed = json.loads((out / "notebooks" / "02_second.ipynb").read_text())
    assert "hi again" in "".join(executed["cells"][1]["outputs"][0]["text"])
    assert "hello from 01" in (out / "notebooks" / "01_first.html").read_text()
    rows = _timings(out)
    assert [(r["notebook"], r["status"]) for r in rows] == [("01_first.ipynb", "ok"), ("02_second.ipynb", "ok")]
    assert all(float(r["seconds"]) > 0 for r in rows)
    index = (out / "index.html").read_text()
    for text in ('href="notebooks/01_first.html"', 'href="notebooks/02_second.html"',
                 "TEST DATA at /nowhere", "seed_cnn", "0.8123", "<table",
                 'src="confusion_matrix.png"', "Mode:"):
        assert text in index, text
    assert "learning_curves.png" not in index        # listed but absent: not shown


def test_stops_at_first_failure_and_still_writes_index(tmp_path, capsys):
    nbs, out = tmp_path / "nbs", tmp_path / "out"
    nbs.mkdir()
    _notebook(nbs / "01_breaks.ipynb", "x = 1", "raise RuntimeError('the model file is missing')",
              "print('never')")
    _notebook(nbs / "02_after.ipynb", "open('should_not_exist.txt', 'w').write('x')")

    status, results = report.run(nbs, out, timeout=120)

    assert status == 1
    assert [r.status for r in results] == ["failed", "not run"]
    assert "RuntimeError: the model file is missing" in results[0].error
    assert not (nbs / "should_not_exist.txt").exists()
    printed = capsys.readouterr().out
    assert "01_breaks.ipynb FAILED" in printed and "the model file is missing" in printed
    assert str(out / "index.html") in printed
    assert (out / "notebooks" / "01_breaks.html").exists()        # partial run, for the traceback
    assert [r["status"] for r in _timings(out)] == ["failed", "not run"]
    index = (out / "index.html").read_text()
    assert "01_breaks.ipynb FAILED" in index and "not run" in index
    assert "No key results yet" in index


def test_main_only_and_bad_selection(tmp_path, capsys):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "01_a.ipynb", "1")
    assert report.main(["--notebooks", str(nbs), "--out", str(tmp_path / "o"), "--only", "05"]) == 2
    assert "no notebook matches" in capsys.readouterr().out
