"""The enforcer's lock service, built from the CLI's clients, and what holds each lock.

The CLI drives the same IAM and ledger layers as the alarm enforcer (through
:mod:`bedrock_guard.enforcer.operator_actions`), so an operator's unlock follows the
same ordering and leaves IAM and the ledger agreeing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from bedrock_guard.cli.context import Context
from bedrock_guard.cli.errors import CliError, ExitCode
from bedrock_guard.cli.table_reader import get_item
from bedrock_guard.core import keys
from bedrock_guard.enforcer.alarm_tags import AlarmTags
from bedrock_guard.enforcer.config import (
    DENY_POLICY_ARN,
    LEDGER_TABLE_NAME,
    ConfigError,
    EnforcerConfig,
    load_config,
)
from bedrock_guard.enforcer.iam_lock import IamLock
from bedrock_guard.enforcer.ledger import EventAction, Ledger
from bedrock_guard.enforcer.lock_service import LockService
from bedrock_guard.enforcer.protection import ProtectedPrincipals
from bedrock_guard.gate.usage_store import deserialize

DENY_POLICY_OUTPUT: Final = "deny_policy_arn"
EVENT_PREFIX: Final = "EVENT#"


def deny_policy_arn(ctx: Context, flag: str | None) -> str:
    """``--deny-policy-arn``, else env ``DENY_POLICY_ARN``, else the ``deny_policy_arn`` output."""
    arn, _ = ctx.setting(flag, (DENY_POLICY_ARN,), DENY_POLICY_OUTPUT)
    if arn is None:
        raise CliError(
            "no deny policy: pass --deny-policy-arn, set DENY_POLICY_ARN, or give --tf-outputs "
            "with a deny_policy_arn output",
            ExitCode.USAGE,
        )
    return arn


def build_service(ctx: Context, policy_arn: str | None) -> LockService:
    """A lock service on the CLI's clients. Without ``policy_arn`` (listing only) IAM is
    never called; with it, the ARN and table name are checked as the enforcer checks them."""
    table = ctx.table_name()
    if policy_arn is None:
        config = EnforcerConfig(
            deny_policy_arn="", ledger_table_name=table, protected=ProtectedPrincipals()
        )
    else:
        try:
            config = load_config({DENY_POLICY_ARN: policy_arn, LEDGER_TABLE_NAME: table})
        except ConfigError as error:
            raise CliError(str(error), ExitCode.USAGE) from error
    return LockService(
        config,
        IamLock(ctx.client("iam"), config.deny_policy_arn),
        Ledger(ctx.client("dynamodb"), table),
        AlarmTags(ctx.client("cloudwatch")),
    )


@dataclass(frozen=True, slots=True)
class Holder:
    """One thing holding a lock: an alarm, an operator or a budget window (the usage meter),
    since when and why."""

    holder: str
    kind: str  # keys.holder_kind: "alarm" | "operator" | "window"
    name: str | None = None
    since: str | None = None
    reason: str | None = None
    requested_by: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "holder": self.holder,
            "kind": self.kind,
            "name": self.name,
            "since": self.since,
            "reason": self.reason,
            "requested_by": self.requested_by,
        }


def describe_holder(client: Any, table: str, principal: str, holder: str) -> Holder:
    """Details of one holder: the alarm's record, or the latest event that placed the
    operator's or the window's lock."""
    kind = keys.holder_kind(holder)
    if kind != "alarm":
        event = _latest_lock_event(client, table, principal, holder)
        if event is None:
            return Holder(holder, kind)
        return Holder(
            holder,
            kind,
            since=_text(event, "recorded_at"),
            reason=_text(event, "operator_reason"),
            requested_by=_text(event, "requested_by"),
        )
    item = get_item(client, table, keys.lock_alarm_key(principal, holder))
    record = deserialize(item) if item else {}
    return Holder(
        holder,
        "alarm",
        name=_text(record, "alarm_name"),
        since=_text(record, "locked_at"),
        reason=_text(record, "reason"),
    )


def _latest_lock_event(
    client: Any, table: str, principal: str, holder: str
) -> dict[str, Any] | None:
    names = {"#pk": keys.PK, "#sk": keys.SK, "#action": "action"}
    values = {
        ":pk": {"S": keys.lock_partition(principal)},
        ":event": {"S": EVENT_PREFIX},
        ":lock": {"S": EventAction.OPERATOR_LOCK},
    }
    condition = "#action = :lock"
    if keys.holder_kind(holder) == "window":
        # Each window's lock is its own holder, named in its event; dry runs locked nothing.
        names |= {"#holder": "holder", "#dry": "dry_run"}
        values |= {":lock": {"S": EventAction.WINDOW_LOCK}, ":holder": {"S": holder}}
        condition += " AND #holder = :holder AND attribute_not_exists(#dry)"
    paginator = client.get_paginator("query")
    pages = paginator.paginate(
        TableName=table,
        KeyConditionExpression="#pk = :pk AND begins_with(#sk, :event)",
        FilterExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        ScanIndexForward=False,  # newest first: the first match is the lock in force
        ConsistentRead=True,
    )
    for page in pages:
        for item in page.get("Items", []):
            return deserialize(item)
    return None


def _text(values: dict[str, Any], name: str) -> str | None:
    value = values.get(name)
    return value if isinstance(value, str) and value else None
