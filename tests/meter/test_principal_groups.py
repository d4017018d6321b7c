"""Principals metered side by side: the same counters, verdicts and locks as metering the
delivery record by record, each principal's records in order, the registry read once per
principal, and a failing principal failing the invocation without undoing the others."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

import pytest

from bedrock_guard.enforcer import window_locks
from bedrock_guard.local.tables import create_guard_table
from bedrock_guard.meter import service
from bedrock_guard.meter.records import InvocationRecord, parse_subscription_event
from bedrock_guard.meter.service import MeterReport
from bedrock_guard.meter.store import MeterStoreError
from tests.enforcer.moto_account import LAMBDA_TRUST_POLICY
from tests.meter.events import record, subscription_event
from tests.meter.moto_world import (
    ACCOUNT,
    NOTEBOOK,
    TABLE,
    World,
    day_tokens,
    deliver,
    direct,
)

ROLES = ("dev-a", "dev-b", "dev-c")
ROOT = f"arn:aws:iam::{ACCOUNT}:root"


def role(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


@pytest.fixture
def roles(world: World) -> World:
    for name in ROLES:
        world.iam.create_role(RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST_POLICY)
    return world


def earlier_delivery() -> list[dict[str, Any]]:
    """What an earlier delivery counted: the mixed delivery repeats it."""
    return [direct("a1", 300, who="dev-a", minute=1)]


def mixed_delivery() -> list[dict[str, Any]]:
    """Four principals interleaved (limit 1,000 tokens a day): notebook crosses at its second
    record and dev-b at its third, each with a record after; a record an earlier delivery
    counted; the gate's own call; the root over the limit (refused)."""
    of_root = direct("root-1", 1500, minute=9)
    of_root["identity"] = {"arn": ROOT}
    return [
        direct("n1", 400, minute=1),
        *earlier_delivery(),
        direct("b1", 500, who="dev-b", minute=1),
        record("converse"),
        direct("n2", 700, minute=2),
        direct("b2", 300, who="dev-b", minute=2),
        of_root,
        direct("a2", 300, who="dev-a", minute=3),
        direct("b3", 400, who="dev-b", minute=3),
        direct("n3", 500, minute=4),
        direct("b4", 100, who="dev-b", minute=4),
    ]


def parsed(messages: list[dict[str, Any]]) -> list[InvocationRecord]:
    batch = parse_subscription_event(
        subscription_event(messages), account_id=ACCOUNT, region="us-east-1"
    )
    assert not batch.rejected
    return batch.records


def outcome(world: World, report: MeterReport) -> dict[str, Any]:
    """The report and what the table and IAM show for every principal of the delivery."""
    principals = [NOTEBOOK, ROOT, *(role(name) for name in ROLES)]
    return {
        "verdicts": report.verdicts,
        "skipped": report.skipped,
        "direct_tokens": report.direct_tokens,
        "direct_usd": report.direct_usd,
        "locked": sorted(report.locked, key=lambda lock: lock["principal"]),
        "locks_placed": report.locks_placed,
        "unpriced": report.unpriced,
        "day_tokens": {p: day_tokens(world, p) for p in principals},
        "holders": {p: world.holders(p) for p in principals},
        "attached": {p: world.attached(p) for p in principals if p != ROOT},
        # The reason names the use at the lock: the record that crossed, not a later one.
        "lock_reasons": {
            p: sorted(
                item["operator_reason"]["S"]
                for item in world.event_items(p)
                if "operator_reason" in item
            )
            for p in principals
        },
    }


def start_over(world: World) -> None:
    """An empty table and no deny policy attached: the account as before the delivery."""
    world.ddb.delete_table(TableName=TABLE)
    create_guard_table(world.ddb, TABLE)
    for arn in (NOTEBOOK, *(role(name) for name in ROLES)):
        if world.attached(arn):
            name = arn.rsplit("/", 1)[-1]
            world.iam.detach_role_policy(RoleName=name, PolicyArn=world.policy_arn)


def test_side_by_side_meters_exactly_as_record_by_record(roles: World) -> None:
    earlier, records = parsed(earlier_delivery()), parsed(mixed_delivery())
    roles.meter.meter(earlier)
    in_order = MeterReport.merged(roles.meter.meter([one]) for one in records)
    expected = outcome(roles, in_order)
    start_over(roles)

    roles.meter.meter(earlier)
    side_by_side = outcome(roles, roles.meter.meter(records))

    assert side_by_side == expected
    # The delivery does what it was built to do, so the comparison compares something.
    assert expected["verdicts"] == {"counted": 9, "duplicate": 1, "gate_settled": 1}
    assert expected["holders"][NOTEBOOK] == {"window:daily_tokens:2026-11-23"}
    assert expected["lock_reasons"][NOTEBOOK] == [
        "direct Bedrock use over daily_tokens: 1100 of 1000"
    ]
    assert expected["lock_reasons"][role("dev-b")] == [
        "direct Bedrock use over daily_tokens: 1200 of 1000"
    ]
    assert [lock["outcome"] for lock in expected["locked"]] == [
        "locked",
        "replay",
        "locked",
        "replay",
        "refused",
    ]


def spy_calls(
    world: World, monkeypatch: pytest.MonkeyPatch, before_charge: Callable[[str, str], None]
) -> list[tuple[str, str, str]]:
    """Every charge and lock of the meter as (principal, what, request id or holder), in the
    order they happened; ``before_charge(principal, request id)`` runs before each charge."""
    calls: list[tuple[str, str, str]] = []
    store = world.meter.store
    charge_direct = store.charge_direct
    lock_for_window = window_locks.lock_for_window

    def charging(principal: str, request_id: str, *args: Any, **kwargs: Any) -> Any:
        before_charge(principal, request_id)
        charged = charge_direct(principal, request_id, *args, **kwargs)
        calls.append((principal, "charge", request_id))
        return charged

    def locking(locks: Any, principal: str, *args: Any, **kwargs: Any) -> Any:
        calls.append((principal, "lock", kwargs["holder"]))
        return lock_for_window(locks, principal, *args, **kwargs)

    monkeypatch.setattr(store, "charge_direct", charging)
    monkeypatch.setattr(service, "lock_for_window", locking)
    return calls


def test_each_principals_records_stay_in_order_and_lock_where_they_cross(
    roles: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(*earlier_delivery())
    calls = spy_calls(roles, monkeypatch, lambda principal, request_id: None)
    deliver(*mixed_delivery())
    calls_of = (NOTEBOOK, role("dev-b"))
    of = {p: [(what, ref) for who, what, ref in calls if who == p] for p in calls_of}
    holder = "window:daily_tokens:2026-11-23"
    assert of[NOTEBOOK] == [
        ("charge", "n1"),
        ("charge", "n2"),
        ("lock", holder),
        ("charge", "n3"),
        ("lock", holder),  # still over: a replay of the lock, which changes nothing
    ]
    assert of[role("dev-b")] == [
        ("charge", "b1"),
        ("charge", "b2"),
        ("charge", "b3"),
        ("lock", holder),
        ("charge", "b4"),
        ("lock", holder),
    ]


def test_different_principals_are_metered_at_the_same_time(
    roles: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each charge waits until the other principal's charge has started: in turn, it never would.
    both_started = threading.Barrier(2, timeout=10)
    spy_calls(roles, monkeypatch, lambda principal, request_id: both_started.wait())
    summary = deliver(direct("a1", 100, who="dev-a"), direct("b1", 100, who="dev-b"))
    assert summary["verdicts"] == {"counted": 2}


def test_the_registry_is_read_once_per_principal_and_delivery(
    roles: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    registered_tier = roles.meter.store.registered_tier

    def reading(principal: str) -> tuple[bool, str | None]:
        reads.append(principal)
        return registered_tier(principal)

    deliver(*earlier_delivery())
    monkeypatch.setattr(roles.meter.store, "registered_tier", reading)
    deliver(*mixed_delivery())
    assert sorted(reads) == sorted([NOTEBOOK, role("dev-a"), role("dev-b"), ROOT])


# The failed invocation publishes no metric of its own (Lambda counts the error).
@pytest.mark.filterwarnings("ignore:No application metrics")
def test_a_failing_principal_fails_the_invocation_and_the_retry_completes_it(
    roles: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = {"b2"}

    def fail_b2(principal: str, request_id: str) -> None:
        if request_id in failing:
            raise MeterStoreError("DynamoDB failed after retries")

    spy_calls(roles, monkeypatch, fail_b2)
    delivery = [
        direct("a1", 100, who="dev-a", minute=1),
        direct("b1", 100, who="dev-b", minute=1),
        direct("b2", 100, who="dev-b", minute=2),
        direct("c1", 100, who="dev-c", minute=2),
        direct("a2", 100, who="dev-a", minute=3),
        direct("b3", 100, who="dev-b", minute=3),
        direct("c2", 100, who="dev-c", minute=3),
    ]
    with pytest.raises(MeterStoreError):  # Lambda retries the whole event
        deliver(*copy.deepcopy(delivery))
    # The other principals' records after the failure were metered all the same; the failing
    # principal stopped at its failing record, so nothing of it is metered out of order.
    assert {name: day_tokens(roles, role(name)) for name in ROLES} == {
        "dev-a": 200,
        "dev-b": 100,
        "dev-c": 200,
    }

    failing.clear()
    retried = deliver(*delivery)
    assert retried["verdicts"] == {"duplicate": 5, "counted": 2}
    assert {name: day_tokens(roles, role(name)) for name in ROLES} == {
        "dev-a": 200,
        "dev-b": 300,
        "dev-c": 200,
    }


def test_a_delivery_of_one_principal_needs_no_thread(
    roles: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: set[str] = set()
    spy_calls(roles, monkeypatch, lambda p, r: threads.add(threading.current_thread().name))
    deliver(direct("n1", 100), direct("n2", 100, minute=1))
    assert threads == {threading.current_thread().name}
