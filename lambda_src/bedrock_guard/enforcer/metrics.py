"""The enforcer's CloudWatch metrics (EMF through Powertools: no API call per metric).

Plain counters share the function's default dimensions; counters broken down by a reason or an
action are emitted as their own single-dimension series, so an alarm on ``Refused`` by
``Reason=protected`` needs no other dimension to match.
"""

from __future__ import annotations

import os
from typing import Final

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

NAMESPACE: Final = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "GenAIRateLimiting"

MESSAGES: Final = "Messages"
LOCKS: Final = "Locks"
RELEASES: Final = "Releases"
REFUSED: Final = "Refused"
DROPPED: Final = "Dropped"
DRY_RUN: Final = "DryRun"
STALE: Final = "StaleMessages"
REPLAYS: Final = "Replays"
LOCK_INCOMPLETE: Final = "LockIncomplete"
FAILED: Final = "Failures"
# Principals whose IAM attachment, lock and gate marks disagree, counted by the daily audit.
LOCK_DRIFT: Final = "LockDrift"
# A message whose Trigger names other principals than the alarm it claims to come from.
TRIGGER_MISMATCH: Final = "TriggerMismatch"

metrics = Metrics(namespace=NAMESPACE)


def count(name: str, value: int = 1) -> None:
    """Add to a counter flushed with the invocation's other metrics."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def count_by(name: str, dimension: str, value: str) -> None:
    """Emit one count of ``name`` with a single dimension (e.g. ``Reason``) right away."""
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as metric:
        metric.add_dimension(name=dimension, value=value)
