"""The alarm-enforcer module's lock audit and health alarms match what the function does: the
schedule invokes it with the event its handler tells from SNS, and the alarms watch the metric
names and the service dimension the function publishes."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bedrock_guard.enforcer import metrics
from bedrock_guard.enforcer.drift import SCHEDULE_DETAIL_TYPE, SCHEDULE_SOURCE
from tests.terraform.tfload import REPO, TfModule, load_module

MODULE_PATH = REPO / "modules" / "alarm-enforcer"


@pytest.fixture(scope="module")
def enforcer() -> TfModule:
    return load_module(MODULE_PATH)


def _resource(module: TfModule, kind: str, name: str) -> dict[str, Any]:
    return module.resources[(kind, name)].body


def test_the_schedule_invokes_the_function_with_a_scheduled_event(enforcer: TfModule) -> None:
    rule = _resource(enforcer, "aws_cloudwatch_event_rule", "audit")
    target = _resource(enforcer, "aws_cloudwatch_event_target", "audit")
    assert rule["schedule_expression"] == "${var.lock_audit_schedule}"
    assert "event_pattern" not in rule  # a schedule sends source aws.events, "Scheduled Event"
    assert target["rule"] == "${aws_cloudwatch_event_rule.audit.name}"
    assert target["arn"] == "${aws_lambda_function.this.arn}"
    assert "input" not in target  # the handler recognises EventBridge's own event
    assert (SCHEDULE_SOURCE, SCHEDULE_DETAIL_TYPE) == ("aws.events", "Scheduled Event")


@pytest.mark.parametrize(
    ("alarm", "metric"),
    [("lock_drift", metrics.LOCK_DRIFT), ("lock_incomplete", metrics.LOCK_INCOMPLETE)],
)
def test_health_alarms_watch_what_the_function_publishes(
    enforcer: TfModule, alarm: str, metric: str
) -> None:
    body = _resource(enforcer, "aws_cloudwatch_metric_alarm", alarm)
    assert body["metric_name"] == metric
    assert body["namespace"] == "${var.metrics_namespace}"
    assert body["dimensions"] == {"service": "${var.service_name}"}
    assert body["comparison_operator"] == "GreaterThanThreshold"
    assert body["threshold"] == 0
    assert body["alarm_actions"] == "${var.health_alarm_actions}"


def test_schedule_validation_accepts_rate_and_cron_only(enforcer: TfModule) -> None:
    validation = enforcer.variables["lock_audit_schedule"].body["validation"]
    condition = str(validation[0]["condition"])
    pattern = re.search(r'regex\("(.+)", var\.lock_audit_schedule\)', condition)
    assert pattern, condition
    regex = re.compile(pattern[1].replace("\\\\", "\\"))
    for good in ("rate(1 day)", "rate(12 hours)", "cron(0 6 * * ? *)"):
        assert regex.match(good), good
    for bad in ("daily", "rate(0 days)", "rate(1 week)", "at(2026-01-01T00:00:00)"):
        assert not regex.match(bad), bad
