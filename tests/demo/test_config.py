"""The demo reads its settings from the Terraform files, not from a copy kept in Python.

A changed default in a copy of the configuration shows up in the settings; the values agree
with what the Terraform checks' own loader reads; an expression the demo cannot evaluate is
reported with its file and text.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from bedrock_guard.demo.config import Settings, load_settings
from bedrock_guard.demo.hcl_eval import Unknown
from bedrock_guard.demo.terraform import ConfigError
from bedrock_guard.demo.traffic import choose_cast
from tests.terraform.tfload import REPO, load_module

DEV = REPO / "environments" / "dev"


@pytest.fixture(scope="module")
def dev() -> Settings:
    """environments/dev as it is, read once for the tests that only look at it."""
    return load_settings(DEV)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A copy of environments/dev and the modules, laid out as in the repository."""
    shutil.copytree(REPO / "modules", tmp_path / "modules")
    shutil.copytree(DEV, tmp_path / "environments" / "dev")
    return tmp_path / "environments" / "dev"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def set_default(path: Path, variable: str, value: str) -> None:
    """Change the default of one variable block."""
    pattern = re.compile(rf'(variable "{variable}" {{.*?\n  default\s*=\s*)([^\n]+)', re.S)
    text, count = pattern.subn(lambda m: m.group(1) + value, path.read_text(), count=1)
    assert count == 1, f"no default of {variable} in {path}"
    path.write_text(text)


def fact(settings_facts: tuple[object, ...], label: str) -> object:
    return next(f for f in settings_facts if getattr(f, "label", None) == label)


def test_tiers_are_the_token_gate_default_as_the_terraform_loader_reads_it(dev: Settings) -> None:
    settings = dev
    default = load_module(REPO / "modules" / "token-gate").variables["tiers"].body["default"]
    for tier, limits in default.items():
        for window, value in limits.items():
            got = getattr(settings.tiers[tier], window)
            assert (got is None and value is None) or got == value, (tier, window)


def test_callers_and_tenants_come_from_the_tfvars_example_and_it_is_said(dev: Settings) -> None:
    settings = dev
    tfvars = (DEV / "terraform.tfvars.example").read_text()
    written = set(re.findall(r'"(arn:aws:iam::\d{12}:(?:role|user)/[^"]+)" = \{', tfvars))
    assert {c.key for c in settings.callers if c.kind == "iam"} == written
    assert fact(settings.facts, "callers").source.startswith(  # type: ignore[attr-defined]
        "var.callers in terraform.tfvars.example"
    )
    assert {t.name for t in settings.tenants} == set(
        re.findall(r"^  (\w+) = \{\n    model_source", tfvars, re.M)
    )


def test_a_changed_default_in_the_terraform_is_picked_up(copy: Path) -> None:
    modules = copy.parents[1] / "modules"
    set_default(copy / "variables.tf", "environment", '"qa"')
    edit(
        modules / "token-gate" / "variables.tf", "daily_tokens   = 100000", "daily_tokens   = 40000"
    )
    set_default(modules / "alarm-enforcer" / "variables.tf", "deny_mantle_inference", "false")

    settings = load_settings(copy)

    assert settings.name_prefix == "bedrock-guard-qa"
    assert settings.tiers["basic"].daily_tokens == 40000
    gate_name = settings.module("token_gate").var("name")
    assert gate_name == "bedrock-guard-qa-gate"
    denied = fact(settings.facts, "deny policy").value  # type: ignore[attr-defined]
    assert "bedrock:InvokeModel" in denied
    assert "bedrock-mantle" not in denied


def test_another_tfvars_file_changes_the_cast(copy: Path, tmp_path: Path) -> None:
    tfvars = tmp_path / "other.tfvars"
    text = (copy / "terraform.tfvars.example").read_text()
    tfvars.write_text(text.replace("role/analytics/analyst", "user/analysts/erin"))
    settings = load_settings(copy, tfvars)
    names = {c.name for c in settings.callers}
    assert "erin" in names
    assert "analyst" not in names
    cast = choose_cast(settings)
    assert cast.exhausted.name == "erin"
    assert cast.burst.name == "partner-acme"
    assert [c.name for c in cast.steady] == ["dana"]


def test_budget_alarms_per_caller_are_the_instances_token_gate_would_create(dev: Settings) -> None:
    settings = dev
    thresholds = {c.name: c.alarm_thresholds for c in settings.callers}
    assert thresholds == {
        "analyst": (95.0,),
        "support-bot": (95.0,),
        "dana": (95.0,),
        "partner-acme": (),  # API-key users: alarms = false unless the tfvars say otherwise
    }
    value = fact(settings.facts, "caller alarms").value  # type: ignore[attr-defined]
    assert "on: analyst, support-bot, dana" in value
    assert "partner-acme (alarms = false: the optional() default of var.api_key_users)" in value


def test_alarm_settings_changed_in_the_terraform_change_the_callers_alarms(
    copy: Path, tmp_path: Path
) -> None:
    set_default(copy / "variables.tf", "caller_alarm_thresholds_percent", "[90, 99]")
    tfvars = tmp_path / "alarms.tfvars"
    text = (copy / "terraform.tfvars.example").read_text()
    tfvars.write_text(
        text.replace(
            'application = "acme-integration"',
            'application = "acme-integration"\n    alarms      = true',
        ).replace(
            'application = "evaluations"', 'application = "evaluations"\n    alarms      = false'
        )
    )
    settings = load_settings(copy, tfvars)
    thresholds = {c.name: c.alarm_thresholds for c in settings.callers}
    # An API-key user's alarm principal is known only after apply; its alarms still count.
    assert thresholds["partner-acme"] == (90.0, 99.0)
    assert thresholds["analyst"] == (90.0, 99.0)
    assert thresholds["dana"] == ()
    value = fact(settings.facts, "caller alarms").value  # type: ignore[attr-defined]
    assert "dana (alarms = false in alarms.tfvars)" in value
    assert choose_cast(settings).exhausted.name == "analyst"


def test_an_expression_the_demo_cannot_evaluate_is_named_with_its_file(copy: Path) -> None:
    edit(
        copy / "main.tf",
        'name = "bedrock-guard-${var.environment}"',
        'name = "bedrock-guard-${var.environment}-${uuid()}"',
    )
    with pytest.raises(ConfigError) as raised:
        load_settings(copy)
    message = str(raised.value)
    assert "environments/dev/main.tf" in message
    assert "uuid() is not supported" in message


def test_values_known_only_after_apply_are_reported_as_such(dev: Settings) -> None:
    settings = dev
    enforcer = settings.module("alarm_enforcer").resource("aws_lambda_function", "this")
    environment = next(iter(enforcer.instance(None).blocks("environment")))
    variables = environment.get("variables")
    assert variables["LEDGER_TABLE_NAME"] == "bedrock-guard-dev-gate-usage"
    with pytest.raises(Unknown, match=r"aws_iam_policy\.deny\.arn is known only after apply"):
        json.dumps(variables["DENY_POLICY_ARN"].value())


def test_a_tfvars_file_that_is_missing_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no tfvars file"):
        load_settings(DEV, tmp_path / "absent.tfvars")
