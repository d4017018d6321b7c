"""``bedrock-guard report``: Cost Explorer (botocore Stubber, realistic responses) next to the
gate's accounting in moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from bedrock_guard.cli.cost_explorer import tag_value
from tests.cli.conftest import BASE, MONTH, TABLE, World

PERIOD = {"Start": "2026-11-01", "End": "2026-12-01"}
CLAUDE = "Claude 3 Haiku (Amazon Bedrock Edition)"


@pytest.fixture
def ce() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("ce", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def dimension_values(*values: str, token: str | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "DimensionValues": [{"Value": value, "Attributes": {}} for value in values],
        "ReturnSize": len(values),
        "TotalSize": len(values),
    }
    if token:
        response["NextPageToken"] = token
    return response


def cost_page(groups: dict[str, str], *, token: str | None = None) -> dict[str, Any]:
    """A GetCostAndUsage answer grouped by one tag, in the shape Cost Explorer returns."""
    response: dict[str, Any] = {
        "GroupDefinitions": [{"Type": "TAG", "Key": "costCenter"}],
        "ResultsByTime": [
            {
                "TimePeriod": PERIOD,
                "Total": {},
                "Groups": [
                    {
                        "Keys": [keys],
                        "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}},
                    }
                    for keys, amount in groups.items()
                ],
                "Estimated": True,
            }
        ],
        "DimensionValueAttributes": [],
    }
    if token:
        response["NextPageToken"] = token
    return response


def cost_request(
    services: list[str], tag: str = "costCenter", token: str | None = None
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TimePeriod": PERIOD,
        "Granularity": "MONTHLY",
        "Metrics": ["UnblendedCost"],
        "Filter": {"Dimensions": {"Key": "SERVICE", "Values": services}},
        "GroupBy": [{"Type": "TAG", "Key": tag}],
    }
    if token:
        request["NextPageToken"] = token
    return request


def discovery_request(token: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TimePeriod": PERIOD,
        "Dimension": "SERVICE",
        "SearchString": "Bedrock",
        "Context": "COST_AND_USAGE",
    }
    if token:
        request["NextPageToken"] = token
    return request


def test_report_by_cost_center_next_to_the_gate(
    world: World, cli: Any, ce: tuple[Any, Stubber]
) -> None:
    client, stubber = ce
    # Discovery over two pages; a non-Bedrock service matching the search is left out.
    stubber.add_response(
        "get_dimension_values",
        dimension_values("Amazon Bedrock", "Amazon Bedrock AgentCore Gateway", token="p2"),
        discovery_request(),
    )
    stubber.add_response("get_dimension_values", dimension_values(CLAUDE), discovery_request("p2"))
    services = sorted(["Amazon Bedrock", CLAUDE])
    stubber.add_response(
        "get_cost_and_usage",
        cost_page({"costCenter$cc-sales": "0.80", "costCenter$": "3.5"}, token="next"),
        cost_request(services),
    )
    stubber.add_response(
        "get_cost_and_usage",
        cost_page({"costCenter$cc-marketing": "1.25"}),
        cost_request(services, token="next"),
    )

    run = cli(*BASE, "--json", "report", "--by", "costCenter", clients={"ce": client})

    assert run.code == 0, run.err
    document = run.json()
    assert {k: document[k] for k in ("table", "month", "group_by", "registry_attribute")} == {
        "table": TABLE,
        "month": MONTH,
        "group_by": "costCenter",
        "registry_attribute": "cost_center",
    }
    assert document["services"] == services
    assert (document["metric"], document["estimated"], document["units"]) == (
        "UnblendedCost",
        True,
        ["USD"],
    )
    rows = {row["value"]: row for row in document["rows"]}
    # Values sorted, the untagged / unregistered row last.
    assert [row["value"] for row in document["rows"]] == [
        "cc-marketing",
        "cc-sales",
        "cc-support",
        None,
    ]
    assert rows["cc-sales"] == {
        "value": "cc-sales",
        "cost_explorer_usd": "0.8",
        "gate_usd": "0.75",  # alice; the app role (also cc-sales) used nothing
        "gate_callers": 1,
        "difference_usd": "0.05",
    }
    assert rows["cc-support"]["cost_explorer_usd"] is None
    # Cost Explorer has no figure for it: no difference is made up.
    assert (rows["cc-support"]["gate_usd"], rows["cc-support"]["difference_usd"]) == ("0.2", None)
    assert rows[None]["gate_usd"] == "0.001"  # the unregistered API-key caller
    assert rows[None]["cost_explorer_usd"] == "3.5"
    assert rows["cc-marketing"]["gate_callers"] == 0
    assert document["totals"] == {
        "cost_explorer_usd": "5.55",
        "gate_usd": "0.951",
        "difference_usd": "4.599",
    }


def test_report_by_application_with_named_services_skips_discovery(
    world: World, cli: Any, ce: tuple[Any, Stubber]
) -> None:
    client, stubber = ce
    stubber.add_response(
        "get_cost_and_usage",
        cost_page({"applicationId$sales-bot": "2"}),
        cost_request(["Amazon Bedrock", CLAUDE], tag="applicationId"),
    )

    run = cli(
        *BASE,
        "report",
        "--by",
        "applicationId",
        "--month",
        MONTH,
        "--service",
        CLAUDE,
        "--service",
        "Amazon Bedrock",
        "--no-color",
        clients={"ce": client},
    )

    assert run.code == 0, run.err
    assert "sales-bot" in run.out and "support-bot" in run.out
    assert "$2.00" in run.out and "$0.75" in run.out
    assert "estimated" in run.out


def test_report_services_from_terraform_outputs(
    world: World, cli: Any, ce: tuple[Any, Stubber], tmp_path: Any
) -> None:
    client, stubber = ce
    stubber.add_response(
        "get_cost_and_usage",
        cost_page({}),
        cost_request([CLAUDE], tag="environment"),
    )
    outputs = tmp_path / "outputs.json"
    outputs.write_text(
        json.dumps(
            {
                "table_name": {"sensitive": False, "type": "string", "value": TABLE},
                "bedrock_service_names": {
                    "sensitive": False,
                    "type": ["list", "string"],
                    "value": [CLAUDE],
                },
            }
        )
    )

    run = cli(
        "--region",
        "us-east-1",
        "--tf-outputs",
        str(outputs),
        "--json",
        "report",
        "--by",
        "environment",
        clients={"ce": client},
    )

    assert run.code == 0, run.err
    rows = run.json()["rows"]
    assert rows == [
        {
            "value": "dev",
            "cost_explorer_usd": None,
            "gate_usd": "0.95",
            "gate_callers": 2,
            "difference_usd": None,
        },
        {
            "value": None,
            "cost_explorer_usd": None,
            "gate_usd": "0.001",
            "gate_callers": 1,
            "difference_usd": None,
        },
    ]


def test_report_when_discovery_is_denied(world: World, cli: Any, ce: tuple[Any, Stubber]) -> None:
    client, stubber = ce
    stubber.add_client_error(
        "get_dimension_values",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform: ce:GetDimensionValues",
        http_status_code=400,
    )

    run = cli(*BASE, "report", "--by", "costCenter", clients={"ce": client})

    assert run.code == 3
    assert "ce:GetDimensionValues" in run.err and "--service" in run.err


def test_report_when_cost_explorer_is_denied(
    world: World, cli: Any, ce: tuple[Any, Stubber]
) -> None:
    client, stubber = ce
    stubber.add_client_error(
        "get_cost_and_usage",
        service_error_code="AccessDeniedException",
        service_message="not authorized",
        http_status_code=400,
    )

    run = cli(
        *BASE, "report", "--by", "costCenter", "--service", "Amazon Bedrock", clients={"ce": client}
    )

    assert run.code == 3
    assert "access denied: your credentials may not call ce:GetCostAndUsage" in run.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--by", "team"), "argument --by: invalid choice: 'team'"),
        (("--by", "costCenter", "--month", "2026-12"), "2026-12 is in the future"),
        (("--by", "costCenter", "--month", "11-2026"), "is not a month"),
        (("--by", "costCenter", "--service", " "), "service names must be non-empty"),
        ((), "give --by TAG (Cost Explorer next to the gate) and/or --html FILE"),
    ],
)
def test_report_usage_errors(
    world: World, cli: Any, ce: tuple[Any, Stubber], args: tuple[str, ...], message: str
) -> None:
    client, _ = ce  # no response queued: any Cost Explorer request would fail the test
    run = cli(*BASE, "report", *args, clients={"ce": client})

    assert run.code == 2
    assert message in run.err


def test_tag_value_of_a_group_key() -> None:
    assert tag_value("costCenter$sales", "costCenter") == "sales"
    assert tag_value("costCenter$", "costCenter") is None
    assert tag_value("costCenter$a$b", "costCenter") == "a$b"


def test_no_cost_explorer_figure_reads_n_a_not_a_difference() -> None:
    import io
    from decimal import Decimal

    from bedrock_guard.cli import report as report_command
    from bedrock_guard.cli.months import Month
    from bedrock_guard.cli.output import Output
    from bedrock_guard.cli.table_reader import Amounts, CallerMonth

    caller = CallerMonth(
        "arn:aws:iam::123456789012:user/alice",
        profile={"cost_center": "cc-sales"},
        month=Amounts(100, Decimal("0.1212")),
        has_usage=True,
    )
    document = report_command.report_document(
        TABLE,
        month=Month(2026, 11),
        tag_key="costCenter",
        services=["Amazon Bedrock"],
        callers=[caller],
        cost_explorer={},
    )
    document["estimated"] = False
    stdout = io.StringIO()
    report_command.render(Output(no_color=True, stdout=stdout, stderr=io.StringIO()), document)

    text = stdout.getvalue()
    assert "$0.1212" in text
    assert "-0.1212" not in text and "$-" not in text
    row = next(line for line in text.splitlines() if "cc-sales" in line)
    assert row.count("n/a") == 2  # Cost Explorer and the difference
