"""The DynamoDB layer against moto: one conditional write per step on the caller's month item."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest

from bedrock_guard.core import keys
from bedrock_guard.core.accounting import Charge, Counters, Limits, Window, caps, period_of
from bedrock_guard.core.dynamodb_calls import Retrying
from bedrock_guard.core.usage_item import (
    HOLDS,
    MAX_HOLDS_IN_FLIGHT,
    Hold,
    expired_hold_key,
    holds_of,
)
from bedrock_guard.gate.usage_store import (
    Locked,
    OverBudget,
    Profile,
    RegistryCache,
    Reservation,
    Reserved,
    TooManyHolds,
    UsageStore,
    deserialize,
    profile_from_item,
)
from tests.gate.conftest import ROLE, TABLE, create_table

PERIOD = period_of(datetime(2026, 11, 23, 15, tzinfo=UTC))
NOW = 1_795_446_000
LIMITS = Limits(daily_tokens=1000, monthly_usd=Decimal("1"))


@pytest.fixture
def client(aws: None) -> Iterator[Any]:
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    create_table(dynamodb)
    yield dynamodb


@pytest.fixture
def store(client: Any) -> UsageStore:
    return UsageStore(client, TABLE, retrying=Retrying(sleep=lambda _: None))


def usage_item(client: Any, raw: bool = False) -> dict[str, Any]:
    key = keys.attribute_values(keys.usage_key(ROLE, PERIOD.month))
    item = client.get_item(TableName=TABLE, Key=key).get("Item", {})
    return item if raw else deserialize(item)


def hold(charge: Charge, hold_id: str = "h1", expires_at: int = NOW + 900) -> Hold:
    return Hold(hold_id, charge, PERIOD.day, expires_at, request_id=f"req-{hold_id}")


def reserve(store: UsageStore, held: Hold, *, now: int = NOW) -> Any:
    return store.reserve(ROLE, PERIOD, held, caps(LIMITS, held.charge), now=now)


def test_first_reservation_opens_the_month_then_settles_exactly(
    store: UsageStore, client: Any
) -> None:
    outcome = reserve(store, hold(Charge(300, Decimal("0.03"))))
    assert isinstance(outcome, Reserved)
    item = usage_item(client)
    assert item["d23_tokens"] == 300 and item["month_usd"] == Decimal("0.03")
    assert set(item[HOLDS]) == {"h1"}
    assert item["expires_at"] == PERIOD.expires_at

    counters = store.settle(outcome.reservation, Charge(120, Decimal("0.012")))
    assert counters is not None
    assert counters.of(Window.DAILY_TOKENS) == 120
    assert counters.of(Window.MONTHLY_USD) == Decimal("0.012")
    item = usage_item(client)
    assert (item["d23_tokens"], item["month_tokens"]) == (120, 120)
    assert item[HOLDS] == {}  # no hold left behind


def test_settle_and_release_are_idempotent(store: UsageStore, client: Any) -> None:
    outcome = reserve(store, hold(Charge(300, Decimal("0.03"))))
    assert isinstance(outcome, Reserved)
    assert store.release(outcome.reservation) is not None
    assert store.release(outcome.reservation) is None
    assert store.settle(outcome.reservation, Charge(1, Decimal(0))) is None
    item = usage_item(client)
    assert (item["d23_tokens"], item["month_usd"]) == (0, 0)


def test_a_retried_reservation_after_a_lost_answer_is_not_charged_twice(
    store: UsageStore, client: Any
) -> None:
    held = hold(Charge(300, Decimal("0.03")))
    assert isinstance(reserve(store, held), Reserved)
    # The same hold again, as botocore's retry after a lost answer sends it.
    again = reserve(store, held)
    assert isinstance(again, Reserved)
    assert usage_item(client)["d23_tokens"] == 300


def test_reservation_refused_over_a_cap_returns_current_use(store: UsageStore, client: Any) -> None:
    assert isinstance(reserve(store, hold(Charge(800, Decimal("0.01")), "a")), Reserved)
    outcome = reserve(store, hold(Charge(300, Decimal("0.01")), "b"))
    assert isinstance(outcome, OverBudget)
    assert outcome.used.of(Window.DAILY_TOKENS) == 800
    assert set(usage_item(client)[HOLDS]) == {"a"}  # the refused hold was never written


def test_usd_cap_is_checked_exactly(store: UsageStore) -> None:
    assert isinstance(reserve(store, hold(Charge(1, Decimal("0.6")), "a")), Reserved)
    assert isinstance(reserve(store, hold(Charge(1, Decimal("0.4")), "b")), Reserved)
    assert isinstance(reserve(store, hold(Charge(1, Decimal("0.0000001")), "c")), OverBudget)


def test_unlimited_windows_have_no_condition(store: UsageStore) -> None:
    params = store._reserve_params(
        store_reservation(hold(Charge(10**9, Decimal(10**6)))), caps(Limits(), Charge(1, 1))
    )
    assert ":cap" not in params["ConditionExpression"]


def store_reservation(held: Hold) -> Reservation:
    return Reservation(ROLE, PERIOD, held)


def test_lock_mirrored_into_the_month_item_refuses_with_the_holders(
    store: UsageStore, client: Any
) -> None:
    assert isinstance(reserve(store, hold(Charge(1, Decimal(0)), "a")), Reserved)
    client.update_item(
        TableName=TABLE,
        Key=keys.attribute_values(keys.usage_key(ROLE, PERIOD.month)),
        UpdateExpression="ADD #lb :h",
        ExpressionAttributeNames={"#lb": keys.LOCKED_BY},
        ExpressionAttributeValues={":h": {"SS": ["operator"]}},
    )
    outcome = reserve(store, hold(Charge(1, Decimal(0)), "b"))
    assert outcome == Locked(frozenset({"operator"}))


def test_lock_state_refuses_opening_a_month(store: UsageStore, client: Any) -> None:
    client.put_item(
        TableName=TABLE,
        Item=keys.attribute_values(keys.lock_state_key(ROLE))
        | {keys.LOCKED_BY: {"SS": ["alarm-a"]}},
    )
    outcome = reserve(store, hold(Charge(1, Decimal(0))))
    assert outcome == Locked(frozenset({"alarm-a"}))
    assert usage_item(client) == {}  # the month stays unopened


def test_a_lock_mirror_written_before_opening_is_seen(store: UsageStore, client: Any) -> None:
    """The ledger's mirror may create the month item before the gate opens it."""
    client.update_item(
        TableName=TABLE,
        Key=keys.attribute_values(keys.usage_key(ROLE, PERIOD.month)),
        UpdateExpression="ADD #lb :h",
        ExpressionAttributeNames={"#lb": keys.LOCKED_BY},
        ExpressionAttributeValues={":h": {"SS": ["alarm-b"]}},
    )
    assert reserve(store, hold(Charge(1, Decimal(0)))) == Locked(frozenset({"alarm-b"}))
    assert HOLDS not in usage_item(client)


def test_holds_in_flight_are_bounded(store: UsageStore, client: Any) -> None:
    tiny = Charge(1, Decimal(0))
    for index in range(MAX_HOLDS_IN_FLIGHT):
        assert isinstance(reserve(store, hold(tiny, f"h{index}")), Reserved)
    outcome = reserve(store, hold(tiny, "one-too-many"))
    assert outcome == TooManyHolds(MAX_HOLDS_IN_FLIGHT)
    assert len(usage_item(client)[HOLDS]) == MAX_HOLDS_IN_FLIGHT


def test_expired_holds_make_room_and_are_listed_with_their_request_ids(
    store: UsageStore, client: Any
) -> None:
    tiny = Charge(10, Decimal("0.001"))
    for index in range(MAX_HOLDS_IN_FLIGHT):
        assert isinstance(reserve(store, hold(tiny, f"old{index}", expires_at=NOW - 1)), Reserved)
    outcome = reserve(store, hold(tiny, "fresh"))
    assert isinstance(outcome, Reserved)
    item = usage_item(client, raw=True)
    remaining = {h.hold_id for h in holds_of(item)}
    assert "fresh" in remaining
    assert len(remaining) < MAX_HOLDS_IN_FLIGHT
    # The expired holds' worst case stays charged (conservative) ...
    assert deserialize(item)["d23_tokens"] == 10 * (MAX_HOLDS_IN_FLIGHT + 1)
    # ... and each one moved out is listed with its request id.
    moved = {f"old{i}" for i in range(MAX_HOLDS_IN_FLIGHT)} - remaining
    assert moved
    for hold_id in moved:
        record = client.get_item(
            TableName=TABLE,
            Key=keys.attribute_values(expired_hold_key(ROLE, PERIOD.month, hold_id)),
        )["Item"]
        assert record["request_id"] == {"S": f"req-{hold_id}"}
        assert record["tokens"] == {"N": "10"}


def test_a_successful_reservation_reports_other_expired_holds(store: UsageStore) -> None:
    tiny = Charge(1, Decimal(0))
    assert isinstance(reserve(store, hold(tiny, "dead", expires_at=NOW - 5)), Reserved)
    outcome = reserve(store, hold(tiny, "live"))
    assert isinstance(outcome, Reserved)
    assert [h.hold_id for h in outcome.expired] == ["dead"]
    assert store.sweep(ROLE, PERIOD.month, outcome.expired, now=NOW) == 1
    # A second sweep (another container, a retry) finds nothing left to move.
    assert store.sweep(ROLE, PERIOD.month, outcome.expired, now=NOW) == 0


def test_a_hold_that_has_not_expired_is_never_swept(store: UsageStore, client: Any) -> None:
    tiny = Charge(1, Decimal(0))
    outcome = reserve(store, hold(tiny, "alive", expires_at=NOW + 60))
    assert isinstance(outcome, Reserved)
    assert store.sweep(ROLE, PERIOD.month, [outcome.reservation.hold], now=NOW) == 0
    assert set(usage_item(client)[HOLDS]) == {"alive"}


def test_counters_can_return_to_zero_and_count_again(store: UsageStore, client: Any) -> None:
    for index in range(3):
        outcome = reserve(store, hold(Charge(100, Decimal("0.01")), f"h{index}"))
        assert isinstance(outcome, Reserved)
        assert store.release(outcome.reservation) is not None
    assert usage_item(client)["month_usd"] == 0
    assert isinstance(reserve(store, hold(Charge(5, Decimal("0.5")), "last")), Reserved)
    assert usage_item(client)["month_usd"] == Decimal("0.5")


def test_profile_is_cached_for_its_ttl(store: UsageStore, client: Any) -> None:
    elapsed = [0.0]
    store.cache = RegistryCache(ttl=60, monotonic=lambda: elapsed[0])
    client.put_item(
        TableName=TABLE,
        Item=keys.attribute_values({**keys.caller_key(ROLE), "tier": "gold"}),
    )
    assert store.profile(ROLE)[1] is True
    assert store.profile(ROLE) == (store.refresh(ROLE), False)
    elapsed[0] = 60
    profile, fresh = store.profile(ROLE)
    assert fresh and profile.tier == "gold"


def test_non_string_registry_values_are_not_a_tier() -> None:
    profile = profile_from_item(
        ROLE, keys.attribute_values(keys.caller_key(ROLE)) | {"tier": {"N": "1"}}
    )
    assert profile.registered and profile.tier is None


def test_registry_cache_is_bounded_lru() -> None:
    cache = RegistryCache(size=2)
    for name in ("a", "b"):
        cache.put(Profile(name, registered=True, attributes={}))
    assert cache.get("a") is not None  # "b" is now the least recently used
    cache.put(Profile("c", registered=True, attributes={}))
    assert cache.get("b") is None
    assert {cache.get("a") is not None, cache.get("c") is not None} == {True}
    assert len(cache) == 2


def test_counters_are_read_for_the_period() -> None:
    counters = Counters.from_numbers(
        {"d23_tokens": Decimal(5), "month_usd": Decimal("1.5")}, PERIOD
    )
    assert counters.of(Window.DAILY_TOKENS) == 5
    assert counters.of(Window.MONTHLY_USD) == Decimal("1.5")
