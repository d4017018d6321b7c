"""``usage --json`` keeps the documented schema (docs/schemas/usage.schema.json): unlimited
windows are ``null`` in both ``limits`` and ``remaining``, and both have all four windows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bedrock_guard.core.accounting import WINDOWS
from tests.cli.conftest import ALICE, API_KEY_CALLER, BASE, BOB, LIMITS, World

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO_ROOT / "docs" / "schemas" / "usage.schema.json").read_text())
WINDOW_NAMES = {window.value for window in WINDOWS}


def structural_problems(document: dict[str, Any]) -> list[str]:
    """The null rules of the schema, checked without a validator."""
    problems = []
    for caller in document["callers"]:
        limits, remaining = caller["limits"], caller["remaining"]
        name = caller["principal"]
        if (limits is None) != (remaining is None):
            problems.append(f"{name}: limits and remaining are not both null")
            continue
        if limits is None:
            continue
        if set(limits) != WINDOW_NAMES or set(remaining) != WINDOW_NAMES:
            problems.append(f"{name}: windows {sorted(limits)} / {sorted(remaining)}")
        problems.extend(
            f"{name}: {window} has no limit but a remaining amount"
            for window in WINDOW_NAMES
            if limits.get(window) is None and remaining.get(window) is not None
        )
    return problems


@pytest.mark.parametrize(
    "args",
    [
        ("usage", *LIMITS),
        ("usage", "--month", "2026-10", "--caller", ALICE, *LIMITS),
        ("usage", "--caller", API_KEY_CALLER),
        ("usage",),
    ],
    ids=["month", "past-month", "no-limits", "no-tier-limits"],
)
def test_usage_json_keeps_the_schema(world: World, cli: Any, args: tuple[str, ...]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    run = cli(*BASE, "--json", *args)

    assert run.code == 0, run.err
    document = run.json()
    jsonschema.validate(document, SCHEMA)
    assert structural_problems(document) == []


def test_an_unlimited_window_is_null_in_both(world: World, cli: Any) -> None:
    run = cli(*BASE, "--json", "usage", "--caller", BOB, *LIMITS)

    (bob,) = run.json()["callers"]  # the free tier: no dollar limits
    assert bob["limits"]["monthly_usd"] is None and bob["remaining"]["monthly_usd"] is None
    assert bob["limits"]["daily_usd"] is None and bob["remaining"]["daily_usd"] is None
    assert bob["remaining"]["monthly_tokens"] == 0


def test_the_structural_check_can_fail() -> None:
    limits = dict.fromkeys(WINDOW_NAMES, 1)
    document = {
        "callers": [
            {"principal": "a", "limits": limits, "remaining": None},
            {"principal": "b", "limits": {**limits, "daily_usd": None}, "remaining": limits},
            {"principal": "c", "limits": limits, "remaining": {"monthly_tokens": 1}},
        ]
    }
    problems = structural_problems(document)
    assert [problem.split(":")[0] for problem in problems] == ["a", "b", "c"]
