"""``bedrock-guard holds``: holds the gate could not settle, listed for reconciliation."""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import Any, Final

from bedrock_guard.cli.context import Context
from bedrock_guard.cli.errors import ExitCode
from bedrock_guard.cli.formats import account_note, common_account, short_principal, tokens, usd
from bedrock_guard.cli.months import current_month, parse_month
from bedrock_guard.cli.output import Column, Output
from bedrock_guard.core import keys
from bedrock_guard.core.usage_item import EXPIRED_HOLD_PREFIX
from bedrock_guard.gate.usage_store import deserialize

HELP: Final = "expired holds: requests whose worst case stays charged until reconciled"
DESCRIPTION: Final = """\
A hold is the worst case the token gate reserves before calling Bedrock. One that outlives
its Lambda invocation (the function timed out or crashed, or its settle kept failing) is moved
out of the caller's month item once it expires, and listed here with its request id: its worst
case stays charged (too much, never too little) until it is replaced by what Bedrock logged
for that request. Bedrock's model invocation log names the hold in requestMetadata
(bedrockGuardHoldId).

One filtered Scan of the table."""


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "holds",
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
    holds = sorted(list_expired_holds(ctx.client("dynamodb"), table, month), key=_order)
    document = {"table": table, "month": month, "holds": holds}
    if out.as_json:
        out.json(document)
    else:
        render(out, document)
    return ExitCode.OK


def list_expired_holds(client: Any, table: str, month: str) -> list[dict[str, Any]]:
    """Every expired hold of ``month``, as plain values."""
    paginator = client.get_paginator("scan")
    pages = paginator.paginate(
        TableName=table,
        FilterExpression="begins_with(#pk, :usage) AND begins_with(#sk, :hold)",
        ExpressionAttributeNames={"#pk": keys.PK, "#sk": keys.SK},
        ExpressionAttributeValues={
            ":usage": {"S": "USAGE#"},
            ":hold": {"S": f"{EXPIRED_HOLD_PREFIX}{month}#"},
        },
    )
    found = []
    for page in pages:
        for raw in page.get("Items", []):
            item = deserialize(raw)
            found.append(
                {
                    "principal": keys.principal_of(str(item[keys.PK])),
                    "hold_id": str(item[keys.SK]).rsplit("#", 1)[-1],
                    "request_id": item.get("request_id") or None,
                    "day": item.get("day"),
                    "tokens": int(item.get("tokens", 0)),
                    "usd": str(Decimal(item.get("usd", 0))),
                    "hold_expired_at": int(item.get("hold_expired_at", 0)),
                }
            )
    return found


def _order(hold: dict[str, Any]) -> tuple[str, int]:
    return (hold["principal"], hold["hold_expired_at"])


COLUMNS: Final = (
    Column("Principal"),
    Column("Request id"),
    Column("Day"),
    Column("Tokens", numeric=True),
    Column("USD", numeric=True),
)


def render(out: Output, document: dict[str, Any]) -> None:
    if not document["holds"]:
        out.line(
            f"No expired hold in {document['month']} (table {document['table']}).", style="green"
        )
        return
    account = None if out.wide else common_account(h["principal"] for h in document["holds"])
    title = f"Expired holds {document['month']} · table {document['table']}"
    if account:
        title += f" · {account_note(account)}"
    rows = [
        [
            short_principal(hold["principal"], account),
            hold["request_id"] or hold["hold_id"],
            hold["day"] or "-",
            tokens(hold["tokens"]),
            usd(hold["usd"]),
        ]
        for hold in document["holds"]
    ]
    out.grid(title, COLUMNS, rows)
