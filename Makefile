# Developer entry points. Every target bootstraps what it needs from nothing but python3.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHECKOV_VENV := .venv-checkov

.PHONY: help test lint pytest checkov validate e2e bench demo local-up local-down schema fmt clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# checkov pins an older boto3 than the project, so it lives in a virtualenv of its own.
$(CHECKOV_VENV)/.installed: tools/checkov-requirements.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/checkov-requirements.txt
	touch $@

test: lint pytest checkov e2e ## everything CI runs: lint, types, pytest (Python and Terraform checks), checkov

lint: $(BIN)/.installed ## ruff (style, imports, bugbear) and mypy on lambda_src
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

pytest: $(BIN)/.installed ## the pytest suite
	$(BIN)/pytest -q -n auto --durations=15

checkov: $(CHECKOV_VENV)/.installed ## checkov over every module and environment
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml

validate: $(BIN)/.installed ## offline Terraform checks, then real fmt -check, init and validate of every folder (TF_OPTIONAL=1: allow no terraform)
	$(BIN)/pytest -q tests/terraform
	$(BIN)/python -m tools.tf_validate

e2e: $(BIN)/.installed ## real terraform apply, checks, re-plan, destroy of environments/dev and prod on the local AWS
	BEDROCK_GUARD_E2E=1 $(BIN)/pytest -q -s -p no:xdist --durations=5 tests/e2e

demo: $(BIN)/.installed ## terraform apply of environments/dev on the local AWS, then the whole control loop (--verbose: ARGS=--verbose)
	$(BIN)/python -m bedrock_guard.demo $(ARGS)

local-up: $(BIN)/.installed ## leave the local AWS and Bedrock running with environments/dev applied
	$(BIN)/python -m bedrock_guard.local.stack up

local-down: ## stop what local-up started
	$(BIN)/python -m bedrock_guard.local.stack down

bench: $(BIN)/.installed ## accounting overshoot, API calls per request, cold import, zip size
	$(BIN)/python tools/bench.py

schema: $(BIN)/.installed ## regenerate the committed provider-schema subset from cdktn-provider-aws
	$(BIN)/python tools/gen_provider_schema.py

fmt: $(BIN)/.installed ## format Python (and Terraform where installed)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	@if command -v terraform >/dev/null 2>&1; then terraform fmt -recursive .; fi

clean: ## remove virtualenvs and caches
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache .mypy_cache .ruff_cache build modules/*/builds
