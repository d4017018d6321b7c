"""Pure parsing of CloudWatch alarm notifications (no AWS)."""

from __future__ import annotations

import json

import pytest

from bedrock_guard.enforcer.alarm_messages import (
    AlarmState,
    DropReason,
    MessageError,
    arn_alarm_name,
    normalise_time,
    parse_alarm_message,
    split_tag_value,
)
from tests.enforcer.conftest import (
    ALICE,
    APP_ROLE,
    APP_SESSION,
    alarm,
    classic_message,
    metric_math_message,
)


def test_classic_message() -> None:
    message = parse_alarm_message(json.dumps(classic_message()))

    assert message.alarm_name == "bedrock-guard-caller-alice-monthly"
    assert message.alarm_arn.endswith(":alarm:bedrock-guard-caller-alice-monthly")
    assert (message.partition, message.account) == ("aws", "123456789012")
    assert message.new_state is AlarmState.ALARM
    assert message.old_state == "OK"
    assert message.reason.startswith("Threshold Crossed")
    assert message.state_change_time == "2026-11-23T10:01:12.345000Z"
    assert message.dimension_values("Principal") == (ALICE,)
    assert message.dimension_values("Model") == ()


def test_metric_math_message_collects_every_metric_dimension() -> None:
    message = parse_alarm_message(json.dumps(metric_math_message()))

    assert message.dimension_values("Principal") == (APP_ROLE, APP_SESSION)


def test_dimension_values_are_distinct_and_ordered() -> None:
    body = metric_math_message()
    body["Trigger"]["Metrics"][2]["MetricStat"]["Metric"]["Dimensions"] = [
        {"Name": "Principal", "Value": APP_ROLE},  # API spelling, same value again
        {"name": "Principal", "value": ALICE},
        {"name": "Principal"},  # no value: skipped
        "junk",
    ]

    message = parse_alarm_message(json.dumps(body))

    assert message.dimension_values("Principal") == (APP_ROLE, ALICE)


def test_composite_alarm_without_trigger_has_no_dimensions() -> None:
    body = alarm()
    del body["Trigger"]

    assert parse_alarm_message(json.dumps(body)).dimensions == ()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2015-06-03T17:43:27.123+0000", "2015-06-03T17:43:27.123000Z"),
        ("2015-06-03T17:43:27Z", "2015-06-03T17:43:27.000000Z"),
        ("2015-06-03T19:43:27.5+02:00", "2015-06-03T17:43:27.500000Z"),
        ("2015-06-03T00:30:00.000-0100", "2015-06-03T01:30:00.000000Z"),
    ],
)
def test_normalise_time(value: str, expected: str) -> None:
    assert normalise_time(value) == expected


def test_normalised_times_sort_as_times() -> None:
    later_text_earlier_time = normalise_time("2026-11-23T10:30:00.000+0100")
    assert later_text_earlier_time < normalise_time("2026-11-23T10:01:00.000+0000")


@pytest.mark.parametrize("value", ["", "yesterday", "2026-11-23T10:00:00", 17, None])
def test_normalise_time_refuses_what_is_not_a_zoned_time(value: object) -> None:
    with pytest.raises(MessageError) as raised:
        normalise_time(value)
    assert raised.value.reason is DropReason.BAD_TIME


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("AWS Budget Notification November 23, 2026", DropReason.NOT_JSON),
        ('{"AlarmName": "x"}', DropReason.NOT_ALARM),
        ('"just a string"', DropReason.NOT_ALARM),
        (json.dumps({**alarm(), "NewStateValue": "alarm"}), DropReason.UNKNOWN_STATE),
        (
            json.dumps({**alarm(), "AlarmArn": "arn:aws:cloudwatch:us-east-1:1:alarm:x"}),
            DropReason.BAD_ALARM_ARN,
        ),
        (json.dumps({**alarm(), "AlarmName": ""}), DropReason.NOT_ALARM),
    ],
)
def test_parse_errors_carry_a_reason(text: str, reason: DropReason) -> None:
    with pytest.raises(MessageError) as raised:
        parse_alarm_message(text)
    assert raised.value.reason is reason


def test_other_partition_alarm_arn() -> None:
    body = alarm()
    body["AlarmArn"] = "arn:aws-us-gov:cloudwatch:us-gov-west-1:123456789012:alarm:x"

    message = parse_alarm_message(json.dumps(body))

    assert message.partition == "aws-us-gov"


def test_split_tag_value() -> None:
    assert split_tag_value(f" {ALICE} ,,{APP_ROLE},{ALICE} ") == (ALICE, APP_ROLE)
    assert split_tag_value("") == ()


def test_arn_alarm_name() -> None:
    assert arn_alarm_name(alarm()["AlarmArn"]) == "bedrock-guard-caller-alice-monthly"
    assert arn_alarm_name("arn:aws:cloudwatch:us-east-1:123456789012:alarm:a:b c") == "a:b c"
    assert arn_alarm_name("arn:aws:sns:us-east-1:123456789012:topic") is None
