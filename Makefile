# Set-up and everyday commands. `make demo` and `make test` work on a fresh machine with only
# Python 3.11 and pip: they create .venv from the pinned requirements.lock first.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := data/demo
DEMO_SEED := 42
DEMO_AS_OF := 2026-10-31
DAGSTER_HOME_DIR := $(CURDIR)/data/dagster_home

.PHONY: demo test test-lake lint format ui bench evaluate peer-deps clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	rm -rf $(DEMO)
	mkdir -p $(DAGSTER_HOME_DIR)
	cp config/dagster.yaml $(DAGSTER_HOME_DIR)/dagster.yaml
	$(BIN)/pms generate --out $(DEMO)/landing --seed $(DEMO_SEED) --scale demo
	DAGSTER_HOME=$(DAGSTER_HOME_DIR) $(BIN)/pms run --landing $(DEMO)/landing \
		--warehouse $(DEMO)/warehouse/pms.duckdb --reports $(DEMO)/reports --as-of $(DEMO_AS_OF)
	@echo
	@echo "Reports:   $(CURDIR)/$(DEMO)/reports/index.html"
	@echo "Warehouse: $(CURDIR)/$(DEMO)/warehouse/pms.duckdb"
	@echo "Browse it: make ui   (Dagster UI on http://127.0.0.1:3000)"

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q -n 2

# The second backend (README: "Second backend: DuckLake on PostgreSQL"). Its DuckDB extensions
# come packaged from PyPI for one DuckDB release, so it has its own venv and lock; the test starts
# a throwaway PostgreSQL server (Debian: apt-get install postgresql) and fails if it cannot.
LAKE_VENV := .venv-lake
LAKE_BIN := $(LAKE_VENV)/bin
LAKE_STAMP := $(LAKE_VENV)/.installed

$(LAKE_STAMP): pyproject.toml requirements-lake.lock
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version'
	$(PYTHON) -m venv $(LAKE_VENV)
	echo '*' > $(LAKE_VENV)/.gitignore
	$(LAKE_BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-lake.lock
	$(LAKE_BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(LAKE_STAMP)

test-lake: $(LAKE_STAMP)
	PMS_REQUIRE_LAKE=1 $(LAKE_BIN)/python -m pytest -q tests/lake

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

ui: $(STAMP)
	mkdir -p $(DAGSTER_HOME_DIR)
	cp config/dagster.yaml $(DAGSTER_HOME_DIR)/dagster.yaml
	DAGSTER_HOME=$(DAGSTER_HOME_DIR) PMS_LANDING=$(CURDIR)/$(DEMO)/landing \
	PMS_WAREHOUSE=$(CURDIR)/$(DEMO)/warehouse/pms.duckdb PMS_REPORTS=$(CURDIR)/$(DEMO)/reports \
	PMS_AS_OF=$(DEMO_AS_OF) $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

BENCH_SCALE ?= maude

bench: $(STAMP)
	$(BIN)/python -m pipelines.bench --scale $(BENCH_SCALE) --out data/bench

# `pms evaluate` runs R's surveillance package beside our trend methods (pipelines/peer.py); it
# says so and goes on without it. peer-deps installs Debian's packages when Rscript or the package
# is missing (root, or sudo).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

peer-deps:
	@if ! command -v Rscript >/dev/null 2>&1 \
		|| ! Rscript -e 'quit(status = !requireNamespace("surveillance", quietly = TRUE))' \
			>/dev/null 2>&1; then \
		$(SUDO) apt-get update -qq; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			r-base-core r-cran-surveillance >/dev/null; \
	fi

# every world x 5 seeds, about 4 minutes a pair on one core: EVALUATE_JOBS=4 runs 4 at once
EVALUATE_JOBS ?= 1

evaluate: $(STAMP)
	$(BIN)/pms evaluate --worlds all --seeds 1 2 3 4 5 --jobs $(EVALUATE_JOBS)

clean:
	rm -rf $(DEMO) $(DAGSTER_HOME_DIR)
