# Two commands on a fresh machine:
#   make run   - the whole series, headless, into outputs/ (full mode unless HAPPYSAD_FAST=1)
#   make test  - unit tests + every notebook under nbval, in fast mode
# Both create .venv and install requirements.txt on first use. Others:
#   make data             - the real data from its public sources, verified (make run does it when there is none)
#   make bench            - every model measured side by side -> outputs/benchmark.md
#   make student          - copies of the notebooks without the solution cells -> outputs/student/
#   make clean-notebooks  - strip outputs from notebooks/*.ipynb (nbstripout; also a pre-commit hook)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NOTEBOOKS   := notebooks
STUDENT_DIR := outputs/student
# nbstripout keeps cell tags and jupyter.source_hidden; --keep-id keeps cell ids stable.
NBSTRIPOUT := $(VENV)/bin/nbstripout --keep-id

.PHONY: run data test bench student clean-notebooks check-notebooks

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -e .
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m tools.get_data --if-none
	$(PY) -m tools.run_series

# The real data from its public sources, verified (tools/get_data.py; README: "Where data goes").
data: $(STAMP)
	$(PY) -m tools.get_data

test: $(STAMP)
	HAPPYSAD_FAST=1 $(PY) -m pytest tests notebooks --nbval-lax --nbval-current-env -p no:cacheprovider

# Full-mode numbers: trains through notebooks 01-03 (and 04, 05, 07) if models/ lacks them, then measures.
bench: $(STAMP)
	$(PY) -m tools.bench

student: $(STAMP)
	$(VENV)/bin/jupyter nbconvert --to notebook --output-dir $(STUDENT_DIR) \
	  --TagRemovePreprocessor.enabled=True --TagRemovePreprocessor.remove_cell_tags='["solution"]' \
	  $(NOTEBOOKS)/[0-9][0-9]_*.ipynb

clean-notebooks: $(STAMP)
	$(NBSTRIPOUT) $(NOTEBOOKS)/*.ipynb

check-notebooks: $(STAMP)
	$(NBSTRIPOUT) --verify $(NOTEBOOKS)/*.ipynb
