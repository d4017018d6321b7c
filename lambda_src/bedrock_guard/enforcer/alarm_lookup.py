"""What CloudWatch itself says about an alarm: ``cloudwatch:DescribeAlarms``, parsed.

The enforcer acts on this, never on the notification's own claims. Parsing is pure
(:meth:`DescribedAlarm.from_api`); :class:`AlarmLookup` is the thin AWS layer around it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from bedrock_guard.enforcer.alarm_messages import AlarmState, dimension_values, metric_dimensions

METRIC_ALARMS: Final = "MetricAlarms"
COMPOSITE_ALARMS: Final = "CompositeAlarms"
# Without AlarmTypes, DescribeAlarms answers metric alarms only.
ALARM_TYPES: Final = ("MetricAlarm", "CompositeAlarm")


class AlarmKind(StrEnum):
    """The two kinds of CloudWatch alarm."""

    METRIC = "metric"
    COMPOSITE = "composite"


def _instant(value: Any) -> datetime | None:
    """An API timestamp (botocore gives aware datetimes) as aware UTC; ``None`` if absent."""
    instant: datetime
    if isinstance(value, datetime):
        instant = value
    elif isinstance(value, str):
        try:
            instant = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC)


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(item for item in value if isinstance(item, str)) if isinstance(value, list) else ()


@dataclass(frozen=True, slots=True)
class DescribedAlarm:
    """One alarm as DescribeAlarms returns it, reduced to what the enforcer checks and uses."""

    name: str
    arn: str
    kind: AlarmKind
    state: str
    reason: str
    state_changed_at: datetime | None
    actions_enabled: bool
    alarm_actions: tuple[str, ...] = ()
    ok_actions: tuple[str, ...] = ()
    insufficient_data_actions: tuple[str, ...] = ()
    dimensions: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_api(cls, kind: AlarmKind, item: Mapping[str, Any]) -> DescribedAlarm:
        """From one entry of ``MetricAlarms`` or ``CompositeAlarms``.

        ``state_changed_at`` is when ``StateValue`` last changed: ``StateTransitionedTimestamp``.
        ``StateUpdatedTimestamp`` also moves on updates that keep the state (a composite alarm's
        reason, a metric alarm's ``EvaluationState``), so it stands in only when the former is
        absent; were it used first, a genuine notification could look superseded by an update
        that sends none, and its lock would never happen.
        """
        changed = _instant(item.get("StateTransitionedTimestamp"))
        if changed is None:
            changed = _instant(item.get("StateUpdatedTimestamp"))
        return cls(
            name=str(item.get("AlarmName", "")),
            arn=str(item.get("AlarmArn", "")),
            kind=kind,
            state=str(item.get("StateValue", "")),
            reason=str(item.get("StateReason") or ""),
            state_changed_at=changed,
            actions_enabled=item.get("ActionsEnabled") is True,
            alarm_actions=_strings(item.get("AlarmActions")),
            ok_actions=_strings(item.get("OKActions")),
            insufficient_data_actions=_strings(item.get("InsufficientDataActions")),
            # Composite alarms have no metric: their principals can only come from tags.
            dimensions=tuple(metric_dimensions(dict(item))) if kind is AlarmKind.METRIC else (),
        )

    def actions_for(self, state: AlarmState) -> tuple[str, ...]:
        """What the alarm notifies when it enters ``state``."""
        if state is AlarmState.ALARM:
            return self.alarm_actions
        if state is AlarmState.OK:
            return self.ok_actions
        return self.insufficient_data_actions

    def dimension_values(self, name: str) -> tuple[str, ...]:
        """Distinct values of dimension ``name`` over every metric of the alarm, in order."""
        return dimension_values(self.dimensions, name)


def described_alarms(response: Mapping[str, Any]) -> tuple[DescribedAlarm, ...]:
    """Every alarm of a DescribeAlarms response, metric alarms first."""
    found = []
    for key, kind in ((METRIC_ALARMS, AlarmKind.METRIC), (COMPOSITE_ALARMS, AlarmKind.COMPOSITE)):
        for item in response.get(key) or []:
            if isinstance(item, Mapping):
                found.append(DescribedAlarm.from_api(kind, item))
    return tuple(found)


class AlarmLookup:
    """``cloudwatch:DescribeAlarms`` of one alarm by name, in the client's account and region."""

    def __init__(self, client: Any) -> None:
        self._cloudwatch = client

    def describe(self, name: str) -> tuple[DescribedAlarm, ...]:
        """The alarms named exactly ``name`` (none if it does not exist); errors propagate.

        One name matches at most one alarm, so there is never a next page to read.
        """
        response = self._cloudwatch.describe_alarms(AlarmNames=[name], AlarmTypes=list(ALARM_TYPES))
        return tuple(alarm for alarm in described_alarms(response) if alarm.name == name)
