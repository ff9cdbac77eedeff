"""How long each section of an executed notebook kept the kernel busy: plan a class from it.

``python -m tools.section_times [--fast] [NOTEBOOK.ipynb ...]``

After ``make run`` (or ``HAPPYSAD_FAST=1 make run``), the executed copies in ``outputs/notebooks/``
(``outputs/fast/notebooks/``) carry each cell's start and end time (nbclient records them). This
sums them by section (a ``## N.`` heading) and prints, for each section, its compute time and the
time from the top of the notebook to the end of it: a class that runs a notebook "up to section 9"
waits for the cumulative time of section 8. Compute time only: reading and explaining come on top.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import re
import sys
from pathlib import Path

import nbformat
import pandas as pd

from helpers import config

SECTION = re.compile(r"^##\s+(\d+)\.\s*(.*)$", re.MULTILINE)


def _seconds(cell) -> float:
    """Seconds the kernel was busy with this cell (0 for a cell that never ran)."""
    timing = cell.get("metadata", {}).get("execution", {})
    if "iopub.status.busy" not in timing or "iopub.status.idle" not in timing:
        return 0.0
    start, end = (_dt.datetime.fromisoformat(timing[key].replace("Z", "+00:00"))
                  for key in ("iopub.status.busy", "iopub.status.idle"))
    return max(0.0, (end - start).total_seconds())


def section_times(path: Path) -> pd.DataFrame:
    """One row per section of an executed notebook: ``section``, ``title``, ``seconds``, ``up_to_end``.

    Cells before the first ``## N.`` heading (setup, imports) count as section 0, "top".
    """
    nb = nbformat.read(path, as_version=4)
    rows, current = {0: ["top", 0.0]}, 0
    for cell in nb.cells:
        if cell.cell_type == "markdown" and (match := SECTION.search(cell.source)):
            current = int(match.group(1))
            rows.setdefault(current, [match.group(2).strip(), 0.0])
        elif cell.cell_type == "code":
            rows[current][1] += _seconds(cell)
    table = pd.DataFrame([(n, title, seconds) for n, (title, seconds) in rows.items()],
                         columns=["section", "title", "seconds"])
    table["up_to_end"] = table["seconds"].cumsum()
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.section_times", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="executed notebooks (default: those of the last make run)")
    parser.add_argument("--fast", action="store_true", help="read outputs/fast/notebooks/ (HAPPYSAD_FAST=1 make run)")
    args = parser.parse_args(argv)
    folder = config.ROOT / "outputs" / ("fast" if args.fast else "") / "notebooks"
    lessons = {path.name for path in (config.ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    # by default the executed copy of each lesson there is now (not of a lesson renumbered since)
    paths = args.notebooks or sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb") if p.name in lessons)
    if not paths:
        print(f"no executed notebooks in {folder}: run `{'HAPPYSAD_FAST=1 ' if args.fast else ''}make run` first",
              file=sys.stderr)
        return 2
    for path in paths:
        if not path.is_file():
            print(f"{path}: no such notebook: give an executed notebook from outputs/notebooks/", file=sys.stderr)
            return 2
        table = section_times(path)
        print(f"\n{path.stem}: {table['seconds'].sum() / 60:.1f} min of compute")
        for row in table.itertuples():
            print(f"  {row.section:>2}. {row.title[:60]:<60} {row.seconds:7.1f} s   up to its end {row.up_to_end / 60:5.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
