# Two commands set everything up on a fresh machine with Python 3.11 and make:
#   make run   - create .venv, install, migrate, sync content, serve on http://127.0.0.1:5000
#   make test  - create .venv, install with test extras, run the whole suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip

.PHONY: run test install install-test benchmarks lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install --quiet -c constraints.txt -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/mitrain init --demo
	$(BIN)/mitrain serve

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

benchmarks: install
	$(BIN)/python benchmarks/coder_annomi.py
	$(BIN)/python benchmarks/pipeline.py
	$(BIN)/python benchmarks/drill_latency.py

lint: install
	$(PIP) install --quiet -c constraints.txt -e '.[lint]'
	$(BIN)/ruff check mitrain coding benchmarks tests
	$(BIN)/mypy --ignore-missing-imports mitrain coding

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
