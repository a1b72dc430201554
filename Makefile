# Hostledger developer commands. Needs only python3 (>= 3.11) and make: everything else is
# installed into ./.venv on first use and reinstalled only when pyproject.toml changes.

PYTHON ?= python3
PYTEST_ARGS ?=

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

.PHONY: help install run test lint format openapi migration bench clean

help:
	@echo "make install                 create .venv and install the project with its dev tools"
	@echo "make run                     migrate the database and serve on http://127.0.0.1:8000"
	@echo "make test                    ruff, ruff format --check, mypy, pytest (PYTEST_ARGS=...)"
	@echo "make lint                    ruff, ruff format --check, mypy"
	@echo "make format                  ruff format, then ruff check --fix"
	@echo "make openapi                 regenerate openapi.yaml from the code"
	@echo "make migration m=\"message\"   autogenerate an Alembic migration"
	@echo "make bench                   run the benchmarks"
	@echo "make clean                   remove caches and build output (keeps .venv and var/)"

# The setup: a virtualenv with the project installed editable. The stamp file depends on
# pyproject.toml, so dependencies are reinstalled only when it changes.
$(VENV): $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/pip install -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Development settings: the SQLite database and generated secrets live under ./var.
run: $(STAMP)
	$(BIN)/hostledger migrate
	$(BIN)/hostledger serve --host 127.0.0.1 --port 8000

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app

# The tests build their own temporary database (SQLite unless HOSTLEDGER_TEST_DATABASE_URL
# names a PostgreSQL one); they never touch ./var.
test: lint
	$(BIN)/pytest -q $(PYTEST_ARGS)

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Written to a temporary file first, so a failure never leaves a truncated contract behind.
openapi: $(STAMP)
	$(BIN)/hostledger openapi > openapi.yaml.tmp
	mv openapi.yaml.tmp openapi.yaml

# Autogenerate compares the models with a database at head, so migrate that database first.
migration: $(STAMP)
	@test -n "$(m)" || { echo 'usage: make migration m="describe the change"' >&2; exit 2; }
	$(BIN)/hostledger migrate
	$(BIN)/alembic revision --autogenerate -m "$(m)"

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis openapi.yaml.tmp
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
