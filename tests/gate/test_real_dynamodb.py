"""The gate against DynamoDB's real rules (the rules proxy in front of moto server).

moto serialises everything and never conflicts; the proxy holds items while a transaction
commits, answers ``TransactionConflictException`` to standard writes on them, enforces 400 KB
and bills capacity. Here one hot caller bursts 16 and 64 requests at once, each from a
container of its own (its own runtime and clients, as Lambda would run them), faults are
injected on the usage item, and a ledger transaction locks the caller in the middle of a burst.
After every run the charge equals what Bedrock reported, and no hold is left behind.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from bedrock_guard.core import keys
from bedrock_guard.core.lock_marks import lock_mark_updates
from bedrock_guard.core.usage_item import HOLDS
from bedrock_guard.gate.bedrock_client import build_client
from bedrock_guard.gate.config import load_config
from bedrock_guard.gate.metrics import RequestFacts
from bedrock_guard.gate.service import GateCall, GateRuntime, serve
from bedrock_guard.gate.usage_store import UsageStore, deserialize
from bedrock_guard.local.bedrock_stub import BedrockStub
from bedrock_guard.local.converse_replies import Reply
from bedrock_guard.local.dynamodb_rules import FaultRule, LocalDynamoDB, local_dynamodb
from tests.aws_tables import create_guard_table

pytestmark = pytest.mark.server

TABLE = "bedrock-guard-real-rules"
ROLE = "arn:aws:iam::123456789012:role/hot-app"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
NOW = datetime(2026, 11, 23, 15, tzinfo=UTC)
MONTH = "2026-11"
MAX_TOKENS = 200


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[LocalDynamoDB, BedrockStub]]:
    # Bedrock answers after 20 ms, so a burst keeps many holds in flight together.
    with (
        local_dynamodb(commit_hold_seconds=0.01) as dynamodb,
        BedrockStub(default=Reply(latency_ms=20, output_tokens=MAX_TOKENS)) as bedrock,
    ):
        yield dynamodb, bedrock


@pytest.fixture
def local(stack: tuple[LocalDynamoDB, BedrockStub]) -> Iterator[tuple[LocalDynamoDB, BedrockStub]]:
    dynamodb, bedrock = stack
    dynamodb.rules.clear_faults()
    create_guard_table(dynamodb.client("dynamodb"), TABLE)
    yield dynamodb, bedrock
    dynamodb.client("dynamodb").delete_table(TableName=TABLE)
    bedrock.state.reset()


_clients: dict[tuple[int, str], Any] = {}


def container(local: tuple[LocalDynamoDB, BedrockStub], tiers: dict[str, Any]) -> GateRuntime:
    """One Lambda container's runtime: its own configuration, store and registry cache.
    botocore clients are thread-safe and slow to build, so the containers share them."""
    dynamodb, bedrock = local
    config = load_config(
        {
            "USAGE_TABLE_NAME": TABLE,
            "TIER_LIMITS_JSON": json.dumps(tiers),
            "DEFAULT_TIER": "hot",
            "MODEL_ALIASES_JSON": json.dumps({"claude-3-haiku": HAIKU}),
            "BEDROCK_ENDPOINT_URL": bedrock.endpoint_url,
            "BEDROCK_READ_TIMEOUT_SECONDS": "10",
        }
    )
    client = _clients.get((id(dynamodb), "dynamodb"))
    if client is None:
        client = _clients[(id(dynamodb), "dynamodb")] = dynamodb.client(
            "dynamodb", max_pool_connections=100
        )
    converse = _clients.get((id(bedrock), "bedrock"))
    if converse is None:
        converse = _clients[(id(bedrock), "bedrock")] = build_client(config)
    runtime = GateRuntime(config=config, store=UsageStore(client, TABLE), bedrock=converse)
    runtime.clock = lambda: NOW
    return runtime


def request(index: int) -> GateCall:
    body = {
        "model": "claude-3-haiku",
        "messages": [{"role": "user", "content": f"Summarise ticket {index}."}],
        "parameters": {"max_tokens": MAX_TOKENS},
        "tags": {"applicationId": "hot-app"},
    }
    return GateCall(
        principal=ROLE,
        body=json.dumps(body),
        is_base64=False,
        request_id=f"req-{index:04d}",
        time_left_seconds=30,
    )


def burst(
    local: tuple[LocalDynamoDB, BedrockStub],
    requests: int,
    tiers: dict[str, Any],
    *,
    during: Any = None,
) -> list[Answer]:
    """``requests`` requests at once, one container each; ``during`` runs once half have
    started."""
    runtimes = [container(local, tiers) for _ in range(requests)]
    half = threading.Barrier(requests // 2 + (1 if during else 0))
    gate = threading.Barrier(requests)

    def one(index: int) -> Answer:
        gate.wait()
        if index < requests // 2:
            half.wait()
        response = serve(runtimes[index], request(index), RequestFacts())
        return Answer(response["statusCode"], json.loads(response["body"], parse_float=Decimal))

    with ThreadPoolExecutor(max_workers=requests + 1) as pool:
        futures = [pool.submit(one, index) for index in range(requests)]
        if during is not None:
            half.wait()
            during()
        return [future.result(timeout=120) for future in futures]


def month_item(local: tuple[LocalDynamoDB, BedrockStub]) -> dict[str, Any]:
    item = (
        local[0]
        .client("dynamodb")
        .get_item(
            TableName=TABLE,
            Key=keys.attribute_values(keys.usage_key(ROLE, MONTH)),
            ConsistentRead=True,
        )
    )
    return deserialize(item.get("Item", {}))


def assert_charged_exactly(local: tuple[LocalDynamoDB, BedrockStub], answers: list[Answer]) -> None:
    item = month_item(local)
    used = sum(a.body["usage"]["totalTokens"] for a in answers if a.status == 200)
    assert item[HOLDS] == {}, "a hold was left behind"
    assert item["month_tokens"] == item["d23_tokens"] == used
    assert local[1].stats().tokens("totalTokens") == used  # Bedrock ran once per charge


@pytest.mark.parametrize("requests", [16, 64])
def test_a_hot_caller_burst_is_charged_exactly_what_it_used(
    local: tuple[LocalDynamoDB, BedrockStub], requests: int
) -> None:
    answers = burst(local, requests, {"hot": {"daily_tokens": 10**7}})
    assert [a.status for a in answers] == [200] * requests  # no 503: nothing conflicts
    assert_charged_exactly(local, answers)


def test_a_burst_against_a_small_budget_never_overspends(
    local: tuple[LocalDynamoDB, BedrockStub],
) -> None:
    limit = 10 * 300
    answers = burst(local, 32, {"hot": {"daily_tokens": limit}})
    statuses = {a.status for a in answers}
    assert statuses == {200, 429}
    assert_charged_exactly(local, answers)
    assert month_item(local)["d23_tokens"] <= limit


def test_a_lock_in_the_middle_of_a_burst_refuses_what_comes_after_it(
    local: tuple[LocalDynamoDB, BedrockStub],
) -> None:
    """The ledger's lock is a transaction on the hot item: the gate's writes that meet it get
    ``TransactionConflictException`` and retry; every hold written after it is refused."""
    client = local[0].client("dynamodb")
    committed: list[float] = []

    def lock() -> None:
        now = datetime.now(UTC)
        for attempt in range(50):  # the ledger retries a conflict like this
            try:
                client.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": TABLE,
                                "Key": keys.attribute_values(keys.lock_state_key(ROLE)),
                                "UpdateExpression": "ADD #lb :h",
                                "ExpressionAttributeNames": {"#lb": keys.LOCKED_BY},
                                "ExpressionAttributeValues": {":h": {"SS": ["operator"]}},
                            }
                        },
                        *lock_mark_updates(TABLE, ROLE, ["operator"], add=True, now=now),
                    ]
                )
            except client.exceptions.TransactionCanceledException:
                threading.Event().wait(0.005 * (attempt + 1))
                continue
            committed.append(1)
            return

    first = serve(container(local, {"hot": {}}), request(1000), RequestFacts())
    assert first["statusCode"] == 200  # the month item is open and hot
    answers = burst(local, 32, {"hot": {"daily_tokens": 10**7}}, during=lock)
    answers.append(Answer(200, json.loads(first["body"], parse_float=Decimal)))
    assert committed, "the lock never committed"
    codes = {(a.status, a.body.get("error", {}).get("code")) for a in answers}
    assert codes == {(200, None), (403, "Locked")}
    assert_charged_exactly(local, answers)
    # After the lock, nothing more is admitted.
    after = serve(container(local, {"hot": {}}), request(999), RequestFacts())
    assert after["statusCode"] == 403


@pytest.mark.parametrize(
    "rule",
    [
        FaultRule("throttle", operation="UpdateItem", key_prefix="USAGE#", times=3),
        FaultRule("fail_before", operation="UpdateItem", key_prefix="USAGE#", times=3),
        FaultRule("lost_answer", operation="UpdateItem", key_prefix="USAGE#", times=3),
        FaultRule(
            "lost_answer", operation="UpdateItem", key_prefix="USAGE#", mode="close", times=3
        ),
    ],
    ids=["throttle", "fail-before", "lost-answer-500", "lost-answer-closed"],
)
def test_faults_on_the_usage_item_leave_the_charge_exact(
    local: tuple[LocalDynamoDB, BedrockStub], rule: FaultRule
) -> None:
    local[0].rules.add_fault(rule)
    answers = burst(local, 8, {"hot": {"daily_tokens": 10**7}})
    assert {a.status for a in answers} <= {200, 503}
    assert 200 in {a.status for a in answers}
    assert_charged_exactly(local, answers)


def test_the_month_item_stays_small_with_every_day_used_and_holds_in_flight(
    local: tuple[LocalDynamoDB, BedrockStub],
) -> None:
    """31 days of counters and the most holds the gate allows: far below 400 KB, and the
    write units of a reservation stay those of a small item."""
    client = local[0].client("dynamodb")
    item = keys.attribute_values(keys.usage_key(ROLE, MONTH)) | {
        f"d{day:02d}_{unit}": {"N": "123456" if unit == "tokens" else "1.234567"}
        for day in range(1, 32)
        for unit in ("tokens", "usd")
    }
    item |= {"month_tokens": {"N": "3827136"}, "month_usd": {"N": "38.271577"}, HOLDS: {"M": {}}}
    client.put_item(TableName=TABLE, Item=item)
    local[0].rules.reset_capacity()
    answers = burst(local, 4, {"hot": {}})
    assert [a.status for a in answers] == [200] * 4
    writes = local[0].capacity()["total"]["write"]
    assert writes / len(answers) <= 4  # two writes of at most 2 KB each
