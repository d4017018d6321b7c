"""The meter's writes through DynamoDB's real rules: direct usage counted once, and a killed gate
request's hold settled to exactly what Bedrock logged, whatever state the hold is in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from bedrock_guard.core import keys
from bedrock_guard.core.accounting import Charge, Limits, Window, caps, period_of
from bedrock_guard.core.usage_item import HOLDS, Hold, expired_hold_key
from bedrock_guard.gate.usage_store import Reservation, Reserved, UsageStore, deserialize
from bedrock_guard.local.dynamodb_rules import LocalDynamoDB, local_dynamodb
from bedrock_guard.local.tables import create_guard_table
from bedrock_guard.meter.store import MeterStore, Reconciled

pytestmark = pytest.mark.server

TABLE = "meter-store"
ROLE = "arn:aws:iam::123456789012:role/notebook"
PERIOD = period_of(datetime(2026, 11, 23, 15, tzinfo=UTC))
NOW = 1_795_446_000
WORST = Charge(4196, Decimal("0.0052"))
LOGGED = Charge(1234, Decimal("0.00161"))


@pytest.fixture(scope="module")
def local() -> Iterator[LocalDynamoDB]:
    with local_dynamodb() as dynamodb:
        yield dynamodb


@pytest.fixture
def client(local: LocalDynamoDB) -> Iterator[Any]:
    dynamodb = local.client("dynamodb")
    create_guard_table(dynamodb, TABLE)
    yield dynamodb
    dynamodb.delete_table(TableName=TABLE)


def month_item(client: Any) -> dict[str, Any]:
    key = keys.attribute_values(keys.usage_key(ROLE, PERIOD.month))
    return deserialize(client.get_item(TableName=TABLE, Key=key, ConsistentRead=True)["Item"])


def listed(client: Any, hold_id: str) -> dict[str, Any] | None:
    key = keys.attribute_values(expired_hold_key(ROLE, PERIOD.month, hold_id))
    return client.get_item(TableName=TABLE, Key=key, ConsistentRead=True).get("Item")


def place_hold(client: Any, hold_id: str, expires_at: int) -> tuple[UsageStore, Hold]:
    """A gate hold, as a request whose Lambda then died leaves it."""
    store = UsageStore(client, TABLE)
    hold = Hold(hold_id, WORST, PERIOD.day, expires_at, f"req-{hold_id}")
    outcome = store.reserve(ROLE, PERIOD, hold, caps(Limits(), WORST), now=NOW)
    assert isinstance(outcome, Reserved)
    return store, hold


def test_direct_usage_is_counted_once(client: Any) -> None:
    meter = MeterStore(client, TABLE)
    first = meter.charge_direct(ROLE, "bedrock-req-1", PERIOD, LOGGED, now=NOW)
    again = meter.charge_direct(ROLE, "bedrock-req-1", PERIOD, LOGGED, now=NOW)
    assert first.counted and not again.counted
    assert again.counters.of(Window.DAILY_TOKENS) == LOGGED.tokens
    item = month_item(client)
    assert (item["d23_tokens"], item["month_usd"]) == (1234, Decimal("0.00161"))


def test_a_hold_the_gate_settled_is_left_alone(client: Any) -> None:
    store, hold = place_hold(client, "settled0000001", NOW + 600)
    store.settle(store_reservation(hold), LOGGED)
    result = MeterStore(client, TABLE).reconcile(ROLE, PERIOD.month, hold.hold_id, LOGGED, now=NOW)
    assert result is Reconciled.SETTLED_BY_GATE
    assert month_item(client)["month_tokens"] == LOGGED.tokens


def store_reservation(hold: Hold) -> Reservation:
    return Reservation(ROLE, PERIOD, hold)


def test_a_killed_request_in_flight_is_settled_exactly_when_swept(client: Any) -> None:
    store, hold = place_hold(client, "inflight000001", NOW + 60)
    meter = MeterStore(client, TABLE)
    assert meter.reconcile(ROLE, PERIOD.month, hold.hold_id, LOGGED, now=NOW) is (
        Reconciled.NOTED_FOR_SWEEP
    )
    assert month_item(client)["month_tokens"] == WORST.tokens  # still the worst case

    # Later, after the hold expired, a request of the same caller sweeps it.
    assert store.sweep(ROLE, PERIOD.month, [hold], now=NOW + 120) == 1
    item = month_item(client)
    assert (item["month_tokens"], item["d23_tokens"]) == (LOGGED.tokens, LOGGED.tokens)
    assert item["month_usd"] == LOGGED.usd
    assert item[HOLDS] == {}
    assert listed(client, hold.hold_id) is None  # nothing left to reconcile


def test_a_hold_already_listed_is_replaced_by_what_bedrock_logged(client: Any) -> None:
    store, hold = place_hold(client, "listed00000001", NOW - 10)
    assert store.sweep(ROLE, PERIOD.month, [hold], now=NOW) == 1
    assert month_item(client)["month_tokens"] == WORST.tokens
    meter = MeterStore(client, TABLE)
    assert meter.reconcile(ROLE, PERIOD.month, hold.hold_id, LOGGED, now=NOW) is (
        Reconciled.RECONCILED
    )
    # A replay of the same log record changes nothing.
    assert meter.reconcile(ROLE, PERIOD.month, hold.hold_id, LOGGED, now=NOW) is (
        Reconciled.SETTLED_BY_GATE
    )
    item = month_item(client)
    assert (item["month_tokens"], item["month_usd"]) == (LOGGED.tokens, LOGGED.usd)
    assert listed(client, hold.hold_id) is None
