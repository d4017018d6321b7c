"""The usage meter's CloudWatch metrics: EMF through Powertools, no API call per record.

Every metric carries only the function's default dimension (Powertools' ``service``), in the
function's namespace: the dashboard plots them by that one dimension set, and a per-caller
series would be a billed custom metric per principal (the invocation log already names callers,
and the dashboard's Logs Insights table ranks them).
"""

from __future__ import annotations

from typing import Final

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from bedrock_guard.meter.service import MeterReport

DIRECT_TOKENS: Final = "DirectTokens"
DIRECT_COST_USD: Final = "DirectCostUsd"
RECORDS_REJECTED: Final = "RecordsRejected"
UNPRICED_RECORDS: Final = "UnpricedRecords"
WINDOW_LOCKS: Final = "WindowLocks"
WINDOW_LOCKS_RELEASED: Final = "WindowLocksReleased"


def record_delivery(metrics: Metrics, *, rejected: int, report: MeterReport) -> None:
    """One subscription delivery. Direct use is published even when zero, so that a quiet
    period plots as zero rather than as a gap; the exception counters only when they occur."""
    metrics.add_metric(
        name=DIRECT_TOKENS, unit=MetricUnit.Count, value=sum(report.direct_tokens.values())
    )
    # USD as a plain number, like the gate's CostUsd: CloudWatch has no currency unit.
    metrics.add_metric(name=DIRECT_COST_USD, unit=MetricUnit.NoUnit, value=float(report.direct_usd))
    if rejected:
        metrics.add_metric(name=RECORDS_REJECTED, unit=MetricUnit.Count, value=rejected)
    if report.unpriced:
        metrics.add_metric(name=UNPRICED_RECORDS, unit=MetricUnit.Count, value=report.unpriced)
    if report.locks_placed:
        metrics.add_metric(name=WINDOW_LOCKS, unit=MetricUnit.Count, value=report.locks_placed)


def record_release(metrics: Metrics, released: int) -> None:
    """One scheduled release of window locks whose day or month has ended."""
    metrics.add_metric(name=WINDOW_LOCKS_RELEASED, unit=MetricUnit.Count, value=released)
