"""Command line: ``python -m helpers COMMAND ...``.

Each command lives in its own module, which defines ``main(argv) -> int``.
"""
from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "clean": ("helpers.cleaning", "clean a folder of class sub-folders into a new folder"),
    "predict": ("helpers.predict", "find faces in photos and say happy or sad"),
    "run": ("helpers.report", "execute every notebook headless into outputs/ (make run)"),
    "bench": ("helpers.bench", "full-mode benchmark table -> outputs/benchmark.md (make bench)"),
    "strip-notebooks": ("helpers.nbtools", "remove outputs and normalise notebook metadata"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in COMMANDS:
        print("usage: python -m helpers COMMAND [ARGS]\n\ncommands:")
        for name, (_, text) in COMMANDS.items():
            print(f"  {name:<16} {text}")
        return 0 if argv and argv[0] in {"-h", "--help"} else 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
