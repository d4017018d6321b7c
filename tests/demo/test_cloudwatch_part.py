"""CloudWatch's part: EMF extraction, alarm evaluation, and notifications in CloudWatch's shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

from bedrock_guard.demo.cloudwatch_part import (
    CloudWatchPart,
    _state,
    bedrock_datapoints,
    cloudwatch_time,
    emf_datapoints,
    region_name,
)
from bedrock_guard.enforcer.alarm_messages import AlarmState, parse_alarm_message

EVENTS = Path(__file__).resolve().parents[1] / "events"
AT = datetime(2026, 11, 23, 10, 1, 12, 345678, tzinfo=UTC)


def recorded(name: str) -> dict[str, Any]:
    event = json.loads((EVENTS / name).read_text())
    message: dict[str, Any] = json.loads(event["Records"][0]["Sns"]["Message"])
    return message


def alarm(**overrides: Any) -> dict[str, Any]:
    described = {
        "AlarmName": "bedrock-guard-dev-gate-budget-80pct-111111111111-role-app",
        "AlarmArn": "arn:aws:cloudwatch:us-east-1:111111111111:alarm:"
        "bedrock-guard-dev-gate-budget-80pct-111111111111-role-app",
        "AlarmDescription": "budget",
        "AlarmConfigurationUpdatedTimestamp": AT - timedelta(days=1),
        "ActionsEnabled": True,
        "OKActions": ["arn:aws:sns:us-east-1:111111111111:topic"],
        "AlarmActions": ["arn:aws:sns:us-east-1:111111111111:topic"],
        "InsufficientDataActions": [],
        "StateValue": "OK",
        "MetricName": "CallerBudgetUsedPercent",
        "Namespace": "GenAIRateLimiting",
        "Statistic": "Maximum",
        "Dimensions": [{"Name": "Principal", "Value": "arn:aws:iam::111111111111:role/app"}],
        "Period": 300,
        "EvaluationPeriods": 1,
        "Threshold": 80.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
    }
    return {**described, **overrides}


def test_the_notification_has_cloudwatchs_fields_and_the_enforcer_parses_it() -> None:
    part = CloudWatchPart(None, None, "us-east-1", "111111111111")
    message = part.message(alarm(), "ALARM", "Threshold Crossed: ...", AT)
    shape = recorded("sns_alarm_classic.json")
    assert set(message) == set(shape)
    assert set(shape["Trigger"]) <= set(message["Trigger"])
    assert message["Region"] == shape["Region"] == "US East (N. Virginia)"
    assert message["StateChangeTime"] == "2026-11-23T10:01:12.345+0000"
    assert message["Trigger"]["Statistic"] == "MAXIMUM"
    parsed = parse_alarm_message(json.dumps(message))
    assert parsed.new_state is AlarmState.ALARM
    assert parsed.dimension_values("Principal") == ("arn:aws:iam::111111111111:role/app",)


def test_times_and_region_names_are_written_as_cloudwatch_writes_them() -> None:
    assert cloudwatch_time(AT) == "2026-11-23T10:01:12.345+0000"
    assert region_name("eu-central-1") == "Europe (Frankfurt)"
    assert region_name("xx-nowhere-9") == "xx-nowhere-9"


@pytest.mark.parametrize(
    ("values", "missing", "expected"),
    [
        ([85.0], "notBreaching", "ALARM"),
        ([79.9], "notBreaching", "OK"),
        ([], "notBreaching", "OK"),
        ([], "breaching", "ALARM"),
        ([], "ignore", None),
        ([], "missing", "INSUFFICIENT_DATA"),
    ],
)
def test_alarm_state_follows_threshold_and_missing_data(
    values: list[float], missing: str, expected: str | None
) -> None:
    state, reason, observed = _state(
        alarm(TreatMissingData=missing), [(AT, v) for v in values], AT, 1
    )
    assert state == expected
    if values:
        assert observed == values[-1]
        assert f"[{values[-1]!r} (23/11/26 10:01:12)]" in reason
    if expected == "OK" and not values:
        assert "treated as [NonBreaching]" in reason


def test_emf_records_become_datapoints_per_dimension_set(
    capsys: pytest.CaptureFixture[str],
) -> None:
    provider = AmazonCloudWatchEMFProvider(namespace="GenAIRateLimiting", service="")
    provider.add_metric(name="CallerBudgetUsedPercent", unit="Percent", value=42.5)
    provider.add_dimension(name="Principal", value="arn:aws:iam::111111111111:role/app")
    provider.flush_metrics()
    lines = [*capsys.readouterr().out.splitlines(), '{"level":"INFO","message":"not EMF"}']
    points = emf_datapoints(lines)
    assert list(points) == ["GenAIRateLimiting"]
    (point,) = points["GenAIRateLimiting"]
    assert point["MetricName"] == "CallerBudgetUsedPercent"
    assert point["Value"] == 42.5
    assert point["Unit"] == "Percent"
    assert point["Dimensions"] == [
        {"Name": "Principal", "Value": "arn:aws:iam::111111111111:role/app"}
    ]


def test_bedrock_metrics_use_the_profile_id_as_model_id() -> None:
    profile = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/abc123def456"
    points = bedrock_datapoints(
        {profile: {"inputTokens": 10, "outputTokens": 4096}}, {profile: 1}, AT
    )
    names = {p["MetricName"]: p["Value"] for p in points}
    assert names == {"Invocations": 1.0, "InputTokenCount": 10.0, "OutputTokenCount": 4096.0}
    assert {p["Dimensions"][0]["Value"] for p in points} == {"abc123def456"}
