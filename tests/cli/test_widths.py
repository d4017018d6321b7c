"""Tables fit the width: at 80 and 200 columns no line is longer than the width, no word is split
(every principal shown is found whole, in full or in its documented short form), and ``--wide``
shows full ARNs however long the lines get."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bedrock_guard.cli.formats import short_principal
from bedrock_guard.cli.output import Column, layout
from tests.cli.conftest import (
    ACCOUNT,
    ALARM_NAME,
    ALICE,
    API_KEY_CALLER,
    APP_ROLE,
    BASE,
    BOB,
    LIMITS,
    World,
)

PRINCIPALS = (ALICE, BOB, APP_ROLE, API_KEY_CALLER)
LOCKED = (BOB, APP_ROLE)
# What a table may hold as one word and must never split.
WORDS = ("1,500", "100,000", "$0.75", "$50.00", "unregistered", ALARM_NAME)


def at_width(cli: Any, monkeypatch: pytest.MonkeyPatch, width: int, *args: str) -> Any:
    monkeypatch.setenv("COLUMNS", str(width))
    run = cli(*BASE, "--no-color", *args)
    assert run.code == 0, run.err
    return run


def words_of(text: str) -> set[str]:
    """Every whitespace-separated word, also with the table's border characters taken off."""
    return {word.strip("│┃┆|") for word in text.split()} | set(text.split())


def assert_fits(text: str, width: int) -> None:
    too_long = [line for line in text.splitlines() if len(line) > width]
    assert not too_long, "\n".join(too_long)


def assert_principals_whole(text: str, principals: tuple[str, ...]) -> None:
    words = words_of(text)
    for principal in principals:
        short = short_principal(principal, ACCOUNT)
        assert principal in words or short in words, (principal, text)


@pytest.mark.parametrize("width", [80, 200])
@pytest.mark.parametrize(
    "command",
    [
        ("usage", *LIMITS),
        ("usage", "--caller", ALICE, *LIMITS),
        ("usage", "--caller", BOB, *LIMITS),
        ("locks",),
    ],
    ids=["usage", "usage-caller", "usage-locked-caller", "locks"],
)
def test_tables_fit_and_split_no_word(
    world: World,
    cli: Any,
    monkeypatch: pytest.MonkeyPatch,
    width: int,
    command: tuple[str, ...],
) -> None:
    run = at_width(cli, monkeypatch, width, *command)

    assert_fits(run.out, width)
    if "--caller" in command:
        shown: tuple[str, ...] = (command[command.index("--caller") + 1],)
    else:
        shown = LOCKED if command[0] == "locks" else PRINCIPALS
    assert_principals_whole(run.out, shown)
    words = words_of(run.out)
    for word in WORDS:
        if word in run.out.replace("\n", " "):
            assert word in words
    if command == ("locks",):
        assert f"alarm {ALARM_NAME}" in " ".join(run.out.split()) or ALARM_NAME in words


def test_at_80_columns_the_account_is_named_once_and_arns_are_short(
    world: World, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = at_width(cli, monkeypatch, 80, "usage", *LIMITS)

    assert f"account {ACCOUNT}" in run.out
    assert "arn:aws:iam::" not in run.out
    assert {"user/alice", "user/bob", "role/app-role", API_KEY_CALLER} <= words_of(run.out)


def test_wide_shows_full_arns_and_every_column(
    world: World, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = at_width(cli, monkeypatch, 80, "--wide", "usage", *LIMITS)

    for principal in PRINCIPALS:
        assert principal in words_of(run.out)
    header = next(line for line in run.out.splitlines() if "Caller" in line)
    for column in ("Tier", "Tenant", "Month", "Today", "Used", "State"):
        assert column in header
    assert run.err == ""


def test_piped_output_is_80_columns_without_columns_set(world: World, cli: Any) -> None:
    run = cli(*BASE, "--no-color", "usage", *LIMITS)  # the fixture unsets COLUMNS

    assert run.code == 0, run.err
    assert_fits(run.out, 80)
    assert max(len(line) for line in run.out.splitlines()) > 60  # the width is used


def test_layout_drops_optional_columns_then_falls_back_to_records() -> None:
    columns = (Column("Name"), Column("Note", drop=1), Column("Amount", numeric=True))
    rows = [["a-rather-long-unbreakable-name", "some words here", "$1.00"]]

    assert layout(columns, rows, None).widths == (30, 15, 6)
    assert layout(columns, rows, 61).shown == (0, 1, 2)  # 30 + 15 + 6 and the borders
    # One column short: the optional column goes, so the others need not wrap.
    assert layout(columns, rows, 60).shown == (0, 2)
    narrow = layout(columns, rows, 43)  # the least that holds the essential columns
    assert narrow.shown == (0, 2) and not narrow.records
    assert layout(columns, rows, 42).records


def test_records_layout_keeps_words_whole(
    world: World, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = at_width(cli, monkeypatch, 40, "locks")

    assert_fits(run.out.replace(ALARM_NAME, "x"), 40)  # only an over-long word may stick out
    assert "Held by: alarm" in run.out
    assert_principals_whole(run.out, LOCKED)


def test_no_line_of_the_help_or_notes_splits_a_principal(
    world: World, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = at_width(cli, monkeypatch, 80, "usage", *LIMITS)
    # A note on stderr names what was left out, so nothing disappears silently.
    for line in run.err.splitlines():
        assert re.match(r"^note: ", line)
