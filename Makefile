# leadrank — everything a fresh clone needs, in two commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_LEADS ?= 5000

.PHONY: run test install install-test services chromium bench clean lint

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "leadrank needs Python 3.11+"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

## Create the venv, prepare the SQLite demo workspace, serve on http://127.0.0.1:8000
run: install
	LEADRANK_HOST=$(HOST) LEADRANK_PORT=$(PORT) $(VENV)/bin/leadrank demo --leads $(DEMO_LEADS)
	$(VENV)/bin/leadrank serve --host $(HOST) --port $(PORT)

## Install what the tests need (Chromium, PostgreSQL and Redis when this machine lacks them) and run them all
test: install-test services chromium
	$(PY) -m pytest -q $(PYTEST_ARGS)

services:
	@bash scripts/ensure-services.sh

chromium:
	@bash scripts/ensure-chromium.sh

bench: install-test
	$(PY) -m pip install --quiet -e '.[bench]'
	@echo "see bench/README.md: each script prints its own figures"

clean:
	rm -rf $(VENV) data .pytest_cache test-artifacts
