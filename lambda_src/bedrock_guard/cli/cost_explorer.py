"""Bedrock spend from Cost Explorer, grouped by one cost allocation tag.

Bedrock is billed under more than one SERVICE value: ``Amazon Bedrock`` for Amazon's own models
and those Bedrock bills directly, and one ``<model> (Amazon Bedrock Edition)`` service per
third-party model sold through AWS Marketplace (Claude among them). GetCostAndUsage matches
SERVICE values exactly, so the filter lists them; by default they are discovered for the month
with GetDimensionValues. Every Cost Explorer request is billed (USD 0.01 each).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from bedrock_guard.cli.months import Month

BEDROCK_SERVICE: Final = "Amazon Bedrock"
MARKETPLACE_SUFFIX: Final = "(Amazon Bedrock Edition)"
METRIC: Final = "UnblendedCost"
_SEARCH: Final = "Bedrock"


def is_bedrock_service(name: str) -> bool:
    """Whether a Cost Explorer SERVICE value is Bedrock spend."""
    return name == BEDROCK_SERVICE or name.endswith(MARKETPLACE_SUFFIX)


def _period(month: Month) -> dict[str, str]:
    return {"Start": month.start.isoformat(), "End": month.end.isoformat()}


def discover_services(ce: Any, month: Month) -> list[str]:
    """The Bedrock SERVICE values with cost in ``month``, ``Amazon Bedrock`` always included."""
    names = {BEDROCK_SERVICE}
    token: str | None = None
    while True:
        params: dict[str, Any] = {
            "TimePeriod": _period(month),
            "Dimension": "SERVICE",
            "SearchString": _SEARCH,
            "Context": "COST_AND_USAGE",
        }
        if token:
            params["NextPageToken"] = token
        response = ce.get_dimension_values(**params)
        names.update(
            value["Value"]
            for value in response.get("DimensionValues", [])
            if is_bedrock_service(str(value.get("Value", "")))
        )
        token = response.get("NextPageToken")
        if not token:
            return sorted(names)


@dataclass(frozen=True, slots=True)
class TagCosts:
    """Cost per tag value (``None``: resources without the tag)."""

    by_value: dict[str | None, Decimal] = field(default_factory=dict)
    estimated: bool = False
    units: frozenset[str] = frozenset()


def tag_value(group_key: str, tag_key: str) -> str | None:
    """``costCenter$sales`` -> ``sales``; ``costCenter$`` (untagged) -> ``None``."""
    value = group_key.removeprefix(f"{tag_key}$")
    return value or None


def costs_by_tag(ce: Any, month: Month, tag_key: str, services: Iterable[str]) -> TagCosts:
    """GetCostAndUsage for ``month``, filtered to ``services``, grouped by tag ``tag_key``."""
    totals: dict[str | None, Decimal] = {}
    estimated = False
    units: set[str] = set()
    token: str | None = None
    while True:
        params: dict[str, Any] = {
            "TimePeriod": _period(month),
            "Granularity": "MONTHLY",
            "Metrics": [METRIC],
            "Filter": {"Dimensions": {"Key": "SERVICE", "Values": sorted(set(services))}},
            "GroupBy": [{"Type": "TAG", "Key": tag_key}],
        }
        if token:
            params["NextPageToken"] = token
        response = ce.get_cost_and_usage(**params)
        for result in response.get("ResultsByTime", []):
            estimated = estimated or bool(result.get("Estimated", False))
            for group in result.get("Groups", []):
                value = tag_value(str(group["Keys"][0]), tag_key)
                metric = group.get("Metrics", {}).get(METRIC, {})
                totals[value] = totals.get(value, Decimal(0)) + Decimal(
                    str(metric.get("Amount", "0"))
                )
                if metric.get("Unit"):
                    units.add(str(metric["Unit"]))
        token = response.get("NextPageToken")
        if not token:
            return TagCosts(totals, estimated, frozenset(units))
