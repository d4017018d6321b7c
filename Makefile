# Developer entry points. Every target bootstraps what it needs from nothing but python3.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHECKOV_VENV := .venv-checkov

.PHONY: help test check report-check lint pytest checkov validate e2e bench demo local-up local-down \
  schema fmt clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# uv installs in about a fifth of pip's time (it resolves and unpacks in parallel); pip is the
# fallback when uv cannot reach the index the way pip is configured to.
UV_VERSION := 0.13.9
PIP := pip install --quiet --disable-pip-version-check
define install
$(1)/bin/$(PIP) uv==$(UV_VERSION)
$(1)/bin/uv pip install --quiet --python $(1)/bin/python $(2) || $(1)/bin/$(PIP) $(2)
endef

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(call install,$(VENV),-e '.[dev]')
	touch $@

# checkov pins an older boto3 than the project, so it lives in a virtualenv of its own.
$(CHECKOV_VENV)/.installed: tools/checkov-requirements.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(call install,$(CHECKOV_VENV),-r tools/checkov-requirements.txt)
	touch $@

# The Terraform cycle mostly waits (provider polling of KMS, SQS, ...) while pytest and checkov
# use the CPU: they run side by side, each target's output kept together.
test: lint ## everything CI runs: lint, types, pytest, the real Terraform cycle, checkov, the report in Chromium
	$(MAKE) --no-print-directory -j3 --output-sync=target pytest e2e checkov
	$(MAKE) --no-print-directory report-check

# The edit loop: no moto or Bedrock servers, no browser, nothing marked slow, and not the
# heaviest moto suites (each of their tests builds an IAM account or a seeded table; together
# they are three quarters of the suite's time); make test runs all of them.
CHECK_SKIP := $(addprefix --ignore=tests/,enforcer/test_refusals.py enforcer/test_lock_flow.py \
  enforcer/test_tags_and_math.py enforcer/test_forged_messages.py gate/test_token_gate.py \
  gate/test_malformed_requests.py gate/test_usage_store.py cli/test_widths.py cli/test_usage.py \
  cli/test_locks_and_unlock.py cli/test_settings_and_errors.py)
check: lint ## the edit loop in at most 90 s: lint, then the fast tests (make test runs the rest)
	$(BIN)/pytest -q -n auto -p no:cacheprovider -m "not server and not browser and not slow" \
	  $(CHECK_SKIP) --durations=5

# Debian's chromium, installed when missing (the one target that needs root for apt-get).
report-check: $(BIN)/.installed ## the HTML report in headless Chromium: no overflow at 1280 px; screenshot in build/artifacts
	@if [ ! -x /usr/bin/chromium ]; then \
	  SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	fi
	REQUIRE_BROWSER=1 $(BIN)/pytest -q -p no:xdist -p no:cacheprovider -m browser tests/cli/test_report_browser.py
	@echo "screenshot: build/artifacts/report.png"

lint: $(BIN)/.installed ## ruff (style, imports, bugbear) and mypy on lambda_src
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# One worker more than cores: several tests mostly wait on terraform and servers in other
# processes (one pair of fresh-clone runs on 2 cores, beside the Terraform cycle: pytest took
# 6 min 33 s with 3 workers, 7 min 8 s with 2; the machine's noise is of the same order).
PYTEST_WORKERS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) + 1 )))
pytest: $(BIN)/.installed ## the pytest suite
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --durations=15

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

bench: $(BIN)/.installed ## accounting overshoot, API calls per request, cold import, zip size, meter throughput
	$(BIN)/python tools/bench.py

schema: $(BIN)/.installed ## regenerate the committed provider-schema subset from cdktn-provider-aws
	$(BIN)/python tools/gen_provider_schema.py

fmt: $(BIN)/.installed ## format Python (and Terraform where installed)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	@if command -v terraform >/dev/null 2>&1; then terraform fmt -recursive .; fi

clean: ## remove virtualenvs and caches
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache .mypy_cache .ruff_cache build modules/*/builds
