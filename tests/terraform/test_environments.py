"""dev and prod compose all six modules the same way and differ only where production should."""

from __future__ import annotations

import re

import pytest

from tests.terraform.tfload import REPO, Labeled, load_module

ENVIRONMENTS = REPO / "environments"
DEV = load_module(ENVIRONMENTS / "dev")
PROD = load_module(ENVIRONMENTS / "prod")
SHARED_FILES = ("main.tf", "outputs.tf", "providers.tf", "backend.tf", "versions.tf")
MODULES = {"token_gate", "usage_plan", "aip_tenant", "alarm_enforcer", "budget", "usage_meter"}
TOPIC = "${module.alarm_enforcer.sns_topic_arn}"


def default(variable: Labeled) -> object:
    return variable.body.get("default", "<required>")


@pytest.mark.parametrize("name", SHARED_FILES)
def test_wiring_is_identical_in_every_environment(name: str) -> None:
    dev = (ENVIRONMENTS / "dev" / name).read_text(encoding="utf-8")
    assert dev == (ENVIRONMENTS / "prod" / name).read_text(encoding="utf-8")


def test_both_declare_the_same_variables() -> None:
    assert set(DEV.variables) == set(PROD.variables)


def test_all_six_modules_are_composed() -> None:
    assert set(DEV.modules) == MODULES
    for call, block in DEV.modules.items():
        assert block.body["source"].startswith("../../modules/"), call


def test_every_lockout_alarm_targets_the_enforcer_topic() -> None:
    gate_alarms = DEV.modules["token_gate"].body["caller_alarms"]
    assert gate_alarms["sns_topic_arn"] == TOPIC
    assert DEV.modules["aip_tenant"].body["alarm_topic_arn"] == TOPIC
    # The enforcer's topic accepts only alarms named with its prefix: both alarm sources use it.
    prefix = DEV.modules["alarm_enforcer"].body["alarm_name_prefix"]
    assert DEV.modules["aip_tenant"].body["alarm_name_prefix"] == prefix
    assert DEV.locals["alarm_name_prefix"].startswith("${local.name}")
    assert DEV.modules["token_gate"].body["name"].startswith("${local.name}-")


def test_the_gate_and_the_enforcer_share_one_table() -> None:
    assert DEV.modules["alarm_enforcer"].body["ledger_table_name"] == (
        "${module.token_gate.table_name}"
    )


def test_tenant_profiles_become_gate_aliases_and_api_keys_become_callers() -> None:
    gate = DEV.modules["token_gate"].body
    assert "module.aip_tenant.model_aliases" in gate["model_aliases"]
    assert "module.usage_plan.api_key_ids[user]" in str(gate["api_key_callers"])
    usage_plan = DEV.modules["usage_plan"].body
    assert usage_plan["function_invoke_arn"] == "${module.token_gate.invoke_arn}"


def test_the_budget_action_applies_its_own_copy_of_the_deny_policy() -> None:
    """Holders kept apart: the enforcer detaches its own policy on release and on audit, so a
    budget action attaching that same policy would be undone by an alarm's OK."""
    action = DEV.modules["budget"].body["budget_action"]
    assert "policy_json = module.alarm_enforcer.deny_policy_json" in action
    assert "deny_policy_arn" not in action


def test_prod_differs_where_it_should() -> None:
    dev, prod = DEV.variables, PROD.variables
    assert default(prod["release_on_ok"]) is False and default(dev["release_on_ok"]) is True
    assert default(prod["log_retention_days"]) > default(dev["log_retention_days"])
    assert default(prod["default_tier"]) == "none"
    assert default(prod["table_deletion_protection"]) is True
    assert default(prod["protected_principals"]), "prod protects break-glass roles by default"
    for required in ("budget_action", "budget_emails", "operator_emails", "monthly_budget_usd"):
        assert default(prod[required]) == "<required>", required
        assert prod[required].body.get("validation"), f"prod {required} needs a validation"


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_tfvars_examples_set_only_declared_variables(environment: str) -> None:
    text = (ENVIRONMENTS / environment / "terraform.tfvars.example").read_text(encoding="utf-8")
    names = set(re.findall(r"^([a-z_]+)\s*=", text, re.M))
    module = DEV if environment == "dev" else PROD
    assert names and names <= set(module.variables)
    required = {name for name, v in module.variables.items() if "default" not in v.body}
    assert required <= names, f"{environment} example misses required {required - names}"


def test_the_usage_meter_uses_the_gates_accounting_and_the_enforcers_locking() -> None:
    """One budget and one lock per caller: the meter gets the gate's and the enforcer's own
    values, and reads aip_tenant's invocation log."""
    meter = DEV.modules["usage_meter"].body
    assert meter["count"] == "${var.usage_meter_enabled ? 1 : 0}"
    assert meter["invocation_log_group_name"] == "${module.aip_tenant.invocation_log_group_name}"
    for argument, output in {
        "table_name": "table_name",
        "tier_limits_json": "tier_limits_json",
        "model_aliases_json": "model_aliases_json",
        "pricing_json": "pricing_json",
        "gate_role_arn": "role_arn",
    }.items():
        assert meter[argument] == f"${{module.token_gate.{output}}}", argument
    assert meter["default_tier"] == DEV.modules["token_gate"].body["default_tier"]
    for argument in (
        "deny_policy_arn",
        "protected_principals",
        "allowed_principal_paths",
        "dry_run",
    ):
        assert meter[argument] == f"${{module.alarm_enforcer.{argument}}}", argument
    assert meter["name"].startswith("${local.name}-")


def test_dev_meters_direct_callers_and_prod_opts_in() -> None:
    """Dev turns on invocation logging and the meter; prod leaves both (account-wide logging,
    IAM locks of direct callers) to an explicit choice. Either way the meter never runs without
    the log it reads."""
    for name in ("invocation_logging_enabled", "usage_meter_enabled"):
        assert default(DEV.variables[name]) is True, name
        assert default(PROD.variables[name]) is False, name
    example = (ENVIRONMENTS / "dev" / "terraform.tfvars.example").read_text(encoding="utf-8")
    assert re.search(r"^invocation_logging_enabled\s*=\s*true$", example, re.M)
    assert re.search(r"^usage_meter_enabled\s*=\s*true$", example, re.M)


def test_invocation_logging_is_metadata_only_unless_asked() -> None:
    aip_tenant = DEV.module_source("aip_tenant")
    assert aip_tenant is not None
    logging_type = str(aip_tenant.variables["invocation_logging"].body["type"])
    for kind in ("text", "image", "embedding", "video"):
        assert f"{kind}_data_delivery_enabled = optional(bool, false)" in logging_type, kind
    assert "invocation_logging" in DEV.modules["aip_tenant"].body
    assert "text_data_delivery_enabled" not in str(DEV.modules["aip_tenant"].body)
