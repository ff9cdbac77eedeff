"""Command line: ``python -m helpers COMMAND ...``.

Each command lives in its own module, which defines ``main(argv) -> int``.
(Running the series and the benchmark is project machinery: ``make run``, ``make bench``.)
"""
from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "clean": ("helpers.cleaning", "clean a folder of class sub-folders into a new folder"),
    "predict": ("helpers.predict", "find faces in photos and say happy or sad"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in COMMANDS:
        print("usage: python -m helpers COMMAND [ARGS]\n\ncommands:")
        for name, (_, text) in COMMANDS.items():
            print(f"  {name:<10} {text}")
        return 0 if argv and argv[0] in {"-h", "--help"} else 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
