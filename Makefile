# Two commands on a fresh machine:
#   make run   - the whole series, headless, into outputs/ (full mode unless HAPPYSAD_FAST=1)
#   make test  - unit tests + every notebook under nbval, in fast mode
# Both create .venv and install requirements.txt on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test bench check-notebooks clean-notebooks

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -e .
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m helpers run

test: $(STAMP)
	HAPPYSAD_FAST=1 $(PY) -m pytest tests notebooks --nbval-lax --nbval-current-env -p no:cacheprovider

# Full-mode numbers: trains through notebooks 01-03 if models/ is empty, then measures.
bench: $(STAMP)
	$(PY) -m helpers bench

clean-notebooks: $(STAMP)
	$(PY) -m helpers strip-notebooks notebooks
