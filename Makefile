# Two commands for a new machine with only Python 3.11 and pip:
#   make run   - create .venv, install, start the whole system (linkage up)
#   make test  - create .venv, install with dev extras, run every test
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
LOCK := requirements-dev.lock
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | sha1sum | cut -c1-12)
# `make lock` resolves pyproject.toml into requirements.lock (the image: runtime + the `otlp` exporter) and
# requirements-dev.lock (make run / make test: every extra, `local` and `dev` included), each version with its
# sha256 hashes. It keeps the versions already locked unless pyproject.toml asks for others.
UV_COMPILE := $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes --quiet \
	--custom-compile-command 'make lock'

.PHONY: lock run test unit integration e2e lint typecheck bench browser promtool clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (or run: make PYTHON=python3 ...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The locked versions with their hashes, then the project itself (its `local` and `dev` extras are in the lock).
$(STAMP): $(BIN)/python pyproject.toml $(LOCK)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

lock: $(STAMP)
	$(UV_COMPILE) --extra otlp -o requirements.lock
	$(UV_COMPILE) --all-extras -o requirements-dev.lock

# `make run` preloads DEMO_HISTORY days of past cases once per data directory (var/), so the display moves from
# the start; a later `make run` on the same var/ skips it. `make run DEMO_HISTORY=0` starts empty.
DEMO_HISTORY ?= 7

run: $(STAMP)
	$(BIN)/linkage up --demo-history $(DEMO_HISTORY)

test: $(STAMP)
	$(BIN)/python -m pytest tests

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit -q

integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration -q

e2e: $(STAMP)
	$(BIN)/python -m pytest tests/e2e -q

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy shared services linkage tests scripts

bench: $(STAMP)
	$(BIN)/linkage bench

# Debian's chromium + a CJK font for the headless-browser tests (optional; needs root and apt).
browser:
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null; }
	@command -v chromium >/dev/null 2>&1

# Debian's prometheus package for promtool: `promtool check/test rules` on deploy/monitoring (optional; the
# rule tests skip without it).
promtool:
	@command -v promtool >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
	@command -v promtool >/dev/null 2>&1

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
