"""The lock's mirror in the gate's month items: which months, and what each update does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bedrock_guard.core import keys
from bedrock_guard.core.lock_marks import lock_mark_updates, mirrored_months


@pytest.mark.parametrize(
    ("now", "months"),
    [
        ("2026-01-01T00:00:00", ("2025-12", "2026-01", "2026-02")),
        ("2026-01-31T23:59:59", ("2025-12", "2026-01", "2026-02")),
        ("2026-03-01T00:00:00", ("2026-02", "2026-03", "2026-04")),
        ("2026-12-15T12:00:00", ("2026-11", "2026-12", "2027-01")),
    ],
)
def test_previous_current_and_next_month_are_mirrored(now: str, months: tuple[str, ...]) -> None:
    assert mirrored_months(datetime.fromisoformat(now).replace(tzinfo=UTC)) == months


def test_adding_a_holder_updates_three_month_items_without_conditions() -> None:
    now = datetime(2026, 11, 23, tzinfo=UTC)
    updates = lock_mark_updates("t", "arn:aws:iam::1:role/r", ["alarm-a"], add=True, now=now)
    keys_written = [u["Update"]["Key"][keys.SK]["S"] for u in updates]
    assert keys_written == ["MONTH#2026-10", "MONTH#2026-11", "MONTH#2026-12"]
    for update in (u["Update"] for u in updates):
        assert update["Key"][keys.PK]["S"] == "USAGE#arn:aws:iam::1:role/r"
        assert update["UpdateExpression"].startswith("ADD #lb :h SET #exp = if_not_exists")
        assert update["ExpressionAttributeValues"][":h"] == {"SS": ["alarm-a"]}
        assert "ConditionExpression" not in update  # the items may not exist yet


def test_deleting_and_clearing_holders() -> None:
    now = datetime(2026, 11, 23, tzinfo=UTC)
    (delete, *_) = lock_mark_updates("t", "p", ["b", "a"], add=False, now=now)
    assert delete["Update"]["UpdateExpression"].startswith("DELETE #lb :h")
    assert delete["Update"]["ExpressionAttributeValues"][":h"] == {"SS": ["a", "b"]}
    (clear, *_) = lock_mark_updates("t", "p", None, add=False, now=now)
    assert clear["Update"]["UpdateExpression"].startswith("REMOVE #lb SET")
    with pytest.raises(ValueError, match="needs the holders"):
        lock_mark_updates("t", "p", None, add=True, now=now)
