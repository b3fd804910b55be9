# Targets work from a fresh clone: the first one that needs it creates .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install lint test bench soak sandbox clean

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
	$(BIN)/python benchmarks/bench_display.py
	$(BIN)/python benchmarks/bench_sweep.py
	$(BIN)/python benchmarks/bench_batch.py

# The faults suite at full size (300 jobs under ~20% injected faults) and a 60 s outage in the
# middle of a 120 s job; prints their tables (about 3.5 minutes). ARGS="--jobs 600" to change.
soak: install
	$(BIN)/python benchmarks/soak.py $(ARGS)

# A local EcomViz sandbox in the foreground: make sandbox PORT=8787 ARGS="--data-dir state"
PORT ?= 8787
sandbox: install
	$(BIN)/ecomviz-nb sandbox --port $(PORT) $(ARGS)

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache

# The demo: JupyterLab on notebooks/01_quickstart.ipynb with a local sandbox as the backend
# (no token needed). HEADLESS=1 instead runs every notebook against one sandbox and writes
# build/demo-report.html plus each notebook's HTML under build/. LAB_PORT sets JupyterLab's port.
HEADLESS   ?=
LAB_PORT   ?= 8888
DEMO_STAMP := $(VENV)/.installed-demo

$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[demo]"
	touch $(DEMO_STAMP)

.PHONY: demo
demo: $(DEMO_STAMP)
	$(BIN)/ecomviz-nb demo $(if $(filter 1 yes true,$(HEADLESS)),--headless,--port $(LAB_PORT))
