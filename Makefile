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

# pip byte-compiles what it installs one file at a time (about a minute of CPU for the
# dev lock); it installs without that and the site-packages are compiled afterwards on
# every core. A file that does not compile (some packages ship Python 2 examples) is
# skipped, as pip skips it.
PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check --no-compile
COMPILE_SITE := $(PY) -m compileall -q -j 0 \
	"$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" >/dev/null || true

# Installs exactly the lock file, then Lyra itself without resolving anything again.
$(RUNTIME): requirements.lock pyproject.toml | $(PY)
	$(PIP_INSTALL) -r requirements.lock
	$(PIP_INSTALL) --no-deps -e .
	$(COMPILE_SITE)
	@touch $@

$(DEV): requirements-dev.lock pyproject.toml | $(PY)
	$(PIP_INSTALL) -r requirements-dev.lock
	$(PIP_INSTALL) --no-deps -e .
	$(COMPILE_SITE)
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
# The project's own modules are byte-compiled first: where PYTHONDONTWRITEBYTECODE is set
# (this machine sets it) every `lyra` process the tests start would compile again what
# it imports (up to 0.7 s of CPU each); cached bytecode is still read under that setting.
TEST_WORKERS ?= 2
pytest: $(DEV)
	$(PY) -m compileall -q -j 0 lyra flows tasks deployments benchmarks tests >/dev/null
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=30

# The dev lock plus the optional `bench` extra (LiteLLM, for benchmarks/gateway.py).
# Regenerate: uv pip compile pyproject.toml --extra dev --extra bench --python-version 3.11
#   --no-header -o requirements-bench.lock
BENCH := $(VENV)/.installed-bench
$(BENCH): requirements-bench.lock pyproject.toml | $(PY)
	$(PIP_INSTALL) -r requirements-bench.lock
	$(PIP_INSTALL) --no-deps -e .
	$(COMPILE_SITE)
	@touch $@

bench: $(DEV) $(BENCH)
	@for script in benchmarks/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

# Regenerate the lock files after changing dependencies in pyproject.toml (needs uv).
lock:
	uv pip compile pyproject.toml --python-version 3.11 --no-header -o requirements.lock
	uv pip compile pyproject.toml --extra dev --python-version 3.11 --no-header -o requirements-dev.lock

clean:
	rm -rf $(VENV) .lyra .pytest_cache .mypy_cache .ruff_cache
