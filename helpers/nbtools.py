"""Keep committed notebooks clean: no outputs, no execution counts, plain metadata.

``python -m helpers strip-notebooks [--check] [PATH ...]`` strips every notebook given
(files or folders; default ``notebooks/*.ipynb``). With ``--check`` it changes nothing
and lists the problems instead (exit status 1 if there are any).

Why? Outputs make diffs unreadable, bloat the repository, and can leak local paths
or data. Metadata such as the kernel's display name or a widget state changes from
machine to machine, so we reduce it to the same few keys everywhere.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import nbformat

from . import config

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
LANGUAGE_INFO = {"name": "python"}
NOTEBOOK_METADATA = {"kernelspec": KERNELSPEC, "language_info": LANGUAGE_INFO}
# Cell metadata we keep: nbval / lesson tags, and "jupyter" (source_hidden / outputs_hidden,
# used to fold away solutions). Everything else (execution times, scroll state, ...) goes.
CELL_METADATA_KEYS = ("tags", "jupyter")


def _clean_cell_metadata(metadata: dict) -> dict:
    kept = {}
    for key in CELL_METADATA_KEYS:
        value = metadata.get(key)
        if value:                      # drop empty tags lists / empty dicts
            kept[key] = value
    return kept


def _strip_node(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb.metadata = nbformat.from_dict(json.loads(json.dumps(NOTEBOOK_METADATA)))
    for index, cell in enumerate(nb.cells):
        cell.metadata = nbformat.from_dict(_clean_cell_metadata(cell.get("metadata", {})))
        cell.id = f"cell-{index:03d}"   # stable ids: regenerating a notebook gives no noisy diff
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def strip(path: Path | str) -> bool:
    """Remove outputs and execution counts and normalise metadata, in place.

    Returns True if the file changed. The notebook must be valid nbformat v4.
    """
    path = Path(path)
    before = path.read_text(encoding="utf-8")
    nb = _strip_node(_read(path))
    nbformat.validate(nb)
    after = nbformat.writes(nb)
    if not after.endswith("\n"):
        after += "\n"
    if after == before:
        return False
    path.write_text(after, encoding="utf-8")
    return True


def check(path: Path | str) -> list[str]:
    """Everything that is not clean about the notebook at ``path`` (empty list: clean)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        return [f"{path.name}: not readable JSON ({err})"]
    if raw.get("nbformat") != 4:
        return [f"{path.name}: nbformat {raw.get('nbformat')!r}, expected 4"]
    problems = []
    try:
        nbformat.validate(nbformat.from_dict(raw))
    except nbformat.ValidationError as err:
        problems.append(f"{path.name}: invalid nbformat v4: {err.message}")
    if raw.get("metadata") != NOTEBOOK_METADATA:
        problems.append(f"{path.name}: notebook metadata is not normalised "
                        f"(keys: {sorted(raw.get('metadata', {}))})")
    for i, cell in enumerate(raw.get("cells", [])):
        where = f"{path.name}: cell {i}"
        if cell.get("cell_type") == "code":
            if cell.get("outputs"):
                problems.append(f"{where} has outputs")
            if cell.get("execution_count") is not None:
                problems.append(f"{where} has an execution count")
        metadata = cell.get("metadata", {})
        if metadata != _clean_cell_metadata(metadata):
            extra = sorted(set(metadata) - set(CELL_METADATA_KEYS)) or "empty values"
            problems.append(f"{where} has extra metadata: {extra}")
    return problems


def find_notebooks(paths: list[str] | None = None) -> list[Path]:
    """The notebooks named by ``paths`` (files or folders); default ``notebooks/*.ipynb``."""
    paths = paths or [str(config.ROOT / "notebooks")]
    found: list[Path] = []
    for item in map(Path, paths):
        if item.is_dir():
            found.extend(sorted(item.glob("*.ipynb")))
        elif item.suffix == ".ipynb" and item.exists():
            found.append(item)
        else:
            raise FileNotFoundError(f"no notebook or folder at {item}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers strip-notebooks",
                                     description="Remove outputs and normalise notebook metadata.")
    parser.add_argument("paths", nargs="*", help="notebooks or folders (default: notebooks/)")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; list problems and exit 1 if there are any")
    args = parser.parse_args(argv)
    try:
        notebooks = find_notebooks(args.paths)
    except FileNotFoundError as err:
        print(err)
        return 2
    if args.check:
        problems = [p for nb in notebooks for p in check(nb)]
        print("\n".join(problems) if problems else f"{len(notebooks)} notebook(s) clean")
        return 1 if problems else 0
    changed = [nb for nb in notebooks if strip(nb)]
    for nb in changed:
        print(f"stripped {nb}")
    print(f"{len(changed)} of {len(notebooks)} notebook(s) changed")
    return 0


__all__ = ["strip", "check", "find_notebooks", "main", "NOTEBOOK_METADATA", "CELL_METADATA_KEYS"]
