"""The machinery that runs the project (not part of the lessons; learners need not read it).

* ``python -m tools.run_series`` (``make run``) - execute every notebook headless into ``outputs/``.
* ``python -m tools.bench`` (``make bench``) - measure every model side by side -> ``outputs/benchmark.md``.
"""
