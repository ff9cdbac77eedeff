"""Committed notebooks carry no outputs, have plain metadata and follow the lesson layout.

Fix a failure with ``python -m helpers strip-notebooks notebooks`` (or ``make clean-notebooks``);
the layout checks (opening box, setup cell, exercises + solutions) are in DEVELOPERS.md.
"""
from __future__ import annotations

import json
import re

import nbformat
import pytest

from helpers import config, nbtools

NOTEBOOKS = sorted((config.ROOT / "notebooks").glob("*.ipynb"))
each_notebook = pytest.mark.parametrize(
    "path", NOTEBOOKS or [pytest.param(None, marks=pytest.mark.skip(reason="no notebooks yet"))],
    ids=[p.name for p in NOTEBOOKS] or ["none"])


def _cells(path, kind=None):
    nb = nbformat.read(str(path), as_version=4)
    return [c for c in nb.cells if kind is None or c.cell_type == kind]


@each_notebook
def test_valid_nbformat_v4(path):
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert raw["nbformat"] == 4
    nbformat.validate(nbformat.reads(path.read_text(encoding="utf-8"), as_version=4))


@each_notebook
def test_committed_clean(path):
    problems = nbtools.check(path)
    assert not problems, ("run `python -m helpers strip-notebooks notebooks`:\n"
                          + "\n".join(problems))


@each_notebook
def test_name_is_numbered(path):
    assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), path.name


@each_notebook
def test_opens_with_a_markdown_box(path):
    first = _cells(path)[0]
    assert first.cell_type == "markdown", "the first cell must be the markdown opening box"
    text = first.source.lower()
    assert "learn" in text, "opening box: say what you will learn"
    assert "need" in text, "opening box: say what you need"
    assert re.search(r"\b(min|minutes?|hours?|time|takes)\b", text), \
        "opening box: say how long it takes"


@each_notebook
def test_has_setup_cell(path):
    assert any("notebook.setup(" in c.source for c in _cells(path, "code")), \
        'needs a code cell with `from helpers import notebook; notebook.setup("NN title")`'


@each_notebook
def test_has_exercises_then_solutions(path):
    cells = _cells(path)

    def headed(word):
        pattern = re.compile(rf"^#+\s.*\b{word}\b", re.IGNORECASE | re.MULTILINE)
        # (cell index, offset in the cell): both headings may sit in one markdown cell
        return [(i, m.start()) for i, c in enumerate(cells) if c.cell_type == "markdown"
                for m in pattern.finditer(c.source)]

    exercises, solutions = headed("exercises"), headed("solutions")
    assert exercises, "needs a markdown heading 'Exercises'"
    assert solutions, "needs a markdown heading 'Solutions'"
    assert min(solutions) > min(exercises), "'Solutions' must come after 'Exercises'"
    assert any(c.cell_type == "code" for c in cells[min(solutions)[0]:]), \
        "the Solutions section needs code cells (nbval runs them)"


# ---------------------------------------------------------------- nbtools itself

def _dirty_notebook(path):
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "myenv", "display_name": "My Env", "language": "python"},
                   "language_info": {"name": "python", "version": "3.11.7"},
                   "widgets": {"state": {}}}
    code = nbformat.v4.new_code_cell("print('hi')\n1 + 1", execution_count=3)
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n"),
                    nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=3)]
    code.metadata = {"tags": ["nbval-ignore-output"], "execution": {"iopub.status.busy": "x"},
                     "scrolled": True}
    hidden = nbformat.v4.new_code_cell("answer = 42", execution_count=4)
    hidden.metadata = {"jupyter": {"source_hidden": True}, "collapsed": True}
    md = nbformat.v4.new_markdown_cell("# Title")
    md.metadata = {"tags": []}
    nb.cells = [md, code, hidden]
    nbformat.write(nb, str(path))
    return path


def test_strip_removes_outputs_and_normalises(tmp_path):
    path = _dirty_notebook(tmp_path / "01_dirty.ipynb")
    assert len(nbtools.check(path)) >= 5
    assert nbtools.strip(path) is True
    assert nbtools.check(path) == []
    raw = json.loads(path.read_text())
    assert raw["metadata"] == {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                              "language": "python"},
                               "language_info": {"name": "python"}}
    md, code, hidden = raw["cells"]
    assert code["outputs"] == [] and code["execution_count"] is None
    assert code["metadata"] == {"tags": ["nbval-ignore-output"]}
    assert hidden["metadata"] == {"jupyter": {"source_hidden": True}}
    assert md["metadata"] == {}
    assert [cell["id"] for cell in raw["cells"]] == ["cell-000", "cell-001", "cell-002"]
    assert "".join(code["source"]) == "print('hi')\n1 + 1"      # sources untouched
    nbformat.validate(nbformat.read(str(path), as_version=4))
    assert nbtools.strip(path) is False                         # idempotent


def test_cli_check_and_strip(tmp_path, capsys):
    path = _dirty_notebook(tmp_path / "01_dirty.ipynb")
    assert nbtools.main(["--check", str(tmp_path)]) == 1
    assert "has outputs" in capsys.readouterr().out
    assert nbtools.main([str(tmp_path)]) == 0
    assert nbtools.main(["--check", str(path)]) == 0
    assert nbtools.main([str(tmp_path / "missing.ipynb")]) == 2


def test_check_reports_invalid_files(tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    assert "not readable JSON" in nbtools.check(bad)[0]
    v3 = tmp_path / "old.ipynb"
    v3.write_text(json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": []}))
    assert "expected 4" in nbtools.check(v3)[0]


LAYOUT_CHECKS = [test_valid_nbformat_v4, test_committed_clean, test_name_is_numbered,
                 test_opens_with_a_markdown_box, test_has_setup_cell, test_has_exercises_then_solutions]


def _lesson(path, opening="## What you will learn\n...\n## What you need\n...\n"
                          "## How long it takes\nfast: 1 min, full: 10 min",
            setup='from helpers import notebook\nnotebook.setup("01 demo")',
            exercises="## Exercises\n1. ...", solutions="## Solutions"):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(opening), nbformat.v4.new_code_cell(setup),
                nbformat.v4.new_markdown_cell(exercises), nbformat.v4.new_markdown_cell(solutions),
                nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nb, str(path))
    nbtools.strip(path)
    return path


@pytest.mark.parametrize("change", [{}, {"exercises": "## Exercises\n1. ...\n\n## Solutions",
                                        "solutions": "**1.** Because."}])
def test_layout_checks_pass_on_a_good_lesson(tmp_path, change):
    path = _lesson(tmp_path / "01_demo.ipynb", **change)
    for check in LAYOUT_CHECKS:
        check(path)


@pytest.mark.parametrize("change,check", [
    ({"opening": "# Just a title"}, test_opens_with_a_markdown_box),
    ({"setup": "import helpers"}, test_has_setup_cell),
    ({"exercises": "## Things to try"}, test_has_exercises_then_solutions),
    ({"solutions": "## Answers"}, test_has_exercises_then_solutions),
    ({"exercises": "## Solutions", "solutions": "## Exercises"}, test_has_exercises_then_solutions),
    ({"exercises": "## Solutions\n\n## Exercises\n1. ...", "solutions": "More"},
     test_has_exercises_then_solutions),
])
def test_layout_checks_can_fail(tmp_path, change, check):
    path = _lesson(tmp_path / "01_demo.ipynb", **change)
    with pytest.raises(AssertionError):
        check(path)


def test_clean_check_can_fail(tmp_path):
    path = _dirty_notebook(tmp_path / "01_dirty.ipynb")
    with pytest.raises(AssertionError, match="strip-notebooks"):
        test_committed_clean(path)
    with pytest.raises(AssertionError):
        test_name_is_numbered(tmp_path / "Lesson One.ipynb")
