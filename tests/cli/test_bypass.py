"""``bedrock-guard bypass``: direct Bedrock use the meter counted, dearest first."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bedrock_guard.core.accounting import Charge, period_of
from bedrock_guard.meter.store import MeterStore
from tests.cli.conftest import ALICE, BASE, BOB, MONTH, TABLE, World

PERIOD = period_of(datetime(2026, 11, 23, 12, tzinfo=UTC))


def test_lists_direct_callers_dearest_first_with_their_share(world: World, cli: Any) -> None:
    meter = MeterStore(world.ddb, TABLE)
    meter.charge_direct(ALICE, "r-1", PERIOD, Charge(500, Decimal("0.5")), now=0)
    meter.charge_direct(BOB, "r-2", PERIOD, Charge(900, Decimal("0.01")), now=0)
    run = cli(*BASE, "--json", "bypass")
    assert run.code == 0, run.err
    document = run.json()
    assert document["month"] == MONTH
    assert [p["principal"] for p in document["principals"]] == [ALICE, BOB]
    assert document["principals"][0]["direct"] == {"tokens": 500, "usd": "0.5"}
    # Alice's month also holds her gate use (fixture: 1,500 tokens) besides the direct 500.
    assert document["principals"][0]["month"]["tokens"] == 2000
    text = cli(*BASE, "--no-color", "bypass").out
    assert "500" in text and "25%" in text


def test_nobody_bypassed(world: World, cli: Any) -> None:
    run = cli(*BASE, "--no-color", "bypass")
    assert run.code == 0 and "No direct Bedrock use" in run.out
