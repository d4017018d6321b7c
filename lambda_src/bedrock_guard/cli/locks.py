"""``bedrock-guard locks``: who is locked out, by which alarms or operator, since when."""

from __future__ import annotations

import argparse
from typing import Any, Final

from bedrock_guard.cli import audit
from bedrock_guard.cli.context import Context
from bedrock_guard.cli.errors import ExitCode
from bedrock_guard.cli.formats import account_note, common_account, short_principal, when
from bedrock_guard.cli.locking import build_service, describe_holder
from bedrock_guard.cli.output import Column, Output
from bedrock_guard.enforcer import operator_actions

HELP: Final = "who is locked, by which alarm(s) or operator, since when"
DESCRIPTION: Final = (
    """\
Every principal whose lock is held (the token gate refuses it, and the deny policy is attached
to its IAM user or role), with each holder: an alarm (its name, when it locked, the alarm's
reason) or an operator (who, when, why).

Listing is a filtered Scan of the table; each lock then costs one GetItem per alarm holder
(or one Query for an operator holder).

"""
    + audit.EPILOG
)


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "locks",
        help=HELP,
        description=DESCRIPTION,
        parents=parents,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    audit.add_arguments(parser)
    parser.set_defaults(run=run)


def run(ctx: Context, args: argparse.Namespace, out: Output) -> int:
    if audit.wanted(args):
        return audit.run(ctx, args, out)
    service = build_service(ctx, policy_arn=None)  # listing never calls IAM
    table = service.ledger.table_name
    client = ctx.client("dynamodb")
    locks = []
    for entry in operator_actions.list_locks(service):
        holders = [describe_holder(client, table, entry.principal, h) for h in entry.holders]
        known = [holder.since for holder in holders if holder.since]
        locks.append(
            {
                "principal": entry.principal,
                "since": min(known) if known else None,
                "updated_at": entry.updated_at or None,
                "holders": [holder.as_dict() for holder in holders],
            }
        )
    document = {"table": table, "locks": locks}
    if out.as_json:
        out.json(document)
    else:
        render(out, document)
    return ExitCode.OK


COLUMNS: Final = (
    Column("Principal"),
    Column("Held by"),
    Column("Since"),
    Column("Reason", readable=30),
)


def render(out: Output, document: dict[str, Any]) -> None:
    if not document["locks"]:
        out.line(f"No principal is locked (table {document['table']}).", style="green")
        return
    account = None if out.wide else common_account(lock["principal"] for lock in document["locks"])
    title = f"Locked principals · table {document['table']}"
    if account:
        title += f" · {account_note(account)}"
    rows = []
    for lock in document["locks"]:
        for index, holder in enumerate(lock["holders"]):
            if holder["kind"] == "operator":
                who = f"operator {short_principal(holder['requested_by'] or '', account)}".strip()
            elif holder["kind"] == "window":
                who = f"usage meter {holder['holder']}"
            else:
                who = f"alarm {holder['name'] or holder['holder']}"
            rows.append(
                [
                    short_principal(lock["principal"], account) if index == 0 else "",
                    who,
                    when(holder["since"]),
                    holder["reason"] or "-",
                ]
            )
    out.grid(title, COLUMNS, rows)
