"""``make run``: execute every numbered notebook headless and write a report.

``python -m tools.run_series [--only 01,02] [--notebooks DIR] [--out DIR] [--timeout S]``
runs each ``notebooks/NN_*.ipynb`` in order with nbclient, in a fresh kernel whose
working folder is ``notebooks/``, and writes to ``outputs/`` (``outputs/fast/`` in
fast mode):

* ``notebooks/NN_name.ipynb`` and ``.html`` (nbconvert) - each executed notebook;
* ``notebooks/NN_name.log`` - what the kernel process wrote to its own stdout/stderr
  (C++ start-up lines of TensorFlow and the like), kept out of the notebook and the console;
* ``timings.csv`` - notebook, seconds, status (rows of notebooks not run this time are kept);
* ``index.html`` - one page: run times, mode, data, and the key tables and figures.

It stops at the first notebook that fails and still writes the index.
"""
from __future__ import annotations

import argparse
import csv
import datetime as _dt
import html
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from helpers import config

# What the index shows when it exists in the output folder: (file, caption).
KEY_TABLES = [
    ("metrics.csv", "Test scores of the networks at the chosen threshold (lesson 04)."),
    ("baseline_comparison.csv", "The HOG + linear baseline beside the networks (lesson 05)."),
    ("tflite.csv", "happy_sad exported to TensorFlow Lite: size, speed and scores (lesson 07)."),
    ("benchmark.csv", "Every model measured side by side in one process (make bench)."),
]
KEY_FIGURES = [
    ("learning_curves.png", "Learning curves: loss and accuracy per epoch, training and validation (lesson 03)."),
    ("confusion_matrix.png", "Confusion matrix of happy_sad on the test split (lesson 04)."),
    ("roc_pr_curves.png", "ROC and precision-recall curves on the test split (lesson 04)."),
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


def execute(path: Path, out_dir: Path, timeout: int, kernel: str = "python3") -> Result:
    """Run one notebook (cwd = its folder); save the executed copy, its HTML and the kernel log."""
    import nbformat
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    result = Result(path.name)
    out_dir.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(str(path), as_version=4)
    start = time.perf_counter()
    # IPC sockets in a private folder: no "Kernel is running over TCP without encryption"
    # (Windows has no IPC transport; there the warning goes to the .log file).
    with tempfile.TemporaryDirectory() as sockets, open(out_dir / f"{path.stem}.log", "w") as log:
        manager = (AsyncKernelManager(kernel_name=kernel, transport="ipc", ip=f"{sockets}/kernel")
                   if os.name != "nt" else AsyncKernelManager(kernel_name=kernel))
        client = NotebookClient(nb, km=manager, timeout=timeout, kernel_name=kernel,
                                extra_arguments=["--IPKernelApp.capture_fd_output=False"],
                                resources={"metadata": {"path": str(path.parent.resolve())}})
        try:
            client.execute(env={**KERNEL_ENV, **os.environ}, stdout=log, stderr=log)
            result.status = "ok"
        except Exception as err:  # noqa: BLE001 - any failure stops the series, with its message
            name = getattr(err, "ename", None) or type(err).__name__
            value = getattr(err, "evalue", None) or (str(err).strip().splitlines() or [""])[-1]
            result.status, result.error = "failed", f"{name}: {value}"
    result.seconds = time.perf_counter() - start

    nbformat.write(nb, str(out_dir / path.name))
    exporter = HTMLExporter(embed_images=True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
    (out_dir / f"{path.stem}.html").write_text(body, encoding="utf-8")
    result.html = f"{path.stem}.html"
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


def _timings(results: list[Result], path: Path) -> None:
    """Write timings.csv: this run's rows, plus earlier rows of notebooks not run this time."""
    rows = {}
    if path.exists():
        with open(path, newline="", encoding="utf-8") as handle:
            rows = {r["notebook"]: r for r in csv.DictReader(handle)}
    for r in results:
        if r.status != "not run" or r.notebook not in rows:
            rows[r.notebook] = {"notebook": r.notebook, "status": r.status,
                                "seconds": "" if r.seconds is None else f"{r.seconds:.1f}"}
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, ["notebook", "seconds", "status"])
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
                started: str, message: str = "") -> Path:
    """Write ``timings.csv`` and ``index.html`` into ``out_dir``; return the index path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _timings(results, out_dir / "timings.csv")
    esc = html.escape
    rows = []
    for r in results:
        name = f'<a href="notebooks/{esc(r.html)}">{esc(r.notebook)}</a>' if r.html else esc(r.notebook)
        seconds = "" if r.seconds is None else f"{r.seconds:,.1f}"
        error = f"<br><code>{esc(r.error[:2000])}</code>" if r.error else ""
        rows.append(f'<tr class="{esc(r.status.replace(" ", "-"))}"><td class="name">{name}</td>'
                    f'<td>{seconds}</td><td class="name">{esc(r.status)}{error}</td></tr>')
    total = sum(r.seconds or 0 for r in results)
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
 <li>Total notebook time: {total / 60:,.1f} min ({total:,.0f} s)</li>
</ul>
<h2>Notebooks</h2>
<div class="scroll"><table><thead><tr><th>Notebook</th><th>Seconds</th><th class="name">Status</th></tr></thead>
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


def run(notebooks_dir: Path | str | None = None, out_dir: Path | str | None = None,
        only: list[str] | str | None = None, timeout: int | None = None,
        kernel: str = "python3") -> tuple[int, list[Result]]:
    """Execute the notebooks in order; return (exit status, results). 0 if all ran."""
    notebooks_dir = Path(notebooks_dir) if notebooks_dir else config.ROOT / "notebooks"
    out_dir = Path(out_dir) if out_dir else config.outputs_dir()
    timeout = timeout or (TIMEOUT_FAST_S if config.fast() else TIMEOUT_FULL_S)
    mode = "fast (HAPPYSAD_FAST=1: small subset, few epochs)" if config.fast() else "full"
    started = _dt.datetime.now().isoformat(timespec="seconds")
    paths = select(notebooks_dir, only)
    results = [Result(p.name) for p in paths]
    data, message = "not checked yet", ""
    print(f"Running {len(paths)} notebook(s) from {notebooks_dir} in {mode} mode -> {out_dir}")
    try:
        for i, path in enumerate(paths):
            print(f"[{i + 1}/{len(paths)}] {path.name} ...", flush=True)
            results[i] = r = execute(path, out_dir / "notebooks", timeout, kernel)
            print(f"    {r.status} in {r.seconds:.1f} s", flush=True)
            if r.status != "ok":
                message = (f"{path.name} FAILED: {r.error}\n"
                           f"See {out_dir / 'notebooks' / r.html} for the traceback "
                           f"(and {path.stem}.log beside it). Later notebooks were not run.")
                break
            write_index(results, out_dir, mode, data, started, "running...")
    except KeyboardInterrupt:
        message = "Interrupted."
    finally:
        data = _data_source()
        index = write_index(results, out_dir, mode, data, started, message)
    if message:
        print("\n" + message)
    print(f"\nReport: {index}\nTimings: {out_dir / 'timings.csv'}")
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
