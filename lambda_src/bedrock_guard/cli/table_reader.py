"""Read a month of the shared table for operators: usage counters, registry profiles, locks.

One caller costs three strongly consistent GetItems. Every caller of a month costs one Scan of
the whole table (the table is keyed by principal, so there is no index by month): DynamoDB bills
the items it reads, not the items the filter returns, about 0.5 RCU per 4 KB read, paginated by
1 MB pages. That is the price of an operator's occasional look, never of a request path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from bedrock_guard.core import keys
from bedrock_guard.core.usage_item import DIRECT_TOKENS, DIRECT_USD, HOLDS, holds_of
from bedrock_guard.gate.usage_store import deserialize, profile_from_item

USAGE_PREFIX: Final = "USAGE#"
_DIRECT: Final = frozenset({DIRECT_TOKENS, DIRECT_USD})
CALLER_PREFIX: Final = "CALLER#"
MONTH_PREFIX: Final = "MONTH#"
_DAY_RE: Final = re.compile(r"^d(?P<day>\d{2})_(?P<unit>tokens|usd)$")


@dataclass(frozen=True, slots=True)
class Amounts:
    """Tokens and USD of one window."""

    tokens: int = 0
    usd: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class Reserved:
    """Reservations held in a month item (requests in flight, or ones whose Lambda died)."""

    count: int = 0
    tokens: int = 0
    usd: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class CallerMonth:
    """Everything the table says about one caller for one month."""

    principal: str
    profile: dict[str, str] | None = None  # registry attributes; None: not registered
    month: Amounts = field(default_factory=Amounts)
    days: dict[str, Amounts] = field(default_factory=dict)
    reserved: Reserved = field(default_factory=Reserved)
    # Of ``month``, what the usage meter counted for direct calls (not through the gate).
    direct: Amounts = field(default_factory=Amounts)
    locked_by: tuple[str, ...] = ()
    has_usage: bool = False

    @property
    def found(self) -> bool:
        """Whether the table knows this caller at all (registered, used, or locked)."""
        return self.profile is not None or self.has_usage or bool(self.locked_by)

    def attribute(self, name: str) -> str | None:
        return (self.profile or {}).get(name)


def get_item(client: Any, table: str, key: keys.Key) -> dict[str, Any] | None:
    """One (raw) item, strongly consistent; ``None`` when there is none."""
    response = client.get_item(TableName=table, Key=keys.attribute_values(key), ConsistentRead=True)
    item = response.get("Item")
    return dict(item) if item else None


def profile_of(principal: str, item: dict[str, Any]) -> dict[str, str]:
    """The registry attributes of a (raw) profile item, as the gate reads them: non-empty
    strings only."""
    profile = profile_from_item(principal, item)
    return {name: value for name in keys.PROFILE_ATTRIBUTES if (value := profile.text(name))}


def usage_of(item: dict[str, Any]) -> tuple[Amounts, dict[str, Amounts], Reserved]:
    """Month totals, per-day totals and reservations of a (raw) month item."""
    values = deserialize({name: value for name, value in item.items() if name != HOLDS})
    month = Amounts(
        int(values.get("month_tokens", 0)), Decimal(values.get("month_usd", Decimal(0)))
    )
    days: dict[str, dict[str, Decimal]] = {}
    holds = holds_of(item)
    count = len(holds)
    tokens = sum(h.charge.tokens for h in holds)
    usd = sum((h.charge.usd for h in holds), Decimal(0))
    for name, value in values.items():
        if match := _DAY_RE.match(name):
            days.setdefault(match["day"], {})[match["unit"]] = Decimal(value)
    per_day = {
        day: Amounts(int(units.get("tokens", 0)), units.get("usd", Decimal(0)))
        for day, units in sorted(days.items())
    }
    return month, per_day, Reserved(count, tokens, usd)


def read_caller(client: Any, table: str, principal: str, month: str) -> CallerMonth:
    """One caller's month: usage item, registry item and lock state (three GetItems)."""
    usage = get_item(client, table, keys.usage_key(principal, month))
    profile = get_item(client, table, keys.caller_key(principal))
    lock = get_item(client, table, keys.lock_state_key(principal))
    return _caller(principal, usage, profile, lock)


def read_month(client: Any, table: str, month: str) -> list[CallerMonth]:
    """Every caller with usage in ``month``, every registered caller, every lock (one Scan)."""
    usage: dict[str, dict[str, Any]] = {}
    profiles: dict[str, dict[str, Any]] = {}
    locks: dict[str, dict[str, Any]] = {}
    for item in _scan(client, table, month):
        pk = item[keys.PK]["S"]
        principal = keys.principal_of(pk)
        if pk.startswith(USAGE_PREFIX):
            usage[principal] = item
        elif pk.startswith(CALLER_PREFIX):
            profiles[principal] = item
        else:
            locks[principal] = item
    principals = sorted(set(usage) | set(profiles) | set(locks))
    return [_caller(p, usage.get(p), profiles.get(p), locks.get(p)) for p in principals]


def _scan(client: Any, table: str, month: str) -> Iterator[dict[str, Any]]:
    paginator = client.get_paginator("scan")
    pages = paginator.paginate(
        TableName=table,
        FilterExpression=(
            # A month item without counters carries only the lock's mirror: no usage.
            "(begins_with(#pk, :usage) AND #sk = :month AND attribute_exists(#counted))"
            " OR (begins_with(#pk, :caller) AND #sk = :profile)"
            " OR (begins_with(#pk, :lock) AND #sk = :state AND attribute_exists(#by))"
        ),
        ExpressionAttributeNames={
            "#pk": keys.PK,
            "#sk": keys.SK,
            "#by": keys.LOCKED_BY,
            "#counted": "month_tokens",
        },
        ExpressionAttributeValues={
            ":usage": {"S": USAGE_PREFIX},
            ":month": {"S": f"{MONTH_PREFIX}{month}"},
            ":caller": {"S": CALLER_PREFIX},
            ":profile": {"S": keys.PROFILE_SK},
            ":lock": {"S": keys.lock_partition("")},
            ":state": {"S": keys.LOCK_STATE_SK},
        },
    )
    for page in pages:
        yield from page.get("Items", [])


def _caller(
    principal: str,
    usage: dict[str, Any] | None,
    profile: dict[str, Any] | None,
    lock: dict[str, Any] | None,
) -> CallerMonth:
    month, days, reserved = usage_of(usage) if usage else (Amounts(), {}, Reserved())
    holders = (lock or {}).get(keys.LOCKED_BY, {}).get("SS", [])
    direct = deserialize({n: v for n, v in (usage or {}).items() if n in _DIRECT})
    return CallerMonth(
        principal=principal,
        profile=profile_of(principal, profile) if profile else None,
        month=month,
        days=days,
        reserved=reserved,
        direct=Amounts(
            int(direct.get(DIRECT_TOKENS, 0)), Decimal(direct.get(DIRECT_USD, Decimal(0)))
        ),
        locked_by=tuple(sorted(holders)),
        has_usage=usage is not None,
    )
