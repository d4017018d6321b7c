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
from bedrock_guard.core.accounting import Amount, Charge

HOLDS: Final = "holds"
EXPIRED_HOLD_PREFIX: Final = "HOLD#"
# Beyond this many holds in flight a caller's request is refused (429), which bounds the item
# at about 100 bytes a hold: ~6.5 KB of holds plus ~1.5 KB of counters at most.
MAX_HOLDS_IN_FLIGHT: Final = 64

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]


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
