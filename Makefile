# Lyra: `make run` and `make test` are all a fresh machine needs (Python 3.11).
# `make lint` also checks the layer contracts of docs/architecture.md (import-linter).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120

.PHONY: run test lint format typecheck pytest bench lock clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Lyra needs Python 3.11, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)

# Installs exactly the lock file, then Lyra itself without resolving anything again.
$(RUNTIME): requirements.lock pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

$(DEV): requirements-dev.lock pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@ $(RUNTIME)

run: $(RUNTIME)
	$(VENV)/bin/lyra run

test: lint typecheck pytest

lint: $(DEV)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(DEV)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: $(DEV)
	$(VENV)/bin/mypy

# Two workers (the CI machine has two cores), each taking whole test files: a file's
# tests share its fixtures and servers. Every test uses its own database, directory and
# ports, so files do not depend on each other. `make pytest TEST_WORKERS=0` runs in one.
# Files are handed out in collection order, which tests/conftest.py starts with the few
# files that take minutes (SLOW_FILES_FIRST); xdist's default reorder (most tests first)
# left those one-test files for the end, one worker running them while the other idled.
TEST_WORKERS ?= 2
pytest: $(DEV)
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=30

# The dev lock plus the optional `bench` extra (LiteLLM, for benchmarks/gateway.py).
# Regenerate: uv pip compile pyproject.toml --extra dev --extra bench --python-version 3.11
#   --no-header -o requirements-bench.lock
BENCH := $(VENV)/.installed-bench
$(BENCH): requirements-bench.lock pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-bench.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

bench: $(DEV) $(BENCH)
	@for script in benchmarks/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

# Regenerate the lock files after changing dependencies in pyproject.toml (needs uv).
lock:
	uv pip compile pyproject.toml --python-version 3.11 --no-header -o requirements.lock
	uv pip compile pyproject.toml --extra dev --python-version 3.11 --no-header -o requirements-dev.lock

clean:
	rm -rf $(VENV) .lyra .pytest_cache .mypy_cache .ruff_cache
