"""``bedrock-guard locks --audit [--fix]``: where IAM and the lock ledger disagree, and the fix.

The check is the enforcer's daily one (:mod:`bedrock_guard.enforcer.drift`). ``--fix`` brings
IAM (or the gate's lock marks) back to what the ledger says and records, in each principal's
history, who asked: the caller's own identity from STS, never a flag.
"""

from __future__ import annotations

import argparse
from typing import Any, Final

from bedrock_guard.cli.context import Context
from bedrock_guard.cli.errors import CliError, ExitCode
from bedrock_guard.cli.formats import account_note, alarm_short, common_account, short_principal
from bedrock_guard.cli.locking import build_service, deny_policy_arn
from bedrock_guard.cli.output import Column, Output
from bedrock_guard.enforcer import drift
from bedrock_guard.enforcer.lock_service import Home

EPILOG: Final = """\
--audit lists every principal whose IAM attachment of the deny policy and lock disagree:
attached_without_holder, holder_without_attachment, policy_missing, marks_differ (the token
gate's copy of the lock on the month usage item). --fix reconciles them with the ledger.
Exit status with --audit: 0 no drift (or all fixed), 1 drift remains."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``locks`` options of the audit."""
    group = parser.add_argument_group("audit")
    group.add_argument(
        "--audit", action="store_true", help="list where IAM and the lock ledger disagree"
    )
    group.add_argument(
        "--fix",
        action="store_true",
        help="with --audit: reconcile IAM with the ledger, recorded with who asked",
    )
    group.add_argument(
        "--deny-policy-arn",
        metavar="ARN",
        help="with --audit: the enforcer's deny policy (default: env DENY_POLICY_ARN, else the "
        "deny_policy_arn Terraform output)",
    )


def wanted(args: argparse.Namespace) -> bool:
    """Whether ``locks`` was asked for the audit rather than the listing."""
    if getattr(args, "fix", False) and not getattr(args, "audit", False):
        raise CliError("--fix needs --audit", ExitCode.USAGE)
    return bool(getattr(args, "audit", False))


def run(ctx: Context, args: argparse.Namespace, out: Output) -> int:
    policy_arn = deny_policy_arn(ctx, args.deny_policy_arn)
    service = build_service(ctx, policy_arn)
    found = drift.audit(service)
    document: dict[str, Any] = {
        "table": service.ledger.table_name,
        "policy_arn": policy_arn,
        "drift": [item.as_dict() for item in found],
    }
    remaining = found
    if args.fix:
        me = ctx.identity()
        home = Home(me.partition, me.account)
        results = [drift.fix(service, item, home, requested_by=me.arn) for item in found]
        document["requested_by"] = me.arn
        document["fixed"] = [result.as_dict() for result in results]
        remaining = [r.drift for r in results if r.outcome != "fixed"]
    if out.as_json:
        out.json(document)
    else:
        render(out, document)
    return ExitCode.FAILED if remaining else ExitCode.OK


def render(out: Output, document: dict[str, Any]) -> None:
    rows = document.get("fixed", document["drift"])
    if not rows:
        out.line(
            f"IAM and the lock ledger agree (policy {document['policy_arn']}, "
            f"table {document['table']}).",
            style="green",
        )
        return
    fixing = "fixed" in document
    account = None if out.wide else common_account(row["principal"] for row in rows)
    title = f"Lock drift · table {document['table']}"
    if account:
        title += f" · {account_note(account)}"
    columns = (
        Column("Principal"),
        Column("Drift"),
        Column("Holders", drop=1),
        Column("Outcome" if fixing else "Fix", readable=30),
    )
    out.grid(
        title,
        columns,
        [
            [
                short_principal(row["principal"], account),
                row["kind"],
                ", ".join(alarm_short(holder) for holder in row["holders"]) or "-",
                f"{row['outcome']} {row['detail']}".strip() if fixing else row["fix"],
            ]
            for row in rows
        ],
    )
    if fixing:
        out.line(f"recorded: requested_by={document['requested_by']}")
