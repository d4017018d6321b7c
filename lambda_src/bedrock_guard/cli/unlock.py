"""``bedrock-guard unlock ARN --reason TEXT``: release a principal, whatever holds its lock.

Who asked is the caller's own identity from STS, never a flag. The ledger is cleared first (the
gate serves the caller again), then the deny policy is detached, as the enforcer does on OK.
"""

from __future__ import annotations

import argparse
from typing import Any, Final

from botocore.exceptions import ClientError

from bedrock_guard.cli.context import Context
from bedrock_guard.cli.errors import CliError, ExitCode
from bedrock_guard.cli.locking import build_service, deny_policy_arn
from bedrock_guard.cli.output import Output
from bedrock_guard.core.aws_errors import error_code
from bedrock_guard.core.principals import Principal, PrincipalError, parse_principal
from bedrock_guard.enforcer import operator_actions
from bedrock_guard.enforcer.iam_lock import NO_SUCH_ENTITY
from bedrock_guard.enforcer.lock_service import LockService, Outcome

MAX_REASON_CHARS: Final = 1000
NOT_LOCKED: Final = "not_locked"

HELP: Final = "detach the deny policy and close the lock, recorded with who asked"
DESCRIPTION: Final = """\
Release a principal whatever holds its lock (alarms, an operator): clear the lock in the
ledger, detach the deny policy from the IAM user or role, and record an unlock event with your
reason and your identity (STS GetCallerIdentity).

Alarms still in ALARM do not lock again until they have been OK and fire anew.

Exit status: 0 released; 1 not locked (nothing changed), no such principal, or an alarm locked
it again meanwhile; 2 bad ARN, reason or deny policy ARN, or a principal of another account;
4 the deny policy does not exist."""


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "unlock",
        help=HELP,
        description=DESCRIPTION,
        parents=parents,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("principal", metavar="ARN", help="IAM user, role or session ARN")
    parser.add_argument("--reason", required=True, help="why (recorded in the ledger)")
    parser.add_argument(
        "--deny-policy-arn",
        metavar="ARN",
        help="the enforcer's deny policy (default: env DENY_POLICY_ARN, else the "
        "deny_policy_arn Terraform output)",
    )
    parser.set_defaults(run=run)


def _principal(text: str) -> Principal:
    try:
        return parse_principal(text)
    except PrincipalError as error:
        raise CliError(f"cannot unlock {text[:200]!r}: {error}", ExitCode.USAGE) from error


def _reason(text: str) -> str:
    reason = text.strip()
    if not reason:
        raise CliError("--reason must not be empty", ExitCode.USAGE)
    if len(reason) > MAX_REASON_CHARS:
        raise CliError(f"--reason is longer than {MAX_REASON_CHARS} characters", ExitCode.USAGE)
    return reason


def run(ctx: Context, args: argparse.Namespace, out: Output) -> int:
    reason = _reason(args.reason)
    principal = _principal(args.principal)
    policy_arn = deny_policy_arn(ctx, args.deny_policy_arn)
    service = build_service(ctx, policy_arn)
    me = ctx.identity()
    if (principal.partition, principal.account) != (me.partition, me.account):
        raise CliError(
            f"{principal.canonical} is not in the account of your credentials "
            f"({me.partition}:{me.account}): use credentials of its account",
            ExitCode.USAGE,
        )
    _require_policy(ctx.client("iam"), policy_arn)

    canonical = principal.canonical
    document: dict[str, Any] = {
        "principal": canonical,
        "outcome": NOT_LOCKED,
        "released_holders": [],
        "still_held_by": [],
        "requested_by": me.arn,
        "reason": reason,
        "policy_arn": policy_arn,
        "table": service.ledger.table_name,
    }
    holders = service.ledger.holders(canonical)
    if not holders and not _policy_attached(service, ctx.client("iam"), principal, policy_arn):
        _emit(out, document, "is not locked: nothing changed")
        return ExitCode.FAILED

    result = operator_actions.unlock(service, args.principal, reason=reason, requested_by=me.arn)
    document["outcome"] = str(result.outcome)
    if result.outcome is Outcome.STILL_HELD:
        document["released_holders"] = sorted(holders)
        document["still_held_by"] = result.detail.split(",")
        _emit(out, document, "was locked again by an alarm meanwhile: the lock stands")
        return ExitCode.FAILED
    released = [holder for holder in result.detail.split(",") if holder]
    document["released_holders"] = released
    if released:
        _emit(out, document, "unlocked; released " + ", ".join(released))
    else:
        _emit(out, document, "unlocked: the deny policy was attached without a ledger lock")
    return ExitCode.OK


def _require_policy(iam: Any, policy_arn: str) -> None:
    """A mistyped policy ARN would make every detach a silent no-op: refuse it first."""
    try:
        iam.get_policy(PolicyArn=policy_arn)
    except ClientError as error:
        if error_code(error) == NO_SUCH_ENTITY:
            raise CliError(
                f"deny policy {policy_arn} does not exist (check --deny-policy-arn)",
                ExitCode.MISSING_RESOURCE,
            ) from error
        raise


def _policy_attached(service: LockService, iam: Any, principal: Principal, policy_arn: str) -> bool:
    """Whether IAM shows the deny policy on the principal (a lock whose ledger side is gone).

    Raises :class:`CliError` (exit 1) when no such user or role exists.
    """
    try:
        found = service.iam.find(principal)
    except PrincipalError as error:
        raise CliError(f"cannot unlock {principal.canonical}: {error}", ExitCode.USAGE) from error
    if found is None:
        raise CliError(
            f"{principal.canonical}: no such IAM user or role, and no lock recorded",
            ExitCode.FAILED,
        )
    if found.kind == "user":
        pages = iam.get_paginator("list_attached_user_policies").paginate(UserName=found.name)
    else:
        pages = iam.get_paginator("list_attached_role_policies").paginate(RoleName=found.name)
    return any(
        policy.get("PolicyArn") == policy_arn
        for page in pages
        for policy in page.get("AttachedPolicies", [])
    )


def _emit(out: Output, document: dict[str, Any], message: str) -> None:
    if out.as_json:
        out.json(document)
        return
    style = "green" if document["outcome"] == str(Outcome.RELEASED) else "yellow"
    out.line(f"{document['principal']} {message}", style=style)
    if document["outcome"] != NOT_LOCKED:
        out.line(f"recorded: requested_by={document['requested_by']} reason={document['reason']}")
