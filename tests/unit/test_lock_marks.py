"""The lock's mirror in the gate's month items: which months, what each update does, and what
it leaves in DynamoDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import boto3
import pytest

from bedrock_guard.core import keys
from bedrock_guard.core.accounting import period_of
from bedrock_guard.core.lock_marks import lock_mark_updates, mark_months, mirrored_months
from bedrock_guard.local.tables import create_guard_table

ALICE = "arn:aws:iam::123456789012:user/alice"
ALARM = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:a"
PLUS_TWO = timezone(timedelta(hours=2))


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


@pytest.mark.parametrize(
    ("now", "months"),
    [
        (datetime(2026, 11, 23, 10, tzinfo=UTC), ["2026-10", "2026-11", "2026-12"]),
        (datetime(2026, 1, 1, 0, 0, tzinfo=UTC), ["2025-12", "2026-01", "2026-02"]),
        (datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC), ["2026-11", "2026-12", "2027-01"]),
        # 1 January 00:30 in UTC+2 is still 31 December in UTC.
        (datetime(2027, 1, 1, 0, 30, tzinfo=PLUS_TWO), ["2026-11", "2026-12", "2027-01"]),
        (datetime(2026, 3, 31, 12), ["2026-02", "2026-03", "2026-04"]),  # naive: UTC
    ],
)  # fmt: skip
def test_months_in_any_time_zone_are_utc_months(now: datetime, months: list[str]) -> None:
    assert [month for month, _ in mark_months(now)] == months
    assert list(mirrored_months(now)) == months


def test_each_month_keeps_the_ttl_the_gate_gives_it() -> None:
    for month, expires_at in mark_months(datetime(2026, 11, 23, tzinfo=UTC)):
        year, number = map(int, month.split("-"))
        assert expires_at == period_of(datetime(year, number, 2, tzinfo=UTC)).expires_at


def test_updates_add_or_delete_the_holders_without_a_condition() -> None:
    now = datetime(2026, 11, 23, tzinfo=UTC)
    added = lock_mark_updates("t", ALICE, [ALARM, "operator", ALARM], add=True, now=now)
    deleted = lock_mark_updates("t", ALICE, {ALARM}, add=False, now=now)

    assert [entry["Update"]["Key"]["sk"]["S"] for entry in added] == [
        "MONTH#2026-10",
        "MONTH#2026-11",
        "MONTH#2026-12",
    ]
    for entry in added + deleted:
        update = entry["Update"]
        assert update["TableName"] == "t"
        assert update["Key"]["pk"] == {"S": f"USAGE#{ALICE}"}
        assert "ConditionExpression" not in update
        assert "if_not_exists(#exp, :exp)" in update["UpdateExpression"]
    assert added[0]["Update"]["UpdateExpression"].startswith("ADD #lb :h")
    assert added[0]["Update"]["ExpressionAttributeValues"][":h"] == {"SS": [ALARM, "operator"]}
    assert deleted[0]["Update"]["UpdateExpression"].startswith("DELETE #lb :h")


def test_no_holders_no_updates() -> None:
    assert lock_mark_updates("t", ALICE, [], add=True, now=datetime.now(UTC)) == []


def test_applied_to_dynamodb_they_create_unopened_items_and_keep_existing_counters(
    aws: None,
) -> None:
    ddb = boto3.client("dynamodb")
    create_guard_table(ddb, "marks")
    now = datetime(2026, 11, 23, tzinfo=UTC)
    current = keys.attribute_values(keys.usage_key(ALICE, "2026-11"))
    ddb.put_item(
        TableName="marks",
        Item={**current, "month_tokens": {"N": "42"}, "expires_at": {"N": "1"}},
    )

    ddb.transact_write_items(
        TransactItems=lock_mark_updates("marks", ALICE, [ALARM], add=True, now=now)
    )

    item = ddb.get_item(TableName="marks", Key=current)["Item"]
    assert item["locked_by"] == {"SS": [ALARM]}
    assert item["month_tokens"] == {"N": "42"} and item["expires_at"] == {"N": "1"}
    created = ddb.get_item(
        TableName="marks", Key=keys.attribute_values(keys.usage_key(ALICE, "2026-12"))
    )["Item"]
    assert set(created) == {"pk", "sk", "locked_by", "expires_at"}  # no holds: not opened

    ddb.transact_write_items(
        TransactItems=lock_mark_updates("marks", ALICE, [ALARM], add=False, now=now)
    )
    assert "locked_by" not in ddb.get_item(TableName="marks", Key=current)["Item"]
