"""CloudWatch's part, played by the demo: metrics in, alarm evaluation, alarm notifications out.

moto stores metrics and alarms but neither extracts metrics from logs, nor evaluates alarms,
nor sends their notifications. The demo does each of these as CloudWatch would:

* the gate's EMF log records become datapoints (``PutMetricData``), as CloudWatch Logs
  extracts them; Bedrock's own runtime metrics (``AWS/Bedrock``: ``Invocations``,
  ``InputTokenCount``, ``OutputTokenCount`` per ``ModelId``) are published from what the
  Bedrock stand-in served;
* each alarm on the endpoint is evaluated over its period from those datapoints
  (``GetMetricStatistics``), with its statistic, comparison, datapoints to alarm and missing-data
  treatment; a state change is recorded with ``SetAlarmState``;
* the state-change notification is published to the alarm's action topics in CloudWatch's own
  format (the shape of ``tests/events/sns_alarm_*.json``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Final

from botocore.loaders import create_loader

PUT_BATCH: Final = 1000  # PutMetricData accepts at most 1,000 datapoints per call
BEDROCK_NAMESPACE: Final = "AWS/Bedrock"
_COMPARISONS: Final = {
    "GreaterThanOrEqualToThreshold": (">=", "greater than or equal to"),
    "GreaterThanThreshold": (">", "greater than"),
    "LessThanThreshold": ("<", "less than"),
    "LessThanOrEqualToThreshold": ("<=", "less than or equal to"),
}
_MISSING_AS: Final = {"notBreaching": "NonBreaching", "breaching": "Breaching"}


@cache
def region_name(region: str) -> str:
    """``US East (N. Virginia)``: how alarm notifications name a Region (botocore's data)."""
    for partition in create_loader().load_data("endpoints")["partitions"]:
        description = partition["regions"].get(region, {}).get("description")
        if description:
            return str(description)
    return region


def cloudwatch_time(when: datetime) -> str:
    """``2026-11-23T10:01:12.345+0000``: the timestamp format of alarm notifications."""
    return (
        when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}+0000"
    )


def _datapoint_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%d/%m/%y %H:%M:%S")


def _number(value: float) -> str:
    return repr(float(value))


@dataclass(frozen=True, slots=True)
class Transition:
    """An alarm's state change, the notification CloudWatch sends, and where it went."""

    alarm_name: str
    alarm_arn: str
    old_state: str
    new_state: str
    reason: str
    observed: float | None
    threshold: float
    comparison: str
    at: datetime  # when CloudWatch recorded the change
    evaluated_at: datetime  # the instant the metric was evaluated as of
    message: dict[str, Any]
    topics: tuple[str, ...]
    message_ids: tuple[str, ...]


def emf_datapoints(lines: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """``PutMetricData`` datapoints by namespace from the EMF records among log lines."""
    by_namespace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        try:
            record = json.loads(line)
            meta = record["_aws"]
            timestamp = datetime.fromtimestamp(meta["Timestamp"] / 1000, UTC)
            directives = meta["CloudWatchMetrics"]
        except (ValueError, KeyError, TypeError):
            continue  # not an EMF record after all: CloudWatch Logs would not extract it either
        for directive in directives:
            for metric in directive["Metrics"]:
                raw = record.get(metric["Name"])
                values = raw if isinstance(raw, list) else [raw]
                for dimension_set in directive["Dimensions"]:
                    dimensions = [{"Name": d, "Value": str(record[d])} for d in dimension_set]
                    for value in values:
                        by_namespace[directive["Namespace"]].append(
                            {
                                "MetricName": metric["Name"],
                                "Dimensions": dimensions,
                                "Value": float(value),
                                "Unit": metric.get("Unit", "None"),
                                "Timestamp": timestamp,
                            }
                        )
    return by_namespace


def bedrock_datapoints(
    served: Mapping[str, Mapping[str, int]],
    calls: Mapping[str, int],
    at: datetime,
) -> list[dict[str, Any]]:
    """``AWS/Bedrock`` runtime metrics for what the stand-in served, per ``ModelId``.

    For an application inference profile the ``ModelId`` dimension is the profile id (the last
    part of its ARN), as aip-tenant's alarms select it.
    """
    datapoints = []
    for model, count in calls.items():
        model_id = model.rsplit("/", 1)[-1]
        usage = served.get(model, {})
        for name, value in (
            ("Invocations", count),
            ("InputTokenCount", usage.get("inputTokens", 0)),
            ("OutputTokenCount", usage.get("outputTokens", 0)),
        ):
            if value:
                datapoints.append(
                    {
                        "MetricName": name,
                        "Dimensions": [{"Name": "ModelId", "Value": model_id}],
                        "Value": float(value),
                        "Unit": "Count" if name == "Invocations" else "None",
                        "Timestamp": at,
                    }
                )
    return datapoints


class CloudWatchPart:
    """Does on the local endpoint what CloudWatch does between a metric and a notification."""

    def __init__(self, cloudwatch: Any, sns: Any, region: str, account: str) -> None:
        self.cloudwatch = cloudwatch
        self.sns = sns
        self.region = region
        self.account = account

    def put(self, namespace: str, datapoints: list[dict[str, Any]]) -> int:
        """Publish datapoints in batches; how many were published."""
        for start in range(0, len(datapoints), PUT_BATCH):
            self.cloudwatch.put_metric_data(
                Namespace=namespace, MetricData=datapoints[start : start + PUT_BATCH]
            )
        return len(datapoints)

    def evaluate(self, at: datetime) -> list[Transition]:
        """Evaluate every alarm as of ``at``; record and notify the ones that change state."""
        transitions = []
        paginator = self.cloudwatch.get_paginator("describe_alarms")
        for page in paginator.paginate(AlarmTypes=["MetricAlarm"]):
            for alarm in page["MetricAlarms"]:
                transition = self._evaluate(alarm, at)
                if transition is not None:
                    transitions.append(transition)
        return transitions

    def _evaluate(self, alarm: dict[str, Any], at: datetime) -> Transition | None:
        periods = int(alarm["EvaluationPeriods"])
        period = int(alarm["Period"])
        end = at.replace(microsecond=0) + timedelta(seconds=1)
        values = self._values(alarm, end - timedelta(seconds=period * periods), end, period)
        state, reason, observed = _state(alarm, values, at, periods)
        if state is None or state == alarm["StateValue"]:
            return None
        self.cloudwatch.set_alarm_state(
            AlarmName=alarm["AlarmName"], StateValue=state, StateReason=reason
        )
        # The notification carries the time CloudWatch recorded for the change: the enforcer
        # checks it against DescribeAlarms.
        recorded = self.cloudwatch.describe_alarms(AlarmNames=[alarm["AlarmName"]])
        changed_at = _changed_at(recorded["MetricAlarms"][0])
        message = self.message(alarm, state, reason, changed_at)
        actions = alarm.get("AlarmActions", []) if state == "ALARM" else alarm.get("OKActions", [])
        topics = (
            tuple(a for a in actions if ":sns:" in a) if alarm.get("ActionsEnabled", True) else ()
        )
        subject = f'{state}: "{alarm["AlarmName"]}" in {region_name(self.region)}'[:100]
        ids = tuple(
            self.sns.publish(TopicArn=topic, Subject=subject, Message=json.dumps(message))[
                "MessageId"
            ]
            for topic in topics
        )
        return Transition(
            alarm_name=alarm["AlarmName"],
            alarm_arn=alarm["AlarmArn"],
            old_state=alarm["StateValue"],
            new_state=state,
            reason=reason,
            observed=observed,
            threshold=float(alarm["Threshold"]),
            comparison=_COMPARISONS[alarm["ComparisonOperator"]][0],
            at=changed_at,
            evaluated_at=at,
            message=message,
            topics=topics,
            message_ids=ids,
        )

    def _values(
        self, alarm: dict[str, Any], start: datetime, end: datetime, period: int
    ) -> list[tuple[datetime, float]]:
        statistic = alarm["Statistic"]
        response = self.cloudwatch.get_metric_statistics(
            Namespace=alarm["Namespace"],
            MetricName=alarm["MetricName"],
            Dimensions=alarm.get("Dimensions", []),
            StartTime=start,
            EndTime=end,
            Period=period,
            Statistics=[statistic],
        )
        points = sorted(response["Datapoints"], key=lambda point: point["Timestamp"])
        return [(point["Timestamp"], float(point[statistic])) for point in points]

    def message(
        self, alarm: dict[str, Any], state: str, reason: str, at: datetime
    ) -> dict[str, Any]:
        """The notification body CloudWatch publishes for a metric alarm's state change."""
        updated = alarm.get("AlarmConfigurationUpdatedTimestamp") or at
        trigger = {
            "MetricName": alarm["MetricName"],
            "Namespace": alarm["Namespace"],
            "StatisticType": "Statistic",
            "Statistic": str(alarm["Statistic"]).upper(),
            "Unit": alarm.get("Unit"),
            "Dimensions": [
                {"value": d["Value"], "name": d["Name"]} for d in alarm.get("Dimensions", [])
            ],
            "Period": int(alarm["Period"]),
            "EvaluationPeriods": int(alarm["EvaluationPeriods"]),
            "DatapointsToAlarm": int(alarm.get("DatapointsToAlarm") or alarm["EvaluationPeriods"]),
            "ComparisonOperator": alarm["ComparisonOperator"],
            "Threshold": float(alarm["Threshold"]),
            "TreatMissingData": alarm.get("TreatMissingData", "missing"),
            "EvaluateLowSampleCountPercentile": "",
        }
        return {
            "AlarmName": alarm["AlarmName"],
            "AlarmDescription": alarm.get("AlarmDescription"),
            "AWSAccountId": self.account,
            "AlarmConfigurationUpdatedTimestamp": cloudwatch_time(updated),
            "NewStateValue": state,
            "NewStateReason": reason,
            "StateChangeTime": cloudwatch_time(at),
            "Region": region_name(self.region),
            "AlarmArn": alarm["AlarmArn"],
            "OldStateValue": alarm["StateValue"],
            "OKActions": alarm.get("OKActions", []),
            "AlarmActions": alarm.get("AlarmActions", []),
            "InsufficientDataActions": alarm.get("InsufficientDataActions", []),
            "Trigger": trigger,
        }


def _changed_at(alarm: Mapping[str, Any]) -> datetime:
    for key in ("StateTransitionedTimestamp", "StateUpdatedTimestamp"):
        value = alarm.get(key)
        if isinstance(value, datetime):
            return value.astimezone(UTC)
    return datetime.now(UTC)


def _breaches(alarm: dict[str, Any], value: float) -> bool:
    threshold = float(alarm["Threshold"])
    symbol = _COMPARISONS[alarm["ComparisonOperator"]][0]
    return {
        ">=": value >= threshold,
        ">": value > threshold,
        "<": value < threshold,
        "<=": value <= threshold,
    }[symbol]


def _state(
    alarm: dict[str, Any], values: list[tuple[datetime, float]], at: datetime, periods: int
) -> tuple[str | None, str, float | None]:
    """The state CloudWatch would set, its reason text, and the deciding value."""
    needed = int(alarm.get("DatapointsToAlarm") or periods)
    words = _COMPARISONS[alarm["ComparisonOperator"]][1]
    threshold = _number(float(alarm["Threshold"]))
    missing = alarm.get("TreatMissingData", "missing")
    if not values:
        if missing in _MISSING_AS:
            state = "ALARM" if missing == "breaching" else "OK"
            plural = "s" if periods > 1 else ""
            reason = (
                f"Threshold Crossed: no datapoints were received for {periods} period{plural} "
                f"and {periods} missing datapoint{plural} "
                f"{'were' if periods > 1 else 'was'} treated as [{_MISSING_AS[missing]}]."
            )
            return state, reason, None
        if missing == "ignore":
            return None, "", None
        return "INSUFFICIENT_DATA", "Insufficient Data: no datapoints were received.", None
    breaching = [value for _, value in values if _breaches(alarm, value)]
    shown = ", ".join(f"{_number(v)} ({_datapoint_time(t)})" for t, v in values[-periods:])
    latest = values[-1][1]
    if len(breaching) >= needed:
        reason = (
            f"Threshold Crossed: {len(breaching)} out of the last {periods} datapoints "
            f"[{shown}] was {words} the threshold ({threshold}) "
            f"(minimum {needed} datapoint for OK -> ALARM transition)."
        )
        return "ALARM", reason, max(breaching)
    reason = (
        f"Threshold Crossed: {periods - len(breaching)} out of the last {periods} datapoints "
        f"[{shown}] was not {words} the threshold ({threshold}) "
        f"(minimum {needed} datapoint for ALARM -> OK transition)."
    )
    return "OK", reason, latest
