"""tools.run_series (`make run`): the runner and its report, on tiny notebooks written by the test."""
from __future__ import annotations

import csv
import json
import os
import re

import pytest
from PIL import Image

from tools import run_series


from conftest import make_notebook as _notebook  # noqa: E402

pytestmark = pytest.mark.usefixtures("no_data_lookup")


def _timings(out):
    with open(out / "timings.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _output_text(executed_path) -> str:
    nb = json.loads(executed_path.read_text())
    return "".join("".join(o.get("text", "")) + json.dumps(o.get("data", {}))
                   for cell in nb["cells"] for o in cell.get("outputs", []))


def test_select_and_only(tmp_path):
    for name in ("01_a.ipynb", "02_b.ipynb", "10_c.ipynb", "scratch.ipynb", "3_bad.ipynb"):
        _notebook(tmp_path / name, "1")
    assert [p.name for p in run_series.select(tmp_path)] == ["01_a.ipynb", "02_b.ipynb", "10_c.ipynb"]
    assert [p.name for p in run_series.select(tmp_path, "1,10")] == ["01_a.ipynb", "10_c.ipynb"]
    assert [p.name for p in run_series.select(tmp_path, ["02"])] == ["02_b.ipynb"]
    with pytest.raises(ValueError, match="no notebook matches"):
        run_series.select(tmp_path, "07")


def test_runs_notebooks_in_order_and_writes_report(tmp_path, capsys):
    nbs, out = tmp_path / "nbs", tmp_path / "out"
    nbs.mkdir()
    # 01 writes a file into its working folder (must be the notebooks folder); 02 reads it
    _notebook(nbs / "01_first.ipynb", "from pathlib import Path\nPath('made_by_01.txt').write_text('hi')",
              "print('hello from 01')")
    _notebook(nbs / "02_second.ipynb", "print(open('made_by_01.txt').read() + ' again')")
    (nbs / "notes.ipynb").write_text("not a lesson, not run")
    out.mkdir()
    (out / "metrics.csv").write_text("model,accuracy,params\nhappy_sad,0.8123,3696625\n")
    Image.new("RGB", (4, 4)).save(out / "confusion_matrix.png")

    status, results = run_series.run(nbs, out, timeout=120)

    assert status == 0 and [r.status for r in results] == ["ok", "ok"]
    assert (nbs / "made_by_01.txt").read_text() == "hi"
    assert "hi again" in _output_text(out / "notebooks" / "02_second.ipynb")
    assert "hello from 01" in (out / "notebooks" / "01_first.html").read_text()
    rows = _timings(out)
    assert [(r["notebook"], r["status"]) for r in rows] == [("01_first.ipynb", "ok"), ("02_second.ipynb", "ok")]
    assert all(float(r["seconds"]) > 0 for r in rows)
    assert all(float(r["peak_rss_mb"]) > 10 and float(r["runner_peak_rss_mb"]) > 10 for r in rows)
    index = (out / "index.html").read_text()
    for text in ('href="notebooks/01_first.html"', 'href="notebooks/02_second.html"',
                 "TEST DATA at /nowhere", "happy_sad", "0.812", "3,696,625", "<table",
                 'src="confusion_matrix.png"', "<figcaption>Confusion matrix", "Mode:",
                 "Peak memory (MB)", f"<td>{results[0].peak_rss_mb:,.0f}</td>", "Whole run:",
                 "Peak memory of the runner"):
        assert text in index, text
    assert "learning_curves.png" not in index        # listed but absent: not shown
    printed = capsys.readouterr().out.splitlines()
    assert "[1/2] 01_first  cell 2/2  0:0" in printed[2]
    assert printed[3].startswith("[1/2] 01_first  ok in 0:0") and printed[3].endswith(" MB")
    # the last line: where the report is, and how long the whole run took
    assert re.fullmatch(rf"Report: {re.escape(str((out / 'index.html').resolve()))}  \(the whole run took 0:\d\d\)",
                        printed[-1])


def test_stops_at_first_failure_and_still_writes_index(tmp_path, capsys):
    nbs, out = tmp_path / "nbs", tmp_path / "out"
    nbs.mkdir()
    _notebook(nbs / "01_breaks.ipynb", "x = 1", "raise RuntimeError('the model file is missing')",
              "print('never')")
    _notebook(nbs / "02_after.ipynb", "open('should_not_exist.txt', 'w').write('x')")

    status, results = run_series.run(nbs, out, timeout=120)

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


def test_only_keeps_the_timings_of_notebooks_not_run(tmp_path):
    nbs, out = tmp_path / "nbs", tmp_path / "out"
    nbs.mkdir()
    _notebook(nbs / "01_a.ipynb", "1")
    _notebook(nbs / "02_b.ipynb", "2")
    out.mkdir()
    (out / "timings.csv").write_text("notebook,seconds,status\n01_a.ipynb,99.0,ok\n02_b.ipynb,5.0,ok\n")
    assert run_series.run(nbs, out, only="02", timeout=120)[0] == 0
    rows = {r["notebook"]: r for r in _timings(out)}
    assert rows["01_a.ipynb"]["seconds"] == "99.0"                 # from the earlier run
    assert rows["02_b.ipynb"]["seconds"] != "5.0"                  # measured now
    assert rows["01_a.ipynb"]["peak_rss_mb"] == "" and float(rows["02_b.ipynb"]["peak_rss_mb"]) > 0


def test_main_only_and_bad_selection(tmp_path, capsys):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "01_a.ipynb", "1")
    assert run_series.main(["--notebooks", str(nbs), "--out", str(tmp_path / "o"), "--only", "05"]) == 2
    assert "no notebook matches" in capsys.readouterr().out


# ------------------------------------------------------------- the index page a teacher opens

@pytest.mark.parametrize("value,text", [
    (3696625, "3,696,625"), (3696625.0, "3,696,625"), (0.92345, "0.923"), (1234.5678, "1,234.568"),
    (0.0003597, "0.00036"), (0.0, "0.000"), (float("nan"), ""), (None, ""), (True, "yes"),
    ("happy_sad", "happy_sad")])
def test_numbers_are_readable(value, text):
    assert run_series.number(value) == text


def test_tables_show_their_index_column_and_readable_numbers(tmp_path):
    import pandas as pd
    named = pd.DataFrame({"params": [3696625, 51000], "latency_ms": [12.3456, 0.0003597]},
                         index=pd.Index(["original_cnn", "happy_sad"], name="model"))
    named.to_csv(tmp_path / "named.csv")
    named.rename_axis(None).to_csv(tmp_path / "unnamed.csv")     # header: ",params,..."
    for name in ("named.csv", "unnamed.csv"):
        html = run_series.table_html(tmp_path / name)
        assert "Unnamed" not in html and "e+0" not in html and "e-0" not in html
        for text in ("original_cnn", "3,696,625", "51,000", "12.346", "0.00036", "latency ms"):
            assert text in html, (name, text)
    assert "<th>model</th>" in run_series.table_html(tmp_path / "named.csv")
    counts = run_series.formatted(pd.DataFrame({"epochs": [20.0, None], "accuracy": [1.0, 0.5]}))
    assert list(counts["epochs"]) == ["20", ""] and list(counts["accuracy"]) == ["1.000", "0.500"]
    (tmp_path / "bad.csv").write_bytes(b"\xff\xfe\x00not a csv")
    assert "could not read bad.csv" in run_series.table_html(tmp_path / "bad.csv")


def test_wide_tables_turn_and_scroll_instead_of_running_off_the_page(tmp_path):
    (tmp_path / "benchmark.csv").write_text("model," + ",".join(f"column_{i}" for i in range(30))
                                            + "\nhappy_sad," + ",".join(["1.5"] * 30) + "\n")
    index = run_series.write_index([], tmp_path, "fast", "data", "now").read_text()
    assert '<div class="scroll"><table' in index and "overflow-x: auto" in index
    assert "<th>happy_sad</th>" in index and "<td>column 29</td>" in index    # turned: models across


# ------------------------------------------------------------------------ a quiet console

NOISE = ["cudart_stub", "cuInit", "All log messages before absl", "without encryption",
         "cuda_platform", "cpu_feature_guard"]


def test_executed_notebooks_carry_no_cuda_or_tcp_start_up_lines(tmp_path, capfd):
    nbs, out = tmp_path / "nbs", tmp_path / "out"
    nbs.mkdir()
    # (a cell that writes to stderr first: ipykernel then forwards C-level stderr to the notebook)
    _notebook(nbs / "01_tf.ipynb", "import sys\nprint('a warning of ours', file=sys.stderr)",
              "import tensorflow as tf\nprint('tf', tf.__version__, int(tf.constant(1) + 1))")
    # ipykernel does not forward C-level stderr when it sees PYTEST_CURRENT_TEST; hide it from
    # the kernel so that it runs as under `make run`
    pytest_var = os.environ.pop("PYTEST_CURRENT_TEST", None)
    try:
        result = run_series.execute(nbs / "01_tf.ipynb", out, timeout=300)
    finally:
        if pytest_var is not None:
            os.environ["PYTEST_CURRENT_TEST"] = pytest_var
    assert result.status == "ok", result.error
    text = _output_text(out / "01_tf.ipynb")
    assert "tf 2." in text and " 2\n" in text and "a warning of ours" in text          # real output still shows
    console = "".join(capfd.readouterr())
    for line in NOISE:
        assert line not in text, f"executed notebook shows {line!r}"
        assert line not in console, f"console shows {line!r}"
    assert "without encryption" not in (out / "01_tf.log").read_text()   # IPC, not plain TCP
