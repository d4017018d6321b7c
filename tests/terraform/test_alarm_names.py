"""Tenant alarm names carry the enforcer's prefix exactly once.

The module's own expressions (read from modules/aip-tenant and environments/dev) are evaluated by
real ``terraform console`` in a throw-away configuration without providers, so what is checked is
what Terraform computes, not a re-implementation of it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.terraform.test_environments import DEV
from tests.terraform.tfload import REPO, load_module

MODULE = load_module(REPO / "modules" / "aip-tenant")
ALARM = MODULE.resources[("aws_cloudwatch_metric_alarm", "tokens")].body

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform missing")


def _hcl(value: str) -> str:
    """A tfload value as HCL: a template string (quotes inside ``${}`` need no escaping)."""
    return f'"{value}"'


def alarm_name(tmp_path: Path, *, name: str, prefix: str, tenant: str, suffix: str) -> str:
    """``alarm_name`` of the module's token alarm, as Terraform evaluates it."""
    stem = MODULE.locals["alarm_name_stem"]
    template = ALARM["alarm_name"]
    config = "\n".join(
        [
            'variable "name" { default = "' + name + '" }',
            'variable "alarm_name_prefix" { default = "' + prefix + '" }',
            "locals {",
            f"  alarm_name_stem = {_hcl(stem)}",
            f'  each = {{ value = {{ tenant = "{tenant}", suffix = "{suffix}" }} }}',
            f"  alarm_name = {_hcl(template.replace('each.value', 'local.each.value'))}",
            "}",
        ]
    )
    (tmp_path / "main.tf").write_text(config, encoding="utf-8")
    result = subprocess.run(
        ["terraform", "console"],
        input="local.alarm_name\n",
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "TF_IN_AUTOMATION": "1"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().strip('"')


def test_environment_alarm_names_repeat_no_prefix(tmp_path: Path) -> None:
    local_name = DEV.locals["name"].replace("${var.environment}", "dev")
    prefix = DEV.locals["alarm_name_prefix"].replace("${local.name}", local_name)
    name = DEV.modules["aip_tenant"].body["name"].replace("${local.name}", local_name)
    assert (prefix, name) == ("bedrock-guard-dev-", "bedrock-guard-dev-tenants")

    result = alarm_name(tmp_path, name=name, prefix=prefix, tenant="support", suffix="input-tokens")

    assert result == "bedrock-guard-dev-tenants-support-input-tokens"
    assert result.count(prefix) == 1
    assert result.startswith(prefix)  # the enforcer's topic still accepts it


@pytest.mark.parametrize(
    ("name", "prefix", "expected"),
    [
        ("tenants", "team-a-", "team-a-tenants-support-output-tokens"),
        ("bedrock-guard", "", "bedrock-guard-support-output-tokens"),
    ],
)
def test_a_name_without_the_prefix_gets_it(
    tmp_path: Path, name: str, prefix: str, expected: str
) -> None:
    result = alarm_name(
        tmp_path, name=name, prefix=prefix, tenant="support", suffix="output-tokens"
    )
    assert result == expected
