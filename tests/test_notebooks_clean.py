"""Committed notebooks: no outputs, the lesson layout, the code they teach, hidden solutions.

Strip outputs with ``make clean-notebooks`` (nbstripout; also the pre-commit hook in
.pre-commit-config.yaml). The layout rules are in DEVELOPERS.md; the code each lesson must
show is issue 10's "Done when" list; the solution rules are issue 11's.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

import nbformat
import pytest

from helpers import config

NOTEBOOKS = sorted((config.ROOT / "notebooks").glob("*.ipynb"))
each_notebook = pytest.mark.parametrize(
    "path", NOTEBOOKS or [pytest.param(None, marks=pytest.mark.skip(reason="no notebooks yet"))],
    ids=[p.name for p in NOTEBOOKS] or ["none"])


def _cells(path, kind=None):
    nb = nbformat.read(str(path), as_version=4)
    return [c for c in nb.cells if kind is None or c.cell_type == kind]


def _make(target, **variables):
    """``make TARGET`` of the project's Makefile, without the install step (STAMP=), run by this Python
    (a .venv or a conda env alike: its nbstripout and jupyter)."""
    args = ["make", "-s", "-C", str(config.ROOT), target, "STAMP=", f"PY={sys.executable}"]
    args += [f"{key}={value}" for key, value in variables.items()]
    return subprocess.run(args, capture_output=True, text=True, timeout=300)


# ------------------------------------------------------------------------------ no outputs

@each_notebook
def test_valid_nbformat_v4(path):
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert raw["nbformat"] == 4
    nbformat.validate(nbformat.reads(path.read_text(encoding="utf-8"), as_version=4))


def output_problems(path) -> list[str]:
    """Outputs and execution counts left in a notebook (empty list: clean)."""
    return [f"{path.name}: cell {i} has {what}" for i, cell in enumerate(_cells(path, None))
            if cell.cell_type == "code"
            for what, bad in (("outputs", cell.outputs), ("an execution count", cell.execution_count))
            if bad]


@each_notebook
def test_committed_without_outputs(path):
    problems = output_problems(path)
    assert not problems, "run `make clean-notebooks`:\n" + "\n".join(problems)


def test_committed_notebooks_are_what_nbstripout_leaves():
    # nbstripout also drops volatile metadata (collapsed, scrolled, execution times, widgets);
    # `make check-notebooks` is `nbstripout --verify` of notebooks/*.ipynb, with the Makefile's options
    result = _make("check-notebooks")
    assert result.returncode == 0, "run `make clean-notebooks`:\n" + result.stdout + result.stderr


@each_notebook
def test_name_is_numbered(path):
    assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), path.name


# ------------------------------------------------------------------------------ layout

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


# ------------------------------------------------- hidden solutions (issue 11)

def solution_problems(path) -> list[str]:
    """What breaks the solution rules: >= 3 cells tagged "solution"; solution code cells
    collapsed (``metadata.jupyter.source_hidden``); solution prose folded in ``<details>``."""
    solutions = [(i, c) for i, c in enumerate(_cells(path)) if "solution" in c.metadata.get("tags", [])]
    problems = [] if len(solutions) >= 3 else [f"only {len(solutions)} cells tagged 'solution' (need 3)"]
    for i, cell in solutions:
        if cell.cell_type == "code" and cell.metadata.get("jupyter", {}).get("source_hidden") is not True:
            problems.append(f"cell {i}: solution code cell without metadata.jupyter.source_hidden = true")
        if cell.cell_type == "markdown" and "<details>" not in cell.source:
            problems.append(f"cell {i}: solution prose not folded in <details><summary>Solution</summary>")
    return problems


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if re.match(r"\d\d_", p.name)],
                         ids=lambda p: p.name)
def test_solutions_are_tagged_and_hidden(path):
    problems = solution_problems(path)
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


# ------------------------------------------------- the code each lesson shows (issue 10)

LESSON_CODE = {
    "02": ["Sequential(", "Conv2D(", ".summary("],
    "03": [".compile(", ".fit(", "EarlyStopping(", "ModelCheckpoint("],
    "04": [".compile(", ".fit(", "AdamW(", "SwapEMAWeights("],
    "05": [".predict("],
    "07": ["GradientTape"],
    "08": ["TFLiteConverter"],
}


def missing_code(path, needles) -> list[str]:
    """The strings of ``needles`` that no code cell of the notebook contains."""
    code = "\n".join(c.source for c in _cells(path, "code"))
    return [n for n in needles if n not in code]


@pytest.mark.parametrize("number,needles", LESSON_CODE.items(), ids=list(LESSON_CODE))
def test_lesson_shows_the_keras_code_it_teaches(number, needles):
    found = [p for p in NOTEBOOKS if p.name.startswith(f"{number}_")]
    assert len(found) == 1, f"expected one notebook {number}_*.ipynb, found {found}"
    missing = missing_code(found[0], needles)
    assert not missing, f"{found[0].name}: no code cell contains {missing}"


def test_helpers_defines_no_network():
    """(How big helpers/ may grow is ruff's job: C901 caps each function's complexity, make lint.)"""
    files = sorted((config.ROOT / "helpers").glob("*.py"))
    networks = [p.name for p in files if re.search(r"\b(Conv2D|Sequential)\(", p.read_text(encoding="utf-8"))]
    assert not networks, f"architectures belong in notebook 02, not in helpers/: {networks}"


# ------------------------------------------------- the checks above can fail

def _lesson(path, opening="## What you will learn\n...\n## What you need\n...\n"
                          "## How long it takes\nfast: 1 min, full: 10 min",
            setup='from helpers import notebook\nnotebook.setup("01 demo")',
            exercises="## Exercises\n1. ...", solutions="## Solutions", extra=()):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(opening), nbformat.v4.new_code_cell(setup),
                nbformat.v4.new_markdown_cell(exercises), nbformat.v4.new_markdown_cell(solutions),
                nbformat.v4.new_code_cell("x = 1"), *extra]
    nbformat.write(nb, str(path))
    return path


def _solution(kind, source, hidden=True):
    if kind == "code":
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata = {"tags": ["solution"], **({"jupyter": {"source_hidden": True}} if hidden else {})}
    else:
        cell = nbformat.v4.new_markdown_cell(source)
        cell.metadata = {"tags": ["solution"]}
    return cell


GOOD_SOLUTIONS = (_solution("code", "y = 2"), _solution("code", "z = 3"),
                  _solution("markdown", "<details><summary>Solution</summary>\n\nBecause.\n\n</details>"))
LAYOUT_CHECKS = [test_valid_nbformat_v4, test_committed_without_outputs, test_name_is_numbered,
                 test_opens_with_a_markdown_box, test_has_setup_cell, test_has_exercises_then_solutions,
                 test_solutions_are_tagged_and_hidden]


@pytest.mark.parametrize("change", [{}, {"exercises": "## Exercises\n1. ...\n\n## Solutions",
                                        "solutions": "**1.** Because."}])
def test_layout_checks_pass_on_a_good_lesson(tmp_path, change):
    path = _lesson(tmp_path / "01_demo.ipynb", extra=GOOD_SOLUTIONS, **change)
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
    path = _lesson(tmp_path / "01_demo.ipynb", extra=GOOD_SOLUTIONS, **change)
    with pytest.raises(AssertionError):
        check(path)


@pytest.mark.parametrize("solutions,problem", [
    (GOOD_SOLUTIONS[:2], "only 2 cells"),
    ((*GOOD_SOLUTIONS, _solution("code", "w = 4", hidden=False)), "source_hidden"),
    ((*GOOD_SOLUTIONS, _solution("markdown", "**Solution.** Because.")), "<details>"),
])
def test_solution_check_can_fail(tmp_path, solutions, problem):
    path = _lesson(tmp_path / "01_demo.ipynb", extra=solutions)
    assert any(problem in p for p in solution_problems(path)), solution_problems(path)


def test_code_and_output_checks_can_fail(tmp_path):
    path = _lesson(tmp_path / "02_demo.ipynb", setup="model = keras.Sequential([layers.Conv2D(8, 3)])")
    assert missing_code(path, LESSON_CODE["02"]) == [".summary("]
    nb = nbformat.read(str(path), as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    nb.cells[1].execution_count = 3
    nbformat.write(nb, str(path))
    assert len(output_problems(path)) == 2
    with pytest.raises(AssertionError, match="make clean-notebooks"):
        test_committed_without_outputs(path)
    with pytest.raises(AssertionError):
        test_name_is_numbered(tmp_path / "Lesson One.ipynb")


# ------------------------------------------------- make clean-notebooks, make student

def _dirty_lesson(folder):
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"state": {}}
    code = nbformat.v4.new_code_cell("print('hi')", execution_count=3)
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    code.metadata = {"tags": ["nbval-ignore-output"], "execution": {"iopub.status.busy": "x"}, "scrolled": True}
    nb.cells = [nbformat.v4.new_markdown_cell("# 01 demo\n## Exercises\n1. Say hi."), code,
                _solution("markdown", "<details><summary>Solution</summary>\n\nHi.\n\n</details>"),
                _solution("code", "answer = 42")]
    nb.cells[-1].metadata["collapsed"] = True
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / "01_demo.ipynb"))
    return folder / "01_demo.ipynb", [cell.id for cell in nb.cells]


def test_make_clean_notebooks_strips_outputs_and_keeps_tags_hidden_sources_and_ids(tmp_path):
    path, ids = _dirty_lesson(tmp_path / "nbs")
    assert output_problems(path)
    result = _make("clean-notebooks", NOTEBOOKS=tmp_path / "nbs")
    assert result.returncode == 0, result.stdout + result.stderr
    assert output_problems(path) == []
    raw = json.loads(path.read_text())
    assert [c["id"] for c in raw["cells"]] == ids
    assert "widgets" not in raw["metadata"]
    md, code, prose, hidden = raw["cells"]
    assert code["metadata"] == {"tags": ["nbval-ignore-output"]}
    assert hidden["metadata"] == {"jupyter": {"source_hidden": True}, "tags": ["solution"]}
    assert prose["metadata"] == {"tags": ["solution"]} and "".join(code["source"]) == "print('hi')"
    # (make check-notebooks, the same nbstripout with --verify, runs on notebooks/ above)


def test_make_student_writes_copies_without_solution_cells(tmp_path):
    path, _ = _dirty_lesson(tmp_path / "nbs")
    _lesson(tmp_path / "nbs" / "02_more.ipynb", extra=GOOD_SOLUTIONS)
    (tmp_path / "nbs" / "scratch.ipynb").write_text(path.read_text())      # not a lesson: no copy
    result = _make("student", NOTEBOOKS=tmp_path / "nbs", STUDENT_DIR=tmp_path / "student")
    assert result.returncode == 0, result.stdout + result.stderr
    copies = sorted((tmp_path / "student").glob("*.ipynb"))
    assert [p.name for p in copies] == ["01_demo.ipynb", "02_more.ipynb"]
    for copy in copies:
        original = _cells(tmp_path / "nbs" / copy.name)
        left = _cells(copy)
        assert not [c for c in left if "solution" in c.metadata.get("tags", [])]
        assert [c.source for c in left] == [c.source for c in original
                                            if "solution" not in c.metadata.get("tags", [])]
    assert "Say hi" in copies[0].read_text() and "answer = 42" not in copies[0].read_text()


# ------------------------------------------------- make's Python check

def test_make_stops_on_an_unsupported_python_in_one_line_before_installing(tmp_path):
    # A stand-in "Python 3.9": the real interpreter, told it is 3.9, runs the Makefile's check.
    fake = tmp_path / "python3.9"
    fake.write_text(f"#!/bin/sh\nexec {sys.executable} -c 'import sys; sys.version_info = (3, 9, 1); "
                    "exec(sys.argv[1])' \"$2\"\n")
    fake.chmod(0o755)
    venv = tmp_path / "venv"
    result = subprocess.run(["make", "-s", "-C", str(config.ROOT), f"VENV={venv}", f"PYTHON={fake}",
                             f"{venv}/.installed"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and not venv.exists()
    ours = [line for line in result.stderr.splitlines() if not line.startswith("make")]
    assert ours == [f"{sys.executable} is Python 3.9; this project needs Python 3.11-3.13: install one, "
                    "then run make PYTHON=python3.11 (and delete .venv if it exists)."]


# ------------------------------------------------- the one decision rule (issue 31)

COMPARES_TO_A_THRESHOLD = re.compile(r"(>=|>)\s*(0\.5\b|threshold\b|thresholds\[|t_48\b|predictor\.threshold)")
TEACHES_THE_RULE = "y_pred = (p_sad >= 0.5).astype(int)"     # lesson 05 shows the rule once, then asserts decide()


def test_every_answer_goes_through_the_one_decision_rule():
    """A probability is compared with a threshold in model_files.decide only (lesson 05 shows it once)."""
    found = []
    for path in NOTEBOOKS:
        for cell in _cells(path, "code"):
            found += [f"{path.name}: {line.strip()}" for line in cell.source.splitlines()
                      if COMPARES_TO_A_THRESHOLD.search(line) and TEACHES_THE_RULE not in line]
    for path in sorted((config.ROOT / "helpers").glob("*.py")):
        if path.name != "model_files.py":
            found += [f"{path.name}: {line.strip()}" for line in path.read_text().splitlines()
                      if COMPARES_TO_A_THRESHOLD.search(line) and not line.strip().startswith(("#", '"', "``"))]
    assert not found, "use model_files.decide(p, threshold):\n" + "\n".join(found)
