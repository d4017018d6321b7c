"""``bedrock-guard report --by TAG``: Cost Explorer's Bedrock spend per cost allocation tag value,
next to the token gate's own accounting for the same month summed by the matching registry
attribute."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from botocore.exceptions import ClientError

from bedrock_guard.cli.context import Context
from bedrock_guard.cli.cost_explorer import METRIC, costs_by_tag, discover_services
from bedrock_guard.cli.errors import ACCESS_DENIED_CODES, CliError, ExitCode
from bedrock_guard.cli.formats import account_note, common_account, short_principal, usd
from bedrock_guard.cli.html_report import CallerSpend, LockSpan, Section, SpendReport
from bedrock_guard.cli.html_report import render as render_page
from bedrock_guard.cli.limits import TierSettings, load_tiers, standing
from bedrock_guard.cli.lock_history import lock_spans, read_events
from bedrock_guard.cli.months import Month, current_month, parse_month, today_in
from bedrock_guard.cli.output import Column, Output
from bedrock_guard.cli.table_reader import CallerMonth, read_month
from bedrock_guard.cli.usage import caller_json, state_of
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
    parser.add_argument(
        "--by",
        choices=sorted(GROUPS),
        help="cost allocation tag to compare Cost Explorer by (required without --html)",
    )
    parser.add_argument(
        "--html",
        type=Path,
        metavar="FILE",
        help="also write the spend report page: per caller, daily and month-to-date spend "
        "against its limits, locks on the same timeline (no Cost Explorer call unless --by)",
    )
    parser.add_argument(
        "--tier-limits-json",
        metavar="JSON",
        help="TIER_LIMITS_JSON of the gate, for the limits in --html (default: env "
        "TIER_LIMITS_JSON, else the tier_limits_json Terraform output)",
    )
    parser.add_argument(
        "--default-tier",
        metavar="TIER",
        help="tier of unregistered callers (default: env DEFAULT_TIER, else the default_tier "
        "Terraform output)",
    )
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
    if args.by is None and args.html is None:
        raise CliError(
            "give --by TAG (Cost Explorer next to the gate) and/or --html FILE (the spend "
            "report page)",
            ExitCode.USAGE,
        )
    this_month = current_month()
    month: Month = args.month or this_month
    if (month.year, month.number) > (this_month.year, this_month.number):
        raise CliError(f"{month} is in the future: there is no spend yet", ExitCode.USAGE)
    configured = _configured_services(ctx, args.service) if args.by else None
    settings = load_tiers(ctx, args.tier_limits_json, args.default_tier) if args.html else None
    table = ctx.table_name()  # settings are checked before the first (billed) request

    client = ctx.client("dynamodb")
    callers = read_month(client, table, str(month))
    document: dict[str, Any] | None = None
    if args.by:
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
    if args.html is not None and settings is not None:
        page = spend_page(
            table,
            month,
            callers,
            settings,
            spans={
                c.principal: lock_spans(read_events(client, table, c.principal)) for c in callers
            },
            comparison=document,
        )
        path = write_page(page, args.html)
        if document is None:
            document = {"table": table, "month": str(month)}
        document["html"] = str(path)
    assert document is not None
    if out.as_json:
        out.json(document)
    else:
        if args.by:
            render(out, document)
        if args.html is not None:
            out.line(f"Spend report written to {document['html']}")
    return ExitCode.OK


def spend_page(
    table: str,
    month: Month,
    callers: list[CallerMonth],
    settings: TierSettings,
    *,
    spans: dict[str, tuple[LockSpan, ...]],
    comparison: dict[str, Any] | None = None,
) -> SpendReport:
    """The spend report of ``month`` from the table's items (and Cost Explorer's, if given)."""
    day = today_in(month)
    account = common_account(c.principal for c in callers)
    entries = []
    for caller in callers:
        st = standing(caller, settings, day)
        state, _ = state_of(caller_json(caller, st, day))
        entries.append(
            CallerSpend(
                name=short_principal(caller.principal, account),
                principal=caller.principal,
                tier=st.tier,
                tenant=caller.attribute("tenant"),
                limits=st.limits,
                days={int(d): (a.tokens, a.usd) for d, a in caller.days.items()},
                state=state,
                locks=spans.get(caller.principal, ()),
            )
        )
    sections = []
    if comparison is not None:
        tag, attribute = comparison["group_by"], comparison["registry_attribute"]
        sections.append(
            Section(
                f"Cost Explorer next to the gate, by {tag}",
                (f"{tag} / {attribute}", "Cost Explorer", "Gate", "Callers", "Difference"),
                [
                    (
                        "(untagged / none)" if row["value"] is None else row["value"],
                        usd(row["cost_explorer_usd"], missing=NO_FIGURE),
                        usd(row["gate_usd"]),
                        row["gate_callers"],
                        usd(row["difference_usd"], missing=NO_FIGURE),
                    )
                    for row in comparison["rows"]
                ],
                numeric=(1, 2, 3, 4),
                intro="Cost Explorer lags by up to a day and includes calls that bypass the "
                "gate; the gate prices calls itself and counts requests in flight.",
            )
        )
    notes = [
        "Amounts are the token gate's own accounting (requests in flight included), "
        "in US dollars rounded to at most six decimals.",
    ]
    if account:
        notes.append(f"{account_note(account)}.")
    if settings.tiers is None:
        notes.append("Tier limits unknown: pass --tier-limits-json to draw the limits.")
    return SpendReport(
        title=f"Bedrock spend {month}",
        subtitle=f"table {table}"
        + (f", account {account}" if account else "")
        + (f"; figures up to day {day} (UTC)" if day else "; the whole month (UTC)"),
        year=month.year,
        month=month.number,
        callers=tuple(entries),
        today=int(day) if day else None,
        sections=tuple(sections),
        notes=tuple(notes),
    )


def write_page(page: SpendReport, path: Path) -> Path:
    """Write the page; the resolved path (exit 2 when it cannot be written)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_page(page), encoding="utf-8")
    except OSError as error:
        raise CliError(f"cannot write --html {path}: {error}", ExitCode.USAGE) from error
    return path.resolve()


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
