"""Lock and release through the handler, against moto: real alarms, IAM attachments, the ledger."""

from __future__ import annotations

import copy
from datetime import timedelta, timezone
from types import ModuleType
from typing import Any

import pytest

from bedrock_guard.core import keys
from bedrock_guard.enforcer.alarm_messages import normalise_time
from tests.conftest import FakeLambdaContext
from tests.enforcer.conftest import (
    ALARM_ARN,
    ALARM_NAME,
    ALICE,
    APP_ROLE,
    APP_ROLE_WITH_PATH,
    APP_SESSION,
    BOB,
    POLICY_ARN,
    REASONS,
    Alarms,
    Loader,
    World,
    emitted_metrics,
    has_metric,
    recorded_event,
    sns_event,
    state_changed_at,
)


def outcomes(summary: dict[str, Any]) -> list[str]:
    return [p["outcome"] for record in summary["records"] for p in record.get("principals", [])]


def dropped(summary: dict[str, Any]) -> list[str]:
    return [record["reason"] for record in summary["records"] if record["outcome"] == "dropped"]


def test_recorded_classic_event_locks_the_user_in_iam_and_the_ledger(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    alarms.create(ALARM_NAME, principal=ALICE)
    fired = alarms.fire(ALARM_NAME, "ALARM")

    summary = enforcer.handler(recorded_event("sns_alarm_classic.json", fired), lambda_context)

    assert outcomes(summary) == ["locked"]
    assert world.attached(ALICE)
    assert world.holders(ALICE) == {ALARM_ARN}
    record = world.alarm_record(ALICE, ALARM_ARN)
    assert record is not None
    assert record["state"] == "ALARM"
    assert record["state_change_time"] == normalise_time(fired["StateChangeTime"])
    assert record["alarm_name"] == ALARM_NAME
    assert record["previous_state"] == "OK"
    assert record["reason"] == REASONS["ALARM"]
    assert record["policy_arn"] == POLICY_ARN
    assert record["iam_attached"] is True
    assert "locked_at" in record
    events = world.events(ALICE)
    assert [event["action"] for event in events] == ["lock"]
    assert not world.attached(BOB)


def test_lock_a_role_by_its_arn_with_path(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    alarms.create(principal=APP_ROLE_WITH_PATH)

    summary = enforcer.handler(alarms.fire_event(), lambda_context)

    assert outcomes(summary) == ["locked"]
    assert world.attached(APP_ROLE)
    # The ledger is keyed by the canonical (path-less) ARN, which the gate uses too.
    assert world.holders(APP_ROLE)
    assert not world.holders(APP_ROLE_WITH_PATH)


def test_lock_a_role_from_an_assumed_role_session(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    alarms.create(principal=APP_SESSION)

    summary = enforcer.handler(alarms.fire_event(), lambda_context)

    assert summary["records"][0]["principals"][0] == {
        "principal": APP_ROLE,
        "outcome": "locked",
        "detail": "",
    }
    assert world.attached(APP_ROLE)
    assert world.holders(APP_ROLE) == {ALARM_ARN}


def test_replay_changes_nothing(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    alarms.create()
    event = alarms.fire_event()
    enforcer.handler(event, lambda_context)
    before = world.table_items()

    summary = enforcer.handler(event, lambda_context)
    again = enforcer.handler(event, lambda_context)

    assert outcomes(summary) == outcomes(again) == ["replay"]
    assert world.table_items() == before  # not even locked_at or a history item
    assert world.attached(ALICE)


def test_release_on_ok_detaches_and_closes_the_lock(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    alarms.create()
    enforcer.handler(alarms.fire_event(state="ALARM"), lambda_context)
    ok = alarms.fire(state="OK")

    summary = enforcer.handler(sns_event(ok), lambda_context)

    assert outcomes(summary) == ["released"]
    assert not world.attached(ALICE)
    assert world.holders(ALICE) == set()
    record = world.alarm_record(ALICE, ALARM_ARN)
    assert record is not None
    assert (record["state"], record["state_change_time"]) == (
        "OK",
        normalise_time(ok["StateChangeTime"]),
    )
    assert [event["action"] for event in world.events(ALICE)] == ["lock", "release"]


def test_alarm_delivered_after_its_ok_is_superseded_and_locks_nobody(
    enforcer: ModuleType,
    world: World,
    alarms: Alarms,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alarms.create()
    locking = sns_event(alarms.fire(state="ALARM"))
    releasing = sns_event(alarms.fire(state="OK"))

    # SNS delivered the OK first: nothing is locked, so it releases nothing.
    assert outcomes(enforcer.handler(releasing, lambda_context)) == ["not_locked"]
    late = enforcer.handler(locking, lambda_context)

    assert dropped(late) == ["superseded"]
    assert not world.attached(ALICE)
    assert world.table_items() == []
    assert has_metric(capsys.readouterr().out, "Dropped", Reason="superseded")


def test_ok_delivered_after_a_newer_alarm_is_superseded_and_releases_nothing(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    alarms.create()
    enforcer.handler(alarms.fire_event(state="ALARM"), lambda_context)
    releasing = sns_event(alarms.fire(state="OK"))
    relocking = sns_event(alarms.fire(state="ALARM"))

    # The newer ALARM arrives first: it records the lock at its own, later, time.
    assert outcomes(enforcer.handler(relocking, lambda_context)) == ["locked"]
    late = enforcer.handler(releasing, lambda_context)

    assert dropped(late) == ["superseded"]
    assert world.attached(ALICE)
    assert world.holders(ALICE) == {ALARM_ARN}


def test_replayed_alarm_after_its_ok_does_not_lock_again(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    alarms.create()
    locking = alarms.fire_event(state="ALARM")
    enforcer.handler(locking, lambda_context)
    enforcer.handler(alarms.fire_event(state="OK"), lambda_context)

    summary = enforcer.handler(locking, lambda_context)

    assert dropped(summary) == ["superseded"]
    assert not world.attached(ALICE)
    assert world.holders(ALICE) == set()


def test_the_ledger_still_refuses_a_stale_alarm_that_passed_an_earlier_check(
    enforcer: ModuleType,
    world: World,
    alarms: Alarms,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two deliveries racing: the ALARM was confirmed by CloudWatch just before the alarm went
    OK, and the OK was applied before the ALARM reached the ledger. The ledger's own time
    check keeps the ALARM from locking again."""
    alarms.create()
    locking = alarms.fire_event(state="ALARM")
    enforcer.handler(locking, lambda_context)
    confirmed_then = enforcer.SERVICE.alarms.describe(ALARM_NAME)
    enforcer.handler(alarms.fire_event(state="OK"), lambda_context)
    monkeypatch.setattr(enforcer.SERVICE.alarms, "describe", lambda _name: confirmed_then)

    summary = enforcer.handler(locking, lambda_context)

    assert outcomes(summary) == ["stale"]
    assert not world.attached(ALICE)
    assert world.holders(ALICE) == set()


def test_ok_replay_and_ok_without_lock_change_nothing(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    alarms.create()
    assert outcomes(enforcer.handler(alarms.fire_event(state="OK"), lambda_context)) == [
        "not_locked"
    ]
    assert world.table_items() == []

    enforcer.handler(alarms.fire_event(state="ALARM"), lambda_context)
    releasing = alarms.fire_event(state="OK")
    enforcer.handler(releasing, lambda_context)
    before = world.table_items()
    # The replay of the release is taken as the retry of a release: it only re-checks IAM.
    summary = enforcer.handler(releasing, lambda_context)
    assert outcomes(summary) == ["released"]
    assert world.table_items() == before
    assert not world.attached(ALICE)


def test_release_retry_after_a_failed_detach_finishes_the_release(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    alarms.create()
    enforcer.handler(alarms.fire_event(state="ALARM"), lambda_context)
    releasing = alarms.fire_event(state="OK")
    real_detach = enforcer.SERVICE.iam.detach
    calls = []

    def failing_detach(principal: Any) -> bool:
        calls.append(principal)
        raise RuntimeError("IAM unavailable")

    enforcer.SERVICE.iam.detach = failing_detach
    with pytest.raises(enforcer.RetryableRecordsError):
        enforcer.handler(releasing, lambda_context)
    assert calls
    # The ledger already says released (the gate serves again); IAM still denies.
    assert world.holders(ALICE) == set()
    assert world.attached(ALICE)

    enforcer.SERVICE.iam.detach = real_detach
    summary = enforcer.handler(releasing, lambda_context)
    assert outcomes(summary) == ["released"]
    assert not world.attached(ALICE)


def test_release_on_ok_false_keeps_the_lock(
    load_enforcer: Loader, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    enforcer = load_enforcer(RELEASE_ON_OK="false")
    alarms.create()
    enforcer.handler(alarms.fire_event(state="ALARM"), lambda_context)

    summary = enforcer.handler(alarms.fire_event(state="OK"), lambda_context)

    assert summary["records"][0]["outcome"] == "kept"
    assert world.attached(ALICE)
    assert world.holders(ALICE) == {ALARM_ARN}


def test_two_alarms_hold_one_principal_until_both_clear(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    daily = alarms.create("alice-daily", principal=ALICE)
    monthly = alarms.create("alice-monthly", principal=ALICE)
    enforcer.handler(
        sns_event(alarms.fire("alice-daily"), alarms.fire("alice-monthly")), lambda_context
    )
    assert world.holders(ALICE) == {daily, monthly}

    first = enforcer.handler(alarms.fire_event("alice-daily", "OK"), lambda_context)
    assert outcomes(first) == ["still_held"]
    assert world.attached(ALICE)
    assert world.holders(ALICE) == {monthly}

    second = enforcer.handler(alarms.fire_event("alice-monthly", "OK"), lambda_context)
    assert outcomes(second) == ["released"]
    assert not world.attached(ALICE)
    assert world.holders(ALICE) == set()


def test_an_operator_lock_outlasts_the_alarm(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    alarms.create()
    enforcer.handler(alarms.fire_event(state="ALARM"), lambda_context)
    world.ddb.update_item(
        TableName=enforcer.CONFIG.ledger_table_name,
        Key=keys.attribute_values(keys.lock_state_key(ALICE)),
        UpdateExpression="ADD locked_by :operator",
        ExpressionAttributeValues={":operator": {"SS": [keys.OPERATOR_LOCK]}},
    )

    summary = enforcer.handler(alarms.fire_event(state="OK"), lambda_context)

    assert outcomes(summary) == ["still_held"]
    assert world.attached(ALICE)
    assert world.holders(ALICE) == {keys.OPERATOR_LOCK}


def test_alarm_again_after_ok_locks_again(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    alarms.create()
    enforcer.handler(alarms.fire_event(state="ALARM"), lambda_context)
    enforcer.handler(alarms.fire_event(state="OK"), lambda_context)

    summary = enforcer.handler(alarms.fire_event(state="ALARM"), lambda_context)

    assert outcomes(summary) == ["locked"]
    assert world.attached(ALICE)
    assert [event["action"] for event in world.events(ALICE)] == ["lock", "release", "lock"]


def test_insufficient_data_does_nothing(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    alarms.create()
    enforcer.handler(alarms.fire_event(state="ALARM"), lambda_context)
    before = world.table_items()

    summary = enforcer.handler(alarms.fire_event(state="INSUFFICIENT_DATA"), lambda_context)

    assert summary["records"][0]["outcome"] == "ignored"
    assert world.table_items() == before
    assert world.attached(ALICE)


def test_a_time_in_another_zone_is_the_same_instant(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    alarms.create()
    message = alarms.fire(state="ALARM")
    utc = normalise_time(message["StateChangeTime"])
    local = state_changed_at(alarms.describe()).astimezone(timezone(timedelta(hours=1)))
    shifted = copy.deepcopy(message)
    # The same instant written at +01:00 sorts later as text, yet is neither newer nor older.
    shifted["StateChangeTime"] = (
        local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}+0100"
    )
    assert shifted["StateChangeTime"] > message["StateChangeTime"]

    summary = enforcer.handler(sns_event(shifted), lambda_context)
    replay = enforcer.handler(sns_event(message), lambda_context)

    assert outcomes(summary) == ["locked"]
    assert outcomes(replay) == ["replay"]
    record = world.alarm_record(ALICE, ALARM_ARN)
    assert record is not None and record["state_change_time"] == utc


def test_dry_run_records_history_and_changes_no_iam_and_no_lock(
    load_enforcer: Loader,
    *,
    world: World,
    alarms: Alarms,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    enforcer = load_enforcer(DRY_RUN="true")
    alarms.create()
    event = alarms.fire_event(state="ALARM")

    summary = enforcer.handler(event, lambda_context)
    replay = enforcer.handler(event, lambda_context)

    assert summary["dry_run"] is True
    assert outcomes(summary) == outcomes(replay) == ["dry_run_lock"]
    assert not world.attached(ALICE)
    assert world.holders(ALICE) == set()
    assert world.alarm_record(ALICE, ALARM_ARN) is None
    events = world.events(ALICE)
    assert len(events) == 1  # the replay did not add a second one
    assert events[0]["action"] == "lock"
    assert events[0]["dry_run"] is True
    output = capsys.readouterr().out
    assert has_metric(output, "DryRun", Action="lock")
    assert "would attach the deny policy" in caplog.text


def test_dry_run_does_not_release_a_real_lock(
    load_enforcer: Loader, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    alarms.create()
    load_enforcer().handler(alarms.fire_event(state="ALARM"), lambda_context)
    dry = load_enforcer(DRY_RUN="true")

    summary = dry.handler(alarms.fire_event(state="OK"), lambda_context)

    assert outcomes(summary) == ["dry_run_release"]
    assert world.attached(ALICE)
    assert world.holders(ALICE) == {ALARM_ARN}


def test_lock_and_release_metrics(
    enforcer: ModuleType,
    world: World,
    alarms: Alarms,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alarms.create()
    enforcer.handler(alarms.fire_event(state="ALARM"), lambda_context)
    enforcer.handler(alarms.fire_event(state="OK"), lambda_context)

    names = [name for name, _ in emitted_metrics(capsys.readouterr().out)]
    assert names.count("Locks") == 1
    assert names.count("Releases") == 1
