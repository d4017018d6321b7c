"""The gate's CloudWatch metrics, written as Embedded Metric Format to stdout (no API call).

Each request's metrics go out in one EMF record whose ``Dimensions`` array holds one set per
dimension (``[["service"], ["Model"], ["CostCenter"], ["Application"], ["Environment"]]``), so
CloudWatch keeps one series per dimension value and the count grows with the sum of the
cardinalities, not their product; ``METRICS_COMBINED_DIMENSIONS=true`` adds the combined set.
The ``service`` set is Powertools' constant per-function total.

Dimension values come only from the registry (CostCenter, Application, Environment) or the
model allowlist (Model): callers without a registry entry are ``unregistered``, registered ones
without the attribute ``unset``. Request tags are never dimension values. Requests refused
before the caller and model are known (no identity, malformed body) are counted in the
``service`` set only.

``CallerBudgetUsedPercent`` is a separate record with exactly one dimension, ``Principal``, and
is written only for registered callers, so its series stay bounded by the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

from bedrock_guard.core.pricing import TokenUsage
from bedrock_guard.gate.usage_store import Profile

UNREGISTERED: Final = "unregistered"
UNSET: Final = "unset"
INVALID: Final = "invalid"
MAX_DIMENSION_VALUE_CHARS: Final = 256
DIMENSION_NAMES: Final = ("Model", "CostCenter", "Application", "Environment")
PRINCIPAL_DIMENSION: Final = "Principal"
CALLER_BUDGET_METRIC: Final = "CallerBudgetUsedPercent"


@dataclass(frozen=True, slots=True)
class Dimensions:
    """Bounded dimension values of one request."""

    model: str
    cost_center: str
    application: str
    environment: str

    def as_dict(self) -> dict[str, str]:
        return dict(
            zip(
                DIMENSION_NAMES,
                (self.model, self.cost_center, self.application, self.environment),
                strict=True,
            )
        )


def _bounded(value: str | None) -> str:
    if value is None:
        return UNSET
    if len(value) > MAX_DIMENSION_VALUE_CHARS or not value.strip():
        return INVALID
    return value


def dimensions_for(model_alias: str, profile: Profile) -> Dimensions:
    """Dimensions from the allowlisted alias and the registry, never from the request body."""
    if not profile.registered:
        return Dimensions(model_alias, UNREGISTERED, UNREGISTERED, UNREGISTERED)
    return Dimensions(
        model=model_alias,
        cost_center=_bounded(profile.text("cost_center")),
        application=_bounded(profile.text("application")),
        environment=_bounded(profile.text("environment")),
    )


@dataclass(slots=True)
class RequestFacts:
    """What one request contributes to the metrics; filled in as the request proceeds."""

    dimensions: Dimensions | None = None
    approved: bool = False
    denied: bool = False
    failed: bool = False
    usage: TokenUsage | None = None
    cost_usd: Decimal | None = None
    principal: str | None = None
    budget_used_percent: Decimal | None = None
    settle_failed: bool = False


def record_request(metrics: Metrics, facts: RequestFacts, *, combined: bool) -> None:
    """Add the request's metrics and dimension sets; ``@metrics.log_metrics`` writes them."""
    metrics.add_metric(name="TotalRequests", unit=MetricUnit.Count, value=1)
    if facts.approved:
        metrics.add_metric(name="RateLimitApproved", unit=MetricUnit.Count, value=1)
    if facts.denied:
        metrics.add_metric(name="RateLimitDenied", unit=MetricUnit.Count, value=1)
    if facts.failed:
        metrics.add_metric(name="InvocationFailed", unit=MetricUnit.Count, value=1)
    if facts.settle_failed:
        metrics.add_metric(name="SettleFailed", unit=MetricUnit.Count, value=1)
    if facts.usage is not None:
        metrics.add_metric(
            name="InputTokens", unit=MetricUnit.Count, value=facts.usage.prompt_tokens
        )
        metrics.add_metric(
            name="OutputTokens", unit=MetricUnit.Count, value=facts.usage.output_tokens
        )
    if facts.cost_usd is not None:
        metrics.add_metric(name="CostUsd", unit=MetricUnit.NoUnit, value=float(facts.cost_usd))
    if facts.dimensions is None:
        return
    values = facts.dimensions.as_dict()
    for name, value in values.items():
        metrics.add_dimensions(**{name: value})
    if combined:
        metrics.add_dimensions(**values)


def publish_caller_budget(namespace: str, principal: str, percent: Decimal) -> None:
    """Write ``CallerBudgetUsedPercent`` for one registered caller as its own EMF record.

    A provider of its own with an empty service keeps ``Principal`` the only dimension, which
    is what the per-caller alarms select on.
    """
    provider = AmazonCloudWatchEMFProvider(namespace=namespace, service="")
    provider.add_metric(name=CALLER_BUDGET_METRIC, unit=MetricUnit.Percent, value=float(percent))
    provider.add_dimension(name=PRINCIPAL_DIMENSION, value=principal)
    provider.flush_metrics()
