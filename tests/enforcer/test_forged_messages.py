"""Forged notifications: whoever can publish to the topic still cannot choose whom to lock.

Each test publishes what an attacker with ``sns:Publish`` could (any text, any alarm name, any
principal, any state, any time) and checks the enforcer acts only as the real alarm demands.
"""

from __future__ import annotations

import copy
from types import ModuleType
from typing import Any

import pytest

from bedrock_guard.enforcer.alarm_messages import normalise_time
from tests.conftest import FakeLambdaContext
from tests.enforcer.conftest import (
    ACCOUNT,
    ADMIN_ROLE,
    ALARM_ARN,
    ALARM_NAME,
    ALICE,
    APP_ROLE,
    BOB,
    OTHER_TOPIC_ARN,
    TOPIC_ARN,
    Alarms,
    Loader,
    World,
    alarm,
    has_metric,
    sns_event,
)

EVERYONE = (ALICE, BOB, APP_ROLE, ADMIN_ROLE)
FAR_FUTURE = "2099-01-01T00:00:00.000+0000"


def nobody_locked(world: World) -> bool:
    return not any(world.attached(arn) for arn in EVERYONE) and not any(
        world.holders(arn) for arn in EVERYONE
    )


def outcomes(summary: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (p["principal"], p["outcome"])
        for record in summary["records"]
        for p in record.get("principals", [])
    ]


def reasons(summary: dict[str, Any]) -> list[str]:
    return [record.get("reason", "") for record in summary["records"]]


def naming(message: dict[str, Any], principal: str) -> dict[str, Any]:
    """``message`` with its Trigger rewritten to name ``principal``."""
    forged = copy.deepcopy(message)
    forged["Trigger"]["Dimensions"] = [{"value": principal, "name": "Principal"}]
    return forged


def test_a_forged_alarm_for_an_alarm_that_does_not_exist_locks_nobody(
    enforcer: ModuleType,
    world: World,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = enforcer.handler(sns_event(alarm(principal=BOB)), lambda_context)

    assert reasons(summary) == ["unknown_alarm"]
    assert "forged, or deleted" in summary["records"][0]["detail"]
    assert nobody_locked(world)
    assert world.table_items() == []
    assert has_metric(capsys.readouterr().out, "Dropped", Reason="unknown_alarm")


def test_a_forged_principal_is_ignored_for_the_real_alarms_principal(
    enforcer: ModuleType,
    *,
    world: World,
    alarms: Alarms,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    alarms.create(principal=ALICE)
    genuine = alarms.fire(state="ALARM")

    summary = enforcer.handler(sns_event(naming(genuine, BOB)), lambda_context)

    assert outcomes(summary) == [(ALICE, "locked")]
    assert world.attached(ALICE)
    assert not world.attached(BOB)
    assert world.holders(BOB) == set()
    assert has_metric(capsys.readouterr().out, "TriggerMismatch")
    assert "other principals than the alarm" in caplog.text


PAST = "2020-01-01T00:00:00.000+0000"
CLAIMED_TIMES = [
    # Claiming a change at the alarm's own time, or later: the alarm says otherwise since.
    pytest.param("real", "state_mismatch", id="at-the-alarms-own-time"),
    pytest.param(FAR_FUTURE, "state_mismatch", id="dated-in-the-future"),
    # Claiming an older change: the alarm has changed since, so the message is superseded.
    pytest.param(PAST, "superseded", id="dated-in-the-past"),
]


@pytest.mark.parametrize(("claimed_time", "reason"), CLAIMED_TIMES)
def test_a_forged_alarm_naming_anyone_locks_nobody_while_the_real_alarm_is_ok(
    enforcer: ModuleType,
    *,
    world: World,
    alarms: Alarms,
    lambda_context: FakeLambdaContext,
    claimed_time: str,
    reason: str,
) -> None:
    alarms.create(principal=ALICE)
    ok = alarms.fire(state="OK")
    forged = naming(ok, BOB)
    forged.update(NewStateValue="ALARM", OldStateValue="OK")
    if claimed_time != "real":
        forged["StateChangeTime"] = claimed_time

    summary = enforcer.handler(sns_event(forged), lambda_context)

    assert reasons(summary) == [reason]
    assert nobody_locked(world)


@pytest.mark.parametrize(("claimed_time", "reason"), CLAIMED_TIMES)
def test_a_forged_ok_while_the_alarm_is_in_alarm_releases_nothing(
    enforcer: ModuleType,
    *,
    world: World,
    alarms: Alarms,
    lambda_context: FakeLambdaContext,
    claimed_time: str,
    reason: str,
) -> None:
    alarms.create(principal=ALICE)
    locking = alarms.fire(state="ALARM")
    enforcer.handler(sns_event(locking), lambda_context)
    forged = {**copy.deepcopy(locking), "NewStateValue": "OK", "OldStateValue": "ALARM"}
    if claimed_time != "real":
        forged["StateChangeTime"] = claimed_time

    summary = enforcer.handler(sns_event(forged), lambda_context)

    assert reasons(summary) == [reason]
    assert world.attached(ALICE)
    assert world.holders(ALICE) == {ALARM_ARN}


def test_a_future_dated_copy_of_a_real_alarm_records_cloudwatchs_time(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    """Were the forged time recorded, the real OK (older than 2099) would look stale."""
    alarms.create(principal=ALICE)
    genuine = alarms.fire(state="ALARM")
    forged = {**genuine, "StateChangeTime": FAR_FUTURE}

    assert outcomes(enforcer.handler(sns_event(forged), lambda_context)) == [(ALICE, "locked")]
    record = world.alarm_record(ALICE, ALARM_ARN)
    assert record is not None
    assert record["state_change_time"] == normalise_time(genuine["StateChangeTime"])
    # The genuine message is now a replay, and the real OK releases.
    assert outcomes(enforcer.handler(sns_event(genuine), lambda_context)) == [(ALICE, "replay")]
    released = enforcer.handler(alarms.fire_event(state="OK"), lambda_context)
    assert outcomes(released) == [(ALICE, "released")]
    assert not world.attached(ALICE)


def test_a_future_dated_ok_cannot_make_the_next_real_alarm_stale(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    alarms.create(principal=ALICE)
    enforcer.handler(alarms.fire_event(state="ALARM"), lambda_context)
    ok = alarms.fire(state="OK")
    forged_ok = {**ok, "StateChangeTime": FAR_FUTURE}
    assert outcomes(enforcer.handler(sns_event(forged_ok), lambda_context)) == [(ALICE, "released")]

    summary = enforcer.handler(alarms.fire_event(state="ALARM"), lambda_context)

    assert outcomes(summary) == [(ALICE, "locked")]
    assert world.attached(ALICE)


def test_a_real_alarm_that_does_not_notify_the_topic_cannot_lock(
    enforcer: ModuleType,
    world: World,
    alarms: Alarms,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A dashboard or team alarm on a caller's metric, in ALARM, was never meant to lock."""
    alarms.create("team-warning", principal=BOB, actions=(OTHER_TOPIC_ARN,))
    alarms.create("silent", principal=BOB, actions=())
    alarms.create("disabled", principal=BOB, actions_enabled=False)

    summary = enforcer.handler(
        sns_event(alarms.fire("team-warning"), alarms.fire("silent"), alarms.fire("disabled")),
        lambda_context,
    )

    assert reasons(summary) == ["no_topic_action"] * 3
    assert nobody_locked(world)
    assert has_metric(capsys.readouterr().out, "Dropped", Reason="no_topic_action")


def test_the_configured_topic_wins_over_the_records_topic(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    alarms.create("team-warning", principal=BOB, actions=(OTHER_TOPIC_ARN,))

    summary = enforcer.handler(
        sns_event(alarms.fire("team-warning"), topic_arn=OTHER_TOPIC_ARN), lambda_context
    )

    assert reasons(summary) == ["no_topic_action"]
    assert nobody_locked(world)


def test_without_a_configured_topic_the_delivering_topic_is_required(
    load_enforcer: Loader, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    enforcer = load_enforcer(ALARM_TOPIC_ARN="")
    alarms.create("team-warning", principal=BOB, actions=(OTHER_TOPIC_ARN,))
    alarms.create(principal=ALICE)

    summary = enforcer.handler(
        sns_event(alarms.fire("team-warning"), alarms.fire(), topic_arn=TOPIC_ARN),
        lambda_context,
    )

    assert reasons(summary) == ["no_topic_action", ""]
    assert outcomes(summary) == [(ALICE, "locked")]
    assert not world.attached(BOB)


def test_alarms_outside_the_name_prefix_are_dropped_before_any_lookup(
    load_enforcer: Loader, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    enforcer = load_enforcer(ALARM_NAME_PREFIX="bedrock-guard-")
    alarms.create("other-team-budget", principal=BOB)
    alarms.create(ALARM_NAME, principal=ALICE)
    looked_up = []
    real_describe = enforcer.SERVICE.alarms.describe
    enforcer.SERVICE.alarms.describe = lambda name: looked_up.append(name) or real_describe(name)

    summary = enforcer.handler(
        sns_event(alarms.fire("other-team-budget"), alarms.fire(ALARM_NAME)), lambda_context
    )

    assert reasons(summary) == ["outside_prefix", ""]
    assert looked_up == [ALARM_NAME]
    assert world.attached(ALICE)
    assert not world.attached(BOB)


def test_an_alarm_arn_of_another_region_is_a_mismatch(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    alarms.create(principal=ALICE)
    forged = alarms.fire()
    forged["AlarmArn"] = f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:{ALARM_NAME}"

    summary = enforcer.handler(sns_event(forged), lambda_context)

    assert reasons(summary) == ["alarm_mismatch"]
    assert nobody_locked(world)


def test_a_message_without_a_trigger_still_locks_the_real_alarms_principal(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    alarms.create(principal=ALICE)
    message = alarms.fire()
    del message["Trigger"]

    summary = enforcer.handler(sns_event(message), lambda_context)

    assert outcomes(summary) == [(ALICE, "locked")]


def test_a_deleted_alarm_releases_nothing_an_operator_must_unlock(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    alarms.create(principal=ALICE)
    enforcer.handler(alarms.fire_event(state="ALARM"), lambda_context)
    ok = alarms.fire(state="OK")
    world.cloudwatch.delete_alarms(AlarmNames=[ALARM_NAME])

    summary = enforcer.handler(sns_event(ok), lambda_context)

    assert reasons(summary) == ["unknown_alarm"]
    assert world.attached(ALICE)  # fails closed: the lock stays until an operator unlocks
