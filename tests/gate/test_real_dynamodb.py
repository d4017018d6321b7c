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
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bedrock_guard.core import keys
from bedrock_guard.core.usage_item import HOLDS
from bedrock_guard.enforcer.alarm_messages import format_time
from bedrock_guard.enforcer.ledger import EventAction, Ledger
from bedrock_guard.gate.bedrock_client import build_client
from bedrock_guard.gate.config import load_config
from bedrock_guard.gate.metrics import RequestFacts
from bedrock_guard.gate.service import GateCall, serve
from bedrock_guard.gate.usage_store import deserialize
from bedrock_guard.local.bedrock_stub import BedrockStub
from bedrock_guard.local.converse_replies import Reply
from bedrock_guard.local.dynamodb_rules import FaultRule, LocalDynamoDB, local_dynamodb
from bedrock_guard.local.gate_burst import (
    Answer,
    Containers,
    answer_of,
    burst,
    request_call,
)
from bedrock_guard.local.tables import create_guard_table

pytestmark = pytest.mark.server

TABLE = "bedrock-guard-real-rules"
ROLE = "arn:aws:iam::123456789012:role/hot-app"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
NOW = datetime(2026, 11, 23, 15, tzinfo=UTC)
MONTH = "2026-11"
MAX_TOKENS = 200


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


def containers(local: tuple[LocalDynamoDB, BedrockStub], tiers: dict[str, Any]) -> Containers:
    dynamodb, bedrock = local
    environment = {
        "USAGE_TABLE_NAME": TABLE,
        "TIER_LIMITS_JSON": json.dumps(tiers),
        "DEFAULT_TIER": "hot",
        "MODEL_ALIASES_JSON": json.dumps({"claude-3-haiku": HAIKU}),
        "BEDROCK_ENDPOINT_URL": bedrock.endpoint_url,
        "BEDROCK_READ_TIMEOUT_SECONDS": "10",
    }
    return Containers(
        environment,
        dynamodb=dynamodb.client("dynamodb", max_pool_connections=100),
        bedrock=build_client(load_config(environment)),
        now=NOW,
    )


def calls(count: int, first: int = 0) -> list[GateCall]:
    return [
        request_call(ROLE, index, model="claude-3-haiku", max_tokens=MAX_TOKENS)
        for index in range(first, first + count)
    ]


def one_request(local: tuple[LocalDynamoDB, BedrockStub], index: int) -> Answer:
    (call,) = calls(1, index)
    return answer_of(serve(containers(local, {"hot": {}}).runtime(), call, RequestFacts()))


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
    answers = burst(containers(local, {"hot": {"daily_tokens": 10**7}}), calls(requests))
    assert [a.status for a in answers] == [200] * requests  # no 503: nothing conflicts
    assert_charged_exactly(local, answers)


def test_a_burst_against_a_small_budget_never_overspends(
    local: tuple[LocalDynamoDB, BedrockStub],
) -> None:
    limit = 10 * 300
    answers = burst(containers(local, {"hot": {"daily_tokens": limit}}), calls(32))
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
        """The ledger's own operator lock: state, history and mirror in one transaction,
        retried on conflicts with the ledger's own backoff."""
        ledger = Ledger(client, TABLE)
        now = format_time(datetime.now(UTC))
        event = ledger.event_put(
            ROLE, EventAction.OPERATOR_LOCK, at=now, event_key="mid-burst", recorded_at=now
        )
        ledger.add_holder(ROLE, keys.OPERATOR_LOCK, now=now, event=event)
        committed.append(1)

    first = one_request(local, 1000)
    assert first.status == 200  # the month item is open and hot
    answers = burst(containers(local, {"hot": {}}), calls(32), during=lock)
    answers.append(first)
    assert committed, "the lock never committed"
    codes = {(a.status, a.body.get("error", {}).get("code")) for a in answers}
    assert codes == {(200, None), (403, "Locked")}
    assert_charged_exactly(local, answers)
    # After the lock, nothing more is admitted.
    assert one_request(local, 999).status == 403


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
    answers = burst(containers(local, {"hot": {"daily_tokens": 10**7}}), calls(8))
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
    answers = burst(containers(local, {"hot": {}}), calls(4))
    assert [a.status for a in answers] == [200] * 4
    writes = local[0].capacity()["total"]["write"]
    assert writes / len(answers) <= 4  # two writes of at most 2 KB each
