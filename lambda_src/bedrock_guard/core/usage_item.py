"""The caller's month item: counters, holds in flight and the mirrored lock, in one item.

Everything a reservation must check lives in ``USAGE#<principal> / MONTH#<yyyy-mm>``, so the
gate reserves, settles and releases with one conditional ``UpdateItem`` each and never takes
part in a transaction: standard writes to one item are serialised by DynamoDB and cannot cancel
each other, where transactions on one hot item can (``TransactionConflict``).

==================  ======================================================================
attribute           meaning
==================  ======================================================================
month_tokens/_usd   settled use plus holds in flight, this month
d<dd>_tokens/_usd   the same per UTC day
holds               map hold id -> {t, u, d, x, r}: tokens, USD, day (dd), expiry (epoch s),
                    API request id. Its presence marks the month as *opened* (see below)
locked_by           string set mirrored from ``LOCK#<principal>/STATE`` by every ledger
                    transaction (the gate's condition reads it here)
expires_at          TTL, about 13 months after the month ends
==================  ======================================================================

A month item is *opened* by the gate's first request in that month, after a consistent read
of the lock state; until then a reservation's condition fails and the gate opens it. That is
how a lock recorded before the month began still refuses in the new month: a ledger write
mirrors ``locked_by`` only into the previous, current and next months' items.

Holds that outlive their expiry (the Lambda died, or its settle failed for good) are moved out
of the item into ``USAGE#<principal> / HOLD#<yyyy-mm>#<hold id>`` records, their charge left in
the counters (a conservative charge), so the item stays small and the records can be settled
exactly later from what Bedrock logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from bedrock_guard.core import keys
from bedrock_guard.core.accounting import WINDOWS, Amount, Charge, Period

HOLDS: Final = "holds"
EXPIRED_HOLD_PREFIX: Final = "HOLD#"
SEEN_PREFIX: Final = "SEEN#"
# What Bedrock logged for a gate call whose hold was still in flight (written by the meter
# under the hold's HOLD# key; whoever moves the hold out of the month item applies it).
LOGGED_TOKENS: Final = "logged_tokens"
# The part of the month's counters the usage meter added for direct calls (not through the gate).
DIRECT_TOKENS: Final = "direct_month_tokens"
DIRECT_USD: Final = "direct_month_usd"
LOGGED_USD: Final = "logged_usd"
# Beyond this many holds in flight a caller's request is refused (429), which bounds the item
# at about 100 bytes a hold: ~6.5 KB of holds plus ~1.5 KB of counters at most.
MAX_HOLDS_IN_FLIGHT: Final = 64

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]

# An update clause adding ``:tokens`` or ``:usd`` to every window's counter (``#w<i>`` names
# from :func:`window_names`).
ADD_WINDOWS: Final = ", ".join(
    f"#w{i} {':usd' if w.is_usd else ':tokens'}" for i, w in enumerate(WINDOWS)
)


def window_names(period: Period) -> dict[str, str]:
    """``#w<i>``: the counter attribute of window ``i`` of ``WINDOWS`` in ``period``."""
    return {f"#w{i}": period.attribute(w) for i, w in enumerate(WINDOWS)}


def number(value: Amount) -> AttributeValue:
    """A DynamoDB number in plain notation without trailing zeros, as DynamoDB stores it."""
    if isinstance(value, int):
        return {"N": str(value)}
    return {"N": format(value.normalize(), "f")}


@dataclass(frozen=True, slots=True)
class Hold:
    """A worst case held in a month item until settled, released or expired."""

    hold_id: str
    charge: Charge
    day: str
    expires_at: int
    request_id: str

    def attribute_value(self) -> AttributeValue:
        return {
            "M": {
                "t": number(self.charge.tokens),
                "u": number(self.charge.usd),
                "d": {"S": self.day},
                "x": number(self.expires_at),
                "r": {"S": self.request_id},
            }
        }


def hold_from_value(hold_id: str, value: Any) -> Hold | None:
    """A hold from its stored (low-level) value; ``None`` when it is not one."""
    fields = value.get("M") if isinstance(value, Mapping) else None
    if not isinstance(fields, Mapping):
        return None
    try:
        return Hold(
            hold_id=hold_id,
            charge=Charge(int(fields["t"]["N"]), Decimal(fields["u"]["N"])),
            day=str(fields["d"]["S"]),
            expires_at=int(fields["x"]["N"]),
            request_id=str(fields.get("r", {}).get("S", "")),
        )
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return None


def holds_of(item: Mapping[str, Any]) -> list[Hold]:
    """Every readable hold of a low-level month item (none when it is not opened)."""
    stored = item.get(HOLDS, {}).get("M") if isinstance(item.get(HOLDS), Mapping) else None
    if not isinstance(stored, Mapping):
        return []
    found = (hold_from_value(hold_id, value) for hold_id, value in stored.items())
    return [hold for hold in found if hold is not None]


def is_opened(item: Mapping[str, Any]) -> bool:
    return HOLDS in item


def locked_by(item: Mapping[str, Any]) -> frozenset[str]:
    value = item.get(keys.LOCKED_BY)
    holders = value.get("SS") if isinstance(value, Mapping) else None
    return frozenset(holders) if isinstance(holders, list) else frozenset()


def expired_hold_key(principal: str, month: str, hold_id: str) -> keys.Key:
    """Where an expired hold is listed, next to its month item."""
    return {keys.PK: f"USAGE#{principal}", keys.SK: f"{EXPIRED_HOLD_PREFIX}{month}#{hold_id}"}


def seen_key(principal: str, request_id: str) -> keys.Key:
    """The marker of a direct call the usage meter counted (by Bedrock's request id)."""
    return {keys.PK: f"USAGE#{principal}", keys.SK: f"{SEEN_PREFIX}{request_id}"}


def logged_charge(item: Mapping[str, Any] | None) -> Charge | None:
    """The usage Bedrock logged, from a ``HOLD#`` item the meter wrote; ``None`` if none."""
    if not item or LOGGED_TOKENS not in item or LOGGED_USD not in item:
        return None
    try:
        return Charge(int(item[LOGGED_TOKENS]["N"]), Decimal(item[LOGGED_USD]["N"]))
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return None
