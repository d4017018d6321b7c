"""The usage meter's LockIncomplete alarm: it watches what the meter's lock path publishes (the
enforcer's metric under the meter's service), notifies whom the enforcer's alarm notifies, and
can never make the enforcer lock anyone; the meter's timeout fits a large delivery."""

from __future__ import annotations

from typing import Any

import pytest

from bedrock_guard.enforcer import metrics
from bedrock_guard.enforcer.config import DEFAULT_PRINCIPAL_DIMENSION
from tests.terraform.test_environments import DEV
from tests.terraform.tfload import REPO, TfModule, load_module

ALARM = ("aws_cloudwatch_metric_alarm", "lock_incomplete")


@pytest.fixture(scope="module")
def meter() -> TfModule:
    return load_module(REPO / "modules" / "usage-meter")


@pytest.fixture(scope="module")
def enforcer() -> TfModule:
    return load_module(REPO / "modules" / "alarm-enforcer")


def _alarm(module: TfModule) -> dict[str, Any]:
    return module.resources[ALARM].body


def test_it_watches_the_metric_the_meters_lock_path_publishes(meter: TfModule) -> None:
    body = _alarm(meter)
    environment = str(meter.resources[("aws_lambda_function", "this")].body["environment"])
    # Powertools' namespace and service dimension are the function's own.
    assert "POWERTOOLS_SERVICE_NAME = var.service_name" in environment
    assert "POWERTOOLS_METRICS_NAMESPACE = var.metrics_namespace" in environment
    assert body["metric_name"] == metrics.LOCK_INCOMPLETE
    assert body["namespace"] == "${var.metrics_namespace}"
    assert body["dimensions"] == {"service": "${var.service_name}"}


def test_it_alarms_as_the_enforcers_alarm_does(meter: TfModule, enforcer: TfModule) -> None:
    same = ("statistic", "period", "evaluation_periods", "threshold", "comparison_operator")
    assert {k: _alarm(meter)[k] for k in (*same, "treat_missing_data")} == {
        k: _alarm(enforcer)[k] for k in (*same, "treat_missing_data")
    }
    # Both are "<module name>-lock-incomplete": the environments give the modules different names.
    assert _alarm(meter)["alarm_name"] == _alarm(enforcer)["alarm_name"]
    assert DEV.modules["usage_meter"].body["name"] != DEV.modules["alarm_enforcer"].body["name"]


def test_it_notifies_the_enforcers_health_actions_never_its_lockout_topic(
    meter: TfModule, enforcer: TfModule
) -> None:
    body = _alarm(meter)
    assert body["alarm_actions"] == body["ok_actions"] == "${var.health_alarm_actions}"
    assert enforcer.outputs["health_alarm_actions"].body["value"] == "${var.health_alarm_actions}"
    wired = DEV.modules["usage_meter"].body["health_alarm_actions"]
    assert wired == "${module.alarm_enforcer.health_alarm_actions}"
    assert "sns_topic" not in wired
    # Even delivered to the enforcer, it names nobody: no principal dimension, no tag of its own.
    assert DEFAULT_PRINCIPAL_DIMENSION not in body["dimensions"]
    assert body["tags"] == "${var.tags}"


def test_the_default_timeout_fits_a_large_delivery(meter: TfModule) -> None:
    timeout = meter.variables["timeout"].body
    assert timeout["default"] >= 300
    condition = str(timeout["validation"][0]["condition"])
    assert "var.timeout <= 900" in condition  # Lambda's own maximum
    assert meter.outputs["lock_incomplete_alarm_arn"].body["value"] == (
        "${aws_cloudwatch_metric_alarm.lock_incomplete.arn}"
    )
