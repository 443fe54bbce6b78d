# The README's two commands: `make setup` (environment, kernel, data, main job) and `make test`.
# Both are safe to run again and again: the environment is reused, ingest skips unchanged inputs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
KERNEL := cla-analysis

.PHONY: setup install kernel run test test-all lint format lock clean

setup: kernel run

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed (set PYTHON=python3.11)"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

# the project kernel, inside the virtual environment, so papermill, nbval and JupyterLab find it
kernel: $(STAMP)
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python ($(KERNEL))" > /dev/null

# the main job on the embedded default data: build the processed data, then run the default
# papers for the default LA (Stockton-on-Tees) through the runner -> reports/index.html
run: kernel
	$(BIN)/analysis synth --if-missing
	$(BIN)/analysis ingest
	$(BIN)/analysis run

# the test processes (pytest-xdist): each test file runs whole in one of them, so its fixtures are built once
TEST_WORKERS ?= 2
XDIST := -n $(TEST_WORKERS) --dist loadfile

# the fast tier: module tests and notebook runs on small data
test: kernel
	$(BIN)/python -m pytest $(XDIST) -m "not slow"

# everything, the full-size runs included (what CI runs, after `make lint`)
test-all: kernel
	$(BIN)/python -m pytest $(XDIST)

# refresh the pinned versions after changing dependencies in pyproject.toml
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e ' > requirements.lock

clean:
	rm -rf data/processed/public data/processed/.public.* reports/*/ reports/index.html reports/state.json

# lint and format check (CI runs it before the tests); `make format` rewrites the files
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks notebooks
	$(BIN)/ruff format --check src tests benchmarks notebooks

format: $(STAMP)
	$(BIN)/ruff check --fix src tests benchmarks notebooks
	$(BIN)/ruff format src tests benchmarks notebooks
