"""The enforcer's environment: defaults, and a loud failure on anything doubtful."""

from __future__ import annotations

import json
import sys

import pytest

from bedrock_guard.enforcer.config import (
    ENVIRONMENT_VARIABLES,
    ConfigError,
    EnforcerConfig,
    load_config,
)
from tests.enforcer.conftest import ALICE, BASE_ENV, POLICY_ARN, Loader

MINIMAL = {"DENY_POLICY_ARN": POLICY_ARN, "LEDGER_TABLE_NAME": "ledger"}


def test_defaults() -> None:
    config = load_config(MINIMAL)

    assert config == EnforcerConfig(
        deny_policy_arn=POLICY_ARN,
        ledger_table_name="ledger",
        protected=config.protected,
        principal_dimension="Principal",
        principal_tag_key="bedrock-guard:principals",
        release_on_ok=True,
        dry_run=False,
        allowed_paths=("/",),
        alarm_topic_arn=None,
        alarm_name_prefix="",
    )
    assert len(config.protected) == 0


def test_everything_set() -> None:
    config = load_config(
        {
            **MINIMAL,
            "PROTECTED_PRINCIPALS_JSON": json.dumps([ALICE, "arn:aws:iam::*:role/ops/*"]),
            "PRINCIPAL_DIMENSION": "Caller",
            "PRINCIPAL_TAG_KEY": "lockout",
            "RELEASE_ON_OK": "FALSE",
            "DRY_RUN": "true",
            "ALLOWED_PATHS_JSON": '["/apps/", "/teams/"]',
            "ALARM_TOPIC_ARN": "arn:aws-us-gov:sns:us-gov-west-1:123456789012:enforcer-alarms",
            "ALARM_NAME_PREFIX": "bedrock-guard-",
        }
    )

    assert len(config.protected) == 2
    assert (config.principal_dimension, config.principal_tag_key) == ("Caller", "lockout")
    assert (config.release_on_ok, config.dry_run) == (False, True)
    assert config.path_allowed("/teams/data/")
    assert not config.path_allowed("/")
    assert config.alarm_topic_arn == "arn:aws-us-gov:sns:us-gov-west-1:123456789012:enforcer-alarms"
    assert config.alarm_name_prefix == "bedrock-guard-"


def test_environment_variables_lists_what_is_read() -> None:
    assert set(ENVIRONMENT_VARIABLES) == set(BASE_ENV)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DENY_POLICY_ARN": ""}, "DENY_POLICY_ARN is required"),
        ({"DENY_POLICY_ARN": "arn:aws:iam::123456789012:role/deny"}, "managed policy ARN"),
        ({"DENY_POLICY_ARN": "BedrockDeny"}, "managed policy ARN"),
        ({"LEDGER_TABLE_NAME": ""}, "LEDGER_TABLE_NAME is required"),
        ({"LEDGER_TABLE_NAME": "no spaces"}, "table name"),
        ({"PROTECTED_PRINCIPALS_JSON": "[admin"}, "not valid JSON"),
        ({"PROTECTED_PRINCIPALS_JSON": '{"a": 1}'}, "list of strings"),
        ({"PROTECTED_PRINCIPALS_JSON": "[1]"}, "list of strings"),
        ({"PROTECTED_PRINCIPALS_JSON": '["admin"]'}, "PROTECTED_PRINCIPALS_JSON"),
        ({"PROTECTED_PRINCIPALS_JSON": '["arn:aws:iam::123456789012:group/g"]'}, "group"),
        ({"RELEASE_ON_OK": "yes please"}, "RELEASE_ON_OK must be"),
        ({"DRY_RUN": "maybe"}, "DRY_RUN must be"),
        ({"ALLOWED_PATHS_JSON": "[]"}, "at least one"),
        ({"ALLOWED_PATHS_JSON": '["apps"]'}, "not an IAM path"),
        ({"ALLOWED_PATHS_JSON": "/apps/"}, "not valid JSON"),
        ({"PRINCIPAL_DIMENSION": "x" * 300}, "dimension name"),
        ({"ALARM_TOPIC_ARN": "enforcer-alarms"}, "ARN of a standard SNS topic"),
        (
            {"ALARM_TOPIC_ARN": "arn:aws:sqs:us-east-1:123456789012:enforcer"},
            "ARN of a standard SNS topic",
        ),
        ({"ALARM_NAME_PREFIX": "bedrock-*"}, "ALARM_NAME_PREFIX"),
        ({"ALARM_NAME_PREFIX": "x" * 256}, "at most 255"),
    ],
)
def test_invalid_environment_fails_loudly(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config({**MINIMAL, **overrides})


def test_handler_import_fails_on_a_bad_environment(load_enforcer: Loader) -> None:
    with pytest.raises(ConfigError, match="DENY_POLICY_ARN"):
        load_enforcer(DENY_POLICY_ARN="not-a-policy")
    assert "bedrock_guard.alarm_enforcer" not in sys.modules
