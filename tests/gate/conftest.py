"""Fixtures of the token gate tests: a moto table, a stubbed Bedrock, events and a gate driver."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from bedrock_guard import token_gate
from bedrock_guard.core import keys
from bedrock_guard.core.usage_item import HOLDS
from bedrock_guard.gate.config import load_config
from bedrock_guard.gate.service import GateRuntime
from bedrock_guard.gate.usage_store import UsageStore, deserialize
from bedrock_guard.local.tables import create_guard_table
from tests.gate.moto_compat import exact_moto_numbers

EVENTS = Path(__file__).resolve().parent.parent / "events"
TABLE = "bedrock-guard-usage-test"
ROLE = "arn:aws:iam::123456789012:role/analytics-app"
USER = "arn:aws:iam::123456789012:user/alice"
API_KEY = "apikey:k9x8w7v6u5"
NOW = datetime(2026, 11, 23, 15, 0, 0, tzinfo=UTC)
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET_PROFILE = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"

TIERS: dict[str, Any] = {
    "standard": {
        "daily_tokens": 20000,
        "monthly_tokens": 100000,
        "daily_usd": "1.00",
        "monthly_usd": "10.00",
    },
    "unlimited": {},
}
ALIASES: dict[str, Any] = {
    "claude-3-haiku": HAIKU,
    "nova-micro": "us.amazon.nova-micro-v1:0",
    "sonnet-app": {
        "target": SONNET_PROFILE,
        "pricing_model": "anthropic.claude-3-5-sonnet-20241022-v2:0",
    },
    "mystery": "acme.unpriced-model-v1:0",
}


def load_event(name: str) -> dict[str, Any]:
    """A copy of an API Gateway event from tests/events."""
    event: dict[str, Any] = json.loads((EVENTS / f"apigw_{name}.json").read_text())
    return event


def request_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "claude-3-haiku",
        "messages": [{"role": "user", "content": "Summarise our Q3 cloud spend."}],
        "parameters": {"max_tokens": 100},
        "tags": {"applicationId": "spend-reports"},
    }
    body.update(overrides)
    return body


def converse_response(
    text: str = "Spend rose 4%.",
    input_tokens: int = 12,
    output_tokens: int = 6,
    cache_read: int | None = None,
    cache_write: int | None = None,
) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "inputTokens": input_tokens,
        "outputTokens": output_tokens,
        "totalTokens": input_tokens + output_tokens + (cache_read or 0) + (cache_write or 0),
    }
    if cache_read is not None:
        usage["cacheReadInputTokens"] = cache_read
    if cache_write is not None:
        usage["cacheWriteInputTokens"] = cache_write
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": usage,
        "metrics": {"latencyMs": 420},
    }


class BedrockStub:
    """A real bedrock-runtime client under botocore's Stubber, recording every Converse call."""

    def __init__(self, client: Any | None = None) -> None:
        self.client = client or boto3.client("bedrock-runtime", region_name="us-east-1")
        self.stubber = Stubber(self.client)
        self.calls: list[dict[str, Any]] = []
        self.client.meta.events.register(
            "provide-client-params.bedrock-runtime.Converse", self._record
        )
        self.stubber.activate()

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        self.calls.append(copy.deepcopy(params))

    def reply(self, **kwargs: Any) -> None:
        self.stubber.add_response("converse", converse_response(**kwargs))

    def fail(self, code: str, status: int, message: str = "failed") -> None:
        self.stubber.add_client_error(
            "converse", service_error_code=code, service_message=message, http_status_code=status
        )


class CallCounter:
    """Counts the API operations a botocore client sends (via its event hooks)."""

    def __init__(self, client: Any, service: str) -> None:
        self.operations: list[str] = []
        client.meta.events.register(f"before-call.{service}", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.operations.append(model.name)

    def reset(self) -> None:
        self.operations.clear()


@dataclass
class Gate:
    """Drives the real handler against moto DynamoDB and a stubbed Bedrock."""

    runtime: GateRuntime
    dynamodb: Any
    bedrock: BedrockStub
    dynamo_calls: CallCounter
    lambda_context: Any
    sleeps: list[float] = field(default_factory=list)
    now: list[datetime] = field(default_factory=lambda: [NOW])

    def invoke(
        self, body: Any = None, *, event: str = "assumed_role", raw: str | None = None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        payload = load_event(event)
        if raw is not None:
            payload["body"] = raw
        elif body is not None:
            payload["body"] = json.dumps(body)
        response = token_gate.handler(payload, self.lambda_context)
        return response["statusCode"], json.loads(response["body"]), response["headers"]

    def register(self, principal: str, **attributes: str) -> None:
        item = {**keys.caller_key(principal), **attributes}
        self.dynamodb.put_item(TableName=TABLE, Item=keys.attribute_values(item))

    def lock(self, principal: str, *holders: str) -> None:
        """Lock as the ledger does: the state item and its mirror in the month item."""
        self.dynamodb.put_item(
            TableName=TABLE,
            Item={
                **keys.attribute_values(keys.lock_state_key(principal)),
                keys.LOCKED_BY: {"SS": list(holders)},
            },
        )
        self.dynamodb.update_item(
            TableName=TABLE,
            Key=keys.attribute_values(keys.usage_key(principal, "2026-11")),
            UpdateExpression="ADD #lb :h",
            ExpressionAttributeNames={"#lb": keys.LOCKED_BY},
            ExpressionAttributeValues={":h": {"SS": list(holders)}},
        )

    def unlock(self, principal: str) -> None:
        """Release every holder, from the state item and its mirror."""
        for key in (keys.lock_state_key(principal), keys.usage_key(principal, "2026-11")):
            self.dynamodb.update_item(
                TableName=TABLE,
                Key=keys.attribute_values(key),
                UpdateExpression="REMOVE #lb",
                ExpressionAttributeNames={"#lb": keys.LOCKED_BY},
            )

    def fill(self, principal: str, **counters: int | str) -> None:
        """Store usage for the current period directly, as earlier requests would have."""
        item = keys.attribute_values(keys.usage_key(principal, "2026-11"))
        item |= {name: {"N": str(value)} for name, value in counters.items()}
        item[HOLDS] = {"M": {}}  # opened, as the first request of the month leaves it
        self.dynamodb.put_item(TableName=TABLE, Item=item)

    def usage(self, principal: str, month: str = "2026-11") -> dict[str, Any]:
        response = self.dynamodb.get_item(
            TableName=TABLE, Key=keys.attribute_values(keys.usage_key(principal, month))
        )
        return deserialize(response.get("Item", {}))

    def counter(self, principal: str, name: str, month: str = "2026-11") -> Decimal:
        value = self.usage(principal, month).get(name, Decimal(0))
        assert isinstance(value, Decimal)
        return value


def create_table(client: Any) -> None:
    create_guard_table(client, TABLE)


def environment(**overrides: Any) -> dict[str, str]:
    """A complete gate environment; JSON values may be given as Python objects."""
    env: dict[str, Any] = {
        "USAGE_TABLE_NAME": TABLE,
        "TIER_LIMITS_JSON": TIERS,
        "DEFAULT_TIER": "standard",
        "MODEL_ALIASES_JSON": ALIASES,
        # Short enough for the 30 s the fake Lambda context reports.
        "BEDROCK_READ_TIMEOUT_SECONDS": "5",
        "BEDROCK_MAX_ATTEMPTS": "1",
    }
    env.update(overrides)
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in env.items()}


@pytest.fixture(autouse=True)
def _exact_numbers() -> Iterator[None]:
    """moto 5.2.5 cannot add to a decimal it stored as ``0E-8``; see moto_compat."""
    with exact_moto_numbers():
        yield


@pytest.fixture(autouse=True)
def _clean_powertools() -> Iterator[None]:
    """Metrics and the runtime are per container; tests must not leak them into each other."""
    token_gate.metrics.clear_metrics()
    token_gate.set_runtime(None)
    yield
    token_gate.metrics.clear_metrics()
    token_gate.set_runtime(None)


@pytest.fixture
def make_gate(aws: None, lambda_context: Any) -> Callable[..., Gate]:
    """Build a gate for this test: ``make_gate(TIER_LIMITS_JSON=..., DEFAULT_TIER=...)``."""
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    create_table(dynamodb)

    def build(**env: Any) -> Gate:
        config = load_config(environment(**env))
        store_client = boto3.client("dynamodb", region_name="us-east-1")
        bedrock = BedrockStub()
        gate = Gate(
            runtime=GateRuntime(config=config, store=UsageStore(store_client, TABLE), bedrock=None),
            dynamodb=dynamodb,
            bedrock=bedrock,
            dynamo_calls=CallCounter(store_client, "dynamodb"),
            lambda_context=lambda_context,
        )
        gate.runtime.bedrock = bedrock.client
        gate.runtime.clock = lambda: gate.now[0]
        gate.runtime.sleep = gate.runtime.store.retrying.sleep = gate.sleeps.append
        gate.runtime.jitter = gate.runtime.store.retrying.jitter = lambda: 1.0
        token_gate.set_runtime(gate.runtime)
        return gate

    return build


@pytest.fixture
def gate(make_gate: Callable[..., Gate]) -> Gate:
    return make_gate()
