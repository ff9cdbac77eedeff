"""tools.section_times: the compute time of each section of an executed notebook (the teacher's plan)."""
from __future__ import annotations

import nbformat
import pytest

from tools import section_times


def _cell(kind, source, busy=None, idle=None):
    cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
    if busy is not None:
        cell.metadata["execution"] = {"iopub.status.busy": f"2026-12-07T10:00:{busy:02d}.000000Z",
                                      "iopub.status.idle": f"2026-12-07T10:00:{idle:02d}.500000Z"}
    return cell


@pytest.fixture
def executed(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        _cell("code", "setup", 0, 2),                     # 2.5 s before any section: "top"
        _cell("markdown", "## 1. First\n\ntext"),
        _cell("code", "a", 3, 4),                         # 1.5 s
        _cell("code", "never ran"),                       # no timing: 0 s
        _cell("markdown", "## 2. Second, with a comma"),
        _cell("code", "b", 10, 20),                       # 10.5 s
        _cell("markdown", "### 2a. a sub-heading stays in section 2"),
        _cell("code", "c", 30, 31)])                      # 1.5 s
    path = tmp_path / "07_demo.ipynb"
    nbformat.write(nb, path)
    return path


def test_sums_each_sections_cells_and_the_time_up_to_its_end(executed):
    table = section_times.section_times(executed)
    assert table["section"].tolist() == [0, 1, 2]
    assert table["title"].tolist() == ["top", "First", "Second, with a comma"]
    assert table["seconds"].tolist() == pytest.approx([2.5, 1.5, 12.0])
    assert table["up_to_end"].tolist() == pytest.approx([2.5, 4.0, 16.0])


def test_cli_prints_each_section_and_refuses_a_missing_notebook_in_one_line(executed, tmp_path, capsys):
    assert section_times.main([str(executed)]) == 0
    out = capsys.readouterr().out
    assert "07_demo: 0.3 min of compute" in out and " 2. Second, with a comma" in out
    assert section_times.main([str(tmp_path / "nope.ipynb")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.ipynb: no such notebook" in err[0]
