"""Key layout of the one DynamoDB table shared by the gate, the enforcer and the CLI.

Every item has a partition key ``pk`` and a sort key ``sk`` (both strings); items that age out
carry the epoch-seconds TTL attribute ``expires_at``. Principals are always in canonical form
(see :mod:`bedrock_guard.core.principals`), so a role's sessions, and the role with or without its
path, land on the same items.

=====================  ==================  =================================================
pk                     sk                  item
=====================  ==================  =================================================
CALLER#<principal>     PROFILE             registry: tier, tenant, cost_center, application,
                                           environment (written by Terraform or operators)
USAGE#<principal>      MONTH#<yyyy-mm>     counters: month_tokens, month_usd, and per UTC day
                                           d<dd>_tokens, d<dd>_usd; ``holds`` (the holds in
                                           flight): see core/usage_item; expires after ~13
                                           months. ``locked_by``: the lock's mirror, the same
                                           set as STATE's, written in the same transaction on
                                           the previous, current and next month
                                           (core/lock_marks.py); an item with it and without
                                           ``holds`` is not yet opened
USAGE#<principal>      HOLD#<yyyy-mm>#<id> an expired hold, listed for reconciliation
LOCK#<principal>       STATE               locked_by: string set of what holds the lock (alarm
                                           ARNs, or ``operator``); absent when not locked
LOCK#<principal>       ALARM#<alarm arn>   one alarm's last applied state change for this
                                           principal: state, state_change_time, reason, ...
LOCK#<principal>       EVENT#<iso>#<id>    history: lock, release, unlock, refusal (dry run too)
=====================  ==================  =================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

PK: Final = "pk"
SK: Final = "sk"
TTL_ATTRIBUTE: Final = "expires_at"

PROFILE_SK: Final = "PROFILE"
LOCK_STATE_SK: Final = "STATE"
LOCKED_BY: Final = "locked_by"
OPERATOR_LOCK: Final = "operator"
# Holders of a lock the usage meter placed: ``window:<window>:<period>`` (direct use over it).
WINDOW_LOCK_PREFIX: Final = "window:"


def holder_kind(holder: str) -> str:
    """What holds a lock: ``"operator"``, ``"window"`` (the usage meter) or ``"alarm"``."""
    if holder == OPERATOR_LOCK:
        return "operator"
    return "window" if holder.startswith(WINDOW_LOCK_PREFIX) else "alarm"


# Registry attribute names: Terraform (modules/token-gate) writes exactly these.
PROFILE_ATTRIBUTES: Final = ("tier", "tenant", "cost_center", "application", "environment")

Key = dict[str, str]


def attribute_values(strings: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """A key (or a key with string attributes) in the low-level client's ``{"S": ...}`` form."""
    return {name: {"S": value} for name, value in strings.items()}


def caller_key(principal: str) -> Key:
    """The registry item of a caller."""
    return {PK: f"CALLER#{principal}", SK: PROFILE_SK}


def usage_key(principal: str, month: str) -> Key:
    """The counters item of a caller for one UTC calendar month (``yyyy-mm``)."""
    return {PK: f"USAGE#{principal}", SK: f"MONTH#{month}"}


def lock_state_key(principal: str) -> Key:
    """The item whose ``locked_by`` set is the lock (its month-item copies are what the gate
    checks per request; it reads this one when it opens a month)."""
    return {PK: f"LOCK#{principal}", SK: LOCK_STATE_SK}


def lock_alarm_key(principal: str, alarm_arn: str) -> Key:
    """One alarm's record for one principal: what it last did, and when."""
    return {PK: f"LOCK#{principal}", SK: f"ALARM#{alarm_arn}"}


def lock_event_key(principal: str, at_iso: str, event_id: str) -> Key:
    """One entry of a principal's lock history, sorted by time."""
    return {PK: f"LOCK#{principal}", SK: f"EVENT#{at_iso}#{event_id}"}


def lock_partition(principal: str) -> str:
    """The partition holding a principal's lock state, alarm records and history."""
    return f"LOCK#{principal}"


def principal_of(pk: str) -> str:
    """The principal part of any partition key above."""
    _, _, principal = pk.partition("#")
    return principal
