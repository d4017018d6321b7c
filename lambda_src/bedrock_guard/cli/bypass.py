"""``bedrock-guard bypass``: who calls Bedrock directly, not through the gate, and what it cost."""

from __future__ import annotations

import argparse
from typing import Any, Final

from bedrock_guard.cli.context import Context
from bedrock_guard.cli.errors import ExitCode
from bedrock_guard.cli.formats import account_note, common_account, short_principal, tokens, usd
from bedrock_guard.cli.months import current_month, parse_month
from bedrock_guard.cli.output import Column, Output
from bedrock_guard.cli.table_reader import read_month

HELP: Final = "principals that call Bedrock directly (bypassing the gate), with their spend"
DESCRIPTION: Final = """\
Every principal the usage meter counted direct Bedrock calls for in the month (read from
Bedrock's model invocation log: SDKs, notebooks, coding assistants, Bedrock API keys), dearest
first, with the share of its month that bypassed the gate and whether it is locked.

One filtered Scan of the table."""

COLUMNS: Final = (
    Column("Principal"),
    Column("Direct tokens", numeric=True),
    Column("Direct USD", numeric=True),
    Column("Share", numeric=True, drop=1),
    Column("Locked", drop=2),
)


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "bypass",
        help=HELP,
        description=DESCRIPTION,
        parents=parents,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--month", type=parse_month, default=None, help="YYYY-MM (default: this UTC month)"
    )
    parser.set_defaults(run=run)


def run(ctx: Context, args: argparse.Namespace, out: Output) -> int:
    table = ctx.table_name()
    month = str(args.month or current_month())
    callers = [c for c in read_month(ctx.client("dynamodb"), table, month) if c.direct.tokens]
    callers.sort(key=lambda c: (-c.direct.usd, -c.direct.tokens, c.principal))
    document = {
        "table": table,
        "month": month,
        "principals": [
            {
                "principal": c.principal,
                "direct": {"tokens": c.direct.tokens, "usd": c.direct.usd},
                "month": {"tokens": c.month.tokens, "usd": c.month.usd},
                "locked_by": list(c.locked_by),
            }
            for c in callers
        ],
    }
    if out.as_json:
        out.json(document)
    else:
        render(out, document)
    return ExitCode.OK


def render(out: Output, document: dict[str, Any]) -> None:
    rows = document["principals"]
    if not rows:
        out.line(
            f"No direct Bedrock use counted in {document['month']} (table {document['table']}).",
            style="green",
        )
        return
    account = None if out.wide else common_account(row["principal"] for row in rows)
    title = f"Direct Bedrock use {document['month']} · table {document['table']}"
    if account:
        title += f" · {account_note(account)}"
    out.grid(
        title,
        COLUMNS,
        [
            [
                short_principal(row["principal"], account),
                tokens(row["direct"]["tokens"]),
                usd(row["direct"]["usd"]),
                f"{100 * row['direct']['tokens'] // max(1, row['month']['tokens'])}%",
                "yes" if row["locked_by"] else "no",
            ]
            for row in rows
        ],
    )
