"""The lock marks the token gate reads: ``locked_by`` on a caller's month usage items.

The gate reads a caller's lock inside the one conditional write it makes per request (on the
month item, ``attribute_not_exists(locked_by)``), and reads ``LOCK#<principal>/STATE`` only
when it opens a new month item. So every write that changes STATE's ``locked_by`` applies the
same change, in the same transaction, to the usage items of the previous, current and next UTC
month (the gate's and the writer's clocks may disagree around a month boundary). The items may
not exist yet: the updates carry no condition, and an item created this way has the key, the
mark and the month's TTL only (no ``holds``), which the gate treats as not yet opened.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final

from bedrock_guard.core import keys
from bedrock_guard.core.accounting import period_of

# How far either side of now the marks reach: one month each way.
MONTHS_AROUND: Final = (-1, 0, 1)


def _instant_in_month(now: datetime, offset: int) -> datetime:
    """Noon UTC on the 15th of the month ``offset`` months from ``now``'s UTC month."""
    utc = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    index = utc.year * 12 + utc.month - 1 + offset
    return datetime(index // 12, index % 12 + 1, 15, 12, tzinfo=UTC)


def mark_months(now: datetime) -> list[tuple[str, int]]:
    """``(yyyy-mm, expires_at)`` of the months the marks go on: previous, current, next."""
    periods = [period_of(_instant_in_month(now, offset)) for offset in MONTHS_AROUND]
    return [(period.month, period.expires_at) for period in periods]


def lock_mark_updates(
    table_name: str, principal: str, holders: Iterable[str], *, add: bool, now: datetime
) -> list[dict[str, Any]]:
    """TransactWriteItems ``Update`` entries adding (or deleting) ``holders`` to (from) the
    ``locked_by`` set of the principal's previous, current and next month usage items.

    Each keeps the month's TTL (``SET expires_at = if_not_exists(expires_at, :exp)``) and has no
    condition. Empty ``holders`` give no entries (DynamoDB rejects an empty set).
    """
    values = sorted(set(holders))
    if not values:
        return []
    verb = "ADD" if add else "DELETE"
    return [
        {
            "Update": {
                "TableName": table_name,
                "Key": keys.attribute_values(keys.usage_key(principal, month)),
                "UpdateExpression": (
                    f"{verb} #locked_by :holders SET #expires = if_not_exists(#expires, :exp)"
                ),
                "ExpressionAttributeNames": {
                    "#locked_by": keys.LOCKED_BY,
                    "#expires": keys.TTL_ATTRIBUTE,
                },
                "ExpressionAttributeValues": {
                    ":holders": {"SS": values},
                    ":exp": {"N": str(expires_at)},
                },
            }
        }
        for month, expires_at in mark_months(now)
    ]
