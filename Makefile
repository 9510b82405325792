# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: demo-fleet run test install page browser openapi lint format bench bench-fleet chaos simulate-ollama demo clean

$(INSTALLED): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(INSTALLED)

install: $(INSTALLED)

# `npm install` (not `npm ci`) installs exactly what package-lock.json pins and leaves it unchanged; it
# also copes with a registry mirror that lacks some other platform's optional packages, which `npm ci`
# refuses outright.
NODE_MODULES := frontend/node_modules/.installed
$(NODE_MODULES): frontend/package.json frontend/package-lock.json
	cd frontend && npm install --no-audit --no-fund
	touch $(NODE_MODULES)

# The official Node clients (ollama, openai) the client matrix runs, pinned by their lock file.
NODE_CLIENTS := tests/clients/node/node_modules/.installed
$(NODE_CLIENTS): tests/clients/node/package.json tests/clients/node/package-lock.json
	cd tests/clients/node && npm install --no-audit --no-fund
	touch $(NODE_CLIENTS)

## Build the page (frontend/ → frontend/dist, served at / by `aijobs serve`), when its sources changed
## since the last build: `make run` starts at once when they did not.
PAGE := frontend/dist/index.html
PAGE_SOURCES := $(shell find frontend/src -type f) frontend/index.html frontend/package.json \
	frontend/package-lock.json frontend/openapi.json $(wildcard frontend/vite.config.* frontend/tsconfig*.json)
$(PAGE): $(NODE_MODULES) $(PAGE_SOURCES)
	cd frontend && npm run build
	touch $(PAGE)

page: $(PAGE)

## Debian's Chromium for the browser tests (apt-get; sudo when not root).
browser:
	./scripts/ensure-chromium.sh

## Regenerate the page's copy of the API schema after changing the API.
openapi: install
	$(PY) -c "import json; from app.main import create_app; print(json.dumps(create_app().openapi(), indent=1, sort_keys=True))" > frontend/openapi.json
	cd frontend && npm run api-types

# Ports: PORT is where `aijobs serve` listens (the variable it reads itself; default 8000), OLLAMA_PORT
# where the Ollama stand-in does: `make demo PORT=8001 OLLAMA_PORT=11435`.
OLLAMA_PORT ?= 11434
SERVE := $(VENV)/bin/aijobs serve$(if $(PORT), --port $(PORT))

## Start the service (API + job processor + the page) on the embedded PostgreSQL in ./.aijobs.
run: install $(PAGE)
	$(SERVE)

## Install what the tests need and run them all: lint, the page's unit tests, then pytest (which
## includes the end-to-end browser test).
test: install page browser $(NODE_CLIENTS)
	$(PY) -m ruff check backend tests bench
	cd frontend && npm test
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check backend tests bench
	$(PY) -m ruff format --check backend tests bench

format: install
	$(PY) -m ruff format backend tests bench
	$(PY) -m ruff check --fix backend tests bench

## The queue engine against floors measured in the same run (bench/floors.py): drain, enqueue, pickup,
## round trips and CPU per job, GPU idle gap, status/submit over HTTP, broker overhead, long history.
## A table of aijobs, floor, ratio and aim, medians of 3 interleaved rounds; a few minutes.
bench: install
	$(PY) bench/run.py

## The fleet's two schedulers on one seeded trace (bench/fleet_bench.py): 2 GPU hosts (Ollama stand-ins
## holding one model at a time), 4 models, 4 users; SCHEDULER=fifo, then placement, each on a fresh
## database with one `aijobs worker`. Model loads, GPU time loading, throughput, waits per user, fairness,
## and the aims judged on the printed figures. About 5 minutes; not part of `make test`.
bench-fleet: install
	$(PY) bench/fleet_bench.py

## A chaos run anyone can repeat (bench/chaos.py): jobs through 3 `aijobs worker` processes on one GPU host
## (the Ollama stand-in, 2 slots) while a schedule drawn from the seed kills workers with kill -9, freezes
## others with SIGSTOP (some past lease + grace) and restarts PostgreSQL; prints jobs accepted, completed,
## failed, lost, run more than once (each explained from job_events), the most in flight at once, and the
## aims. About 2 minutes; not part of `make test`. Options: `make chaos CHAOS_ARGS="--seed 2 --jobs 200"`.
CHAOS_ARGS ?=
chaos: install
	$(PY) bench/chaos.py $(CHAOS_ARGS)

## The Ollama stand-in on OLLAMA_PORT (11434), for trying aijobs on a machine without Ollama.
simulate-ollama: install
	$(VENV)/bin/aijobs simulate-ollama --port $(OLLAMA_PORT)

## `make run` with the Ollama stand-in beside it on OLLAMA_PORT, and the service pointed at it (development only).
demo: install $(PAGE)
	$(VENV)/bin/aijobs simulate-ollama --port $(OLLAMA_PORT) & sim=$$!; trap "kill $$sim 2>/dev/null" EXIT; \
		OLLAMA_BASE_URL=http://127.0.0.1:$(OLLAMA_PORT) $(SERVE)

## Three GPU hosts for a demo of the fleet: three Ollama stand-ins (OLLAMA_PORT and the next two), each
## with 4 GiB of GPU memory and 2 s model loads, and the service pointed at them through OLLAMA_HOSTS.
FLEET_SIM := $(VENV)/bin/aijobs simulate-ollama --vram 4GiB --load-ms 2000
FLEET_PORTS := $(OLLAMA_PORT) $(shell echo $$(($(OLLAMA_PORT) + 1)) $$(($(OLLAMA_PORT) + 2)))
FLEET_HOSTS := box-a http://127.0.0.1:$(word 1,$(FLEET_PORTS)) slots=1; box-b http://127.0.0.1:$(word 2,$(FLEET_PORTS)) slots=1; box-c http://127.0.0.1:$(word 3,$(FLEET_PORTS)) slots=2
demo-fleet: install $(PAGE)
	pids=""; for port in $(FLEET_PORTS); do $(FLEET_SIM) --port $$port & pids="$$pids $$!"; done; \
		trap "kill $$pids 2>/dev/null" EXIT; \
		OLLAMA_HOSTS="$(FLEET_HOSTS)" $(SERVE)

clean:
	rm -rf $(VENV) .aijobs .pytest_cache .ruff_cache
