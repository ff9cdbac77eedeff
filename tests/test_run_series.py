"""tools.run_series (`make run`) while it runs: kernel lifetimes, terminal progress, peak memory.

The report it writes is tested in test_report.py. Kernels start slowly: only the first two tests
start any (two each); the rest feed the progress display by hand with a fake clock.
"""
from __future__ import annotations

import io
import re
import time

import psutil
import pytest

from tools import run_series


from conftest import make_notebook as _notebook  # noqa: E402

pytestmark = pytest.mark.usefixtures("no_data_lookup")


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _gone_soon(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _alive(pid)


def _kernel_pid(executed_notebook) -> int:
    text = executed_notebook.read_text()
    return int(re.search(r"kernel pid (\d+)", text)[1])


# A cell run by the second notebook's kernel: is the first notebook's kernel still there?
FIRST_KERNEL_ALIVE = """\
import psutil
first = int(open('first_kernel.pid').read())
try:
    alive = psutil.Process(first).status() != psutil.STATUS_ZOMBIE
except psutil.NoSuchProcess:
    alive = False
print('first kernel alive while the second runs:', alive)
"""


def test_no_kernel_outlives_its_notebook(tmp_path):
    nbs, out = tmp_path / "nbs", tmp_path / "out"
    nbs.mkdir()
    _notebook(nbs / "01_first.ipynb",
              "import os\nopen('first_kernel.pid', 'w').write(str(os.getpid()))",
              "print('kernel pid', os.getpid())")
    _notebook(nbs / "02_fails.ipynb", FIRST_KERNEL_ALIVE,
              "import os\nprint('kernel pid', os.getpid())", "raise RuntimeError('broken on purpose')")

    status, results = run_series.run(nbs, out, timeout=120)

    assert status == 1 and [r.status for r in results] == ["ok", "failed"]
    first, second = (_kernel_pid(out / "notebooks" / r.notebook) for r in results)
    assert first != second
    second_notebook = (out / "notebooks" / "02_fails.ipynb").read_text()
    seen = re.search(r"first kernel alive while the second runs: (\w+)", second_notebook)
    assert seen[1] == "False", "the first notebook's kernel was still running while the second ran"
    assert not _alive(first), "the finished notebook's kernel is still running"
    # the failed notebook's kernel is shut down too (a moment's grace for the process to be reaped)
    assert _gone_soon(second), "the failed notebook's kernel is still running"


def test_execute_shows_cells_and_measures_kernel_memory(tmp_path):
    nbs, out = tmp_path / "nbs", tmp_path / "out"
    nbs.mkdir()
    # 80 MB held by the kernel: its peak must show it; the Keras-like lines drive the epoch display
    _notebook(nbs / "01_mem.ipynb",
              "ballast = bytearray(80_000_000)\nballast[::4096] = b'x' * len(ballast[::4096])",  # every page
              "", "for k in (1, 2, 3):\n    print(f'Epoch {k}/3')\n    print('4/4 - 0s - loss: 0.5')",
              "del ballast")
    shown = io.StringIO()
    progress = run_series.Progress("[1/1] 01_mem", 3, out=shown)

    result = run_series.execute(nbs / "01_mem.ipynb", out, timeout=120, progress=progress)

    assert result.status == "ok", result.error
    assert result.peak_rss_mb is not None and result.peak_rss_mb > 80 + 20    # the bytes + a Python kernel
    lines = shown.getvalue().splitlines()
    cells = [line for line in lines if "cell" in line]
    assert [re.search(r"cell \d+/\d+", line)[0] for line in cells] == ["cell 1/3", "cell 2/3", "cell 3/3"]
    assert all(line.startswith("[1/1] 01_mem  cell ") and "elapsed" in line for line in cells)
    assert [line.split()[1] for line in lines if line.startswith("    epoch")] == ["1/3", "2/3", "3/3"]
    assert "\r" not in shown.getvalue()                             # not a terminal: a line per event


# ------------------------------------------------------ the progress display, by hand

class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_epoch_lines_become_speed_and_time_left():
    clock, shown = Clock(), io.StringIO()
    progress = run_series.Progress("[3/8] 03_train", 19, out=shown, clock=clock)
    clock.now += 151
    for _ in range(14):
        progress.cell_started()
    progress.stream("Epoch 1/60\n")
    clock.now += 30                                    # the first epoch also builds the graph
    progress.stream("12/12 - 30s - 2s/step - accuracy: 0.5 - loss: 0.7\nEpo")       # split mid-line
    progress.stream("ch 2/60\n")
    clock.now += 20
    progress.stream("12/12 - 20s - 2s/step - accuracy: 0.6\nEpoch 3/60\n")
    clock.now += 22
    progress.stream("\r 1/12 ━━━━ 0s\r12/12 ━━━━ 22s\nEpoch 4/60\n")       # verbose=1's bars
    lines = shown.getvalue().splitlines()
    assert lines[-5] == "[3/8] 03_train  cell 14/19  2:31 elapsed"
    assert lines[-4] == "    epoch 1/60"
    assert lines[-3] == "    epoch 2/60  30 s/epoch  ~30 min left at most (early stopping may end sooner)"
    assert lines[-2] == "    epoch 3/60  25 s/epoch  ~24 min left at most (early stopping may end sooner)"
    assert lines[-1] == "    epoch 4/60  24 s/epoch  ~23 min left at most (early stopping may end sooner)"
    # a second fit starts over; a fit of one epoch prints no "Epoch" line and shows nothing
    progress.stream("Epoch 1/2\n")
    clock.now += 4
    progress.stream("Epoch 2/2\n")
    assert shown.getvalue().splitlines()[-1] == ("    epoch 2/2  4.0 s/epoch  ~4 s left at most "
                                                 "(early stopping may end sooner)")


@pytest.mark.parametrize("seconds,approx,clock", [
    (0, "~0 s", "0:00"), (4.2, "~4 s", "0:04"), (89, "~89 s", "1:29"), (1380, "~23 min", "23:00"),
    (5399, "~90 min", "1:29:59"), (5400, "~1 h 30 min", "1:30:00"),
    (7 * 3600 + 59, "~7 h 01 min", "7:00:59")])
def test_durations(seconds, approx, clock):
    assert run_series.about(seconds) == approx
    assert run_series.clock(seconds) == clock


def test_time_left_is_the_remaining_epochs_at_recent_speed():
    assert run_series.time_left(per_epoch=21, epoch=3, epochs=60) == 21 * 58    # epoch 3 itself still to run
    assert run_series.time_left(per_epoch=21, epoch=60, epochs=60) == 21
    assert run_series.seconds_per_epoch([30]) == 30
    assert run_series.seconds_per_epoch([30, 20, 22, 24]) == pytest.approx(22)  # the last three


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_one_line_is_redrawn_in_place():
    clock, shown = Clock(), Terminal()
    progress = run_series.Progress("[1/2] 01_a", 2, out=shown, clock=clock)
    progress.cell_started()
    progress.stream("Epoch 1/3\n")
    clock.now += 5
    progress.stream("Epoch 2/3\n")
    progress.redraw()
    progress.finish("[1/2] 01_a  ok in 5.0 s")
    text = shown.getvalue()
    assert text.count("\n") == 1 and text.endswith("[1/2] 01_a  ok in 5.0 s\n")
    assert "\r\033[K[1/2] 01_a  cell 1/2  0:05 elapsed  epoch 2/3  5.0 s/epoch  ~10 s left" in text


def test_runner_peak_memory_is_in_megabytes():
    peak = run_series.runner_peak_mb()
    assert peak is not None and 0.5 * psutil.Process().memory_info().rss / 1e6 < peak < 100_000


def test_the_last_line_says_when_the_run_used_the_synthetic_demo(tmp_path):
    real = run_series.closing_line(tmp_path / "index.html", 75, "real data: /data")
    demo = run_series.closing_line(tmp_path / "index.html", 75, "SYNTHETIC demo (drawn faces): /data/synthetic")
    assert real == f"Report: {(tmp_path / 'index.html').resolve()}  (the whole run took 1:15)"
    assert "SYNTHETIC" not in real
    assert demo.startswith(real) and "ON THE SYNTHETIC DEMO" in demo and "make data" in demo


def test_timings_keep_earlier_rows_but_one_row_per_lesson_number(tmp_path):
    path = tmp_path / "timings.csv"
    path.write_text("notebook,seconds,status,peak_rss_mb,runner_peak_rss_mb\n"
                    "03_train.ipynb,370.3,ok,2811,97\n"          # not run this time: kept
                    "04_evaluate.ipynb,43.0,ok,4367,111\n"        # lesson 04 is another notebook now: dropped
                    "05_evaluate.ipynb,55.0,ok,4000,100\n")       # run again now: replaced
    results = [run_series.Result("03_train.ipynb"),
               run_series.Result("04_better_recipe.ipynb", "ok", 697.5, peak_rss_mb=1255, runner_peak_rss_mb=142),
               run_series.Result("05_evaluate.ipynb", "ok", 50.0, peak_rss_mb=4100, runner_peak_rss_mb=120)]
    run_series._timings(results, path)
    rows = {line.split(",")[0]: line.split(",")[1] for line in path.read_text().splitlines()[1:]}
    assert rows == {"03_train.ipynb": "370.3", "04_better_recipe.ipynb": "697.5", "05_evaluate.ipynb": "50.0"}
