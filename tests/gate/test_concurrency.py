"""Dozens of requests from several processes race one budget: nothing is ever overspent.

Lambda runs one request at a time per container, so each worker is an OS process of its own
that imports the real handler, configured only by its environment: DynamoDB is moto in server
mode (real HTTP, shared by every process), Bedrock the local Converse stand-in. Two callers
race: sessions of one role (sharing the role's token budget) and a registered user with a
dollar budget.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from bedrock_guard.core import keys
from bedrock_guard.core.usage_item import HOLDS
from bedrock_guard.gate.usage_store import deserialize
from bedrock_guard.local.bedrock_stub import BedrockStub
from bedrock_guard.local.burst import BurstPlan, run_burst
from bedrock_guard.local.converse_replies import Reply
from bedrock_guard.local.lambda_events import api_gateway_event
from bedrock_guard.local.moto_server import MotoServer
from tests.aws_tables import create_guard_table

pytestmark = pytest.mark.server

TABLE = "bedrock-guard-race"
ROLE = "arn:aws:iam::123456789012:role/race-app"
USER = "arn:aws:iam::123456789012:user/race-user"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
WORKERS = 4
REQUESTS_PER_WORKER = 10
# Replies use all of max_tokens, so a request's actual use is close to its worst case: two
# requests admitted on one stale reading of the counter would already overrun the limit.
MAX_TOKENS = 1000
TOKEN_LIMIT = 10_000
USD_LIMIT = Decimal("0.01")
TIERS = {"tokens": {"daily_tokens": TOKEN_LIMIT}, "dollars": {"daily_usd": str(USD_LIMIT)}}


def session_arn(worker: int, index: int) -> str:
    """A distinct assumed-role session of ROLE: all of them share the role's budget."""
    return f"arn:aws:sts::123456789012:assumed-role/race-app/w{worker}-r{index}"


def body(worker: int, index: int) -> str:
    return json.dumps(
        {
            "model": "claude-3-haiku",
            "messages": [
                {"role": "user", "content": f"Summarise ticket {worker}-{index} briefly."}
            ],
            "parameters": {"max_tokens": MAX_TOKENS},
            "tags": {"applicationId": "race"},
        }
    )


@pytest.fixture
def stand_ins() -> Iterator[tuple[MotoServer, BedrockStub]]:
    # A little latency keeps requests in flight together, holding their reservations.
    reply = Reply(latency_ms=15, output_tokens=MAX_TOKENS)
    with MotoServer() as moto_server, BedrockStub(default=reply) as stub:
        yield moto_server, stub


def create_table(moto_server: MotoServer) -> Any:
    dynamodb = moto_server.client("dynamodb")
    create_guard_table(dynamodb, TABLE)
    registry = {**keys.caller_key(USER), "tier": "dollars", "application": "race"}
    dynamodb.put_item(TableName=TABLE, Item=keys.attribute_values(registry))
    return dynamodb


def gate_environment(moto_server: MotoServer, stub: BedrockStub) -> dict[str, str]:
    return {
        **moto_server.environ(),
        "USAGE_TABLE_NAME": TABLE,
        "TIER_LIMITS_JSON": json.dumps(TIERS),
        "DEFAULT_TIER": "tokens",
        "MODEL_ALIASES_JSON": json.dumps({"claude-3-haiku": HAIKU}),
        "BEDROCK_ENDPOINT_URL": stub.endpoint_url,
        "BEDROCK_MAX_ATTEMPTS": "1",
        "BEDROCK_READ_TIMEOUT_SECONDS": "5",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        # As in Lambda: the gate builds its configuration and clients at import, in the init
        # phase, before the containers start together.
        "AWS_LAMBDA_FUNCTION_NAME": "bedrock-guard-race",
    }


def race(environment: dict[str, str]) -> list[tuple[str, int, dict[str, Any]]]:
    """Run every container at once; their answers as (principal, status, body)."""
    # Ordered so that the burst hands worker w its requests 0, 1, ... in turn.
    requests = [
        (worker, index) for index in range(REQUESTS_PER_WORKER) for worker in range(WORKERS)
    ]
    principals = [ROLE if index % 2 else USER for _, index in requests]
    events = [
        api_gateway_event(
            body(worker, index), user_arn=session_arn(worker, index) if index % 2 else USER
        )
        for worker, index in requests
    ]
    plan = BurstPlan(environment, "bedrock_guard.token_gate.handler", {}, events, WORKERS)
    responses = run_burst(plan).responses
    return [
        (
            principal,
            responses[i]["statusCode"],
            json.loads(responses[i]["body"], parse_float=Decimal),
        )
        for i, principal in enumerate(principals)
    ]


def usage_items(dynamodb: Any, principal: str) -> list[dict[str, Any]]:
    """Every month item of a caller (a race across midnight or a month end leaves two)."""
    pk = keys.usage_key(principal, "")[keys.PK]
    response = dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        ConsistentRead=True,
    )
    return [deserialize(item) for item in response["Items"]]


def daily(item: dict[str, Any], unit: str) -> dict[str, Decimal]:
    return {
        name: value
        for name, value in item.items()
        if name.startswith("d") and name.endswith(f"_{unit}") and len(name) == 4 + len(unit)
    }


def test_racing_containers_never_overspend_and_only_granted_calls_reach_bedrock(
    stand_ins: tuple[MotoServer, BedrockStub],
) -> None:
    moto_server, stub = stand_ins
    dynamodb = create_table(moto_server)

    answers = race(gate_environment(moto_server, stub))

    granted = [(who, answer) for who, status, answer in answers if status == 200]
    refused = [(status, answer) for _, status, answer in answers if status != 200]
    assert len(answers) == WORKERS * REQUESTS_PER_WORKER
    # The budget is small enough that some requests must be refused, large enough for many.
    assert granted
    assert refused
    assert {(status, answer["error"]["code"]) for status, answer in refused} == {
        (429, "BudgetExceeded")
    }

    stats = stub.stats()
    assert stats.total_calls == stats.total_ok == len(granted)
    assert stats.calls == {HAIKU: len(granted)}

    role_items, user_items = usage_items(dynamodb, ROLE), usage_items(dynamodb, USER)
    for item in role_items + user_items:
        assert item[HOLDS] == {}, "unsettled"
        assert all(tokens <= TOKEN_LIMIT for tokens in daily(item, "tokens").values())
    for item in user_items:
        assert all(usd <= USD_LIMIT for usd in daily(item, "usd").values())

    # The counters hold exactly what Bedrock reported for the granted calls, no more.
    role_tokens = sum(item["month_tokens"] for item in role_items)
    user_usd = sum(item["month_usd"] for item in user_items)
    assert role_tokens <= TOKEN_LIMIT
    assert user_usd <= USD_LIMIT
    assert role_tokens == sum(a["usage"]["totalTokens"] for who, a in granted if who == ROLE)
    assert user_usd == sum(a["costUsd"] for who, a in granted if who == USER)
    charged_tokens = role_tokens + sum(item["month_tokens"] for item in user_items)
    assert charged_tokens == stats.tokens("totalTokens")
