"""``bedrock-guard usage``: all callers of a month, one caller, limits, JSON shape, human table."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.cli.conftest import (
    ALARM_ARN,
    ALICE,
    API_KEY_CALLER,
    APP_ROLE,
    APP_SESSION,
    BASE,
    BOB,
    CAROL,
    LIMITS,
    MONTH,
    TIER_LIMITS,
    World,
)

CALLER_KEYS = {
    "principal",
    "registered",
    "tier",
    "tier_source",
    "tenant",
    "cost_center",
    "application",
    "environment",
    "locked_by",
    "month",
    "split",
    "today",
    "reserved",
    "limits",
    "remaining",
    "used_percent",
    "days",
}


def has_colour(text: str) -> bool:
    """Whether ANSI SGR sequences in ``text`` set a foreground or background colour."""
    for params in re.findall(r"\x1b\[([0-9;]*)m", text):
        for param in params.split(";"):
            if param and (30 <= int(param) <= 48 or 90 <= int(param) <= 107):
                return True
    return False


def by_principal(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {caller["principal"]: caller for caller in document["callers"]}


def test_lists_every_caller_of_the_month_with_usage_limits_and_locks(
    world: World, cli: Any
) -> None:
    run = cli(*BASE, "--json", "usage", *LIMITS)

    assert run.code == 0, run.err
    document = run.json()
    assert set(document) == {"table", "month", "day", "tier_limits_known", "callers"}
    assert (document["month"], document["day"], document["tier_limits_known"]) == (
        MONTH,
        "23",
        True,
    )
    callers = by_principal(document)
    # Usage, registry entries and locks of the month; the app role is registered and locked
    # although it used nothing, carol is in IAM only and so unknown to the table.
    assert sorted(callers) == sorted([ALICE, BOB, APP_ROLE, API_KEY_CALLER])
    assert CAROL not in callers
    assert all(set(caller) == CALLER_KEYS for caller in callers.values())

    alice = callers[ALICE]
    assert alice["month"] == {"tokens": 1500, "usd": "0.75"}
    assert alice["today"] == {"tokens": 1000, "usd": "0.5"}
    assert alice["days"] == {
        "22": {"tokens": 500, "usd": "0.25"},
        "23": {"tokens": 1000, "usd": "0.5"},
    }
    assert alice["reserved"] == {"count": 1, "tokens": 300, "usd": "0.015"}
    assert (alice["tier"], alice["tier_source"], alice["tenant"]) == (
        "standard",
        "registry",
        "sales",
    )
    assert (alice["cost_center"], alice["application"], alice["environment"]) == (
        "cc-sales",
        "sales-bot",
        "dev",
    )
    assert alice["limits"] == {
        "monthly_tokens": 100000,
        "daily_tokens": 5000,
        "monthly_usd": "50",
        "daily_usd": "5",
    }
    # Highest window: today's tokens, 1000 of 5000.
    assert alice["used_percent"] == "20"
    assert alice["remaining"] == {
        "monthly_tokens": 98500,
        "monthly_usd": "49.25",
        "daily_tokens": 4000,
        "daily_usd": "4.5",
    }
    assert alice["locked_by"] == []

    bob = callers[BOB]
    assert bob["locked_by"] == [ALARM_ARN]
    assert bob["used_percent"] == "100"  # 10000 of the free tier's 10000 monthly tokens
    assert bob["limits"]["monthly_usd"] is None

    assert callers[APP_ROLE]["locked_by"] == ["operator"]
    assert callers[APP_ROLE]["month"] == {"tokens": 0, "usd": "0"}

    key_caller = callers[API_KEY_CALLER]
    assert (key_caller["registered"], key_caller["tier"], key_caller["limits"]) == (
        False,
        None,
        None,
    )
    assert key_caller["today"] == {"tokens": 0, "usd": "0"}


def test_one_caller_by_session_arn_is_the_role(world: World, cli: Any) -> None:
    run = cli(*BASE, "usage", "--caller", APP_SESSION, "--json", *LIMITS)

    assert run.code == 0, run.err
    (caller,) = run.json()["callers"]
    assert caller["principal"] == APP_ROLE
    assert caller["locked_by"] == ["operator"]
    assert caller["tenant"] == "batch"


def test_one_caller_by_api_key(world: World, cli: Any) -> None:
    run = cli(*BASE, "--json", "usage", "--caller", API_KEY_CALLER)

    assert run.code == 0, run.err
    (caller,) = run.json()["callers"]
    assert caller["principal"] == API_KEY_CALLER
    assert caller["days"] == {"05": {"tokens": 42, "usd": "0"}}
    assert caller["limits"] is None
    assert "tier limits unknown" in run.err


def test_a_past_month_has_no_today_and_no_daily_limits(world: World, cli: Any) -> None:
    run = cli(*BASE, "--json", "usage", "--month", "2026-10", "--caller", ALICE, *LIMITS)

    assert run.code == 0, run.err
    document = run.json()
    assert (document["month"], document["day"]) == ("2026-10", None)
    (caller,) = document["callers"]
    assert caller["month"] == {"tokens": 99, "usd": "9"}
    assert caller["today"] is None
    assert caller["used_percent"] == "18"  # 9 of 50 USD; daily windows do not apply
    # Every window in both objects; the daily ones of a past month remain null.
    assert set(caller["remaining"]) == set(caller["limits"])
    assert (caller["remaining"]["daily_tokens"], caller["remaining"]["daily_usd"]) == (None, None)


def test_a_month_without_usage_still_lists_registered_and_locked_callers(
    world: World, cli: Any
) -> None:
    run = cli(*BASE, "--json", "usage", "--month", "2025-01")

    assert run.code == 0, run.err
    callers = by_principal(run.json())
    assert sorted(callers) == sorted([ALICE, BOB, APP_ROLE])
    assert all(caller["month"] == {"tokens": 0, "usd": "0"} for caller in callers.values())


def test_default_tier_applies_to_unregistered_callers(world: World, cli: Any) -> None:
    run = cli(*BASE, "--json", "usage", "--caller", API_KEY_CALLER, *LIMITS)
    assert run.json()["callers"][0]["limits"] is None

    run = cli(
        *BASE, "--json", "usage", "--caller", API_KEY_CALLER, *LIMITS, "--default-tier", "free"
    )
    (caller,) = run.json()["callers"]
    assert (caller["tier"], caller["tier_source"]) == ("free", "default")
    assert caller["limits"]["monthly_tokens"] == TIER_LIMITS["free"]["monthly_tokens"]


def test_tier_limits_from_the_environment(world: World, cli: Any) -> None:
    environ = {"TIER_LIMITS_JSON": json.dumps(TIER_LIMITS)}
    run = cli(*BASE, "--json", "usage", "--caller", BOB, environ=environ)

    assert run.code == 0, run.err
    assert run.json()["callers"][0]["limits"]["monthly_tokens"] == 10000


def test_unknown_caller_exits_1(world: World, cli: Any) -> None:
    run = cli(*BASE, "usage", "--caller", CAROL)

    assert run.code == 1
    assert run.out == ""
    assert f"{CAROL} has no usage in {MONTH}, no registry entry and no lock" in run.err


def test_human_table_names_every_caller_and_state(world: World, cli: Any) -> None:
    run = cli(*BASE, "--no-color", "usage", *LIMITS)

    assert run.code == 0, run.err
    # The account is named once; its ARNs are shown in the short form.
    assert "IAM ARNs of account 123456789012 shortened" in " ".join(run.out.split())
    for principal in ("user/alice", "user/bob", "role/app-role", API_KEY_CALLER):
        assert principal in run.out
    assert "locked (1)" in run.out
    assert "1,500 / 100,000" in run.out  # alice's month tokens of her limit
    assert "$0.75 / $50.00" in run.out
    assert "\x1b[" not in run.out  # no colour codes


def test_colour_only_where_the_terminal_takes_it_and_never_with_no_color(
    world: World, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # what rich sees on a colour terminal
    assert has_colour(cli(*BASE, "usage").out)
    assert "\x1b[" not in cli(*BASE, "--no-color", "usage").out  # plain text altogether
    monkeypatch.setenv("NO_COLOR", "1")
    assert not has_colour(cli(*BASE, "usage").out)  # NO_COLOR allows bold, not colour


def test_human_detail_of_one_caller_shows_days_and_reservations(world: World, cli: Any) -> None:
    run = cli(*BASE, "usage", "--caller", ALICE, *LIMITS)

    assert run.code == 0, run.err
    assert "Per UTC day" in run.out
    assert "In flight: 1 reservation(s), 300 tokens, $0.015" in run.out
    assert "cost_center=cc-sales" in run.out
