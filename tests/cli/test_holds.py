"""``bedrock-guard holds``: the expired holds the gate listed, with their request ids."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bedrock_guard.core.accounting import Charge
from bedrock_guard.core.usage_item import Hold
from bedrock_guard.gate.usage_store import UsageStore
from tests.cli.conftest import ALICE, BASE, MONTH, TABLE, World


def list_one(world: World) -> None:
    """An abandoned hold of Alice's, listed by the gate's own sweep."""
    store = UsageStore(world.ddb, TABLE)
    hold = Hold("deadbeef00000001", Charge(4196, Decimal("0.0052")), "23", 100, "req-lost-1")
    store.sweep(ALICE, MONTH, [hold], now=200)


def test_json_lists_each_expired_hold_with_its_request_id(world: World, cli: Any) -> None:
    list_one(world)
    run = cli(*BASE, "--json", "holds")
    assert run.code == 0, run.err
    document = run.json()
    assert document["month"] == MONTH
    assert document["holds"] == [
        {
            "principal": ALICE,
            "hold_id": "deadbeef00000001",
            "request_id": "req-lost-1",
            "day": "23",
            "tokens": 4196,
            "usd": "0.0052",
            "hold_expired_at": 100,
        }
    ]


def test_table_names_the_request(world: World, cli: Any) -> None:
    list_one(world)
    run = cli(*BASE, "--no-color", "holds")
    assert run.code == 0, run.err
    assert "req-lost-1" in run.out and "4,196" in run.out


def test_no_holds_in_another_month(world: World, cli: Any) -> None:
    list_one(world)
    run = cli(*BASE, "--json", "holds", "--month", "2026-10")
    assert run.code == 0 and run.json()["holds"] == []
