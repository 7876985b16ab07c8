# newspipe: `make demo` runs the demo, `make test` the tests. Only python3 (3.11) is needed.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.synced: pyproject.toml uv.lock Makefile | $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	touch $@

.PHONY: venv
venv: $(VENV)/.synced ## create .venv from uv.lock

.PHONY: demo
demo: venv ## build the fixture web, run news_ingest and news_quality through Airflow, print results
	$(VENV)/bin/newspipe demo

.PHONY: test
test: venv ## every test: unit, DAG integrity, end-to-end through Airflow, integration
	$(VENV)/bin/python -m pytest -p no:cacheprovider

.PHONY: lint
lint: venv ## ruff
	$(VENV)/bin/ruff check .

.PHONY: bench
bench: venv ## run the benchmarks and write BENCHMARKS.md
	$(VENV)/bin/python bench/run_all.py --output BENCHMARKS.md

.PHONY: airflow
airflow: venv ## the Airflow UI on localhost with the DAGs scheduled against the fixture server
	$(VENV)/bin/newspipe airflow

.PHONY: clean
clean: ## remove local state (.airflow, var/), keep the venv
	rm -rf .airflow var
