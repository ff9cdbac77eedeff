"""``python -m helpers run`` (what ``make run`` calls): run the whole series headless.

Executes every ``notebooks/NN_*.ipynb`` in order, in a fresh ``python3`` kernel whose
working folder is ``notebooks/``, and writes to ``outputs/`` (``outputs/fast/`` in fast
mode):

* ``notebooks/NN_name.ipynb`` and ``notebooks/NN_name.html`` - each executed notebook;
* ``timings.csv`` - notebook, seconds, status;
* ``index.html`` - one page linking them all, with run times, the mode, where the data
  came from and the key results (:data:`KEY_RESULTS` tables, :data:`KEY_FIGURES` images).

It stops at the first notebook that fails, says which and why, and still writes the
index. ``--only 01,02`` runs a subset.
"""
from __future__ import annotations

import argparse
import csv
import datetime as _dt
import html
import re
import time
from dataclasses import dataclass
from pathlib import Path

from . import config

# Files in outputs_dir() that the index shows when they exist. Later lessons: add yours.
KEY_RESULTS = ["metrics.csv", "baseline_comparison.csv", "tflite.csv"]   # CSV tables
KEY_FIGURES = ["confusion_matrix.png", "learning_curves.png", "roc_pr_curves.png"]   # images
NOTEBOOK_PATTERN = re.compile(r"^\d\d_.*\.ipynb$")
TIMEOUT_FULL_S = 3 * 3600        # per cell: full-mode training can take a while on CPU
TIMEOUT_FAST_S = 30 * 60


@dataclass
class Result:
    notebook: str
    status: str = "not run"          # ok | failed | not run
    seconds: float | None = None
    error: str = ""
    html: str | None = None          # path relative to the output folder

    @property
    def stem(self) -> str:
        return Path(self.notebook).stem


def select(notebooks_dir: Path, only: list[str] | str | None = None) -> list[Path]:
    """The ``NN_*.ipynb`` notebooks in order; ``only`` keeps those whose number is listed."""
    found = sorted(p for p in Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb")
                   if NOTEBOOK_PATTERN.match(p.name))
    if only:
        wanted = [w.strip() for w in (only.split(",") if isinstance(only, str) else only) if w.strip()]
        wanted = [w.zfill(2) if w.isdigit() else w for w in wanted]
        found = [p for p in found if any(p.name.startswith(w) for w in wanted)]
        if not found:
            raise ValueError(f"--only {','.join(wanted)}: no notebook matches in {notebooks_dir}")
    return found


def _error_text(err: BaseException) -> str:
    ename, evalue = getattr(err, "ename", None), getattr(err, "evalue", None)
    if ename:
        return f"{ename}: {evalue}"
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[-1] if text else ''}"


def execute(path: Path, out_dir: Path, timeout: int, kernel: str = "python3") -> Result:
    """Run one notebook (cwd = its folder); save the executed copy and its HTML export."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    result = Result(path.name)
    nb = nbformat.read(str(path), as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel,
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    start = time.perf_counter()
    try:
        client.execute()
        result.status = "ok"
    except Exception as err:  # noqa: BLE001 - any failure stops the series, with its message
        result.status, result.error = "failed", _error_text(err)
    result.seconds = time.perf_counter() - start

    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(out_dir / path.name))
    exporter = HTMLExporter()
    exporter.embed_images = True
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
    html_path = out_dir / f"{path.stem}.html"
    html_path.write_text(body, encoding="utf-8")
    result.html = html_path.name
    return result


def _data_source() -> str:
    try:
        from . import data
        source = data.locate()
    except Exception as err:  # noqa: BLE001 - the report must not fail on this
        return f"unknown ({type(err).__name__}: {err})"
    kind = "SYNTHETIC demo (drawn faces)" if source.synthetic else "real data"
    return f"{kind}: {source.root}"


def _table(path: Path) -> str:
    try:
        import pandas as pd
        return pd.read_csv(path).to_html(index=False, border=0, classes="results",
                                         float_format=lambda v: f"{v:.4g}")
    except Exception as err:  # noqa: BLE001
        return f"<p>could not read {html.escape(path.name)}: {html.escape(str(err))}</p>"


def write_index(results: list[Result], out_dir: Path, mode: str, data: str,
                started: str, message: str = "") -> Path:
    """Write ``timings.csv`` and ``index.html`` into ``out_dir``; return the index path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "timings.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["notebook", "seconds", "status"])
        for r in results:
            writer.writerow([r.notebook, "" if r.seconds is None else f"{r.seconds:.1f}", r.status])

    esc = html.escape
    rows = []
    for r in results:
        name = (f'<a href="notebooks/{esc(r.html)}">{esc(r.notebook)}</a>' if r.html
                else esc(r.notebook))
        seconds = "" if r.seconds is None else f"{r.seconds:.1f}"
        error = f"<br><code>{esc(r.error[:2000])}</code>" if r.error else ""
        rows.append(f'<tr class="{esc(r.status.replace(" ", "-"))}"><td>{name}</td>'
                    f"<td>{seconds}</td><td>{esc(r.status)}{error}</td></tr>")
    total = sum(r.seconds or 0 for r in results)
    sections = []
    for name in KEY_RESULTS:
        if (out_dir / name).is_file():
            sections.append(f"<h3>{esc(name)}</h3>\n{_table(out_dir / name)}")
    for name in KEY_FIGURES:
        if (out_dir / name).is_file():
            sections.append(f'<h3>{esc(name)}</h3>\n<img src="{esc(name)}" alt="{esc(name)}">')
    results_html = "\n".join(sections) or "<p>No key results yet.</p>"
    failed = any(r.status == "failed" for r in results)
    banner = (f'<p class="{"failed" if failed else "note"}"><b>{esc(message)}</b></p>'
              if message else "")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Happy or Sad? - run report</title>
<style>
 body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; }}
 table {{ border-collapse: collapse; }} td, th {{ padding: .3em .8em; border-bottom: 1px solid #ddd; }}
 tr.failed td, p.failed {{ color: #b00; }} tr.not-run td {{ color: #888; }}
 img {{ max-width: 100%; }} code {{ white-space: pre-wrap; }}
</style></head><body>
<h1>Happy or Sad? - run report</h1>
{banner}
<ul>
 <li>Started: {esc(started)}</li>
 <li>Mode: {esc(mode)}</li>
 <li>Data: {esc(data)}</li>
 <li>Total notebook time: {total:.1f} s</li>
</ul>
<h2>Notebooks</h2>
<table><tr><th>Notebook</th><th>Seconds</th><th>Status</th></tr>
{chr(10).join(rows)}
</table>
<p><a href="timings.csv">timings.csv</a></p>
<h2>Key results</h2>
{results_html}
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
    data = "not checked yet"
    message = ""
    print(f"Running {len(paths)} notebook(s) from {notebooks_dir} in {mode} mode -> {out_dir}")
    if not paths:
        print(f"No NN_*.ipynb notebooks in {notebooks_dir}: nothing to run.")
    try:
        for i, path in enumerate(paths):
            print(f"[{i + 1}/{len(paths)}] {path.name} ...", flush=True)
            results[i] = execute(path, out_dir / "notebooks", timeout, kernel)
            r = results[i]
            print(f"    {r.status} in {r.seconds:.1f} s", flush=True)
            if r.status != "ok":
                message = (f"{path.name} FAILED: {r.error}\n"
                           f"See {out_dir / 'notebooks' / r.html} for the full traceback. "
                           f"Later notebooks were not run.")
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
    parser = argparse.ArgumentParser(prog="python -m helpers run",
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


__all__ = ["KEY_RESULTS", "KEY_FIGURES", "Result", "select", "execute", "write_index", "run", "main"]
