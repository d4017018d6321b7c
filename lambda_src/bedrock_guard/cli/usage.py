"""``bedrock-guard usage``: tokens, cost and limits per caller for a month (and today)."""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import Any, Final

from bedrock_guard.cli.context import Context
from bedrock_guard.cli.errors import CliError, ExitCode
from bedrock_guard.cli.limits import Standing, TierSettings, limits_json, load_tiers, standing
from bedrock_guard.cli.months import Month, current_month, parse_month, today_in
from bedrock_guard.cli.output import Output, new_table, tokens_human, usd_human
from bedrock_guard.cli.table_reader import CallerMonth, read_caller, read_month
from bedrock_guard.core import keys
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
        "remaining": None
        if st.limits is None
        else {window.value: amount for window, amount in st.remaining.items()},
        "used_percent": st.used_percent,
        "days": {d: {"tokens": a.tokens, "usd": a.usd} for d, a in caller.days.items()},
    }


def _state(entry: dict[str, Any]) -> tuple[str, str]:
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


def render(out: Output, document: dict[str, Any], *, detailed: bool) -> None:
    month, day = document["month"], document["day"]
    title = f"Bedrock usage {month}" + (f" (today: day {day} UTC)" if day else "")
    table = new_table(
        f"{title} · table {document['table']}",
        "Caller",
        "Tier",
        "Tenant",
        "Month tokens",
        "Month USD",
        "Today tokens",
        "Today USD",
        "Used",
        "State",
        numeric=("Month tokens", "Month USD", "Today tokens", "Today USD", "Used"),
    )
    for entry in document["callers"]:
        limits = entry["limits"] or {}
        today = entry["today"]
        state, style = _state(entry)
        percent = entry["used_percent"]
        tier = entry["tier"] or "-"
        if entry["tier_source"] == "default":
            tier += " (default)"
        table.add_row(
            entry["principal"],
            tier,
            entry["tenant"] or "-",
            _of_limit(
                tokens_human(entry["month"]["tokens"]),
                None
                if limits.get("monthly_tokens") is None
                else tokens_human(limits["monthly_tokens"]),
            ),
            _of_limit(
                usd_human(entry["month"]["usd"]),
                None if limits.get("monthly_usd") is None else usd_human(limits["monthly_usd"]),
            ),
            "-"
            if today is None
            else _of_limit(
                tokens_human(today["tokens"]),
                None
                if limits.get("daily_tokens") is None
                else tokens_human(limits["daily_tokens"]),
            ),
            "-"
            if today is None
            else _of_limit(
                usd_human(today["usd"]),
                None if limits.get("daily_usd") is None else usd_human(limits["daily_usd"]),
            ),
            "-" if percent is None else f"{percent}%",
            state,
            style=style if state.startswith(("locked", "at limit")) else None,
        )
    if not document["callers"]:
        out.line(f"No callers with usage, registry entries or locks in {month}.")
        return
    out.table(table)
    if detailed:
        _render_detail(out, document["callers"][0])


def _render_detail(out: Output, entry: dict[str, Any]) -> None:
    out.line(
        "Registry: "
        + ", ".join(f"{name}={entry[name] or '-'}" for name in keys.PROFILE_ATTRIBUTES)
        + ("" if entry["registered"] else " (not registered)")
    )
    if entry["locked_by"]:
        out.line("Locked by: " + ", ".join(entry["locked_by"]), style="red")
    if entry["reserved"]["count"]:
        reserved = entry["reserved"]
        out.line(
            f"In flight: {reserved['count']} reservation(s), "
            f"{tokens_human(reserved['tokens'])} tokens, {usd_human(reserved['usd'])}"
        )
    if entry["days"]:
        days = new_table("Per UTC day", "Day", "Tokens", "USD", numeric=("Tokens", "USD"))
        for day, amounts in entry["days"].items():
            days.add_row(day, tokens_human(amounts["tokens"]), usd_human(amounts["usd"]))
        out.table(days)
