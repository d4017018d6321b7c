"""``bedrock-guard report --by TAG``: Cost Explorer's Bedrock spend per cost allocation tag value,
next to the token gate's own accounting for the same month summed by the matching registry
attribute."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from typing import Any, Final

from botocore.exceptions import ClientError

from bedrock_guard.cli.context import Context
from bedrock_guard.cli.cost_explorer import METRIC, costs_by_tag, discover_services
from bedrock_guard.cli.errors import ACCESS_DENIED_CODES, CliError, ExitCode
from bedrock_guard.cli.formats import usd
from bedrock_guard.cli.months import Month, current_month, parse_month
from bedrock_guard.cli.output import Column, Output
from bedrock_guard.cli.table_reader import CallerMonth, read_month
from bedrock_guard.core.aws_errors import error_code

# Cost allocation tag (as the aip-tenant module tags inference profiles) -> registry attribute.
GROUPS: Final = {
    "costCenter": "cost_center",
    "applicationId": "application",
    "environment": "environment",
}
SERVICES_OUTPUT: Final = "bedrock_service_names"
NO_FIGURE: Final = "n/a"  # a side with no figure for a value: no amount, and no difference
MAX_SERVICE_CHARS: Final = 1024

HELP: Final = "Cost Explorer Bedrock spend by cost tag, next to the gate's own accounting"
DESCRIPTION: Final = f"""\
Cost Explorer GetCostAndUsage ({METRIC}, monthly) for the month, filtered to the Bedrock
SERVICE values and grouped by the cost allocation tag, next to the gate's USD for the same
month summed by the registry attribute that corresponds (costCenter -> cost_center,
applicationId -> application, environment -> environment).

The two differ by design: Cost Explorer lags by up to a day and counts every Bedrock call
billed with the tag (also calls that bypass the gate); the gate counts calls through it at its
price table, requests in flight included. The tag must be an active cost allocation tag.

Bedrock services: --service (repeatable), else the bedrock_service_names Terraform output,
else discovered for the month with GetDimensionValues ("Amazon Bedrock" and every
"<model> (Amazon Bedrock Edition)"). Each Cost Explorer request costs USD 0.01."""


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "report",
        help=HELP,
        description=DESCRIPTION,
        parents=parents,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--by", required=True, choices=sorted(GROUPS), help="cost allocation tag")
    parser.add_argument(
        "--month", type=parse_month, help="UTC month YYYY-MM (default: the current month)"
    )
    parser.add_argument(
        "--service",
        action="append",
        metavar="NAME",
        help="a Cost Explorer SERVICE value to include (repeatable; skips discovery)",
    )
    parser.set_defaults(run=run)


def run(ctx: Context, args: argparse.Namespace, out: Output) -> int:
    this_month = current_month()
    month: Month = args.month or this_month
    if (month.year, month.number) > (this_month.year, this_month.number):
        raise CliError(f"{month} is in the future: Cost Explorer has no data yet", ExitCode.USAGE)
    configured = _configured_services(ctx, args.service)
    table = ctx.table_name()  # settings are checked before the first (billed) request

    callers = read_month(ctx.client("dynamodb"), table, str(month))
    ce = ctx.client("ce")
    services = configured if configured is not None else _discover(ce, month)
    spend = costs_by_tag(ce, month, args.by, services)
    document = report_document(
        table,
        month=month,
        tag_key=args.by,
        services=services,
        callers=callers,
        cost_explorer=spend.by_value,
    )
    document["estimated"] = spend.estimated
    document["units"] = sorted(spend.units)
    if out.as_json:
        out.json(document)
    else:
        render(out, document)
    return ExitCode.OK


def _configured_services(ctx: Context, flags: list[str] | None) -> list[str] | None:
    if flags:
        names = [name.strip() for name in flags]
        source = "--service"
    elif SERVICES_OUTPUT in ctx.tf_outputs:
        value = ctx.tf_outputs[SERVICES_OUTPUT]
        if isinstance(value, str):  # an output holding jsonencode()d text
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                value = None
        if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
            raise CliError(
                f"terraform output {SERVICES_OUTPUT} must be a list of service names",
                ExitCode.USAGE,
            )
        names = [name.strip() for name in value]
        source = f"terraform output {SERVICES_OUTPUT}"
    else:
        return None
    if not names or any(not n or len(n) > MAX_SERVICE_CHARS for n in names):
        raise CliError(f"{source}: service names must be non-empty", ExitCode.USAGE)
    return sorted(set(names))


def _discover(ce: Any, month: Month) -> list[str]:
    try:
        return discover_services(ce, month)
    except ClientError as error:
        if error_code(error) in ACCESS_DENIED_CODES:
            raise CliError(
                "access denied: your credentials may not call ce:GetDimensionValues; allow it "
                "or name the Bedrock services with --service",
                ExitCode.ACCESS,
            ) from error
        raise


def gate_totals(
    callers: list[CallerMonth], attribute: str
) -> dict[str | None, tuple[Decimal, int]]:
    """The gate's month USD and number of callers per registry attribute value."""
    totals: dict[str | None, tuple[Decimal, int]] = {}
    for caller in callers:
        if not caller.has_usage:
            continue
        value = caller.attribute(attribute)
        usd, count = totals.get(value, (Decimal(0), 0))
        totals[value] = (usd + caller.month.usd, count + 1)
    return totals


def report_document(
    table: str,
    *,
    month: Month,
    tag_key: str,
    services: list[str],
    callers: list[CallerMonth],
    cost_explorer: dict[str | None, Decimal],
) -> dict[str, Any]:
    """Rows per tag value: Cost Explorer USD, gate USD (``None`` when a side has nothing for the
    value), their difference (``None`` when Cost Explorer has no figure)."""
    attribute = GROUPS[tag_key]
    gate = gate_totals(callers, attribute)
    values = sorted(set(gate) | set(cost_explorer), key=lambda v: (v is None, v or ""))
    rows = []
    for value in values:
        ce_usd = cost_explorer.get(value)
        gate_usd, count = gate.get(value, (None, 0))
        rows.append(
            {
                "value": value,
                "cost_explorer_usd": ce_usd,
                "gate_usd": gate_usd,
                "gate_callers": count,
                # No difference where either side has no figure: a missing figure is not zero.
                "difference_usd": None if ce_usd is None or gate_usd is None else ce_usd - gate_usd,
            }
        )
    return {
        "table": table,
        "month": str(month),
        "group_by": tag_key,
        "registry_attribute": attribute,
        "metric": METRIC,
        "services": services,
        "rows": rows,
        "totals": _totals(cost_explorer, gate),
    }


def _totals(
    cost_explorer: dict[str | None, Decimal], gate: dict[str | None, tuple[Decimal, int]]
) -> dict[str, Decimal | None]:
    """Sums of both sides; Cost Explorer's is ``None`` when it had no figure at all."""
    ce_total = sum(cost_explorer.values(), Decimal(0)) if cost_explorer else None
    gate_total = sum((usd for usd, _ in gate.values()), Decimal(0))
    return {
        "cost_explorer_usd": ce_total,
        "gate_usd": gate_total,
        "difference_usd": None if ce_total is None else ce_total - gate_total,
    }


def render(out: Output, document: dict[str, Any]) -> None:
    tag, attribute = document["group_by"], document["registry_attribute"]
    columns = (
        Column(f"{tag} / {attribute}"),
        Column("Cost Explorer", numeric=True),
        Column("Gate", numeric=True),
        Column("Callers", numeric=True, drop=1),
        Column("Difference", numeric=True),
    )
    rows = [
        [
            "(untagged / none)" if row["value"] is None else row["value"],
            usd(row["cost_explorer_usd"], missing=NO_FIGURE),
            usd(row["gate_usd"]),
            str(row["gate_callers"]),
            usd(row["difference_usd"], missing=NO_FIGURE),
        ]
        for row in document["rows"]
    ]
    totals = document["totals"]
    rows.append(
        [
            "total",
            usd(totals["cost_explorer_usd"], missing=NO_FIGURE),
            usd(totals["gate_usd"], missing=NO_FIGURE),
            "",
            usd(totals["difference_usd"], missing=NO_FIGURE),
        ]
    )
    out.grid(
        f"Bedrock spend {document['month']} by {tag} · Cost Explorer vs token gate",
        columns,
        rows,
        styles=[None] * (len(rows) - 1) + ["bold"],
        sections=[len(rows) - 1],
    )
    out.line(f"Services: {', '.join(document['services'])}", style="dim")
    if document["estimated"]:
        out.line("Cost Explorer marks this month's figures as estimated.", style="yellow")
    out.line(
        "Cost Explorer lags by up to a day and includes calls that bypass the gate; the gate "
        "prices calls itself and counts requests in flight.",
        style="dim",
    )
