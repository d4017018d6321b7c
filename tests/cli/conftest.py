"""A moto account as an operator finds it: the shared table with registry, usage and locks made
by the real enforcer code, the deny policy, and the IAM users and roles it is attached to."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from bedrock_guard.cli import main, months
from bedrock_guard.core import keys
from bedrock_guard.core.principals import parse_principal
from bedrock_guard.enforcer import operator_actions
from bedrock_guard.enforcer.alarm_messages import parse_alarm_message
from bedrock_guard.enforcer.alarm_tags import AlarmTags
from bedrock_guard.enforcer.config import EnforcerConfig
from bedrock_guard.enforcer.iam_lock import IamLock
from bedrock_guard.enforcer.ledger import Ledger
from bedrock_guard.enforcer.lock_service import Home, LockService
from bedrock_guard.enforcer.protection import ProtectedPrincipals
from tests.aws_tables import create_guard_table
from tests.enforcer.moto_account import LAMBDA_TRUST_POLICY, MotoAccount

ACCOUNT = "123456789012"
TABLE = "bedrock-guard-cli-test"
POLICY_NAME = "BedrockGuardDeny"
POLICY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/{POLICY_NAME}"
MONTH = "2026-11"
NOW = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)  # day 23 of MONTH

ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"
CAROL = f"arn:aws:iam::{ACCOUNT}:user/carol"  # exists in IAM, never used or locked
APP_ROLE = f"arn:aws:iam::{ACCOUNT}:role/app-role"  # IAM path /apps/
APP_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/app-role/nightly-batch"
API_KEY_CALLER = "apikey:k3y1d"
OPERATOR = f"arn:aws:iam::{ACCOUNT}:user/ops-lead"
ALARM_NAME = "bedrock-guard-caller-bob-monthly"
ALARM_ARN = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{ALARM_NAME}"
ALARM_TIME = "2026-11-23T09:15:00.000+0000"
LOCKED_AT = "2026-11-23T09:15:01.000000Z"
MOTO_IDENTITY = f"arn:aws:sts::{ACCOUNT}:user/moto"  # what moto's GetCallerIdentity answers

TIER_LIMITS: dict[str, dict[str, Any]] = {
    "standard": {
        "monthly_tokens": 100000,
        "daily_tokens": 5000,
        "monthly_usd": "50",
        "daily_usd": "5",
    },
    "free": {"monthly_tokens": 10000, "daily_tokens": 2000, "monthly_usd": None, "daily_usd": None},
}
EVENTS = Path(__file__).resolve().parents[1] / "events"
DENY_DOCUMENT = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "bedrock:InvokeModel", "Resource": "*"}],
}


def n(value: str | int) -> dict[str, str]:
    return {"N": str(value)}


def s(value: str) -> dict[str, str]:
    return {"S": value}


@dataclass
class World(MotoAccount):
    """Clients on the seeded account, and what tests ask of it."""

    def events(self, principal: str, action: str) -> list[dict[str, Any]]:
        items = self.event_items(principal)
        return [item for item in items if item.get("action", {}).get("S") == action]

    def service(self) -> LockService:
        """The enforcer's lock service on these clients (to lock as alarms and operators do)."""
        config = EnforcerConfig(
            deny_policy_arn=POLICY_ARN,
            ledger_table_name=TABLE,
            protected=ProtectedPrincipals(),
            allowed_paths=("/", "/apps/"),
        )
        return LockService(
            config,
            IamLock(self.iam, POLICY_ARN),
            Ledger(self.ddb, TABLE),
            AlarmTags(self.cloudwatch),
        )


def alarm_message(principal: str) -> str:
    record = json.loads((EVENTS / "sns_alarm_classic.json").read_text())["Records"][0]
    message = json.loads(record["Sns"]["Message"])
    message.update(
        AlarmName=ALARM_NAME,
        AlarmArn=ALARM_ARN,
        NewStateValue="ALARM",
        OldStateValue="OK",
        StateChangeTime=ALARM_TIME,
    )
    message["Trigger"]["Dimensions"] = [{"value": principal, "name": "Principal"}]
    return json.dumps(message)


def seed(ddb: Any, iam: Any, cloudwatch: Any) -> World:
    """Table, policy, principals, registry, usage; bob locked by an alarm, the app role by an
    operator (both through the enforcer's own code, so the ledger items are the real ones)."""
    create_guard_table(ddb, TABLE)
    iam.create_policy(PolicyName=POLICY_NAME, PolicyDocument=json.dumps(DENY_DOCUMENT))
    for user in ("alice", "bob", "carol", "ops-lead"):
        iam.create_user(UserName=user)
    iam.create_role(
        RoleName="app-role", Path="/apps/", AssumeRolePolicyDocument=LAMBDA_TRUST_POLICY
    )

    registry = {
        ALICE: {
            "tier": "standard",
            "tenant": "sales",
            "cost_center": "cc-sales",
            "application": "sales-bot",
            "environment": "dev",
        },
        BOB: {
            "tier": "free",
            "tenant": "support",
            "cost_center": "cc-support",
            "application": "support-bot",
            "environment": "dev",
        },
        APP_ROLE: {"tier": "standard", "tenant": "batch", "cost_center": "cc-sales"},
    }
    for principal, attributes in registry.items():
        item = keys.attribute_values(keys.caller_key(principal) | attributes)
        ddb.put_item(TableName=TABLE, Item=item)

    usage: dict[str, dict[str, Any]] = {
        ALICE: {
            "month_tokens": n(1500),
            "month_usd": n("0.75"),
            "d22_tokens": n(500),
            "d22_usd": n("0.25"),
            "d23_tokens": n(1000),
            "d23_usd": n("0.5"),
            "holds": {
                "M": {
                    "0123456789abcdef": {
                        "M": {
                            "t": n(300),
                            "u": n("0.015"),
                            "d": s("23"),
                            "x": n(1795428000),
                            "r": s("req-1"),
                        }
                    }
                }
            },
        },
        BOB: {
            "month_tokens": n(10000),
            "month_usd": n("0.2"),
            "d23_tokens": n(1800),
            "d23_usd": n("0.036"),
        },
        API_KEY_CALLER: {"month_tokens": n(42), "month_usd": n("0.001"), "d05_tokens": n(42)},
    }
    for principal, counters in usage.items():
        item = keys.attribute_values(keys.usage_key(principal, MONTH)) | counters
        ddb.put_item(TableName=TABLE, Item=item)
    older = keys.attribute_values(keys.usage_key(ALICE, "2026-10")) | {
        "month_tokens": n(99),
        "month_usd": n("9"),
    }
    ddb.put_item(TableName=TABLE, Item=older)

    world = World(iam=iam, ddb=ddb, cloudwatch=cloudwatch, table=TABLE, policy_arn=POLICY_ARN)
    service = world.service()
    home = Home("aws", ACCOUNT)
    # What the enforcer does for an ALARM: attach, then record (lock_service's order).
    service.iam.attach(parse_principal(BOB))
    service.ledger.record_lock(
        BOB,
        parse_alarm_message(alarm_message(BOB)),
        policy_arn=POLICY_ARN,
        now=LOCKED_AT,
        iam_attached=True,
    )
    operator_actions.lock(
        service, APP_SESSION, home, reason="runaway batch job", requested_by=OPERATOR
    )
    assert world.attached(BOB) and world.attached(APP_ROLE)
    return world


@pytest.fixture
def world(aws: None) -> World:
    return seed(boto3.client("dynamodb"), boto3.client("iam"), boto3.client("cloudwatch"))


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """Every CLI test runs on 2026-11-23 UTC."""
    monkeypatch.setattr(months, "utc_now", lambda: NOW)
    return NOW


@pytest.fixture(autouse=True)
def no_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's shell must not leak table names or limits into the tests."""
    for name in (
        "USAGE_TABLE_NAME",
        "LEDGER_TABLE_NAME",
        "TIER_LIMITS_JSON",
        "DEFAULT_TIER",
        "DENY_POLICY_ARN",
        "NO_COLOR",
    ):
        monkeypatch.delenv(name, raising=False)


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``cli(*args, clients=..., environ=...)`` runs ``main`` in-process and captures output."""
    # Output to a pipe: whatever width the test runner's own terminal has must not leak in.
    monkeypatch.delenv("COLUMNS", raising=False)

    def run(*args: str, **kwargs: Any) -> Run:
        capsys.readouterr()
        code = main(list(args), **kwargs)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    yield run


BASE = ("--table-name", TABLE, "--region", "us-east-1")
LIMITS = ("--tier-limits-json", json.dumps(TIER_LIMITS))
