# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: run test install lint format bench simulate-ollama demo clean

$(INSTALLED): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(INSTALLED)

install: $(INSTALLED)

## Start the service (API + job processor) on the embedded PostgreSQL in ./.aijobs.
run: install
	$(VENV)/bin/aijobs serve

## Install what the tests need and run them all (lint included).
test: install
	$(PY) -m ruff check backend tests bench
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check backend tests bench
	$(PY) -m ruff format --check backend tests bench

format: install
	$(PY) -m ruff format backend tests bench
	$(PY) -m ruff check --fix backend tests bench

## Print queue figures: enqueue rate, throughput, pickup latency, GPU idle gap, claim time.
bench: install
	$(PY) bench/queue_bench.py
	$(PY) bench/api_bench.py --queue-depth 10000

## The Ollama stand-in on port 11434, for trying aijobs on a machine without Ollama.
simulate-ollama: install
	$(VENV)/bin/aijobs simulate-ollama --port 11434

## `make run` with the Ollama stand-in beside it (development only).
demo: install
	$(VENV)/bin/aijobs simulate-ollama --port 11434 & sim=$$!; trap "kill $$sim" EXIT; $(VENV)/bin/aijobs serve

clean:
	rm -rf $(VENV) .aijobs .pytest_cache .ruff_cache
