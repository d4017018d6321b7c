# Developer entry points. Every target bootstraps what it needs from nothing but python3.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHECKOV_VENV := .venv-checkov
TF_DIRS := $(sort $(dir $(wildcard modules/*/versions.tf environments/*/versions.tf)))

.PHONY: help test check report-check lint pytest checkov validate bench demo schema fmt clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

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

test: lint pytest checkov report-check ## everything CI runs: lint, types, pytest (Python and Terraform checks), checkov, the report in Chromium

# The edit loop: no moto or Bedrock servers, no browser, nothing marked slow, and not the
# heaviest moto suites (each of their tests builds an IAM account or a seeded table; together
# they are three quarters of the suite's time); make test runs all of them.
CHECK_SKIP := $(addprefix --ignore=tests/,enforcer/test_refusals.py enforcer/test_lock_flow.py \
  enforcer/test_tags_and_math.py enforcer/test_forged_messages.py gate/test_token_gate.py \
  gate/test_malformed_requests.py gate/test_usage_store.py cli/test_widths.py cli/test_usage.py \
  cli/test_locks_and_unlock.py cli/test_settings_and_errors.py demo/test_config.py)
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

pytest: $(BIN)/.installed ## the pytest suite
	$(BIN)/pytest -q -n auto --durations=15

checkov: $(CHECKOV_VENV)/.installed ## checkov over every module and environment
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml

validate: $(BIN)/.installed ## offline Terraform checks, plus fmt/validate where terraform is installed
	$(BIN)/pytest -q tests/terraform
	@if command -v terraform >/dev/null 2>&1; then \
	  terraform fmt -check -recursive -diff . ; \
	  tools/terraform-validate.sh $(TF_DIRS); \
	else echo "terraform not installed: skipped terraform fmt -check and terraform validate"; fi

demo: $(BIN)/.installed ## the whole control loop on local stand-ins of AWS and Bedrock
	$(BIN)/python -m bedrock_guard.demo

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
