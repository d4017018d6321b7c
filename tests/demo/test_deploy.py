"""What the demo deploys with: the tfvars example, read as plain values, and its account."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pytest

from bedrock_guard.demo.deploy import ConfigError, callers_account, read_tfvars

EXAMPLE: Final = Path(__file__).resolve().parents[2] / "environments/dev/terraform.tfvars.example"


def test_the_tfvars_example_reads_as_the_variables_terraform_gets() -> None:
    variables = read_tfvars(EXAMPLE)
    assert variables["region"] == "us-east-1"
    callers = variables["callers"]
    assert all(key.startswith("arn:aws:iam::") for key in callers)
    assert {spec["tier"] for spec in callers.values()} <= {"basic", "professional", "enterprise"}
    assert variables["tenants"]["support"]["principals"]
    assert set(variables["api_key_users"]) == {"partner-acme"}


def test_the_local_aws_plays_the_callers_account() -> None:
    assert callers_account(read_tfvars(EXAMPLE)) == ("aws", "111111111111")
    assert callers_account({}) == ("aws", "123456789012")


def test_callers_of_several_accounts_are_refused() -> None:
    variables = {
        "callers": {
            "arn:aws:iam::111111111111:role/a": {},
            "arn:aws:iam::222222222222:role/b": {},
        }
    }
    with pytest.raises(ConfigError, match="several accounts"):
        callers_account(variables)


def test_a_missing_tfvars_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no tfvars file"):
        read_tfvars(tmp_path / "absent.tfvars")
