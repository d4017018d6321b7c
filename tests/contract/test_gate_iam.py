"""The token gate's role allows exactly the AWS calls the gate makes, and nothing more."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest

from bedrock_guard import token_gate
from bedrock_guard.core import keys
from bedrock_guard.core.accounting import Charge
from bedrock_guard.core.usage_item import HOLDS, Hold
from bedrock_guard.gate.config import load_config
from bedrock_guard.gate.service import GateRuntime
from bedrock_guard.gate.usage_store import UsageStore
from tests.contract.api_recorder import recording
from tests.contract.hcl_policies import allowed_actions, grants
from tests.gate.conftest import (
    NOW,
    ROLE,
    TABLE,
    BedrockStub,
    CallCounter,
    Gate,
    create_table,
    environment,
    request_body,
)
from tests.gate.moto_compat import exact_moto_numbers
from tests.terraform.tfload import REPO, load_module

MODULE = load_module(REPO / "modules" / "token-gate")
# Granted for the Lambda platform and the optional keys, which the gate's own code never calls.
PLATFORM = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "kms:Decrypt",
    "kms:GenerateDataKey",
}


@pytest.fixture
def gate(aws: None, lambda_context: Any) -> Iterator[Gate]:
    with exact_moto_numbers():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_table(dynamodb)
        store_client = boto3.client("dynamodb", region_name="us-east-1")
        bedrock = BedrockStub()
        runtime = GateRuntime(
            config=load_config(environment()),
            store=UsageStore(store_client, TABLE),
            bedrock=bedrock.client,
        )
        runtime.clock = lambda: NOW
        token_gate.set_runtime(runtime)
        counter = CallCounter(store_client, "dynamodb")
        yield Gate(runtime, dynamodb, bedrock, counter, lambda_context)
        token_gate.set_runtime(None)
        token_gate.metrics.clear_metrics()


def gate_actions(gate: Gate) -> set[str]:
    """Every IAM action the gate needs over its paths: allowed, failed, refused, locked."""
    gate.register(ROLE, tier="standard", tenant="t", cost_center="cc", application="app")
    with recording() as actions:
        gate.bedrock.reply()
        assert gate.invoke(request_body())[0] == 200
        gate.bedrock.fail("ModelErrorException", 424)
        assert gate.invoke(request_body())[0] == 502
        abandon_a_hold(gate)
        gate.bedrock.reply()
        assert gate.invoke(request_body())[0] == 200  # and lists the abandoned hold
        gate.lock(ROLE, "operator")
        assert gate.invoke(request_body())[0] == 403
    return actions


def abandon_a_hold(gate: Gate) -> None:
    """A hold whose Lambda died an hour ago, as the month item would keep it."""
    expired = Hold("deadbeef00000000", Charge(10, Decimal(0)), "23", 1, "lost-request")
    gate.dynamodb.update_item(
        TableName=TABLE,
        Key=keys.attribute_values(keys.usage_key(ROLE, "2026-11")),
        UpdateExpression="SET #holds.#h = :hold",
        ExpressionAttributeNames={"#holds": HOLDS, "#h": expired.hold_id},
        ExpressionAttributeValues={":hold": expired.attribute_value()},
    )


def test_the_role_allows_every_call_the_gate_makes(gate: Gate) -> None:
    needed = gate_actions(gate)
    assert needed == {
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:PutItem",
        "bedrock:InvokeModel",
    }
    allowed = allowed_actions(MODULE, "this")
    assert [action for action in sorted(needed) if not grants(allowed, action)] == []


def test_the_role_allows_nothing_the_gate_does_not_call(gate: Gate) -> None:
    needed = gate_actions(gate)
    extra = allowed_actions(MODULE, "this") - needed - PLATFORM
    assert extra == set()
    assert not any(action.startswith("cloudwatch:") for action in allowed_actions(MODULE, "this"))


def test_grants_matches_patterns() -> None:
    assert grants({"logs:Put*"}, "logs:PutLogEvents")
    assert not grants({"dynamodb:GetItem"}, "dynamodb:UpdateItem")
