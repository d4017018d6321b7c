"""A moto account with the usage meter wired as in Lambda (the handler's meter replaced), and
the records its tests deliver: direct calls of a role's sessions."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.core.botocore_stubber import BotocoreStubber

from bedrock_guard import usage_meter
from bedrock_guard.core import keys
from bedrock_guard.enforcer.lock_service import Home, build_service
from bedrock_guard.local.lambda_events import LocalLambdaContext
from bedrock_guard.local.tables import create_guard_table
from bedrock_guard.meter.config import load_config
from bedrock_guard.meter.service import Meter
from bedrock_guard.meter.store import MeterStore
from tests.enforcer.moto_account import LAMBDA_TRUST_POLICY, MotoAccount
from tests.meter.events import record, subscription_event

TABLE = "bedrock-guard-meter"
ACCOUNT = "123456789012"
NOTEBOOK = f"arn:aws:iam::{ACCOUNT}:role/notebook"
GATE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/bedrock-cost-guard-dev-gate"
APP = f"arn:aws:iam::{ACCOUNT}:role/analytics-app"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
DAILY_TOKENS = 1000


@dataclass
class World(MotoAccount):
    meter: Meter


def one_request_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process moto answers one request at a time, as AWS answers each atomically.

    The meter calls DynamoDB from several threads, and moto's TransactWriteItems is not atomic
    under threads: it copies the whole table first and puts the copy back when a condition
    cancels it, dropping what other threads wrote meanwhile. DynamoDB cancels a transaction
    without touching any other item (the local stack's rules proxy does too).
    """
    process: Callable[..., Any] = BotocoreStubber.process_request
    lock = threading.Lock()

    def serialized(self: BotocoreStubber, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return process(self, *args, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "process_request", serialized)


def meter_world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The account, table, roles and deny policy; the meter set as the handler's (inside moto)."""
    one_request_at_a_time(monkeypatch)
    iam = boto3.client("iam", region_name="us-east-1")
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    create_guard_table(ddb, TABLE)
    for role in ("notebook", "bedrock-cost-guard-dev-gate", "analytics-app"):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=LAMBDA_TRUST_POLICY)
    policy_arn = iam.create_policy(
        PolicyName="BedrockGuardDeny",
        PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Deny",'
        '"Action":"bedrock:InvokeModel","Resource":"*"}]}',
    )["Policy"]["Arn"]
    environ = {
        "USAGE_TABLE_NAME": TABLE,
        "LEDGER_TABLE_NAME": TABLE,
        "TIER_LIMITS_JSON": f'{{"basic": {{"daily_tokens": {DAILY_TOKENS}}}}}',
        "DEFAULT_TIER": "basic",
        "MODEL_ALIASES_JSON": f'{{"claude-3-haiku": "{HAIKU}"}}',
        "DENY_POLICY_ARN": policy_arn,
        "PROTECTED_PRINCIPALS_JSON": "[]",
        "GATE_ROLE_ARN": GATE_ROLE,
    }
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    config = load_config(environ)
    meter = Meter(
        config=config,
        store=MeterStore(ddb, TABLE),
        locks=build_service(config.locking),
        home=Home("aws", ACCOUNT),
    )
    usage_meter.set_meter(meter)
    yield World(
        iam, ddb, boto3.client("cloudwatch", region_name="us-east-1"), TABLE, policy_arn, meter
    )
    usage_meter.set_meter(None)


def direct(
    request_id: str, tokens: int, *, who: str = "notebook", minute: int = 0
) -> dict[str, Any]:
    """A Converse record of a direct caller (its own credentials, no gate)."""
    body = copy.deepcopy(record("converse"))
    body.pop("requestMetadata", None)
    body["requestId"] = request_id
    body["identity"] = {"arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{who}/session-{minute}"}
    body["timestamp"] = f"2026-11-23T09:{minute:02d}:00Z"
    body["input"]["inputTokenCount"] = tokens // 2
    body["output"]["outputTokenCount"] = tokens - tokens // 2
    return body


def deliver(*records: dict[str, Any]) -> dict[str, Any]:
    return usage_meter.handler(subscription_event(records), LocalLambdaContext())


def day_tokens(world: World, principal: str) -> int:
    item = world.ddb.get_item(
        TableName=TABLE,
        Key=keys.attribute_values(keys.usage_key(principal, "2026-11")),
        ConsistentRead=True,
    ).get("Item", {})
    return int(item.get("d23_tokens", {}).get("N", "0"))
