"""The lock's mirror in the caller's month items, where the token gate's condition reads it.

The gate checks ``locked_by`` on the month item it writes anyway (one conditional write per
step, see :mod:`bedrock_guard.core.usage_item`), and reads ``LOCK#<principal>/STATE`` only when
it opens a new month item. So every ledger transaction that changes the holders in
``LOCK#<principal>/STATE`` applies the same change, in the same transaction, to the usage items
of the previous, current and next UTC month (a lock written at a month boundary is seen
whichever side of it a container's clock is on). Those items may not exist yet: the updates
carry no condition, and an item created here carries only the mirror and its TTL (no
``holds``), which the gate treats as not opened, so it reads the lock state first.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from bedrock_guard.core import keys
from bedrock_guard.core.accounting import period_of


def _middle_of_month(now: datetime, offset: int) -> datetime:
    """Noon UTC on the 15th of the month ``offset`` months from ``now``'s UTC month."""
    utc = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    index = utc.year * 12 + utc.month - 1 + offset
    return datetime(index // 12, index % 12 + 1, 15, 12, tzinfo=UTC)


def mark_months(now: datetime) -> list[tuple[str, int]]:
    """``(yyyy-mm, expires_at)`` of the mirrored months: previous, current, next. The TTL is
    the one the gate gives the month's item (:func:`~bedrock_guard.core.accounting.period_of`)."""
    periods = [period_of(_middle_of_month(now, offset)) for offset in (-1, 0, 1)]
    return [(period.month, period.expires_at) for period in periods]


def mirrored_months(now: datetime) -> tuple[str, ...]:
    """The months whose usage items mirror a lock changed at ``now``: previous, current, next."""
    return tuple(month for month, _ in mark_months(now))


def lock_mark_updates(
    table_name: str,
    principal: str,
    holders: Iterable[str] | None,
    *,
    add: bool,
    now: datetime,
) -> list[dict[str, Any]]:
    """TransactWriteItems ``Update`` actions that add ``holders`` to (or delete them from) the
    mirror, each keeping the month's TTL (``SET expires_at = if_not_exists(...)``) and without
    a condition. ``holders=None`` with ``add=False`` removes every holder; an empty
    ``holders`` gives no action (DynamoDB rejects an empty set)."""
    values: dict[str, Any] = {}
    if holders is None:
        if add:
            raise ValueError("adding holders needs the holders")
        change = "REMOVE #lb"
    else:
        names = sorted(set(holders))
        if not names:
            return []
        values[":h"] = {"SS": names}
        change = f"{'ADD' if add else 'DELETE'} #lb :h"
    return [
        {
            "Update": {
                "TableName": table_name,
                "Key": keys.attribute_values(keys.usage_key(principal, month)),
                "UpdateExpression": f"{change} SET #exp = if_not_exists(#exp, :exp)",
                "ExpressionAttributeNames": {"#lb": keys.LOCKED_BY, "#exp": keys.TTL_ATTRIBUTE},
                "ExpressionAttributeValues": values | {":exp": {"N": str(expires_at)}},
            }
        }
        for month, expires_at in mark_months(now)
    ]
