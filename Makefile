# quantarb — `make run` serves the embedded platform; `make test` runs the whole suite.
# Both set everything up on a fresh machine with Python 3.11+ and Node (virtualenv in .venv, npm packages).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
export DJANGO_SETTINGS_MODULE ?= quantarb.settings.local

.PHONY: run test setup lint bench clean-db messages

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

.env:
	$(PYTHON) scripts/write_env.py .env

setup: $(VENV)/.installed node_modules/.package-lock.json .env
	@mkdir -p var

run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo "Open http://$(HOST):$(PORT)/ and log in as demo-trader."
	$(PY) manage.py runplatform --host $(HOST) --port $(PORT)

# QUANTARB_REQUIRE_SERVICES=1 (set by .ci/run) makes PostgreSQL, Redis and Chromium mandatory: missing ones fail.
# In that mode the suite runs on three pytest-xdist workers, each with its own test database (pytest-django's _gw<n>
# suffix) and Redis db (quantarb/settings/test.py); tests that must not run beside each other share an xdist group
# (tests/conftest.py). Three on a two-core machine: much of the suite waits (on subprocesses, sockets, wall-clock
# deadlines), so a third worker fills the cores while the others wait. PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= 3
ifeq ($(QUANTARB_REQUIRE_SERVICES),1)
ifneq ($(PYTEST_WORKERS),0)
PYTEST_XDIST_ARGS := -n $(PYTEST_WORKERS) --dist loadgroup
endif
endif
test: setup
	DJANGO_SETTINGS_MODULE=quantarb.settings.test $(PY) -m pytest $(PYTEST_XDIST_ARGS) $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DJANGO_SETTINGS_MODULE=quantarb.settings.test $(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports
	$(PY) scripts/import_graph.py >/dev/null || $(PY) scripts/import_graph.py
	$(PY) scripts/deferred_imports.py

bench: setup
	$(PY) bench/spread_engine.py

messages: setup
	$(PY) manage.py makemessages -l zh_Hans --ignore=.venv --ignore=node_modules
	$(PY) manage.py compilemessages --ignore=.venv --ignore=node_modules
