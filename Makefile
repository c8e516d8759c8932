# Two commands on a fresh machine: `make run` (set up and serve) and `make test` (set up and test).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test test-fast lint bench eval

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch is pinned to the CPU build; see pyproject.toml.
	$(BIN)/python -m pip install -q -e '.[ml,dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	HF_HUB_OFFLINE=1 $(BIN)/triage serve

test: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

test-fast: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -m "not slow and not integration"

lint: install
	$(BIN)/ruff check service workers tests
	$(BIN)/ruff format --check service workers tests
	$(BIN)/mypy

bench: install
	HF_HUB_OFFLINE=1 $(BIN)/triage model bench

eval: install
	HF_HUB_OFFLINE=1 $(BIN)/triage model eval
