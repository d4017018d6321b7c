"""Checking a notification against the alarm CloudWatch describes (pure, no AWS)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from dateutil.tz import tzlocal

from bedrock_guard.enforcer.alarm_lookup import AlarmKind, DescribedAlarm, described_alarms
from bedrock_guard.enforcer.alarm_messages import (
    AlarmMessage,
    AlarmState,
    DropReason,
    MessageError,
    parse_alarm_message,
)
from bedrock_guard.enforcer.alarm_verification import alarm_name_to_describe, verify
from tests.enforcer.conftest import (
    ALARM_ARN,
    ALARM_NAME,
    ALICE,
    APP_ROLE,
    BOB,
    OTHER_TOPIC_ARN,
    REGION,
    TOPIC_ARN,
    alarm,
    cloudwatch_time,
)

CHANGED = datetime(2026, 11, 23, 10, 1, 12, 345000, tzinfo=UTC)


def described(**changes: Any) -> DescribedAlarm:
    """The classic per-caller alarm on alice, in ALARM since ``CHANGED``."""
    base = DescribedAlarm(
        name=ALARM_NAME,
        arn=ALARM_ARN,
        kind=AlarmKind.METRIC,
        state="ALARM",
        reason="Threshold Crossed: from CloudWatch",
        state_changed_at=CHANGED,
        actions_enabled=True,
        alarm_actions=(TOPIC_ARN,),
        ok_actions=(TOPIC_ARN,),
        dimensions=(("Principal", ALICE),),
    )
    return replace(base, **changes)


def message(state: str = "ALARM", at: datetime = CHANGED, **fields: Any) -> AlarmMessage:
    body = alarm(state, at=cloudwatch_time(at))
    body.update(fields)
    return parse_alarm_message(json.dumps(body))


def reason_of(claimed: AlarmMessage, found: list[DescribedAlarm], topic: str | None) -> DropReason:
    with pytest.raises(MessageError) as raised:
        verify(claimed, found, topic_arn=topic)
    return raised.value.reason


def test_a_genuine_message_is_confirmed_with_cloudwatchs_own_values() -> None:
    claimed = message(NewStateReason="message reason")
    claimed = replace(claimed, dimensions=(("Principal", BOB),))

    verified = verify(claimed, [described()], topic_arn=TOPIC_ARN)

    assert verified.new_state is AlarmState.ALARM
    assert verified.dimension_values("Principal") == (ALICE,)  # not bob, from the message
    assert verified.reason == "Threshold Crossed: from CloudWatch"
    assert verified.state_change_time == "2026-11-23T10:01:12.345000Z"
    assert (verified.alarm_arn, verified.alarm_name) == (ALARM_ARN, ALARM_NAME)


@pytest.mark.parametrize(
    ("offset_ms", "expected"),
    [
        pytest.param(0, None, id="equal"),
        pytest.param(-1, None, id="alarm-changed-1ms-after-the-message-tolerated"),
        pytest.param(-2, DropReason.SUPERSEDED, id="alarm-changed-2ms-after-the-message"),
        pytest.param(-60_000, DropReason.SUPERSEDED, id="alarm-changed-a-minute-later"),
        pytest.param(1, None, id="message-1ms-later"),
        pytest.param(86_400_000, None, id="message-dated-a-day-later"),
    ],
)
def test_state_time_comparison_with_millisecond_tolerance(
    offset_ms: int, expected: DropReason | None
) -> None:
    claimed = message(at=CHANGED + timedelta(milliseconds=offset_ms))

    if expected is None:
        verified = verify(claimed, [described()], topic_arn=TOPIC_ARN)
        # Always CloudWatch's time: a later-dated message cannot put the future in the ledger.
        assert verified.state_change_time == "2026-11-23T10:01:12.345000Z"
    else:
        assert reason_of(claimed, [described()], TOPIC_ARN) is expected


def test_times_compare_as_instants_whatever_the_zone() -> None:
    plus_two = CHANGED.astimezone(timezone(timedelta(hours=2)))
    body = alarm(at=plus_two.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0200")

    verified = verify(parse_alarm_message(json.dumps(body)), [described()], topic_arn=TOPIC_ARN)

    assert verified.state_change_time == "2026-11-23T10:01:12.345000Z"


@pytest.mark.parametrize(
    ("claimed_state", "actual_state", "claimed_at", "expected"),
    [
        # The alarm is not in the claimed state and has not changed since: the message is false.
        ("OK", "ALARM", CHANGED, DropReason.STATE_MISMATCH),
        ("ALARM", "OK", CHANGED + timedelta(minutes=5), DropReason.STATE_MISMATCH),
        ("INSUFFICIENT_DATA", "ALARM", CHANGED, DropReason.STATE_MISMATCH),
        # It has changed since: superseded, whatever state it claims.
        ("OK", "ALARM", CHANGED - timedelta(minutes=5), DropReason.SUPERSEDED),
        ("ALARM", "ALARM", CHANGED - timedelta(minutes=5), DropReason.SUPERSEDED),
    ],
)
def test_state_mismatch_and_superseded(
    claimed_state: str, actual_state: str, claimed_at: datetime, expected: DropReason
) -> None:
    found = described(state=actual_state, insufficient_data_actions=(TOPIC_ARN,))

    assert reason_of(message(claimed_state, at=claimed_at), [found], TOPIC_ARN) is expected


def test_no_alarm_is_an_unknown_alarm() -> None:
    assert reason_of(message(), [], TOPIC_ARN) is DropReason.UNKNOWN_ALARM


def test_an_alarm_of_that_name_with_another_arn_is_a_mismatch() -> None:
    other_region = ALARM_ARN.replace(REGION, "eu-west-1")
    claimed = message(AlarmArn=other_region)

    assert reason_of(claimed, [described()], TOPIC_ARN) is DropReason.ALARM_MISMATCH


@pytest.mark.parametrize(
    ("found", "topic"),
    [
        pytest.param(described(alarm_actions=()), TOPIC_ARN, id="no-alarm-actions"),
        pytest.param(described(alarm_actions=(OTHER_TOPIC_ARN,)), TOPIC_ARN, id="other-topic"),
        pytest.param(described(actions_enabled=False), TOPIC_ARN, id="actions-disabled"),
        pytest.param(described(), None, id="topic-unknown"),
        pytest.param(described(ok_actions=(), state="OK"), TOPIC_ARN, id="ok-not-notified-for-ok"),
    ],
)
def test_an_alarm_that_does_not_notify_the_topic_in_that_state_cannot_act(
    found: DescribedAlarm, topic: str | None
) -> None:
    claimed = message(found.state)

    assert reason_of(claimed, [found], topic) is DropReason.NO_TOPIC_ACTION


def test_a_missing_state_time_is_never_trusted() -> None:
    found = described(state_changed_at=None)

    assert reason_of(message(), [found], TOPIC_ARN) is DropReason.UNKNOWN_ALARM


def test_name_to_describe_is_the_arns_and_must_be_the_messages() -> None:
    assert alarm_name_to_describe(message()) == ALARM_NAME
    assert alarm_name_to_describe(message(), "bedrock-guard-") == ALARM_NAME
    with pytest.raises(MessageError) as raised:
        alarm_name_to_describe(message(AlarmName="someone-else"))
    assert raised.value.reason is DropReason.ALARM_MISMATCH
    with pytest.raises(MessageError) as raised:
        alarm_name_to_describe(message(), "prod-")
    assert raised.value.reason is DropReason.OUTSIDE_PREFIX


# DescribeAlarms answers, parsed ------------------------------------------------------------------


def metric_item(**fields: Any) -> dict[str, Any]:
    return {
        "AlarmName": ALARM_NAME,
        "AlarmArn": ALARM_ARN,
        "ActionsEnabled": True,
        "AlarmActions": [TOPIC_ARN],
        "OKActions": [TOPIC_ARN],
        "InsufficientDataActions": [],
        "StateValue": "ALARM",
        "StateReason": "Threshold Crossed",
        "StateUpdatedTimestamp": datetime(2026, 11, 23, 10, 5, tzinfo=UTC),
        "Dimensions": [{"Name": "Principal", "Value": ALICE}],
        **fields,
    }


def test_state_transitioned_timestamp_wins_over_state_updated_timestamp() -> None:
    item = metric_item(StateTransitionedTimestamp=CHANGED)

    assert DescribedAlarm.from_api(AlarmKind.METRIC, item).state_changed_at == CHANGED


def test_state_updated_timestamp_stands_in_and_zones_are_normalised() -> None:
    local = datetime(2026, 11, 23, 10, 5, tzinfo=tzlocal())
    naive = datetime(2026, 11, 23, 10, 5)

    from_local = DescribedAlarm.from_api(AlarmKind.METRIC, metric_item(StateUpdatedTimestamp=local))
    from_naive = DescribedAlarm.from_api(AlarmKind.METRIC, metric_item(StateUpdatedTimestamp=naive))

    assert from_local.state_changed_at == local.astimezone(UTC)
    assert from_naive.state_changed_at == naive.replace(tzinfo=UTC)
    no_time = metric_item()
    del no_time["StateUpdatedTimestamp"]
    assert DescribedAlarm.from_api(AlarmKind.METRIC, no_time).state_changed_at is None


def test_metric_math_dimensions_are_every_metrics() -> None:
    item = metric_item(
        Dimensions=[],
        Metrics=[
            {"Id": "e1", "Expression": "MAX(METRICS())", "ReturnData": True},
            {
                "Id": "m1",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "GenAIRateLimiting",
                        "MetricName": "CallerBudgetUsedPercent",
                        "Dimensions": [{"Name": "Principal", "Value": APP_ROLE}],
                    },
                    "Period": 300,
                    "Stat": "Maximum",
                },
                "ReturnData": False,
            },
            {"Id": "m2", "MetricStat": {"Metric": {"Dimensions": [{"Name": "Principal"}]}}},
        ],
    )

    alarm_ = DescribedAlarm.from_api(AlarmKind.METRIC, item)

    assert alarm_.dimension_values("Principal") == (APP_ROLE,)


def test_composite_alarms_have_no_dimensions_and_the_response_keeps_both_kinds() -> None:
    composite = {
        "AlarmName": "any",
        "AlarmArn": ALARM_ARN.replace(ALARM_NAME, "any"),
        "AlarmRule": 'ALARM("a")',
        "StateValue": "OK",
        "StateTransitionedTimestamp": CHANGED,
        "ActionsEnabled": True,
        "OKActions": [TOPIC_ARN],
        "Dimensions": [{"Name": "Principal", "Value": ALICE}],  # never on a composite
    }

    found = described_alarms({"MetricAlarms": [metric_item()], "CompositeAlarms": [composite]})

    assert [(a.name, a.kind) for a in found] == [
        (ALARM_NAME, AlarmKind.METRIC),
        ("any", AlarmKind.COMPOSITE),
    ]
    assert found[1].dimensions == ()
    assert found[1].actions_for(AlarmState.OK) == (TOPIC_ARN,)
    assert found[1].actions_for(AlarmState.ALARM) == ()
