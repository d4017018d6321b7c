"""``bedrock-guard usage``: tokens, cost and limits per caller for a month (and today)."""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import Any, Final

from bedrock_guard.cli.context import Context
from bedrock_guard.cli.errors import CliError, ExitCode
from bedrock_guard.cli.formats import (
    account_note,
    alarm_short,
    common_account,
    percent,
    short_principal,
    tokens,
    usd,
)
from bedrock_guard.cli.limits import Standing, TierSettings, limits_json, load_tiers, standing
from bedrock_guard.cli.months import Month, current_month, parse_month, today_in
from bedrock_guard.cli.output import Column, Output
from bedrock_guard.cli.table_reader import CallerMonth, read_caller, read_month
from bedrock_guard.core import keys
from bedrock_guard.core.accounting import WINDOWS
from bedrock_guard.core.principals import API_KEY_PREFIX, caller_identity

WARN_PERCENT: Final = 80

HELP: Final = "usage, cost and limits per caller for a month (and today)"
DESCRIPTION: Final = """\
Per caller: tokens and USD counted by the token gate this month and today, the caller's
registry entry (tier, tenant, cost centre, application, environment), its tier's limits and
how much of them is used, and whether it is locked.

Without --caller, every caller of the month is listed with one Scan of the table (it reads
every item of the table; fine for an occasional look). With --caller, three GetItems.
Amounts include reservations of requests in flight."""


def parse_caller(text: str) -> str:
    """An argparse ``type``: any user, role or session ARN, or ``apikey:<id>``, in the form the
    table is keyed by (sessions and role paths collapse to the path-less role ARN)."""
    value = text.strip()
    if value.startswith(API_KEY_PREFIX):
        principal = caller_identity(None, value.removeprefix(API_KEY_PREFIX))
    else:
        principal = caller_identity(value, None)
    if principal is None:
        raise argparse.ArgumentTypeError(
            f"{text[:200]!r} is not a caller: give an IAM user, role or assumed-role session "
            "ARN, or apikey:<API key id>"
        )
    return principal


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "usage",
        help=HELP,
        description=DESCRIPTION,
        parents=parents,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--month",
        type=parse_month,
        help="UTC month YYYY-MM (default: the current month)",
    )
    parser.add_argument(
        "--caller",
        type=parse_caller,
        metavar="ARN",
        help="one caller: user, role or session ARN, or apikey:<id>",
    )
    parser.add_argument(
        "--tier-limits-json",
        metavar="JSON",
        help="TIER_LIMITS_JSON of the gate (default: env TIER_LIMITS_JSON, "
        "else the tier_limits_json Terraform output)",
    )
    parser.add_argument(
        "--default-tier",
        metavar="TIER",
        help="tier of unregistered callers (default: env DEFAULT_TIER, else the "
        "default_tier Terraform output; 'none' for none)",
    )
    parser.set_defaults(run=run)


def run(ctx: Context, args: argparse.Namespace, out: Output) -> int:
    month: Month = args.month or current_month()
    settings = load_tiers(ctx, args.tier_limits_json, args.default_tier)
    table = ctx.table_name()
    client = ctx.client("dynamodb")
    if args.caller:
        caller = read_caller(client, table, args.caller, str(month))
        if not caller.found:
            raise CliError(
                f"{args.caller} has no usage in {month}, no registry entry and no lock",
                ExitCode.FAILED,
            )
        callers = [caller]
    else:
        callers = read_month(client, table, str(month))
    day = today_in(month)
    document = usage_document(table, month, day, callers, settings)
    if out.as_json:
        out.json(document)
    else:
        render(out, document, detailed=bool(args.caller))
    if settings.tiers is None:
        out.note(
            "tier limits unknown: pass --tier-limits-json, set TIER_LIMITS_JSON, or give "
            "--tf-outputs with a tier_limits_json output"
        )
    return ExitCode.OK


def usage_document(
    table: str,
    month: Month,
    day: str | None,
    callers: list[CallerMonth],
    settings: TierSettings,
) -> dict[str, Any]:
    """The JSON document of the command (the human tables are drawn from it too)."""
    return {
        "table": table,
        "month": str(month),
        "day": day,
        "tier_limits_known": settings.tiers is not None,
        "callers": [caller_json(c, standing(c, settings, day), day) for c in callers],
    }


def caller_json(caller: CallerMonth, st: Standing, day: str | None) -> dict[str, Any]:
    today = caller.days.get(day) if day else None
    return {
        "principal": caller.principal,
        "registered": caller.profile is not None,
        "tier": st.tier,
        "tier_source": st.tier_source,
        "tenant": caller.attribute("tenant"),
        "cost_center": caller.attribute("cost_center"),
        "application": caller.attribute("application"),
        "environment": caller.attribute("environment"),
        "locked_by": list(caller.locked_by),
        "month": {"tokens": caller.month.tokens, "usd": caller.month.usd},
        # Of the month, through the gate and direct (counted by the usage meter).
        "split": {
            "gate": {
                "tokens": caller.month.tokens - caller.direct.tokens,
                "usd": caller.month.usd - caller.direct.usd,
            },
            "direct": {"tokens": caller.direct.tokens, "usd": caller.direct.usd},
        },
        "today": None
        if day is None
        else {
            "tokens": today.tokens if today else 0,
            "usd": today.usd if today else Decimal(0),
        },
        "reserved": {
            "count": caller.reserved.count,
            "tokens": caller.reserved.tokens,
            "usd": caller.reserved.usd,
        },
        "limits": limits_json(st.limits),
        # Every window in both: null where there is no limit (and, in ``remaining``, for the
        # daily windows of a month that is not the current one).
        "remaining": None
        if st.limits is None
        else {window.value: st.remaining.get(window) for window in WINDOWS},
        "used_percent": st.used_percent,
        "days": {d: {"tokens": a.tokens, "usd": a.usd} for d, a in caller.days.items()},
    }


def state_of(entry: dict[str, Any]) -> tuple[str, str]:
    """A caller's state in words and its rich style, from its JSON entry."""
    if entry["locked_by"]:
        return f"locked ({len(entry['locked_by'])})", "bold red"
    percent = entry["used_percent"]
    if percent is not None and percent >= 100:
        return "at limit", "red"
    if percent is not None and percent >= WARN_PERCENT:
        return "near limit", "yellow"
    if not entry["registered"]:
        return "unregistered", "dim"
    return "ok", "green"


def _of_limit(used: str, limit: str | None) -> str:
    return used if limit is None else f"{used} / {limit}"


def _window(amounts: dict[str, Any] | None, limits: dict[str, Any], period: str) -> tuple[str, str]:
    """``1,500 / 100,000`` and ``$0.75 / $50.00``: used of the limit, tokens then dollars."""
    if amounts is None:
        return "-", "-"
    token_limit, usd_limit = limits.get(f"{period}_tokens"), limits.get(f"{period}_usd")
    return (
        _of_limit(tokens(amounts["tokens"]), None if token_limit is None else tokens(token_limit)),
        _of_limit(usd(amounts["usd"]), None if usd_limit is None else usd(usd_limit)),
    )


WIDE_COLUMNS: Final = (
    Column("Caller"),
    Column("Tier"),
    Column("Tenant"),
    Column("Month tokens", numeric=True),
    Column("Month USD", numeric=True),
    Column("Today tokens", numeric=True),
    Column("Today USD", numeric=True),
    Column("Used", numeric=True),
    Column("State"),
)
# Narrower: tokens above dollars in one cell per window; tenant, use, then tier left out first.
FOLDED_COLUMNS: Final = (
    Column("Caller"),
    Column("Tier", drop=1),
    Column("Tenant", drop=3),
    Column("Month", numeric=True),
    Column("Today", numeric=True),
    Column("Used", numeric=True, drop=2),
    Column("State"),
)


def render(out: Output, document: dict[str, Any], *, detailed: bool) -> None:
    month, day = document["month"], document["day"]
    if not document["callers"]:
        out.line(f"No callers with usage, registry entries or locks in {month}.")
        return
    principals = [entry["principal"] for entry in document["callers"]]
    account = None if out.wide else common_account(principals)
    title = f"Bedrock usage {month}" + (f" (today: day {day} UTC)" if day else "")
    title += f" · table {document['table']}"
    if account:
        title += f" · {account_note(account)}"
    wide_rows, folded_rows, styles = [], [], []
    for entry in document["callers"]:
        limits = entry["limits"] or {}
        state, style = state_of(entry)
        tier = entry["tier"] or "-"
        if entry["tier_source"] == "default":
            tier += " (default)"
        caller = short_principal(entry["principal"], account)
        month_tokens, month_usd = _window(entry["month"], limits, "monthly")
        today_tokens, today_usd = _window(entry["today"], limits, "daily")
        used = percent(entry["used_percent"])
        tenant = entry["tenant"] or "-"
        wide_rows.append(
            [caller, tier, tenant, month_tokens, month_usd, today_tokens, today_usd, used, state]
        )
        folded_rows.append(
            [
                caller,
                tier,
                tenant,
                f"{month_tokens}\n{month_usd}",
                f"{today_tokens}\n{today_usd}",
                used,
                state,
            ]
        )
        styles.append(style if state.startswith(("locked", "at limit")) else None)
    if out.fits(WIDE_COLUMNS, wide_rows):
        out.grid(title, WIDE_COLUMNS, wide_rows, styles=styles)
    else:
        out.grid(title, FOLDED_COLUMNS, folded_rows, styles=styles)
    if detailed:
        _render_detail(out, document["callers"][0])


def _render_detail(out: Output, entry: dict[str, Any]) -> None:
    out.line(
        "Registry: "
        + ", ".join(f"{name}={entry[name] or '-'}" for name in keys.PROFILE_ATTRIBUTES)
        + ("" if entry["registered"] else " (not registered)")
    )
    if entry["locked_by"]:
        holders = entry["locked_by"] if out.wide else [alarm_short(h) for h in entry["locked_by"]]
        out.line("Locked by: " + ", ".join(holders), style="red")
    if entry["reserved"]["count"]:
        reserved = entry["reserved"]
        out.line(
            f"In flight: {reserved['count']} reservation(s), "
            f"{tokens(reserved['tokens'])} tokens, {usd(reserved['usd'])}"
        )
    if entry["days"]:
        out.grid(
            "Per UTC day",
            (Column("Day"), Column("Tokens", numeric=True), Column("USD", numeric=True)),
            [
                [day, tokens(amounts["tokens"]), usd(amounts["usd"])]
                for day, amounts in entry["days"].items()
            ],
        )
