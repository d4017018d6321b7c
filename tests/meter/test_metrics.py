"""The usage meter's EMF record: what a delivery and a release publish, with which dimensions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from aws_lambda_powertools import Metrics

from bedrock_guard.meter import metrics as meter_metrics
from bedrock_guard.meter.service import MeterReport

SERVICE = "probe-meter"


@pytest.fixture
def probe() -> Iterator[Metrics]:
    metrics = Metrics(namespace="Probe", service=SERVICE)
    metrics.clear_metrics()
    yield metrics
    metrics.clear_metrics()


def published(metrics: Metrics) -> dict[str, Any]:
    """Metric name -> value of the record Powertools would write, checking each metric carries
    exactly the service dimension."""
    record = metrics.serialize_metric_set()
    for directive in record["_aws"]["CloudWatchMetrics"]:
        assert directive["Dimensions"] == [["service"]]
    assert record["service"] == SERVICE
    # Powertools writes each value as a list (a metric may be added more than once).
    return {
        metric["Name"]: sum(record[metric["Name"]])
        for directive in record["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    }


def test_a_delivery_publishes_direct_tokens_and_dollars_and_what_went_wrong(
    probe: Metrics,
) -> None:
    report = MeterReport(
        direct_tokens=Counter({"arn:aws:iam::123456789012:role/a": 300, "apikey:k": 200}),
        direct_usd=Decimal("0.012345"),
        locks_placed=2,
        unpriced=1,
    )
    meter_metrics.record_delivery(probe, rejected=3, report=report)
    assert published(probe) == {
        meter_metrics.DIRECT_TOKENS: 500.0,
        meter_metrics.DIRECT_COST_USD: 0.012345,
        meter_metrics.RECORDS_REJECTED: 3.0,
        meter_metrics.UNPRICED_RECORDS: 1.0,
        meter_metrics.WINDOW_LOCKS: 2.0,
    }


def test_a_quiet_delivery_publishes_zero_use_and_no_exception_counters(probe: Metrics) -> None:
    meter_metrics.record_delivery(probe, rejected=0, report=MeterReport())
    assert published(probe) == {
        meter_metrics.DIRECT_TOKENS: 0.0,
        meter_metrics.DIRECT_COST_USD: 0.0,
    }


def test_a_release_publishes_the_locks_it_released(probe: Metrics) -> None:
    meter_metrics.record_release(probe, 4)
    assert published(probe) == {meter_metrics.WINDOW_LOCKS_RELEASED: 4.0}
