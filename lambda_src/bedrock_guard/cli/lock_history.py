"""Lock periods of a principal from its history items (``LOCK#<principal>`` / ``EVENT#...``).

A period opens when the first holder takes the lock (an alarm's ``lock``, an ``operator_lock``,
the usage meter's ``window_lock``) and closes when the last one lets go (an alarm's ``release``,
a ``window_release`` of the window's holder, an operator's ``unlock`` of all). Dry-run items and
refusals change nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Final

from bedrock_guard.cli.html_report import LockSpan
from bedrock_guard.core import keys

EVENT_PREFIX: Final = "EVENT#"


def parse_time(text: str) -> datetime | None:
    """An ISO 8601 instant as the ledger stores it (``Z``, ``+0000`` or ``+00:00``)."""
    value = text.strip().replace("Z", "+00:00")
    if len(value) > 5 and value[-5] in "+-" and value[-3] != ":":
        value = f"{value[:-2]}:{value[-2:]}"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def read_events(client: Any, table: str, principal: str) -> Iterator[dict[str, Any]]:
    """The principal's history items, oldest first (one paginated Query)."""
    paginator = client.get_paginator("query")
    pages = paginator.paginate(
        TableName=table,
        KeyConditionExpression="#pk = :pk AND begins_with(#sk, :event)",
        ExpressionAttributeNames={"#pk": keys.PK, "#sk": keys.SK},
        ExpressionAttributeValues={
            ":pk": {"S": keys.lock_partition(principal)},
            ":event": {"S": EVENT_PREFIX},
        },
    )
    for page in pages:
        yield from page.get("Items", [])


def _text(item: dict[str, Any], name: str) -> str:
    return str(item.get(name, {}).get("S", ""))


def lock_spans(items: Iterable[dict[str, Any]]) -> tuple[LockSpan, ...]:
    """Periods during which anything held the lock, from raw history items."""
    events = []
    for item in items:
        if item.get("dry_run", {}).get("BOOL"):
            continue
        at = parse_time(_text(item, keys.SK).removeprefix(EVENT_PREFIX).rpartition("#")[0])
        if at is not None:
            events.append((at, item))
    events.sort(key=lambda pair: pair[0])
    spans: list[LockSpan] = []
    holders: dict[str, str] = {}  # holder -> how it is shown
    start: datetime | None = None
    seen: list[str] = []
    for at, item in events:
        if not _apply(item, holders):
            continue
        if holders and start is None:
            start, seen = at, []
        seen.extend(name for name in holders.values() if name not in seen)
        if not holders and start is not None:
            spans.append(LockSpan(start, at, tuple(seen)))
            start = None
    if start is not None:
        spans.append(LockSpan(start, None, tuple(seen)))
    return tuple(spans)


def _apply(item: dict[str, Any], holders: dict[str, str]) -> bool:
    """Apply one history item to the holders (holder -> how it is shown); whether it was a
    lock change at all."""
    action = _text(item, "action")
    alarm = _text(item, "alarm_arn")
    if action == "lock" and alarm:
        holders[alarm] = f"alarm {_text(item, 'alarm_name') or alarm}"
    elif action == "operator_lock":
        holders[keys.OPERATOR_LOCK] = "operator"
    elif action == "window_lock" and (holder := _text(item, "holder")):
        holders[holder] = f"usage meter {holder}"
    elif action == "release" and alarm:
        holders.pop(alarm, None)
    elif action == "window_release":
        for released in item.get("released_holders", {}).get("SS", []):
            holders.pop(str(released), None)
    elif action == "unlock":
        holders.clear()
    else:
        return False
    return True
