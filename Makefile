# Targets work from a fresh clone: the first one that needs it creates .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install lint test bench sandbox clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall when the dependency list changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,dev]"
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check ecomviz_nb tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python benchmarks/bench_client.py
	$(BIN)/python benchmarks/bench_polling.py
	$(BIN)/python benchmarks/bench_render.py
	$(BIN)/python benchmarks/bench_sandbox.py

# A local EcomViz sandbox in the foreground: make sandbox PORT=8787 ARGS="--data-dir state"
PORT ?= 8787
sandbox: install
	$(BIN)/ecomviz-nb sandbox --port $(PORT) $(ARGS)

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
