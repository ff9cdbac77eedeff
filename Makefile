# Two commands on a fresh machine (and make lab to follow the lessons cell by cell):
#   make run   - the whole series, headless, into outputs/ (full mode unless HAPPYSAD_FAST=1)
#   make test  - unit tests + every notebook under nbval, in fast mode
# Both create .venv and install requirements.lock (every package pinned, with hashes) on first use. Others:
#   make lab              - JupyterLab on notebooks/ with the project's kernel and settings (tools/lab.py)
#   make data             - the real data from its public sources, verified (make run does it when there is none)
#   make test-browser     - JupyterLab in headless Chromium (Playwright): lessons 01 and 09, the upload, the report
#   make bench            - every model measured side by side -> outputs/benchmark.md
#   make times            - after make run: each section's compute time, to plan a class (tools/section_times.py)
#   make recipe-steps     - lesson 04's additions one at a time on the plain run -> outputs/recipe_steps.md (~20 min)
#   make student          - copies of the notebooks without the solution cells -> outputs/student/
#   make clean-notebooks  - strip outputs from notebooks/*.ipynb (nbstripout; also a pre-commit hook)
#   make lint             - ruff (settings in pyproject.toml); CI runs it before the tests
#   make lock             - maintainers: rewrite requirements.lock from requirements.txt (after changing a pin)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# pip itself, pinned like every other package (the lock cannot hold it)
PIP_VERSION := 26.3
NOTEBOOKS   := notebooks
STUDENT_DIR := outputs/student
# nbstripout keeps cell tags and jupyter.source_hidden; --keep-id keeps cell ids stable.
NBSTRIPOUT := $(PY) -m nbstripout --keep-id
# The pins need Python 3.11-3.13 (TensorFlow 2.21 has no wheels past 3.13; ipykernel 7, numpy 2.4 and
# pandas 3 need 3.11): anything else stops here in one line, before anything is installed.
CHECK_PYTHON := -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 11) <= v <= (3, 13) else \
  "%s is Python %d.%d; this project needs Python 3.11-3.13: install one, then run make PYTHON=python3.11 (and delete .venv if it exists)." % (sys.executable, *v))'

.PHONY: run lab data test test-browser bench times recipe-steps student clean-notebooks check-notebooks lint lock lesson-code

$(STAMP): requirements.lock pyproject.toml
	@if [ -x $(PY) ]; then $(PY) $(CHECK_PYTHON); else $(PYTHON) $(CHECK_PYTHON); fi
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet pip==$(PIP_VERSION)
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m tools.get_data --if-none
	$(PY) -m tools.run_series

# JupyterLab on the lessons, with the project's kernel and settings (tools/jupyter/). LAB_ARGS: more options.
lab: $(STAMP)
	$(PY) -m tools.lab $(LAB_ARGS)

# The real data from its public sources, verified (tools/get_data.py; README: "Where data goes").
data: $(STAMP)
	$(PY) -m tools.get_data

test: $(STAMP)
	HAPPYSAD_FAST=1 $(PY) -m pytest tests notebooks --nbval-lax --nbval-current-env -p no:cacheprovider

# The learner's screen in a real browser, fast mode (tests_browser/; Chromium from the OS, never downloaded).
test-browser: $(STAMP)
	HAPPYSAD_FAST=1 $(PY) -m pytest tests_browser -p no:cacheprovider -s

# Full-mode numbers: trains through notebooks 01-04 (and 05, 06, 08, 10) if models/ lacks them, then measures.
bench: $(STAMP)
	$(PY) -m tools.bench

times: $(STAMP)
	$(PY) -m tools.section_times

recipe-steps: $(STAMP)
	$(PY) -m tools.recipe_steps

student: $(STAMP)
	$(PY) -m jupyter nbconvert --to notebook --output-dir $(STUDENT_DIR) \
	  --TagRemovePreprocessor.enabled=True --TagRemovePreprocessor.remove_cell_tags='["solution"]' \
	  $(NOTEBOOKS)/[0-9][0-9]_*.ipynb

clean-notebooks: $(STAMP)
	$(NBSTRIPOUT) $(NOTEBOOKS)/*.ipynb

check-notebooks: $(STAMP)
	$(NBSTRIPOUT) --verify $(NOTEBOOKS)/*.ipynb

lint: $(STAMP)
	$(PY) -m ruff check .

# The lessons' #@save cells (d2l's habit) -> helpers/lessons.py, after changing one (tools/lesson_code.py).
lesson-code: $(STAMP)
	$(PY) -m tools.lesson_code

# Maintainers, after changing requirements.txt: every package those pins pull in, with hashes, for
# Linux, macOS and Windows (--universal) and Python 3.11-3.13. uv is a maintainer's tool, not a requirement.
lock: $(STAMP)
	$(PY) -m pip install --quiet uv
	$(PY) -m uv pip compile requirements.txt --universal --generate-hashes --python-version 3.11 -o requirements.lock
