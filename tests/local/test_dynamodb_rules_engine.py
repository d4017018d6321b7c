"""The rules' state in virtual time: holds, tokens, throughput, faults, item locks, ledger."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time

import pytest

from bedrock_guard.local.dynamodb_rules.engine import (
    CapacityLedger,
    HoldTable,
    ItemLocks,
    PartitionThroughput,
    TokenOutcome,
    TokenRegistry,
)
from bedrock_guard.local.dynamodb_rules.faults import FaultInjector, FaultRule


class VirtualClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


A = ("t", "a")
B = ("t", "b")
C = ("t", "c")


def test_a_hold_takes_every_item_or_reports_the_conflicting_indexes() -> None:
    clock = VirtualClock()
    holds = HoldTable(clock)

    assert holds.try_hold([A, B], until=clock.now + 1, owner="t1") == []
    assert holds.try_hold([C, B, A], until=clock.now + 1, owner="t2") == [1, 2]
    assert not holds.is_held(C)  # all or nothing: the failed hold took nothing
    assert holds.held_count() == 2


def test_a_hold_ends_at_its_deadline_in_virtual_time() -> None:
    clock = VirtualClock()
    holds = HoldTable(clock)
    holds.try_hold([A], until=clock.now + 0.01, owner="t1")

    clock.advance(0.009)
    assert holds.is_held(A)
    clock.advance(0.001)
    assert not holds.is_held(A)
    assert holds.try_hold([A], until=clock.now + 0.01, owner="t2") == []


def test_release_drops_only_the_owners_holds() -> None:
    clock = VirtualClock()
    holds = HoldTable(clock)
    holds.try_hold([A], until=clock.now + 1, owner="t1")
    clock.advance(2)  # t1's hold expired; t2 holds the item now
    holds.try_hold([A], until=clock.now + 1, owner="t2")

    holds.release([A], owner="t1")  # t1 finishing late must not free t2's item

    assert holds.is_held(A)
    holds.release([A], owner="t2")
    assert not holds.is_held(A)


def test_a_token_is_new_then_in_progress_then_replayed_until_its_window_ends() -> None:
    clock = VirtualClock()
    tokens = TokenRegistry(clock)

    assert tokens.begin("tok", "payload") is TokenOutcome.NEW
    assert tokens.begin("tok", "payload") is TokenOutcome.IN_PROGRESS
    tokens.complete("tok")
    clock.advance(599)
    assert tokens.begin("tok", "payload") is TokenOutcome.REPLAY
    assert tokens.begin("tok", "other payload") is TokenOutcome.MISMATCH
    clock.advance(1)  # ten minutes after the first call completed
    assert tokens.begin("tok", "other payload") is TokenOutcome.NEW


def test_a_failed_call_forgets_its_token() -> None:
    tokens = TokenRegistry(VirtualClock())
    tokens.begin("tok", "payload")

    tokens.abandon("tok")

    assert tokens.begin("tok", "payload") is TokenOutcome.NEW


def test_partition_throughput_refills_per_second_and_is_per_partition() -> None:
    clock = VirtualClock()
    limit = PartitionThroughput(clock, units_per_second=2)
    hot, cold = ("t", "USAGE#1"), ("t", "USAGE#2")

    limit.consume(hot, 2)
    assert not limit.admit(hot)
    assert limit.admit(cold)
    clock.advance(0.5)
    assert limit.admit(hot)  # one unit back after half a second


def test_partition_throughput_is_off_by_default() -> None:
    limit = PartitionThroughput(VirtualClock())
    limit.consume(("t", "p"), 1e9)
    assert limit.admit(("t", "p"))


def test_item_locks_serialise_one_item_and_leave_others_free() -> None:
    locks = ItemLocks()
    order: list[str] = []
    entered = threading.Event()

    def first() -> None:
        with locks.hold([A]):
            entered.set()
            time.sleep(0.05)
            order.append("first")

    thread = threading.Thread(target=first)
    thread.start()
    entered.wait(2)
    with locks.hold([B]):
        order.append("other item")
    with locks.hold([B, A]):
        order.append("second")
    thread.join()

    assert order == ["other item", "first", "second"]


def test_the_ledger_adds_up_per_operation_table_and_item() -> None:
    ledger = CapacityLedger()
    ledger.record("PutItem", "t", "k1", write=1)
    ledger.record("TransactWriteItems", "t", "k1", write=4)
    ledger.record("Query", "u", read=0.5)

    snapshot = ledger.snapshot()

    assert snapshot["total"] == {"read": 0.5, "write": 5.0}
    assert snapshot["operations"]["TransactWriteItems"] == {"read": 0.0, "write": 4.0}
    assert snapshot["tables"]["u"] == {"read": 0.5, "write": 0.0}
    assert snapshot["items"] == {"t|k1": {"read": 0.0, "write": 5.0}}
    ledger.reset()
    assert ledger.snapshot()["total"] == {"read": 0.0, "write": 0.0}


def test_a_fault_fires_for_the_next_n_matching_calls_only() -> None:
    faults = FaultInjector()
    faults.add(FaultRule("throttle", operation="UpdateItem", key_prefix="USAGE#", times=2))

    assert faults.take("UpdateItem", ["t"], ["BUDGET#1"]) is None
    assert faults.take("PutItem", ["t"], ["USAGE#1"]) is None
    assert faults.take("UpdateItem", ["t"], ["USAGE#1"]) is not None
    assert faults.take("UpdateItem", ["t"], ["USAGE#2"]) is not None
    assert faults.take("UpdateItem", ["t"], ["USAGE#3"]) is None
    assert faults.fired == {"throttle": 2}


def test_probabilistic_faults_replay_with_the_same_seed() -> None:
    def run(seed: int) -> list[bool]:
        faults = FaultInjector(seed)
        faults.add(FaultRule("fail_before", probability=0.5))
        return [faults.take("GetItem") is not None for _ in range(40)]

    first = run(7)

    assert first == run(7)
    assert 5 < sum(first) < 35


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "explode"},
        {"kind": "throttle", "code": "InternalServerError"},
        {"kind": "lost_answer", "mode": "maybe"},
        {"kind": "fail_before", "times": 0},
        {"kind": "fail_before", "probability": 2},
    ],
)
def test_fault_rules_are_validated(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        FaultRule(**fields)  # type: ignore[arg-type]


def test_fault_rules_round_trip_through_json_and_refuse_unknown_fields() -> None:
    rule = FaultRule("lost_answer", operation="PutItem", times=1, mode="close")

    assert FaultRule.from_json(rule.to_json()) == rule
    with pytest.raises(ValueError, match="unknown"):
        FaultRule.from_json({"kind": "throttle", "tabel": "t"})


def test_a_hot_item_in_virtual_time_rejects_as_a_one_server_loss_system() -> None:
    # Transactions arrive on one item at random (Poisson, rate r) and hold it h seconds; a
    # transaction arriving while it is held is cancelled. That is Erlang's loss system with
    # one server, which rejects a fraction r*h / (1 + r*h): 1/3 here. Twenty thousand
    # arrivals take no wall-clock time.
    rng = random.Random(42)
    clock = VirtualClock()
    holds = HoldTable(clock)
    rate, hold = 50.0, 0.01
    cancelled = 0
    arrivals = 20_000

    for arrival in range(arrivals):
        clock.advance(rng.expovariate(rate))
        if holds.try_hold([A], until=clock.now + hold, owner=arrival):
            cancelled += 1

    assert cancelled / arrivals == pytest.approx(1 / 3, abs=0.015)


def test_the_pure_rules_import_neither_boto3_nor_moto() -> None:
    # A benchmark in virtual time needs the rules, not the HTTP stack and its start-up cost.
    code = (
        "import sys; from bedrock_guard.local.dynamodb_rules import HoldTable, item_size; "
        "print(sorted({'boto3', 'botocore', 'moto'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"
