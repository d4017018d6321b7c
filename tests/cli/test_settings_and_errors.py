"""Global options, Terraform outputs, and the exit codes of expected failures."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from bedrock_guard.cli.context import parse_tf_outputs
from bedrock_guard.cli.errors import CliError, ExitCode
from tests.cli.conftest import ALICE, BASE, BOB, POLICY_ARN, TABLE, TIER_LIMITS, World

OUTPUTS = {
    "table_name": {"sensitive": False, "type": "string", "value": TABLE},
    "deny_policy_arn": {"sensitive": False, "type": "string", "value": POLICY_ARN},
    # The token-gate module outputs jsonencode()d text, as the function receives it.
    "tier_limits_json": {"sensitive": False, "type": "string", "value": json.dumps(TIER_LIMITS)},
    "api_key_values": {"sensitive": True, "type": ["map", "string"], "value": {"a": "secret"}},
}


def write_outputs(tmp_path: Path, outputs: dict[str, Any] = OUTPUTS) -> str:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    return str(path)


# Terraform outputs ----------------------------------------------------------------------------


def test_settings_from_a_terraform_outputs_file(world: World, cli: Any, tmp_path: Path) -> None:
    outputs = write_outputs(tmp_path)
    run = cli("--tf-outputs", outputs, "--region", "us-east-1", "--json", "usage")

    assert run.code == 0, run.err
    document = run.json()
    assert document["table"] == TABLE
    assert document["tier_limits_known"] is True

    unlock = cli("--tf-outputs", outputs, "unlock", BOB, "--reason", "r")
    assert unlock.code == 0, unlock.err
    assert not world.attached(BOB)


def test_terraform_outputs_from_stdin(
    world: World, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(OUTPUTS)))
    run = cli("--tf-outputs", "-", "--json", "usage", "--caller", ALICE)

    assert run.code == 0, run.err
    assert run.json()["callers"][0]["limits"]["monthly_usd"] == "50"


def test_global_options_after_the_subcommand(world: World, cli: Any, tmp_path: Path) -> None:
    outputs = write_outputs(tmp_path)
    run = cli("usage", "--tf-outputs", outputs, "--json", "--caller", ALICE)

    assert run.code == 0, run.err
    assert run.json()["table"] == TABLE


def test_flag_beats_environment_beats_terraform_outputs(
    world: World, cli: Any, tmp_path: Path
) -> None:
    outputs = write_outputs(tmp_path, {"table_name": {"value": "from-outputs"}})
    env = {"USAGE_TABLE_NAME": "from-environment"}

    run = cli("--tf-outputs", outputs, "--table-name", TABLE, "--json", "locks", environ=env)
    assert run.code == 0, run.err
    assert run.json()["table"] == TABLE

    run = cli("--tf-outputs", outputs, "locks", environ=env)
    assert run.code == 4
    assert "'from-environment' not found" in run.err

    run = cli("--tf-outputs", outputs, "locks", environ={"LEDGER_TABLE_NAME": TABLE})
    assert run.code == 0, run.err

    run = cli("--tf-outputs", outputs, "locks", environ={})
    assert run.code == 4
    assert "'from-outputs' not found" in run.err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "is not JSON"),
        ("[1, 2]", "must be a JSON object of outputs"),
        ('{"table_name": "t"}', "output 'table_name' has no 'value'"),
    ],
)
def test_bad_terraform_outputs(text: str, message: str) -> None:
    with pytest.raises(CliError) as raised:
        parse_tf_outputs(text)
    assert raised.value.code == ExitCode.USAGE
    assert message in str(raised.value)


def test_terraform_outputs_values() -> None:
    values = parse_tf_outputs(json.dumps(OUTPUTS))
    assert values["table_name"] == TABLE
    assert values["api_key_values"] == {"a": "secret"}


def test_unreadable_terraform_outputs_exit_2(cli: Any, tmp_path: Path) -> None:
    run = cli("--tf-outputs", str(tmp_path / "missing.json"), "locks")
    assert run.code == 2
    assert "cannot read --tf-outputs" in run.err

    bad = tmp_path / "bad.json"
    bad.write_text("{")
    run = cli("--tf-outputs", str(bad), "locks")
    assert run.code == 2
    assert "is not JSON" in run.err


# Usage errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("usage",), "no table name: pass --table-name"),
        (("--table-name", "x", "locks"), "'x' (from flag) is not a DynamoDB table name"),
        ((*BASE, "usage", "--month", "2026-1"), "is not a month: use YYYY-MM"),
        ((*BASE, "usage", "--month", "2026-00"), "is not a month"),
        ((*BASE, "usage", "--caller", "bob"), "is not a caller"),
        ((*BASE, "usage", "--caller", "apikey:no spaces"), "is not a caller"),
        ((*BASE, "usage", "--tier-limits-json", "{"), "TIER_LIMITS_JSON is not valid JSON"),
        (
            (*BASE, "usage", "--tier-limits-json", '{"gold": {"hourly_tokens": 1}}'),
            "unknown keys",
        ),
        ((*BASE, "--endpoint-url", "localhost:5000", "locks"), "must be an http(s) URL"),
        (("frobnicate",), "invalid choice: 'frobnicate'"),
        ((), "the following arguments are required: COMMAND"),
    ],
)
def test_usage_errors_exit_2(cli: Any, args: tuple[str, ...], message: str) -> None:
    run = cli(*args)

    assert run.code == 2
    assert message in run.err
    assert run.out == ""
    assert "Traceback" not in run.err


def test_help_and_version_exit_0(cli: Any) -> None:
    for command in ((), ("usage",), ("locks",), ("unlock",), ("report",)):
        run = cli(*command, "--help")
        assert run.code == 0
        assert "usage: bedrock-guard" in run.out
    assert "exit status" in cli("--help").out
    assert cli("--version").out.startswith("bedrock-guard ")


# AWS failures ---------------------------------------------------------------------------------


def test_missing_table_exits_4(aws: None, cli: Any) -> None:
    for command in (("usage",), ("usage", "--caller", ALICE), ("locks",)):
        run = cli(*BASE, *command)
        assert run.code == 4, command
        assert f"DynamoDB table {TABLE!r} not found" in run.err
        assert "Traceback" not in run.err


def test_missing_credentials_exit_3(
    cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    unlock = ("unlock", BOB, "--reason", "r", "--deny-policy-arn", POLICY_ARN)
    for command in (("usage",), ("locks",), unlock):
        run = cli(*BASE, *command)
        assert run.code == 3, command
        assert "no usable AWS credentials" in run.err
        assert run.err.count("\n") == 1


def test_unknown_profile_exits_3(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    run = cli(*BASE, "--profile", "nope", "locks")

    assert run.code == 3
    assert "AWS profile not found" in run.err


def test_access_denied_names_the_action(cli: Any) -> None:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    with Stubber(ddb) as stubber:
        stubber.add_client_error(
            "scan",
            service_error_code="AccessDeniedException",
            service_message="User: arn:aws:iam::123456789012:user/x is not authorized",
            http_status_code=400,
        )
        run = cli(*BASE, "usage", clients={"dynamodb": ddb})

    assert run.code == 3
    assert "access denied: your credentials may not call dynamodb:Scan" in run.err
    assert run.err.count("\n") == 1


def test_other_aws_errors_exit_1(cli: Any) -> None:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    with Stubber(ddb) as stubber:
        stubber.add_client_error(
            "get_item",
            service_error_code="ProvisionedThroughputExceededException",
            service_message="slow down",
            http_status_code=400,
        )
        run = cli(*BASE, "usage", "--caller", ALICE, clients={"dynamodb": ddb})

    assert run.code == 1
    assert "GetItem failed: ProvisionedThroughputExceededException: slow down" in run.err


def test_unreachable_endpoint_exits_1(cli: Any) -> None:
    # Port 9 (discard) on localhost: nothing listens there, the connection is refused at once.
    run = cli(*BASE, "--endpoint-url", "http://127.0.0.1:9", "locks")

    assert run.code == 1
    assert "could not reach AWS" in run.err


def test_module_entry_point_help_in_a_subprocess() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bedrock_guard.cli", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: bedrock-guard" in result.stdout
    for command in ("usage", "bypass", "locks", "unlock", "holds", "report"):
        assert command in result.stdout
