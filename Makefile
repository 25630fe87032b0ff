# trialwatch — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM ?= /usr/bin/chromium
TEST_PG_URL ?= postgresql+psycopg2://postgres@127.0.0.1:5432/postgres
# make up: REGISTRY=live (clinicaltrials.gov) or REGISTRY=replay (the local replay registry)
REGISTRY ?= live
TRIALWATCH_HOME ?= $(CURDIR)/.trialwatch

.PHONY: setup demo test test-clock up up-demo lint browser compose-client screenshots bench clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt -c constraints.txt \
		-e '.[airflow,ui,replay,postgres]'
	touch $(STAMP)

## Run the monitor offline: replay registry day 1 and day 2, digest captured by a local mail sink.
demo: setup
	$(BIN)/trialwatch demo

## Run every test (PostgreSQL tests against TEST_PG_URL, browser tests in Debian's Chromium, the
## CeleryExecutor test against Redis on 127.0.0.1:6379, database 13: about 2 minutes of the run).
test: setup browser compose-client
	TRIALWATCH_TEST_PG_URL=$(TEST_PG_URL) $(BIN)/python -m pytest

## Every test again with the clock a year ahead, to prove none depends on today's date.
test-clock: setup browser compose-client
	TRIALWATCH_TEST_CLOCK_SHIFT_DAYS=365 TRIALWATCH_TEST_PG_URL=$(TEST_PG_URL) $(BIN)/python -m pytest

## Airflow standalone with our DAGs and plugin on http://127.0.0.1:8080 (admin password printed at start);
## HOST=0.0.0.0 to listen on every interface.
up: setup
	HOST=$(HOST) REGISTRY=$(REGISTRY) TRIALWATCH_HOME=$(TRIALWATCH_HOME) bash scripts/up.sh

## The demo in the UI: `make demo` first, then this. Its store, and its DAG runs and task logs (the demo's
## Airflow home, .demo/airflow); the replay registry at day 2, where the demo ended.
up-demo: setup
	HOST=$(HOST) REGISTRY=replay REPLAY_DAY=2 TRIALWATCH_HOME=$(CURDIR)/.demo AIRFLOW_HOME=$(CURDIR)/.demo/airflow \
		bash scripts/up.sh

## Debian's Chromium for the browser tests (never a browser downloaded by a test tool).
browser:
	@test -x $(CHROMIUM) || { echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## Debian's docker-compose client: tests/deploy checks the stack with `docker-compose config` (no engine needed).
compose-client:
	@command -v docker-compose >/dev/null || { echo "installing Debian's docker-compose for tests/deploy"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; }

## Regenerate the screenshots in docs/: the demo's day-2 digest as sent, and the Trial Watch pages.
screenshots: setup browser
	test -f .demo/trialwatch.db || $(BIN)/trialwatch demo
	TRIALWATCH_HOME=$(CURDIR)/.demo $(BIN)/python scripts/screenshot_digest.py
	$(BIN)/python scripts/screenshot_ui.py

## Benchmarks: print figures, never assert timings.
bench: setup
	$(BIN)/python benchmarks/bench_diff.py
	$(BIN)/python benchmarks/bench_changed.py
	$(BIN)/python benchmarks/bench_ui_overview.py
	$(BIN)/python benchmarks/bench_ui_scale.py --backends sqlite,postgres --pg-url $(TEST_PG_URL)
	$(BIN)/python benchmarks/bench_digest.py
	$(BIN)/python benchmarks/bench_sync.py
	$(BIN)/python benchmarks/bench_airflow.py

## ruff, then the import contracts in pyproject.toml (layers, no cycles; see docs/design.md).
lint: setup
	$(BIN)/ruff check include dags plugins tests benchmarks scripts
	PYTHONPATH=include:plugins $(BIN)/lint-imports

clean:
	rm -rf $(VENV) .demo .pytest_cache
