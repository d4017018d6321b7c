"""EMF output: one dimension set per dimension, bounded values, the per-caller budget series."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from bedrock_guard.gate.metrics import CALLER_BUDGET_METRIC
from tests.gate.conftest import ROLE, Gate, request_body

SEPARATE_SETS = [["service"], ["Model"], ["CostCenter"], ["Application"], ["Environment"]]
FREE_TEXT = {"applicationId": "free-text-app-9f3", "costCenter": "free-text-cc-9f3"}


def emf_records(output: str) -> list[dict[str, Any]]:
    records = []
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            records.append(json.loads(line))
    return records


def split(records: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The request record and the per-caller records."""
    requests = [r for r in records if "TotalRequests" in r]
    callers = [r for r in records if CALLER_BUDGET_METRIC in r]
    assert len(requests) == 1
    assert len(requests) + len(callers) == len(records)
    return requests[0], callers


def definition(record: dict[str, Any]) -> dict[str, Any]:
    (metrics,) = record["_aws"]["CloudWatchMetrics"]
    assert metrics["Namespace"] == "GenAIRateLimiting"
    return dict(metrics)


def test_allowed_request_of_a_registered_caller(
    gate: Gate, capsys: pytest.CaptureFixture[str]
) -> None:
    gate.register(
        ROLE, tier="standard", cost_center="cc-42", application="spend-reports", environment="prod"
    )
    gate.bedrock.reply(input_tokens=12, output_tokens=6)
    assert gate.invoke(request_body(tags=FREE_TEXT))[0] == 200
    request, callers = split(emf_records(capsys.readouterr().out))

    spec = definition(request)
    assert spec["Dimensions"] == SEPARATE_SETS
    assert {m["Name"] for m in spec["Metrics"]} == {
        "TotalRequests",
        "RateLimitApproved",
        "InputTokens",
        "OutputTokens",
        "CostUsd",
    }
    assert (request["Model"], request["CostCenter"]) == ("claude-3-haiku", "cc-42")
    assert (request["Application"], request["Environment"]) == ("spend-reports", "prod")
    assert (request["InputTokens"], request["OutputTokens"]) == ([12.0], [6.0])
    assert request["CostUsd"] == [pytest.approx(0.0000105)]
    # Free text from the request never becomes a dimension value.
    assert not {v for v in request.values() if isinstance(v, str)} & set(FREE_TEXT.values())

    (caller,) = callers
    assert definition(caller)["Dimensions"] == [["Principal"]]
    assert definition(caller)["Metrics"] == [{"Name": CALLER_BUDGET_METRIC, "Unit": "Percent"}]
    assert caller["Principal"] == ROLE
    # Highest window: 18 of 20000 daily tokens = 0.09 %.
    assert caller[CALLER_BUDGET_METRIC] == [pytest.approx(0.09)]


def test_unregistered_caller_has_bounded_values_and_no_caller_series(
    gate: Gate, capsys: pytest.CaptureFixture[str]
) -> None:
    gate.bedrock.reply()
    assert gate.invoke(request_body(tags=FREE_TEXT))[0] == 200
    request, callers = split(emf_records(capsys.readouterr().out))
    assert [request[d] for d in ("CostCenter", "Application", "Environment")] == [
        "unregistered"
    ] * 3
    assert callers == []


def test_registered_caller_without_attributes_is_unset(
    gate: Gate, capsys: pytest.CaptureFixture[str]
) -> None:
    gate.register(ROLE, tier="standard")
    gate.bedrock.reply()
    assert gate.invoke(request_body())[0] == 200
    request, _ = split(emf_records(capsys.readouterr().out))
    assert request["CostCenter"] == request["Environment"] == "unset"


def test_denied_request_counts_and_reports_the_budget(
    gate: Gate, capsys: pytest.CaptureFixture[str]
) -> None:
    gate.register(ROLE, tier="standard", cost_center="cc-42")
    gate.fill(ROLE, d23_tokens=19990, month_tokens=19990)
    assert gate.invoke(request_body())[0] == 429
    request, (caller,) = split(emf_records(capsys.readouterr().out))
    names = {m["Name"] for m in definition(request)["Metrics"]}
    assert names == {"TotalRequests", "RateLimitDenied"}
    assert caller[CALLER_BUDGET_METRIC] == [pytest.approx(99.95)]


def test_bedrock_failure_counts_as_approved_and_failed(
    gate: Gate, capsys: pytest.CaptureFixture[str]
) -> None:
    gate.bedrock.fail("InternalServerException", 500)
    assert gate.invoke(request_body())[0] == 502
    request, _ = split(emf_records(capsys.readouterr().out))
    names = {m["Name"] for m in definition(request)["Metrics"]}
    assert names == {"TotalRequests", "RateLimitApproved", "InvocationFailed"}


def test_malformed_request_is_counted_in_the_service_set_only(
    gate: Gate, capsys: pytest.CaptureFixture[str]
) -> None:
    assert gate.invoke(raw="not json")[0] == 400
    request, callers = split(emf_records(capsys.readouterr().out))
    assert definition(request)["Dimensions"] == [["service"]]
    assert "Model" not in request
    assert callers == []


def test_combined_set_is_opt_in(
    make_gate: Callable[..., Gate], capsys: pytest.CaptureFixture[str]
) -> None:
    gate = make_gate(METRICS_COMBINED_DIMENSIONS="true")
    gate.bedrock.reply()
    assert gate.invoke(request_body())[0] == 200
    request, _ = split(emf_records(capsys.readouterr().out))
    assert definition(request)["Dimensions"] == [
        *SEPARATE_SETS,
        ["Model", "CostCenter", "Application", "Environment"],
    ]


def test_dimension_sets_do_not_leak_between_requests(
    gate: Gate, capsys: pytest.CaptureFixture[str]
) -> None:
    gate.bedrock.reply()
    gate.bedrock.reply()
    gate.invoke(request_body())
    gate.invoke(request_body(model="nova-micro"))
    records = [r for r in emf_records(capsys.readouterr().out) if "TotalRequests" in r]
    assert [r["Model"] for r in records] == ["claude-3-haiku", "nova-micro"]
    assert all(definition(r)["Dimensions"] == SEPARATE_SETS for r in records)


def test_caller_metrics_can_be_turned_off(
    make_gate: Callable[..., Gate], capsys: pytest.CaptureFixture[str]
) -> None:
    gate = make_gate(CALLER_METRICS="false")
    gate.register(ROLE, tier="standard", cost_center="cc-42")
    gate.bedrock.reply()
    assert gate.invoke(request_body())[0] == 200
    request, callers = split(emf_records(capsys.readouterr().out))
    assert callers == []
    assert "TotalRequests" in {m["Name"] for m in definition(request)["Metrics"]}
