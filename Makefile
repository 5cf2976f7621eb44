# The two set-up commands: `make serve` and `make test`. Each creates .venv with Python 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_SERVER := $(VENV)/.installed-server
STAMP_TEST := $(VENV)/.installed-test
PYTEST_ARGS ?=

.PHONY: serve test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP_SERVER): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[server]"
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@ $(STAMP_SERVER)

serve: $(STAMP_SERVER)
	$(BIN)/promptyard serve

test: $(STAMP_TEST)
	$(BIN)/ruff check src tests bench docs
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

bench: $(STAMP_TEST)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
