# Every install step lives here: a fresh machine needs only Python 3.11.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME := $(CURDIR)/.dagster_home
DEMO := data/demo
DEMO_ENV := PROGRESS_LANDING=$(DEMO)/landing PROGRESS_WAREHOUSE=$(DEMO)/warehouse.duckdb \
	PROGRESS_REPORTS=$(DEMO)/reports PROGRESS_OUTBOX=$(DEMO)/outbox
ANKI := data/anki
ANKI_ENV := PROGRESS_LANDING=$(ANKI)/landing PROGRESS_WAREHOUSE=$(ANKI)/warehouse.duckdb \
	PROGRESS_REPORTS=$(ANKI)/reports PROGRESS_OUTBOX=$(ANKI)/outbox
EDNET := data/ednet
EDNET_ENV := PROGRESS_LANDING=$(EDNET)/landing PROGRESS_WAREHOUSE=$(EDNET)/warehouse.duckdb \
	PROGRESS_REPORTS=$(EDNET)/reports PROGRESS_OUTBOX=$(EDNET)/outbox
DEMO_LEARNERS ?= 300
PG_BIN := /usr/lib/postgresql/15/bin

.PHONY: install system-deps demo demo-anki demo-ednet run run-sharded tune ui test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed $(DAGSTER_HOME)/dagster.yaml

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

# Debian packages: PostgreSQL 15 for the Postgres-source tests (a throwaway server the tests
# start themselves), Chromium for the browser test and for PNG copies of the report figures,
# Redis for the Celery broker of the sharded run (`make run-sharded` and its test).
system-deps:
	@missing=""; \
	[ -x $(PG_BIN)/initdb ] || missing="$$missing postgresql"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then \
		if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
			echo "installing:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else echo "missing Debian packages:$$missing (install them as root)"; exit 1; fi; \
	fi

demo: install system-deps
	$(BIN)/python -m landing.generate --out $(DEMO)/landing --learners $(DEMO_LEARNERS) --clean
	rm -f $(DEMO)/warehouse.duckdb*
	$(DEMO_ENV) $(BIN)/dagster asset materialize --select '*' -m pipelines.definitions
	@$(DEMO_ENV) $(BIN)/python -m pipelines.summary

demo-anki: install system-deps
	$(BIN)/python -m landing.adapters.anki --out $(ANKI)/landing
	rm -f $(ANKI)/warehouse.duckdb*
	$(ANKI_ENV) $(BIN)/dagster asset materialize --select '*' -m pipelines.definitions
	@$(ANKI_ENV) $(BIN)/python -m pipelines.summary

# The EdNet KT4 sample (9 real TOEIC learners) as a course platform: the LMS tables only.
demo-ednet: install
	$(BIN)/python -m landing.adapters.ednet --out $(EDNET)/landing
	rm -f $(EDNET)/warehouse.duckdb*
	$(EDNET_ENV) $(BIN)/dagster asset materialize --select 'group:lms' -m pipelines.definitions

run: install system-deps
	$(BIN)/dagster job execute -j nightly -m pipelines.definitions
	@$(BIN)/python -m pipelines.summary

# The nightly job sharded by learner bucket on this machine: a Redis broker and two Celery
# worker processes (on 127.0.0.1, free ports; stopped at the end), the lake in PROGRESS_LAKE.
run-sharded: install system-deps
	$(BIN)/python -m pipelines.celery_local --workers 2
	@$(BIN)/python -m pipelines.summary

tune: install
	$(BIN)/dagster job execute -j tuning -m pipelines.definitions

ui: install
	$(BIN)/dagster dev -m pipelines.definitions -h 127.0.0.1 -p 3000

test: install system-deps
	$(BIN)/pytest -n 2 --dist worksteal

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Every script in benchmarks/ (all but the shared helpers), one after another.
BENCHMARKS := $(filter-out benchmarks/__init__.py benchmarks/common.py,$(wildcard benchmarks/*.py))

bench: install
	@for script in $(BENCHMARKS); do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(DEMO) $(ANKI) $(EDNET) .dagster_home
