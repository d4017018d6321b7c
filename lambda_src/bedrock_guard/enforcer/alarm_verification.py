"""Check an alarm notification against the alarm CloudWatch describes (pure, no AWS).

Anyone who may ``sns:Publish`` to the enforcer's topic (in the same account an identity policy
is enough) can write a notification. So the message is only a trigger: the enforcer acts only
when CloudWatch confirms it, and then on CloudWatch's answer (state, time, reason, metric
dimensions), never on the message's ``Trigger``. What a forged message can achieve is what the
real alarm already demands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Final

from bedrock_guard.enforcer.alarm_lookup import DescribedAlarm
from bedrock_guard.enforcer.alarm_messages import (
    AlarmMessage,
    DropReason,
    MessageError,
    arn_alarm_name,
    format_time,
    parse_time,
)

# CloudWatch writes notification times to the millisecond; the API may carry more digits.
SAME_INSTANT: Final = timedelta(milliseconds=1)


def alarm_name_to_describe(message: AlarmMessage, name_prefix: str = "") -> str:
    """The name to describe: the one in the alarm ARN, which ``AlarmName`` must repeat.

    Raises :class:`MessageError` when the two disagree, or the name lacks ``name_prefix`` (the
    module's ``alarm_name_prefix``: only those alarms may drive the enforcer).
    """
    name = arn_alarm_name(message.alarm_arn)
    if name is None or name != message.alarm_name:
        raise MessageError(
            DropReason.ALARM_MISMATCH,
            f"AlarmName {message.alarm_name!r} is not the alarm of AlarmArn {message.alarm_arn}",
        )
    if not name.startswith(name_prefix):
        raise MessageError(
            DropReason.OUTSIDE_PREFIX,
            f"alarm {name!r} does not start with the configured prefix {name_prefix!r}",
        )
    return name


def verify(
    message: AlarmMessage, described: Sequence[DescribedAlarm], *, topic_arn: str | None
) -> AlarmMessage:
    """The message as CloudWatch confirms it, or :class:`MessageError` saying why not.

    ``described`` is what DescribeAlarms returned for the message's alarm name in this account
    and region; ``topic_arn`` the topic the enforcer serves. Returns the message with the
    alarm's own state change time, reason and dimensions in place of the message's.
    """
    if not described:
        raise MessageError(
            DropReason.UNKNOWN_ALARM,
            f"no alarm {message.alarm_name!r} in this account and region: forged, or deleted",
        )
    alarm = next((found for found in described if found.arn == message.alarm_arn), None)
    if alarm is None:
        raise MessageError(
            DropReason.ALARM_MISMATCH,
            f"the message names {message.alarm_arn}, CloudWatch's alarm of that name is "
            f"{described[0].arn}",
        )
    # An alarm that does not notify this topic in this state (or has its actions disabled)
    # never sent this message; its owner did not give it the power to lock anyone.
    if topic_arn is None:
        raise MessageError(
            DropReason.NO_TOPIC_ACTION, "the delivering topic is unknown and none is configured"
        )
    if not alarm.actions_enabled:
        raise MessageError(
            DropReason.NO_TOPIC_ACTION, f"alarm {alarm.name} has its actions disabled"
        )
    if topic_arn not in alarm.actions_for(message.new_state):
        raise MessageError(
            DropReason.NO_TOPIC_ACTION,
            f"alarm {alarm.name} does not notify {topic_arn} on {message.new_state}",
        )
    changed_at = alarm.state_changed_at
    if changed_at is None:
        raise MessageError(
            DropReason.UNKNOWN_ALARM, f"CloudWatch gave no state time for alarm {alarm.name}"
        )
    claimed_at = parse_time(message.state_change_time)
    # Superseded: the alarm has changed state since the message. Dropping it keeps the end
    # state right: an ALARM processed after its OK locks nobody (the alarm is no longer in
    # ALARM), an OK processed after a newer ALARM releases nothing (that ALARM holds), and the
    # notification of the newer change will come (or has come) and act on the current state.
    if changed_at > claimed_at + SAME_INSTANT:
        raise MessageError(
            DropReason.SUPERSEDED,
            f"alarm {alarm.name} changed state at {format_time(changed_at)}, after the "
            f"message's {message.state_change_time}",
        )
    # Not changed since the message's time, yet not in the state it claims: the message is false.
    if alarm.state != message.new_state:
        raise MessageError(
            DropReason.STATE_MISMATCH,
            f"alarm {alarm.name} is {alarm.state} since {format_time(changed_at)}; "
            f"the message claims {message.new_state}",
        )
    # CloudWatch's own time, not the message's: a message dated later than the real change
    # (a forgery) must not put a future time in the ledger, where it would make the real next
    # change of this alarm look stale.
    return replace(
        message,
        alarm_name=alarm.name,
        reason=alarm.reason or message.reason,
        state_change_time=format_time(changed_at),
        dimensions=alarm.dimensions,
    )
