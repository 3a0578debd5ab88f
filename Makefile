# Two commands for a new machine with only Python 3.11 and pip:
#   make run   - create .venv, install, start the whole system (linkage up)
#   make test  - create .venv, install with dev extras, run every test
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: run test unit integration e2e lint typecheck bench browser promtool clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (or run: make PYTHON=python3 ...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/linkage up

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
