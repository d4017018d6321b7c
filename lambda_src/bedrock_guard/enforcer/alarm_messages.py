"""CloudWatch alarm state-change messages, as SNS delivers them (pure parsing, no AWS).

Two shapes exist: a single-metric alarm names its metric in ``Trigger`` with
``Trigger.Dimensions`` (``[{"name": ..., "value": ...}]``); a metric-math alarm lists
``Trigger.Metrics``, each with ``MetricStat.Metric.Dimensions``. Composite alarms carry no
metric at all. Anything that is not one of these raises :class:`MessageError` with a reason,
so the caller can log it and drop it instead of retrying it forever.

A parsed message is only a claim: anyone allowed to publish to the topic can write one. The
enforcer acts on it only after :mod:`bedrock_guard.enforcer.alarm_verification` has checked
it against the alarm CloudWatch describes, and then on what CloudWatch says, not on what the
message says.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class AlarmState(StrEnum):
    """The three states of a CloudWatch alarm."""

    ALARM = "ALARM"
    OK = "OK"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class DropReason(StrEnum):
    """Why a message is not acted on. The values are metric dimension values."""

    NOT_SNS = "not_sns"
    NOT_JSON = "not_json"
    NOT_ALARM = "not_alarm"
    UNKNOWN_STATE = "unknown_state"
    BAD_TIME = "bad_time"
    BAD_ALARM_ARN = "bad_alarm_arn"
    OTHER_ACCOUNT = "other_account"
    NO_PRINCIPAL = "no_principal"
    # Found when the message is checked against CloudWatch (alarm_verification).
    UNKNOWN_ALARM = "unknown_alarm"
    ALARM_MISMATCH = "alarm_mismatch"
    OUTSIDE_PREFIX = "outside_prefix"
    NO_TOPIC_ACTION = "no_topic_action"
    SUPERSEDED = "superseded"
    STATE_MISMATCH = "state_mismatch"


class MessageError(ValueError):
    """A message the enforcer will never act on, and why."""

    def __init__(self, reason: DropReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


_ALARM_ARN_RE = re.compile(
    r"^arn:(?P<partition>aws(?:-[a-z]+)*):cloudwatch:(?P<region>[a-z0-9-]+):"
    r"(?P<account>\d{12}):alarm:(?P<name>.{1,255})$"
)


@dataclass(frozen=True, slots=True)
class AlarmMessage:
    """The parts of an alarm notification the enforcer acts on."""

    alarm_name: str
    alarm_arn: str
    partition: str
    account: str
    new_state: AlarmState
    old_state: str
    reason: str
    state_change_time: str
    dimensions: tuple[tuple[str, str], ...] = ()

    def dimension_values(self, name: str) -> tuple[str, ...]:
        """Distinct values of dimension ``name`` over every metric of the alarm, in order."""
        return dimension_values(self.dimensions, name)


def dimension_values(dimensions: Iterable[tuple[str, str]], name: str) -> tuple[str, ...]:
    """Distinct values of dimension ``name`` among (name, value) pairs, in order."""
    return tuple(dict.fromkeys(value for key, value in dimensions if key == name))


def arn_alarm_name(alarm_arn: str) -> str | None:
    """The alarm name an alarm ARN ends with, or ``None`` if it is not an alarm ARN."""
    match = _ALARM_ARN_RE.match(alarm_arn)
    return match["name"] if match else None


def parse_time(value: object) -> datetime:
    """A zoned ISO-8601 time as an aware UTC ``datetime``; :class:`MessageError` otherwise."""
    if not isinstance(value, str):
        raise MessageError(DropReason.BAD_TIME, f"StateChangeTime must be a string: {value!r}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as error:
        raise MessageError(DropReason.BAD_TIME, f"StateChangeTime {value!r}: {error}") from error
    if parsed.tzinfo is None:
        raise MessageError(DropReason.BAD_TIME, f"StateChangeTime {value!r} has no time zone")
    return parsed.astimezone(UTC)


def format_time(instant: datetime) -> str:
    """The ledger's time format: UTC ISO-8601 with fixed-width microseconds."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def normalise_time(value: object) -> str:
    """UTC ISO-8601 with fixed-width microseconds, so that string order is time order.

    CloudWatch writes ``2015-06-03T17:43:27.123+0000``; the ledger compares the stored and the
    incoming time as strings in a condition expression, which is only sound in one format.
    """
    return format_time(parse_time(value))


def parse_alarm_message(text: object) -> AlarmMessage:
    """Parse the ``Message`` of an SNS notification sent by a CloudWatch metric alarm.

    ``text`` is whatever the record carried: anything but a JSON string of an alarm object
    (``None``, a number, a list, an object) raises :class:`MessageError`, never anything else.
    """
    if not isinstance(text, str):
        raise MessageError(DropReason.NOT_JSON, f"message is not a string: {type(text).__name__}")
    try:
        body = json.loads(text)
    except (TypeError, ValueError, RecursionError) as error:
        raise MessageError(DropReason.NOT_JSON, f"message is not JSON: {text[:80]!r}") from error
    if not isinstance(body, dict) or "AlarmName" not in body or "NewStateValue" not in body:
        raise MessageError(DropReason.NOT_ALARM, "JSON without AlarmName and NewStateValue")

    name = body["AlarmName"]
    if not isinstance(name, str) or not name:
        raise MessageError(DropReason.NOT_ALARM, f"AlarmName must be a string: {name!r}")
    try:
        state = AlarmState(body["NewStateValue"])
    except ValueError as error:
        raise MessageError(
            DropReason.UNKNOWN_STATE, f"unknown NewStateValue {body['NewStateValue']!r}"
        ) from error

    arn = body.get("AlarmArn")
    match = _ALARM_ARN_RE.match(arn) if isinstance(arn, str) else None
    if match is None:
        raise MessageError(DropReason.BAD_ALARM_ARN, f"AlarmArn is not an alarm ARN: {arn!r}")
    stated_account = body.get("AWSAccountId")
    if stated_account is not None and str(stated_account) != match["account"]:
        raise MessageError(
            DropReason.NOT_ALARM,
            f"AWSAccountId {stated_account!r} does not match the alarm ARN {arn}",
        )

    old_state = body.get("OldStateValue")
    reason = body.get("NewStateReason")
    return AlarmMessage(
        alarm_name=name,
        alarm_arn=match.group(0),
        partition=match["partition"],
        account=match["account"],
        new_state=state,
        old_state=old_state if isinstance(old_state, str) else "",
        reason=reason if isinstance(reason, str) else "",
        state_change_time=normalise_time(body.get("StateChangeTime")),
        dimensions=tuple(metric_dimensions(body.get("Trigger"))),
    )


def metric_dimensions(source: Any) -> Iterator[tuple[str, str]]:
    """Every (name, value) of an alarm's metric, or of each metric of its math expression.

    ``source`` is a message's ``Trigger`` or an alarm as DescribeAlarms returns it: both carry
    ``Dimensions`` and ``Metrics[].MetricStat.Metric.Dimensions``.
    """
    if not isinstance(source, dict):
        return  # a composite alarm, or a message without a metric: tags may still name someone
    yield from _dimension_pairs(source.get("Dimensions"))
    metrics = source.get("Metrics")
    if isinstance(metrics, list):
        for query in metrics:
            stat = query.get("MetricStat") if isinstance(query, dict) else None
            metric = stat.get("Metric") if isinstance(stat, dict) else None
            if isinstance(metric, dict):
                yield from _dimension_pairs(metric.get("Dimensions"))


def _dimension_pairs(dimensions: Any) -> Iterator[tuple[str, str]]:
    # SNS messages spell the keys in lower case; the API (and hand-written tests) capitalise.
    if not isinstance(dimensions, list):
        return
    for dimension in dimensions:
        if not isinstance(dimension, dict):
            continue
        name = dimension.get("name", dimension.get("Name"))
        value = dimension.get("value", dimension.get("Value"))
        if isinstance(name, str) and isinstance(value, str):
            yield name, value


def split_tag_value(value: str) -> tuple[str, ...]:
    """Principals listed in an alarm tag: comma-separated, blanks ignored, order kept."""
    return tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
