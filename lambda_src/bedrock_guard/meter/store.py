"""The usage meter's writes to the caller's month item: direct usage, once, and the gate's holds
settled to what Bedrock logged.

Direct usage is added in one transaction with a ``SEEN#<request id>`` marker, so a replayed or
duplicated log record is counted once (the marker outlives CloudWatch Logs' redelivery window).
A gate call's record settles its hold exactly, whichever of three states the hold is in:

* settled by the gate (gone from the month item, no ``HOLD#`` record): nothing to do;
* still in the month item (the gate's Lambda may still be running, or died): the logged usage is
  written to the hold's ``HOLD#`` key, and whoever moves the hold out of the item once it
  expires (the gate's sweep) replaces the worst case by it in the same conditional write;
* already moved to a ``HOLD#`` record (expired, worst case still charged): the record is deleted
  and the difference applied to the hold's day and month in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from bedrock_guard.core import keys
from bedrock_guard.core.accounting import Charge, Counters, Period, period_of_day
from bedrock_guard.core.dynamodb_calls import ConditionFailed, DynamoDBFailure, Retrying
from bedrock_guard.core.usage_item import (
    ADD_WINDOWS,
    DIRECT_TOKENS,
    DIRECT_USD,
    HOLDS,
    LOGGED_TOKENS,
    LOGGED_USD,
    expired_hold_key,
    number,
    seen_key,
    window_names,
)

# CloudWatch Logs may deliver a subscription event again within hours; markers last days.
SEEN_MARKER_DAYS: Final = 3


class MeterStoreError(Exception):
    """DynamoDB failed after retries; the record is not counted and the batch must be retried."""


class Reconciled(StrEnum):
    """What a gate call's record did to its hold."""

    SETTLED_BY_GATE = "settled_by_gate"
    NOTED_FOR_SWEEP = "noted_for_sweep"
    RECONCILED = "reconciled"
    ALREADY_RECONCILED = "already_reconciled"


@dataclass(frozen=True, slots=True)
class Charged:
    """Direct usage added (``counted``) or found already counted, and the counters after."""

    counted: bool
    counters: Counters


class MeterStore:
    """Reads and writes of the shared table for the usage meter."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        retrying: Retrying | None = None,
    ) -> None:
        self.client = client
        self.table_name = table_name
        self.retrying = retrying or Retrying()

    # Direct usage ---------------------------------------------------------------------------

    def charge_direct(
        self, principal: str, request_id: str, period: Period, charge: Charge, *, now: float
    ) -> Charged:
        """Add a direct call's usage to the caller's windows of ``period``, once per request id."""
        marker = keys.attribute_values(seen_key(principal, request_id)) | {
            keys.TTL_ATTRIBUTE: number(int(now) + SEEN_MARKER_DAYS * 86_400),
            "tokens": number(charge.tokens),
            "usd": number(charge.usd),
            "month": {"S": period.month},
            "day": {"S": period.day},
        }
        items = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": marker,
                    "ConditionExpression": "attribute_not_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": keys.PK},
                }
            },
            self._add(principal, period, charge, direct=True),
        ]
        counted = self._transact(items)
        return Charged(counted, self.counters(principal, period))

    def counters(self, principal: str, period: Period) -> Counters:
        """The caller's counters of ``period`` (strongly consistent)."""
        item = self._call(
            "get_item",
            TableName=self.table_name,
            Key=keys.attribute_values(keys.usage_key(principal, period.month)),
            ConsistentRead=True,
        ).get("Item", {})
        return Counters.from_numbers(_numbers(item), period)

    def registered_tier(self, principal: str) -> tuple[bool, str | None]:
        """Whether the caller is registered, and its tier (a non-empty string, else None)."""
        item = self._call(
            "get_item",
            TableName=self.table_name,
            Key=keys.attribute_values(keys.caller_key(principal)),
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return False, None
        tier = item.get("tier", {}).get("S")
        return True, tier if isinstance(tier, str) and tier else None

    # The gate's holds -----------------------------------------------------------------------

    def reconcile(
        self, principal: str, month: str, hold_id: str, logged: Charge, *, now: float
    ) -> Reconciled:
        """Settle the gate's hold ``hold_id`` to the usage Bedrock logged for it."""
        listed_key = keys.attribute_values(expired_hold_key(principal, month, hold_id))
        listed = self._call(
            "get_item", TableName=self.table_name, Key=listed_key, ConsistentRead=True
        ).get("Item")
        if listed is not None and "tokens" in listed:
            return self._replace_listed(principal, month, listed, logged)
        if listed is not None:
            return Reconciled.ALREADY_RECONCILED  # logged before; the sweep will use it
        month_item = self._call(
            "get_item",
            TableName=self.table_name,
            Key=keys.attribute_values(keys.usage_key(principal, month)),
            ConsistentRead=True,
            ProjectionExpression="#holds.#h",
            ExpressionAttributeNames={"#holds": HOLDS, "#h": hold_id},
        ).get("Item", {})
        if hold_id not in month_item.get(HOLDS, {}).get("M", {}):
            return Reconciled.SETTLED_BY_GATE
        note = listed_key | {
            LOGGED_TOKENS: number(logged.tokens),
            LOGGED_USD: number(logged.usd),
            "logged_at": number(int(now)),
            keys.TTL_ATTRIBUTE: number(int(now) + SEEN_MARKER_DAYS * 86_400),
        }
        try:
            self._call(
                "put_item",
                TableName=self.table_name,
                Item=note,
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": keys.PK},
            )
        except ConditionFailed:
            # Swept between the two reads: settle the listed hold instead.
            return self.reconcile(principal, month, hold_id, logged, now=now)
        return Reconciled.NOTED_FOR_SWEEP

    def _replace_listed(
        self, principal: str, month: str, listed: Mapping[str, Any], logged: Charge
    ) -> Reconciled:
        held = Charge(int(listed["tokens"]["N"]), Decimal(listed["usd"]["N"]))
        period = period_of_day(month, str(listed.get("day", {}).get("S", "01")))
        items = [
            {
                "Delete": {
                    "TableName": self.table_name,
                    "Key": {keys.PK: listed[keys.PK], keys.SK: listed[keys.SK]},
                    "ConditionExpression": "attribute_exists(#tokens)",
                    "ExpressionAttributeNames": {"#tokens": "tokens"},
                }
            },
            self._add(principal, period, logged.minus(held)),
        ]
        return Reconciled.RECONCILED if self._transact(items) else Reconciled.ALREADY_RECONCILED

    # Plumbing -------------------------------------------------------------------------------

    def _add(
        self, principal: str, period: Period, charge: Charge, *, direct: bool = False
    ) -> dict[str, Any]:
        names = window_names(period) | {"#exp": keys.TTL_ATTRIBUTE}
        add = ADD_WINDOWS
        if direct:  # also kept apart, so that operators see what bypassed the gate
            names |= {"#dt": DIRECT_TOKENS, "#du": DIRECT_USD}
            add += ", #dt :tokens, #du :usd"
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": keys.attribute_values(keys.usage_key(principal, period.month)),
                "UpdateExpression": f"ADD {add} SET #exp = if_not_exists(#exp, :exp)",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": {
                    ":tokens": number(charge.tokens),
                    ":usd": number(charge.usd),
                    ":exp": number(period.expires_at),
                },
            }
        }

    def _transact(self, items: list[dict[str, Any]]) -> bool:
        """A transaction with DynamoDB's retries; ``False`` when a condition cancelled it."""
        try:
            return self.retrying.transact(self.client, items)
        except DynamoDBFailure as failure:
            raise MeterStoreError(str(failure)) from failure

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        try:
            return self.retrying.call(self.client, operation, **params)
        except DynamoDBFailure as failure:
            raise MeterStoreError(str(failure)) from failure


def _numbers(item: Mapping[str, Any]) -> dict[str, Decimal]:
    return {
        name: Decimal(value["N"])
        for name, value in item.items()
        if isinstance(value, Mapping) and "N" in value
    }
