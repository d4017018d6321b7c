"""The lock's mirror in the caller's month items, where the token gate's condition reads it.

The gate checks ``locked_by`` on the month item it writes anyway (one conditional write per
step, see :mod:`bedrock_guard.core.usage_item`), so every ledger transaction that changes the
holders in ``LOCK#<principal>/STATE`` applies the same change to the usage items of the previous,
current and next UTC month (a lock written at a month boundary is seen whichever side of it a
container's clock is on). Those items may not exist yet: an item created here carries only the
mirror and its TTL, and the gate treats it as not opened, so it reads the lock state first.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from bedrock_guard.core import keys
from bedrock_guard.core.accounting import period_of


def mirrored_months(now: datetime) -> tuple[str, ...]:
    """The months whose usage items mirror a lock changed at ``now``: previous, current, next."""
    current = period_of(now)
    first_day = current.month_resets_at - timedelta(days=1)
    first_day = first_day.replace(day=1)
    previous = period_of(first_day - timedelta(days=1))
    following = period_of(current.month_resets_at)
    return (previous.month, current.month, following.month)


def lock_mark_updates(
    table_name: str,
    principal: str,
    holders: Iterable[str] | None,
    *,
    add: bool,
    now: datetime,
) -> list[dict[str, Any]]:
    """TransactWriteItems ``Update`` actions that add ``holders`` to (or delete them from) the
    mirror; ``holders=None`` with ``add=False`` removes every holder."""
    values: dict[str, Any] = {}
    if holders is None:
        if add:
            raise ValueError("adding holders needs the holders")
        change = "REMOVE #lb"
    else:
        values[":h"] = {"SS": sorted(set(holders))}
        change = f"{'ADD' if add else 'DELETE'} #lb :h"
    updates = []
    for month in mirrored_months(now):
        expires_at = period_of(datetime.strptime(f"{month}-15", "%Y-%m-%d")).expires_at
        updates.append(
            {
                "Update": {
                    "TableName": table_name,
                    "Key": keys.attribute_values(keys.usage_key(principal, month)),
                    "UpdateExpression": f"{change} SET #exp = if_not_exists(#exp, :exp)",
                    "ExpressionAttributeNames": {"#lb": keys.LOCKED_BY, "#exp": keys.TTL_ATTRIBUTE},
                    "ExpressionAttributeValues": values | {":exp": {"N": str(expires_at)}},
                }
            }
        )
    return updates
