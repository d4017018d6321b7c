"""The DynamoDB layer against moto: one-transaction reservation, idempotent settle and release."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from bedrock_guard.core import keys
from bedrock_guard.core.accounting import Charge, Counters, Limits, Window, caps, period_of
from bedrock_guard.gate.usage_store import (
    Conflict,
    Locked,
    OverBudget,
    Profile,
    RegistryCache,
    RegistryChanged,
    Reserved,
    StoreError,
    UsageStore,
    deserialize,
    profile_from_item,
)
from tests.gate.conftest import ROLE, TABLE, create_table

PERIOD = period_of(datetime(2026, 11, 23, 15, tzinfo=UTC))
LIMITS = Limits(daily_tokens=1000, monthly_usd=Decimal("1"))
UNREGISTERED = Profile(ROLE, registered=False, attributes={})


@pytest.fixture
def client(aws: None) -> Iterator[Any]:
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    create_table(dynamodb)
    yield dynamodb


@pytest.fixture
def store(client: Any) -> UsageStore:
    return UsageStore(client, TABLE)


def usage_item(client: Any) -> dict[str, Any]:
    key = keys.attribute_values(keys.usage_key(ROLE, PERIOD.month))
    return deserialize(client.get_item(TableName=TABLE, Key=key).get("Item", {}))


def reserve(store: UsageStore, charge: Charge, profile: Profile = UNREGISTERED) -> Any:
    return store.reserve(profile, PERIOD, charge, caps(LIMITS, charge), now=1_795_446_000)


def test_reserve_then_settle_is_exact_and_leaves_no_marker(store: UsageStore, client: Any) -> None:
    outcome = reserve(store, Charge(300, Decimal("0.03")))
    assert isinstance(outcome, Reserved)
    item = usage_item(client)
    marker = outcome.reservation.marker
    assert item[marker] == {
        "tokens": Decimal(300),
        "usd": Decimal("0.03"),
        "day": "23",
        "at": Decimal(1_795_446_000),
    }
    assert (item["d23_tokens"], item["month_tokens"]) == (300, 300)
    assert item["expires_at"] == PERIOD.expires_at

    counters = store.settle(outcome.reservation, Charge(120, Decimal("0.0125")))
    assert counters == Counters(
        {
            Window.MONTHLY_TOKENS: 120,
            Window.MONTHLY_USD: Decimal("0.0125"),
            Window.DAILY_TOKENS: 120,
            Window.DAILY_USD: Decimal("0.0125"),
        }
    )
    item = usage_item(client)
    assert marker not in item
    assert (item["d23_usd"], item["month_usd"]) == (Decimal("0.0125"), Decimal("0.0125"))


def test_settle_and_release_are_idempotent(store: UsageStore, client: Any) -> None:
    first = reserve(store, Charge(100, Decimal("0.01")))
    second = reserve(store, Charge(200, Decimal("0.02")))
    assert isinstance(first, Reserved)
    assert isinstance(second, Reserved)
    assert store.settle(first.reservation, Charge(50, Decimal("0.005"))) is not None
    assert store.settle(first.reservation, Charge(50, Decimal("0.005"))) is None  # replay
    assert store.release(second.reservation) is not None
    assert store.release(second.reservation) is None  # replay
    item = usage_item(client)
    assert (item["month_tokens"], item["month_usd"]) == (50, Decimal("0.005"))
    assert not [name for name in item if name.startswith("rsv_")]


def test_reservation_refused_over_a_cap_returns_current_use(store: UsageStore, client: Any) -> None:
    assert isinstance(reserve(store, Charge(800, Decimal("0.1"))), Reserved)
    refused = reserve(store, Charge(201, Decimal("0.1")))
    assert isinstance(refused, OverBudget)
    assert refused.used.of(Window.DAILY_TOKENS) == 800
    # Exactly reaching the limit is allowed; the refused attempt changed nothing.
    assert isinstance(reserve(store, Charge(200, Decimal("0.1"))), Reserved)
    assert usage_item(client)["d23_tokens"] == 1000


def test_usd_cap_is_checked_exactly(store: UsageStore) -> None:
    assert isinstance(reserve(store, Charge(1, Decimal("0.99999999"))), Reserved)
    assert isinstance(reserve(store, Charge(1, Decimal("0.00000002"))), OverBudget)
    assert isinstance(reserve(store, Charge(1, Decimal("0.00000001"))), Reserved)


def test_unlimited_tier_has_no_condition(store: UsageStore) -> None:
    outcome = store.reserve(UNREGISTERED, PERIOD, Charge(10**9, Decimal(10**6)), {})
    assert isinstance(outcome, Reserved)


def test_locked_caller_is_refused_with_the_holders(store: UsageStore, client: Any) -> None:
    client.put_item(
        TableName=TABLE,
        Item={
            **keys.attribute_values(keys.lock_state_key(ROLE)),
            keys.LOCKED_BY: {"SS": ["operator", "arn:aws:cloudwatch:us-east-1:1:alarm:x"]},
        },
    )
    outcome = reserve(store, Charge(1, Decimal(0)))
    assert outcome == Locked(frozenset({"operator", "arn:aws:cloudwatch:us-east-1:1:alarm:x"}))
    assert usage_item(client) == {}


def put_profile(client: Any, **attributes: str) -> None:
    item = {**keys.caller_key(ROLE), **attributes}
    client.put_item(TableName=TABLE, Item=keys.attribute_values(item))


def test_registry_check_reports_the_stored_profile(store: UsageStore, client: Any) -> None:
    put_profile(client, tier="gold", cost_center="cc-1")
    # Cached as unregistered, now registered: the failed check carries the new item.
    changed = reserve(store, Charge(1, Decimal(0)), UNREGISTERED)
    assert isinstance(changed, RegistryChanged)
    assert changed.profile.registered
    assert (changed.profile.tier, changed.profile.text("cost_center")) == ("gold", "cc-1")
    assert isinstance(reserve(store, Charge(1, Decimal(0)), changed.profile), Reserved)

    # An attribute added to the registry item also invalidates the cached profile.
    put_profile(client, tier="gold", cost_center="cc-1", environment="prod")
    again = reserve(store, Charge(1, Decimal(0)), changed.profile)
    assert isinstance(again, RegistryChanged)
    assert again.profile.text("environment") == "prod"

    # A deleted registry item turns the caller back into an unregistered one.
    client.delete_item(TableName=TABLE, Key=keys.attribute_values(keys.caller_key(ROLE)))
    gone = reserve(store, Charge(1, Decimal(0)), again.profile)
    assert isinstance(gone, RegistryChanged)
    assert gone.profile == UNREGISTERED


def test_profile_is_cached_after_one_read(store: UsageStore, client: Any) -> None:
    put_profile(client, tier="gold")
    profile, fresh = store.profile(ROLE)
    assert fresh and profile.tier == "gold"
    cached, fresh_again = store.profile(ROLE)
    assert cached == profile and not fresh_again
    store.forget(ROLE)
    assert store.profile(ROLE)[1] is True


def test_non_string_registry_values_are_not_a_tier() -> None:
    profile = profile_from_item(ROLE, {"pk": {"S": "x"}, "tier": {"N": "3"}})
    assert profile.registered and profile.tier is None


def test_registry_cache_is_bounded_lru() -> None:
    cache = RegistryCache(size=2)
    for name in ("a", "b"):
        cache.put(Profile(name, registered=False, attributes={}))
    assert cache.get("a") is not None  # "a" is now the most recent
    cache.put(Profile("c", registered=False, attributes={}))
    assert (cache.get("b"), len(cache)) == (None, 2)
    assert cache.get("a") is not None and cache.get("c") is not None


def cancelled(*codes: str) -> dict[str, Any]:
    return {"CancellationReasons": [{"Code": code} for code in codes]}


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        (("None", "None", "TransactionConflict"), Conflict),
        (("TransactionConflict", "None", "None"), Conflict),
        (("None", "ConditionalCheckFailed", "TransactionConflict"), Locked),
    ],
)
def test_cancellation_reasons_are_parsed_from_the_wire(
    codes: tuple[str, ...], expected: type
) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "transact_write_items",
            service_error_code="TransactionCanceledException",
            http_status_code=400,
            modeled_fields=cancelled(*codes),
        )
        outcome = UsageStore(client, TABLE).reserve(UNREGISTERED, PERIOD, Charge(1, Decimal(0)), {})
    assert isinstance(outcome, expected)


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (
            {
                "code": "TransactionCanceledException",
                **cancelled("None", "None", "ThrottlingError"),
            },
            True,
        ),
        (
            {
                "code": "TransactionCanceledException",
                **cancelled("ValidationError", "None", "None"),
            },
            False,
        ),
        ({"code": "ProvisionedThroughputExceededException"}, True),
        ({"code": "ResourceNotFoundException"}, False),
    ],
)
def test_other_failures_are_store_errors(error: dict[str, Any], transient: bool) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    code = error.pop("code")
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "transact_write_items",
            service_error_code=code,
            http_status_code=400,
            modeled_fields=error or None,
        )
        with pytest.raises(StoreError) as caught:
            UsageStore(client, TABLE).reserve(UNREGISTERED, PERIOD, Charge(1, Decimal(0)), {})
    assert caught.value.transient is transient


def test_settle_errors_other_than_replays_raise(store: UsageStore) -> None:
    outcome = reserve(store, Charge(1, Decimal(0)))
    assert isinstance(outcome, Reserved)
    broken = UsageStore(boto3.client("dynamodb", region_name="us-east-1"), "no-such-table")
    with pytest.raises(StoreError) as caught:
        broken.settle(outcome.reservation, Charge(1, Decimal(0)))
    assert not caught.value.transient
    assert isinstance(caught.value.__cause__, ClientError)


def test_counters_can_return_to_zero_and_count_again(store: UsageStore, client: Any) -> None:
    """A released reservation leaves exact zeros that later reservations add to."""
    for _ in range(2):
        outcome = reserve(store, Charge(7, Decimal("0.00002665")))
        assert isinstance(outcome, Reserved)
        assert store.release(outcome.reservation) is not None
    assert usage_item(client)["month_usd"] == 0
    tiny = reserve(store, Charge(1, Decimal("0.000000035")))
    assert isinstance(tiny, Reserved)
    assert usage_item(client)["month_usd"] == Decimal("0.000000035")
