"""tools.lesson_code (make lesson-code): helpers/lessons.py is the lessons' #@save cells, copied, never edited."""
from __future__ import annotations

import nbformat
import pytest

from tools import lesson_code


def test_helpers_lessons_is_the_notebooks_saved_cells():
    assert lesson_code.main(["--check"]) == 0, "run make lesson-code"
    names = [source.split("def ", 1)[1].split("(")[0] for _, _, source in lesson_code.saved_cells()]
    assert names == ["make_dataset", "make_callbacks", "untrained",           # lesson 03, for lesson 04
                     "grad_cam_layer", "sub_model", "grad_cam", "tflite_proba"]   # lessons 07 and 08, in order


def _notebook(folder, *cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    folder.mkdir(exist_ok=True)
    nbformat.write(nb, str(folder / "01_demo.ipynb"))
    return folder


def test_a_changed_lesson_makes_the_check_fail(tmp_path, monkeypatch, capsys):
    folder = _notebook(tmp_path / "nbs", "#@save\ndef twice(x):\n    return 2 * x", "print(twice(2))")
    monkeypatch.setattr(lesson_code, "NOTEBOOKS", folder)
    monkeypatch.setattr(lesson_code, "TARGET", tmp_path / "lessons.py")
    monkeypatch.setattr(lesson_code, "ROOT", tmp_path)
    assert lesson_code.main([]) == 0 and lesson_code.main(["--check"]) == 0
    text = (tmp_path / "lessons.py").read_text()
    assert "# ---- 01_demo, cell" in text and "def twice(x):\n    return 2 * x" in text and "print(" not in text
    _notebook(folder, "#@save\ndef twice(x):\n    return x + x")
    assert lesson_code.main(["--check"]) == 1 and "run make lesson-code" in capsys.readouterr().err


def test_a_saved_cell_that_runs_code_is_refused(tmp_path):
    folder = _notebook(tmp_path / "nbs", "#@save\ndef f():\n    pass\n\nf()")
    with pytest.raises(lesson_code.SavedCellError, match="only imports, functions"):
        lesson_code.saved_cells(folder)
