# Two commands on a fresh machine: `make demo` and `make test`; each creates .venv when absent.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.faceweave-installed

.PHONY: setup demo test lint bench clean

$(STAMP): requirements.txt requirements-nodeps.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/faceweave demo

test: $(STAMP)
	sh tools/ensure_chromium.sh
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check src tests benchmarks tools
	$(PY) -m ruff format --check src tests benchmarks tools
	$(PY) -m mypy

bench: $(STAMP)
	$(PY) benchmarks/video_io.py
	$(PY) benchmarks/extract.py
	$(PY) benchmarks/train.py

clean:
	rm -rf $(VENV) demo_workspace bench_out
