"""``make run``: execute every numbered notebook headless and write a report.

``python -m tools.run_series [--only 01,02] [--notebooks DIR] [--out DIR] [--timeout S]``
runs each ``notebooks/NN_*.ipynb`` in order with nbclient, in a fresh kernel whose
working folder is ``notebooks/``, and writes to ``outputs/`` (``outputs/fast/`` in
fast mode):

* ``notebooks/NN_name.ipynb`` and ``.html`` (nbconvert) - each executed notebook;
* ``notebooks/NN_name.log`` - what the kernel process wrote to its own stdout/stderr
  (C++ start-up lines of TensorFlow and the like), kept out of the notebook and the console;
* ``timings.csv`` - notebook, seconds, status, peak memory of its kernel and of the runner
  (rows of notebooks not run this time are kept);
* ``index.html`` - one page: run times, peak memory, mode, data, and the key tables and figures.

It stops at the first notebook that fails and still writes the index. Each notebook's kernel
is shut down when that notebook ends. While a notebook runs, the terminal shows the cell
running and, while Keras trains, the epoch and the time left (:class:`Progress`).
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as _dt
import html
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient

from helpers import config

# What the index shows when it exists in the output folder: (file, caption).
KEY_TABLES = [
    ("metrics.csv", "Test scores of the networks at threshold 0.5, one view per face: the same rule for every "
                    "model (lesson 05; its threshold and mirror choice for happy_sad are chosen after this table)."),
    ("baseline_comparison.csv", "The HOG + linear baseline beside the networks (lesson 06)."),
    ("tflite.csv", "happy_sad exported to TensorFlow Lite: size, speed and scores (lesson 08)."),
    ("benchmark.csv", "Every model measured side by side in one process (make bench)."),
]
KEY_FIGURES = [
    ("learning_curves.png", "Learning curves: loss and accuracy per epoch, training and validation (lesson 03)."),
    ("confusion_matrix.png", "Confusion matrix of happy_sad on the test split (lesson 05)."),
    ("roc_pr_curves.png", "ROC and precision-recall curves on the test split (lesson 05)."),
]
WIDE_TABLE = 10                  # tables with more columns are shown turned, models as columns
TIMEOUT_FULL_S = 3 * 3600        # per cell: full-mode training can take a while on a CPU
TIMEOUT_FAST_S = 30 * 60
# Added to the kernel's environment (a value you set yourself wins): TensorFlow's C++
# logging below ERROR stays quiet. What TensorFlow prints before its logging is set up
# (cudart_stub, cuInit, "All log messages before absl::InitializeLog()") ignores this; it is
# the kernel process's own stderr, which goes to NN_name.log (capture_fd_output=False).
KERNEL_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2"}


@dataclass
class Result:
    notebook: str
    status: str = "not run"          # ok | failed | not run
    seconds: float | None = None
    error: str = ""
    html: str | None = None          # file name inside notebooks/ of the output folder
    peak_rss_mb: float | None = None         # the kernel's process tree (KernelMemory)
    runner_peak_rss_mb: float | None = None  # this process, after the notebook ran (cumulative)


def select(notebooks_dir: Path, only: list[str] | str | None = None) -> list[Path]:
    """The ``NN_*.ipynb`` notebooks in order; ``only`` keeps those whose number is listed."""
    found = sorted(Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb"))
    if only:
        wanted = [w.strip() for w in (only.split(",") if isinstance(only, str) else only) if w.strip()]
        wanted = [w.zfill(2) if w.isdigit() else w for w in wanted]
        found = [p for p in found if any(p.name.startswith(w) for w in wanted)]
        if not found:
            raise ValueError(f"--only {','.join(wanted)}: no notebook matches in {notebooks_dir}")
    return found


def code_cells(nb) -> int:
    """How many cells nbclient will run: code cells with code, not tagged ``skip-execution``."""
    return sum(1 for c in nb.cells if c.cell_type == "code" and c.source.strip()
               and "skip-execution" not in c.metadata.get("tags", []))


# ------------------------------------------------------------ what the terminal shows

def clock(seconds: float) -> str:
    """Elapsed time as a clock shows it: 2:31, 1:02:03."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def about(seconds: float) -> str:
    """A rough duration: ~45 s, ~23 min, ~1 h 30 min."""
    if seconds < 90:
        return f"~{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"~{seconds / 60:.0f} min"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"~{hours} h {minutes:02d} min"


def seconds_per_epoch(durations: list[float]) -> float:
    """The recent speed: the mean of the last three epochs (the first one also builds the graph)."""
    recent = durations[-3:]
    return sum(recent) / len(recent)


def time_left(per_epoch: float, epoch: int, epochs: int) -> float:
    """Seconds until ``fit`` ends if it runs all its epochs, ``epoch`` (just started) included."""
    return per_epoch * (epochs - epoch + 1)


EPOCH_LINE = re.compile(r"Epoch (\d+)/(\d+)")        # Keras fit(verbose=1 or 2), when epochs > 1


class Progress:
    """What the terminal shows while one notebook runs: the cell running, the time since the
    notebook started and, while Keras trains (``fit(verbose=1 or 2)`` prints ``Epoch 3/60``), the
    epoch, its speed and the time left. Into a file or a pipe: one line per event. On a terminal:
    one line, redrawn in place (:meth:`redraw`, called every half second while a notebook runs)."""

    def __init__(self, label: str, cells: int, out=None, clock=time.monotonic):
        self.label, self.cells, self.clock = label, cells, clock
        self.out = out or sys.stdout
        self.tty = self.out.isatty()
        self.start = clock()
        self.cell = 0
        self.epoch = ""                  # the epoch part of the line
        self._partial = ""               # stream text after its last newline
        self._fit = None                 # (epochs, number of the epoch running, when it started)
        self._durations: list[float] = []
        self._lock = threading.Lock()

    def cell_started(self) -> None:
        with self._lock:
            self.cell += 1
            self.epoch = ""
            elapsed = clock(self.clock() - self.start)
            self._show(f"{self.label}  cell {self.cell}/{self.cells}  {elapsed} elapsed")

    def stream(self, text: str) -> None:
        """Text the kernel printed; complete lines are read for Keras's ``Epoch k/N``."""
        with self._lock:
            *lines, partial = (self._partial + text).split("\n")
            self._partial = partial.rsplit("\r", 1)[-1][-1000:]    # not a whole epoch of progress bars
            for line in lines:
                match = EPOCH_LINE.fullmatch(line.split("\r")[-1].strip())
                if match:
                    self._epoch(int(match[1]), int(match[2]))

    def _epoch(self, epoch: int, epochs: int) -> None:
        now = self.clock()
        if self._fit and self._fit[:2] == (epochs, epoch - 1):
            self._durations.append(now - self._fit[2])
        elif epoch == 1:
            self._durations = []         # a new fit
        self._fit = (epochs, epoch, now)
        self.epoch = f"epoch {epoch}/{epochs}"
        if self._durations:
            per = seconds_per_epoch(self._durations)
            self.epoch += (f"  {per:.1f}" if per < 10 else f"  {per:.0f}") + " s/epoch  "
            left = about(time_left(per, epoch, epochs))
            self.epoch += f"{left} left at most (early stopping may end sooner)"
        self._show("    " + self.epoch)

    def _show(self, line: str) -> None:
        if self.tty:
            self._draw()
        else:
            print(line, file=self.out, flush=True)

    def _draw(self) -> None:
        where = f"cell {self.cell}/{self.cells}" if self.cell else "starting a kernel"
        line = f"{self.label}  {where}  {clock(self.clock() - self.start)} elapsed"
        line = f"{line}  {self.epoch}" if self.epoch else line
        width = shutil.get_terminal_size().columns - 1
        self.out.write("\r\033[K" + line[:width])
        self.out.flush()

    def redraw(self) -> None:
        """On a terminal, bring the elapsed time up to date."""
        if self.tty:
            with self._lock:
                self._draw()

    def finish(self, line: str) -> None:
        """The notebook's last line, replacing the redrawn one on a terminal."""
        with self._lock:
            print(("\r\033[K" if self.tty else "") + line, file=self.out, flush=True)


# ------------------------------------------------------------------- peak memory

def _high_water_mark(pid: int) -> int:
    """The peak resident bytes of one process as Linux counts it (VmHWM); 0 elsewhere."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


class KernelMemory:
    """The peak resident memory of a kernel's process tree: the sum of the RSS of the kernel
    and its child processes, sampled every ``interval`` seconds and after every cell, and never
    below the kernel process's own peak as Linux records it (exact, unlike a sample).
    ``on_tick`` is called at every sample (the progress line redraws itself with it)."""

    def __init__(self, interval: float = 0.5, on_tick=None):
        self.interval, self.on_tick = interval, on_tick
        self.pid: int | None = None
        self.peak = 0
        self._lock = threading.Lock()    # sampled by its thread and after each cell
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="kernel-memory", daemon=True)

    def watch(self, pid: int | None) -> None:
        self.pid = pid
        self.sample()

    def sample(self) -> None:
        if self.pid is None:
            return
        try:
            kernel = psutil.Process(self.pid)
            tree = [kernel, *kernel.children(recursive=True)]
        except psutil.Error:
            return
        total = 0
        for process in tree:
            with contextlib.suppress(psutil.Error):     # ended between the listing and now
                total += process.memory_info().rss
        with self._lock:
            self.peak = max(self.peak, total, _high_water_mark(self.pid))

    def _loop(self) -> None:
        while not self._done.wait(self.interval):
            self.sample()
            if self.on_tick:
                self.on_tick()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float | None:
        return self.peak / 1e6 if self.peak else None


def runner_peak_mb() -> float | None:
    """The peak resident memory of this process (the runner: nbclient, nbconvert), in MB."""
    try:
        import resource
    except ImportError:                  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6    # bytes on macOS, KiB on Linux


# ---------------------------------------------------------------- one notebook

class ShowingClient(NotebookClient):
    """A NotebookClient that also hands what the kernel prints to a :class:`Progress`."""

    def __init__(self, nb, progress: Progress, **kw):
        super().__init__(nb, **kw)
        self.progress = progress

    def output(self, outs, msg, display_id, cell_index):
        if msg["msg_type"] == "stream":
            self.progress.stream(msg["content"].get("text", ""))
        return super().output(outs, msg, display_id, cell_index)


def execute(path: Path, out_dir: Path, timeout: int, kernel: str = "python3",
            progress: Progress | None = None) -> Result:
    """Run one notebook (cwd = its folder) in a kernel of its own, shut down when the notebook
    ends (done or failed); save the executed copy, its HTML and the kernel log."""
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync
    from nbconvert import HTMLExporter

    result = Result(path.name)
    out_dir.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(str(path), as_version=4)
    progress = progress or Progress(path.stem, code_cells(nb))
    start = time.perf_counter()
    # IPC sockets in a private folder: no "Kernel is running over TCP without encryption"
    # (Windows has no IPC transport; there the warning goes to the .log file).
    with (tempfile.TemporaryDirectory() as sockets, open(out_dir / f"{path.stem}.log", "w") as log,
          KernelMemory(on_tick=progress.redraw) as memory):
        manager = (AsyncKernelManager(kernel_name=kernel, transport="ipc", ip=f"{sockets}/kernel")
                   if os.name != "nt" else AsyncKernelManager(kernel_name=kernel))
        client = ShowingClient(
            nb, progress, km=manager, timeout=timeout, kernel_name=kernel,
            extra_arguments=["--IPKernelApp.capture_fd_output=False"],
            resources={"metadata": {"path": str(path.parent.resolve())}},
            on_notebook_start=lambda notebook: memory.watch(getattr(manager.provisioner, "pid", None)),
            on_cell_execute=lambda cell, cell_index: progress.cell_started(),
            on_cell_executed=lambda cell, cell_index, execute_reply: memory.sample())
        try:
            # cleanup_kc: nbclient shuts down the kernel at the end, also after an error (by
            # default it leaves running a kernel whose manager it was given)
            client.execute(cleanup_kc=True, env={**KERNEL_ENV, **os.environ}, stdout=log, stderr=log)
            result.status = "ok"
        except Exception as err:  # noqa: BLE001 - any failure stops the series, with its message
            name = getattr(err, "ename", None) or type(err).__name__
            value = getattr(err, "evalue", None) or (str(err).strip().splitlines() or [""])[-1]
            result.status, result.error = "failed", f"{name}: {value}"
        finally:
            if manager.has_kernel:       # started, but nbclient stopped before it could clean up
                run_sync(manager.shutdown_kernel)(now=True)
    result.seconds = time.perf_counter() - start
    result.peak_rss_mb = memory.peak_mb

    nbformat.write(nb, str(out_dir / path.name))
    exporter = HTMLExporter(embed_images=True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
    (out_dir / f"{path.stem}.html").write_text(body, encoding="utf-8")
    result.html = f"{path.stem}.html"
    result.runner_peak_rss_mb = runner_peak_mb()
    return result


def _data_source() -> str:
    try:
        from helpers import data
        source = data.locate()
    except Exception as err:  # noqa: BLE001 - the report must not fail on this
        return f"unknown ({type(err).__name__}: {err})"
    kind = "SYNTHETIC demo (drawn faces)" if source.synthetic else "real data"
    return f"{kind}: {source.root}"


def number(value) -> str:
    """A table cell as a teacher reads it: 3,696,625 / 0.923 / 0.00036 / yes / blank."""
    import math
    import numbers

    import numpy as np
    import pandas as pd
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{value:,}"
    if isinstance(value, numbers.Real):
        if not math.isfinite(value):
            return str(value)
        if value == int(value) and abs(value) >= 1000:
            return f"{value:,.0f}"
        if value != 0 and abs(value) < 0.01:
            return f"{value:.2g}"
        return f"{value:,.3f}"
    return str(value)


def formatted(table):
    """Every cell as text (:func:`number`); a float column of whole numbers (counts with a
    blank, such as epochs) prints as integers."""
    import pandas as pd
    text = pd.DataFrame(index=[number(v) for v in table.index], columns=table.columns, dtype=object)
    text.index.name = table.index.name
    for column in table.columns:
        values = table[column]
        whole = values.dropna()
        if pd.api.types.is_float_dtype(values) and len(whole) and (whole % 1 == 0).all():
            values = values.astype("Int64")
        text[column] = [number(v) for v in values.astype(object)]
    return text


def table_html(path: Path) -> str:
    """A CSV as an HTML table: its first column as the row labels, numbers formatted."""
    import pandas as pd
    try:
        table = pd.read_csv(path, index_col=0)
    except Exception as err:  # noqa: BLE001 - one bad file must not sink the report
        return f"<p>could not read {html.escape(path.name)}: {html.escape(str(err))}</p>"
    if str(table.index.name).startswith("Unnamed"):
        table.index.name = None
    shown = formatted(table)
    shown.columns = [str(c).replace("_", " ") for c in table.columns]
    if len(shown.columns) > WIDE_TABLE and len(shown) < len(shown.columns):
        shown = shown.T.rename_axis(index="", columns=None)    # one row per column, models across
    shown.insert(0, shown.index.name or "", shown.index)
    return shown.to_html(border=0, classes="results", index=False)


def _blank_or(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _timings(results: list[Result], path: Path) -> None:
    """Write timings.csv: this run's rows, plus earlier rows of notebooks not run this time.

    One row per lesson number: an earlier row whose number a notebook of this run has, under another
    name (a lesson renumbered since), is dropped."""
    rows = {}
    if path.exists():
        with open(path, newline="", encoding="utf-8") as handle:
            rows = {r["notebook"]: r for r in csv.DictReader(handle)}
    names = {r.notebook[:2]: r.notebook for r in results}
    rows = {name: row for name, row in rows.items() if names.get(name[:2], name) == name}
    for r in results:
        if r.status != "not run" or r.notebook not in rows:
            rows[r.notebook] = {"notebook": r.notebook, "status": r.status,
                                "seconds": _blank_or(r.seconds),
                                "peak_rss_mb": _blank_or(r.peak_rss_mb, 0),
                                "runner_peak_rss_mb": _blank_or(r.runner_peak_rss_mb, 0)}
    columns = ["notebook", "seconds", "status", "peak_rss_mb", "runner_peak_rss_mb"]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows[name] for name in sorted(rows))


STYLE = """
 body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 64em; padding: 0 1em;
        color: #222; line-height: 1.4; }
 .scroll { overflow-x: auto; margin-bottom: 1.5em; }
 table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
 td, th { padding: .3em .7em; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
 th { background: #f4f4f4; } td:first-child, th:first-child, .name { text-align: left; }
 table.results { font-size: .92em; }
 tr.failed td, p.failed { color: #b00; } tr.not-run td { color: #888; }
 figure { margin: 0 0 2em; } figure img { max-width: 100%; border: 1px solid #eee; }
 figcaption { color: #444; font-size: .95em; } code { white-space: pre-wrap; }
"""


def write_index(results: list[Result], out_dir: Path, mode: str, data: str,
                started: str, message: str = "", whole_seconds: float | None = None) -> Path:
    """Write ``timings.csv`` and ``index.html`` into ``out_dir``; return the index path.
    ``whole_seconds``: the whole run so far, notebooks and everything around them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _timings(results, out_dir / "timings.csv")
    esc = html.escape
    rows = []
    for r in results:
        name = f'<a href="notebooks/{esc(r.html)}">{esc(r.notebook)}</a>' if r.html else esc(r.notebook)
        seconds = "" if r.seconds is None else f"{r.seconds:,.1f}"
        peak = "" if r.peak_rss_mb is None else f"{r.peak_rss_mb:,.0f}"
        error = f"<br><code>{esc(r.error[:2000])}</code>" if r.error else ""
        rows.append(f'<tr class="{esc(r.status.replace(" ", "-"))}"><td class="name">{name}</td>'
                    f'<td>{seconds}</td><td>{peak}</td><td class="name">{esc(r.status)}{error}</td></tr>')
    total = sum(r.seconds or 0 for r in results)
    facts = []
    if whole_seconds is not None:
        facts.append(f"Whole run: {whole_seconds / 60:,.1f} min ({whole_seconds:,.0f} s)")
    runner = max((r.runner_peak_rss_mb for r in results if r.runner_peak_rss_mb), default=None)
    if runner is not None:
        facts.append(f"Peak memory of the runner (nbclient, nbconvert): {runner:,.0f} MB")
    facts = "".join(f"\n <li>{esc(fact)}</li>" for fact in facts)
    sections = []
    for name, caption in KEY_TABLES:
        if (out_dir / name).is_file():
            sections.append(f'<h3>{esc(caption)}</h3>\n<div class="scroll">{table_html(out_dir / name)}'
                            f'</div>\n<p><a href="{esc(name)}">{esc(name)}</a></p>')
    for name, caption in KEY_FIGURES:
        if (out_dir / name).is_file():
            sections.append(f'<figure><img src="{esc(name)}" alt="{esc(caption)}">'
                            f"<figcaption>{esc(caption)} <code>{esc(name)}</code></figcaption></figure>")
    failed = any(r.status == "failed" for r in results)
    banner = f'<p class="{"failed" if failed else "note"}"><b>{esc(message)}</b></p>' if message else ""
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Happy or Sad? - run report</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head><body>
<h1>Happy or Sad? - run report</h1>
{banner}
<ul>
 <li>Started: {esc(started)}</li>
 <li>Mode: {esc(mode)}</li>
 <li>Data: {esc(data)}</li>
 <li>Total notebook time: {total / 60:,.1f} min ({total:,.0f} s)</li>{facts}
</ul>
<h2>Notebooks</h2>
<p>Peak memory: the resident memory of the notebook's kernel and its child processes at its highest.</p>
<div class="scroll"><table><thead><tr><th>Notebook</th><th>Seconds</th><th>Peak memory (MB)</th>
<th class="name">Status</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table></div>
<p><a href="timings.csv">timings.csv</a></p>
<h2>Key results</h2>
{chr(10).join(sections) or "<p>No key results yet.</p>"}
</body></html>
"""
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def closing_line(index: Path, seconds: float, data: str) -> str:
    """make run's last line: the report, the time, and, loudly, when the run used the synthetic demo."""
    line = f"Report: {index.resolve()}  (the whole run took {clock(seconds)})"
    if data.startswith("SYNTHETIC"):
        line += ("  -- ON THE SYNTHETIC DEMO (drawn faces), not real data: its numbers say nothing about "
                 "real faces. Get the data with `make data`, then `make run` again.")
    return line


def run(notebooks_dir: Path | str | None = None, out_dir: Path | str | None = None,
        only: list[str] | str | None = None, timeout: int | None = None,
        kernel: str = "python3") -> tuple[int, list[Result]]:
    """Execute the notebooks in order; return (exit status, results). 0 if all ran."""
    notebooks_dir = Path(notebooks_dir) if notebooks_dir else config.ROOT / "notebooks"
    out_dir = Path(out_dir) if out_dir else config.outputs_dir()
    timeout = timeout or (TIMEOUT_FAST_S if config.fast() else TIMEOUT_FULL_S)
    mode = "fast (HAPPYSAD_FAST=1: small subset, few epochs)" if config.fast() else "full"
    started = _dt.datetime.now().isoformat(timespec="seconds")
    run_start = time.perf_counter()
    paths = select(notebooks_dir, only)
    results = [Result(p.name) for p in paths]
    data, message = "not checked yet", ""
    print(f"Running {len(paths)} notebook(s) from {notebooks_dir} in {mode} mode -> {out_dir}")
    try:
        for i, path in enumerate(paths):
            label = f"[{i + 1}/{len(paths)}] {path.stem}"
            progress = Progress(label, code_cells(nbformat.read(str(path), as_version=4)))
            results[i] = r = execute(path, out_dir / "notebooks", timeout, kernel, progress)
            peak = "" if r.peak_rss_mb is None else f", kernel peak {r.peak_rss_mb:,.0f} MB"
            progress.finish(f"{label}  {r.status} in {clock(r.seconds)}{peak}")
            if r.status != "ok":
                message = (f"{path.name} FAILED: {r.error}\n"
                           f"See {out_dir / 'notebooks' / r.html} for the traceback "
                           f"(and {path.stem}.log beside it). Later notebooks were not run.")
                break
            write_index(results, out_dir, mode, data, started, "running...", time.perf_counter() - run_start)
    except KeyboardInterrupt:
        message = "Interrupted."
    finally:
        data = _data_source()
        whole = time.perf_counter() - run_start
        index = write_index(results, out_dir, mode, data, started, message, whole)
    if message:
        print("\n" + message)
    print(f"\nTimings: {out_dir / 'timings.csv'}")
    print(closing_line(index, whole, data), flush=True)
    return (0 if all(r.status == "ok" for r in results) else 1), results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.run_series",
                                     description="Execute the notebooks headless into outputs/.")
    parser.add_argument("--only", help="comma-separated notebook numbers, e.g. 01,02")
    parser.add_argument("--notebooks", type=Path, help="folder of notebooks (default: notebooks/)")
    parser.add_argument("--out", type=Path, help="output folder (default: outputs/ or outputs/fast/)")
    parser.add_argument("--timeout", type=int, help="seconds per cell (default: 3 h full, 30 min fast)")
    args = parser.parse_args(argv)
    try:
        status, _ = run(args.notebooks, args.out, args.only, args.timeout)
    except ValueError as err:
        print(err)
        return 2
    return status


if __name__ == "__main__":
    raise SystemExit(main())
