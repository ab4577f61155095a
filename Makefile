# clipper: `make run` starts everything on this machine; `make test` runs the suite.
# Both set up what is missing first (venv from the lock, OS packages), idempotently.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK_HASH := $(shell cat requirements.lock pyproject.toml 2>/dev/null | sha1sum | cut -c1-12)
STAMP := $(VENV)/.installed-$(LOCK_HASH)

.PHONY: setup venv system-deps run worker api test test-unit lint fmt bench lock clean

setup: venv system-deps

venv: $(STAMP)

$(STAMP):
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

system-deps:
	@scripts/system-deps.sh

## Everything on this machine: Temporal dev server + Web UI, Postgres, API, worker.
run: setup
	$(BIN)/python -m workers.dev

test: setup lint
	@scripts/system-deps.sh chromium
	$(BIN)/python -m pytest

test-unit: venv
	$(BIN)/python -m pytest tests/unit

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	$(BIN)/python bench/e2e.py

## Recompile the lock after changing dependencies in pyproject.toml.
lock: venv
	$(BIN)/python -m pip install -q uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --no-header -o requirements.lock

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
