"""The lock ledger in the shared DynamoDB table (key layout in :mod:`bedrock_guard.core.keys`).

Per principal: ``STATE`` holds ``locked_by``, the string set of what holds the lock (the token
gate refuses while it exists); ``ALARM#<arn>`` is each alarm's last applied state change, the
guard against stale and replayed messages; ``EVENT#...`` items are the history. An alarm's
change is applied in one transaction, so the record, the holder set and the history never
disagree.

Every change of the holder set carries, in the same transaction, the same change of the lock
marks on the principal's month usage items (:mod:`bedrock_guard.core.lock_marks`), which is
what the token gate reads per request. Those items are the gate's hot items, so a transaction
cancelled by a conflict or a throttle is tried again after a jittered backoff (a few times;
then the error goes to Lambda's retry). Every transaction here is idempotent: applied twice,
it leaves what it left once, and its ``ClientRequestToken`` lets DynamoDB recognise a retry
of a transaction whose answer was lost.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from botocore.exceptions import ClientError

from bedrock_guard.core import keys
from bedrock_guard.core.aws_errors import error_code
from bedrock_guard.core.lock_marks import lock_mark_updates
from bedrock_guard.enforcer.alarm_messages import AlarmMessage, AlarmState

CONDITIONAL_CHECK_FAILED: Final = "ConditionalCheckFailed"
CONDITIONAL_CHECK_FAILED_EXCEPTION: Final = "ConditionalCheckFailedException"
TRANSACTION_CANCELED: Final = "TransactionCanceledException"

# Cancellation reasons and error codes that a later attempt of the same write can get past.
RETRYABLE_REASONS: Final = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
)
RETRYABLE_ERRORS: Final = frozenset(
    {
        "TransactionConflictException",
        "TransactionInProgressException",
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",  # the write may have been applied: safe, as every write repeats
    }
)
WRITE_ATTEMPTS: Final = 8  # about 2 s of backoff on average, well inside the timeout
BACKOFF_BASE_SECONDS: Final = 0.05
BACKOFF_CAP_SECONDS: Final = 1.0

# Applied only if this message is not older than what the alarm record already says.
_NOT_OLDER = "attribute_not_exists(#t) OR #t <= :t"
# A release applies to a lock this alarm made, and never goes back in time.
_RELEASABLE = "#state = :alarm AND #t <= :t"


class EventAction:
    """The ``action`` of a history item."""

    LOCK: Final = "lock"
    RELEASE: Final = "release"
    REFUSED: Final = "refused"
    OPERATOR_LOCK: Final = "operator_lock"
    UNLOCK: Final = "unlock"
    WINDOW_LOCK: Final = "window_lock"  # the usage meter: a caller over a budget window
    WINDOW_RELEASE: Final = "window_release"  # that window's period ended


@dataclass(frozen=True, slots=True)
class AlarmRecord:
    """What one alarm last did to one principal."""

    state: str
    state_change_time: str


@dataclass(frozen=True, slots=True)
class LockEntry:
    """A locked principal and what holds the lock."""

    principal: str
    holders: tuple[str, ...]
    updated_at: str


def event_id(*parts: str) -> str:
    """A stable id for a history item, so a replayed message rewrites the same item."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _value(value: str | bool | frozenset[str] | list[str]) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    return {"SS": sorted(value)}


def _item(fields: Mapping[str, str | bool | list[str] | None]) -> dict[str, Any]:
    """A DynamoDB item from plain values; ``None`` and empty values are left out."""
    return {name: _value(value) for name, value in fields.items() if value not in (None, "", [])}


def retryable(error: ClientError) -> bool:
    """Whether a write failed for a reason a later attempt can get past (conflict, throttle)."""
    code = error_code(error)
    if code == TRANSACTION_CANCELED:
        reasons = [
            str(r.get("Code", "None")) for r in error.response.get("CancellationReasons") or []
        ]
        return any(r in RETRYABLE_REASONS for r in reasons) and all(
            r in RETRYABLE_REASONS or r == "None" for r in reasons
        )
    return code in RETRYABLE_ERRORS


def backoff(attempt: int) -> float:
    """Full-jitter exponential backoff before attempt ``attempt + 1`` (seconds)."""
    cap = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)
    return random.uniform(0, cap)  # noqa: S311 (jitter, not a secret)


def request_token(items: list[dict[str, Any]]) -> str:
    """A ClientRequestToken naming exactly this transaction (a retry of it sends the same)."""
    return hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()[:36]


def ledger_time(now: str) -> datetime:
    """A ledger time string as an aware datetime (the lock marks need the month)."""
    return datetime.fromisoformat(now)


def _condition_failed(error: ClientError) -> bool:
    """Whether a transaction was cancelled by a condition (not by throttling or a conflict)."""
    if error_code(error) != TRANSACTION_CANCELED:
        return False
    reasons = error.response.get("CancellationReasons") or []
    return any(reason.get("Code") == CONDITIONAL_CHECK_FAILED for reason in reasons)


class Ledger:
    """Reads and writes the lock items of the shared table."""

    def __init__(
        self, client: Any, table_name: str, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._ddb = client
        self.table_name = table_name
        self._sleep = sleep

    # Reads are strongly consistent: each one decides whether IAM is changed.

    def alarm_record(self, principal: str, alarm_arn: str) -> AlarmRecord | None:
        """This alarm's last applied state change for this principal."""
        item = self._get(keys.lock_alarm_key(principal, alarm_arn))
        if item is None or "state" not in item or "state_change_time" not in item:
            return None
        return AlarmRecord(item["state"]["S"], item["state_change_time"]["S"])

    def holders(self, principal: str) -> frozenset[str]:
        """What holds the principal's lock; empty when it is not locked."""
        item = self._get(keys.lock_state_key(principal))
        if item is None or keys.LOCKED_BY not in item:
            return frozenset()
        return frozenset(item[keys.LOCKED_BY]["SS"])

    def record_lock(
        self,
        principal: str,
        message: AlarmMessage,
        *,
        policy_arn: str,
        now: str,
        iam_attached: bool | None = None,
    ) -> bool:
        """Record an alarm's lock; ``False`` when a newer state change is already recorded.

        Written before IAM is touched: the ledger is what the gate refuses by, and what every
        later message reconciles IAM with.
        """
        record = _item(
            {
                **keys.lock_alarm_key(principal, message.alarm_arn),
                "principal": principal,
                "state": AlarmState.ALARM,
                "state_change_time": message.state_change_time,
                "alarm_name": message.alarm_name,
                "alarm_arn": message.alarm_arn,
                "reason": message.reason,
                "previous_state": message.old_state,
                "locked_at": now,
                "policy_arn": policy_arn,
                "iam_attached": iam_attached,
            }
        )
        return self._transact(
            [
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": record,
                        "ConditionExpression": _NOT_OLDER,
                        "ExpressionAttributeNames": {"#t": "state_change_time"},
                        "ExpressionAttributeValues": {":t": {"S": message.state_change_time}},
                    }
                },
                self._holder_update(principal, "ADD", message.alarm_arn, now),
                self.alarm_event_put(
                    principal, EventAction.LOCK, message, now=now, policy_arn=policy_arn
                ),
                *self._marks(principal, [message.alarm_arn], add=True, now=now),
            ]
        )

    def note_attachment(self, principal: str, alarm_arn: str, *, attached: bool) -> None:
        """Say on an alarm's record whether IAM took the deny policy (for operators)."""
        self._retrying(
            self._ddb.update_item,
            TableName=self.table_name,
            Key=keys.attribute_values(keys.lock_alarm_key(principal, alarm_arn)),
            UpdateExpression="SET #attached = :attached",
            ConditionExpression="attribute_exists(#sk)",
            ExpressionAttributeNames={"#attached": "iam_attached", "#sk": keys.SK},
            ExpressionAttributeValues={":attached": {"BOOL": attached}},
            conditional=True,
        )

    def record_release(self, principal: str, message: AlarmMessage, *, now: str) -> bool:
        """Record an alarm's release; ``False`` unless the record still says this alarm locks."""
        return self._transact(
            [
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": keys.attribute_values(
                            keys.lock_alarm_key(principal, message.alarm_arn)
                        ),
                        "UpdateExpression": (
                            "SET #state = :ok, #t = :t, #reason = :reason, "
                            "#previous = :previous, #released = :now"
                        ),
                        "ConditionExpression": _RELEASABLE,
                        "ExpressionAttributeNames": {
                            "#state": "state",
                            "#t": "state_change_time",
                            "#reason": "reason",
                            "#previous": "previous_state",
                            "#released": "released_at",
                        },
                        "ExpressionAttributeValues": {
                            ":ok": {"S": AlarmState.OK},
                            ":alarm": {"S": AlarmState.ALARM},
                            ":t": {"S": message.state_change_time},
                            ":reason": {"S": message.reason or "-"},
                            ":previous": {"S": message.old_state or "-"},
                            ":now": {"S": now},
                        },
                    }
                },
                self._holder_update(principal, "DELETE", message.alarm_arn, now),
                self.alarm_event_put(principal, EventAction.RELEASE, message, now=now),
                *self._marks(principal, [message.alarm_arn], add=False, now=now),
            ]
        )

    def put_event(self, event: dict[str, Any]) -> bool:
        """Write a history item built by :meth:`event_put` on its own, once.

        Conditional, so that a replayed message leaves its first history item untouched;
        returns ``False`` when the item was already there.
        """
        put = event["Put"]
        return self._retrying(
            self._ddb.put_item,
            TableName=put["TableName"],
            Item=put["Item"],
            ConditionExpression="attribute_not_exists(#sk)",
            ExpressionAttributeNames={"#sk": keys.SK},
            conditional=True,
        )

    def add_holder(self, principal: str, holder: str, *, now: str, event: dict[str, Any]) -> None:
        """Add ``holder`` to the lock (and its marks) and write its history item, atomically."""
        self._transact(
            [
                self._holder_update(principal, "ADD", holder, now),
                event,
                *self._marks(principal, [holder], add=True, now=now),
            ]
        )

    def remove_holders(
        self, principal: str, holders: Iterable[str], *, now: str, event: dict[str, Any]
    ) -> None:
        """Remove ``holders`` from the lock (and its marks) and write the history item, atomically.

        Only the named holders go: one added meanwhile (an alarm firing again) stays, on STATE
        and on the marks alike.
        """
        names = sorted(set(holders))
        if not names:
            self._transact([event])
            return
        self._transact(
            [
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": keys.attribute_values(keys.lock_state_key(principal)),
                        "UpdateExpression": "DELETE #locked_by :holders SET #updated = :now",
                        "ExpressionAttributeNames": {
                            "#locked_by": keys.LOCKED_BY,
                            "#updated": "updated_at",
                        },
                        "ExpressionAttributeValues": {
                            ":holders": {"SS": names},
                            ":now": {"S": now},
                        },
                    }
                },
                event,
                *self._marks(principal, names, add=False, now=now),
            ]
        )

    def correct_marks(
        self,
        principal: str,
        *,
        add: Iterable[str],
        remove: Iterable[str],
        seen_updated_at: str | None,
        now: str,
        event: dict[str, Any],
    ) -> bool:
        """Bring the marks back to STATE's holders (an audit fix); ``False`` when STATE changed
        since it was read (its ``updated_at`` is no longer ``seen_updated_at``)."""
        check: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": keys.attribute_values(keys.lock_state_key(principal)),
            "ExpressionAttributeNames": {"#updated": "updated_at"},
        }
        if seen_updated_at is None:
            check["ConditionExpression"] = "attribute_not_exists(#updated)"
        else:
            check["ConditionExpression"] = "#updated = :seen"
            check["ExpressionAttributeValues"] = {":seen": {"S": seen_updated_at}}
        # ADD and DELETE of one attribute cannot share an update expression: two transactions,
        # each checking that STATE is still what was read.
        done = True
        for names, adding in ((sorted(set(add)), True), (sorted(set(remove)), False)):
            if names:
                done = done and self._transact(
                    [
                        {"ConditionCheck": check},
                        *self._marks(principal, names, add=adding, now=now),
                    ]
                )
        return done and self._transact([{"ConditionCheck": check}, event])

    def event_put(
        self, principal: str, action: str, *, at: str, event_key: str, **fields: Any
    ) -> dict[str, Any]:
        """A history item as a transaction element (for writes that go with a lock change)."""
        item = _item(
            {
                **keys.lock_event_key(principal, at, event_key),
                "principal": principal,
                "action": action,
                **fields,
            }
        )
        return {"Put": {"TableName": self.table_name, "Item": item}}

    def list_locks(self) -> list[LockEntry]:
        """Every locked principal. A filtered scan: fine for an operator's occasional look."""
        return sorted(self._scan_locks(), key=lambda entry: entry.principal)

    def _scan_locks(self) -> Iterator[LockEntry]:
        paginator = self._ddb.get_paginator("scan")
        pages = paginator.paginate(
            TableName=self.table_name,
            ConsistentRead=True,
            FilterExpression="begins_with(#pk, :lock) AND #sk = :state AND attribute_exists(#by)",
            ExpressionAttributeNames={"#pk": keys.PK, "#sk": keys.SK, "#by": keys.LOCKED_BY},
            ExpressionAttributeValues={
                ":lock": {"S": keys.lock_partition("")},
                ":state": {"S": keys.LOCK_STATE_SK},
            },
        )
        for page in pages:
            for item in page.get("Items", []):
                yield LockEntry(
                    principal=keys.principal_of(item[keys.PK]["S"]),
                    holders=tuple(sorted(item[keys.LOCKED_BY]["SS"])),
                    updated_at=item.get("updated_at", {}).get("S", ""),
                )

    def current_marks(self, month: str) -> dict[str, frozenset[str]]:
        """Every principal's month usage item of ``month`` and its lock marks (empty set: the
        item exists without marks). A filtered scan, for the daily audit."""
        paginator = self._ddb.get_paginator("scan")
        pages = paginator.paginate(
            TableName=self.table_name,
            ConsistentRead=True,
            FilterExpression="begins_with(#pk, :usage) AND #sk = :month",
            ExpressionAttributeNames={"#pk": keys.PK, "#sk": keys.SK},
            ExpressionAttributeValues={
                ":usage": {"S": "USAGE#"},
                ":month": {"S": keys.usage_key("", month)[keys.SK]},
            },
            ProjectionExpression="#pk, #sk, locked_by",
        )
        found: dict[str, frozenset[str]] = {}
        for page in pages:
            for item in page.get("Items", []):
                marks = item.get(keys.LOCKED_BY, {}).get("SS", [])
                found[keys.principal_of(item[keys.PK]["S"])] = frozenset(marks)
        return found

    def lock_state(self, principal: str) -> tuple[frozenset[str], str | None]:
        """STATE's holders and ``updated_at`` read together (the version an audit fix checks)."""
        item = self._get(keys.lock_state_key(principal)) or {}
        holders = frozenset(item.get(keys.LOCKED_BY, {}).get("SS", []))
        updated = item.get("updated_at", {}).get("S")
        return holders, str(updated) if updated else None

    def _marks(
        self, principal: str, holders: Iterable[str], *, add: bool, now: str
    ) -> list[dict[str, Any]]:
        return lock_mark_updates(self.table_name, principal, holders, add=add, now=ledger_time(now))

    def _get(self, key: keys.Key) -> dict[str, Any] | None:
        response = self._ddb.get_item(
            TableName=self.table_name, Key=keys.attribute_values(key), ConsistentRead=True
        )
        item = response.get("Item")
        return dict(item) if item else None

    def _holder_update(self, principal: str, verb: str, holder: str, now: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": keys.attribute_values(keys.lock_state_key(principal)),
                "UpdateExpression": f"{verb} #locked_by :holder SET #updated = :now",
                "ExpressionAttributeNames": {
                    "#locked_by": keys.LOCKED_BY,
                    "#updated": "updated_at",
                },
                "ExpressionAttributeValues": {":holder": {"SS": [holder]}, ":now": {"S": now}},
            }
        }

    def alarm_event_put(
        self,
        principal: str,
        action: str,
        message: AlarmMessage,
        *,
        now: str,
        dry_run: bool = False,
        **fields: Any,
    ) -> dict[str, Any]:
        """A history item about an alarm's state change, as a transaction element.

        Keyed by the alarm's state change, not by the clock, so a replay meets the same item.
        """
        return self.event_put(
            principal,
            action,
            at=message.state_change_time,
            event_key=event_id(
                action, message.alarm_arn, message.state_change_time, "dry-run" if dry_run else ""
            ),
            dry_run=True if dry_run else None,
            alarm_name=message.alarm_name,
            alarm_arn=message.alarm_arn,
            state_change_time=message.state_change_time,
            reason=message.reason,
            previous_state=message.old_state,
            recorded_at=now,
            **fields,
        )

    def _transact(self, items: list[dict[str, Any]]) -> bool:
        """Apply a transaction; ``False`` when a condition cancelled it."""
        return self._retrying(
            self._ddb.transact_write_items,
            TransactItems=items,
            ClientRequestToken=request_token(items),
            conditional=True,
        )

    def _retrying(self, call: Callable[..., Any], *, conditional: bool, **params: Any) -> bool:
        """``call(**params)``, tried again after a conflict or a throttle; ``False`` when a
        condition failed (with ``conditional``), ``True`` when applied."""
        for attempt in range(WRITE_ATTEMPTS):
            try:
                call(**params)
            except ClientError as error:
                if conditional and (
                    _condition_failed(error)
                    or error_code(error) == CONDITIONAL_CHECK_FAILED_EXCEPTION
                ):
                    return False
                if not retryable(error) or attempt == WRITE_ATTEMPTS - 1:
                    raise
                self._sleep(backoff(attempt))
            else:
                return True
        raise AssertionError("unreachable")  # pragma: no cover
