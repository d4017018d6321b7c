"""Operator commands on locks (the operator CLI calls these): lock, unlock, list.

They use the same IAM and ledger layers as the alarm path and the same refusals, so an operator
command can neither lock a protected principal nor leave the ledger and IAM disagreeing: the
ledger is written first, then IAM is reconciled with it.
"""

from __future__ import annotations

import uuid

from bedrock_guard.core import keys
from bedrock_guard.core.principals import parse_principal
from bedrock_guard.enforcer.ledger import EventAction, LockEntry
from bedrock_guard.enforcer.lock_service import Home, LockService, Outcome, PrincipalResult


def list_locks(service: LockService) -> list[LockEntry]:
    """Every locked principal with what holds it (alarm ARNs, ``operator``)."""
    return service.ledger.list_locks()


def unlock(
    service: LockService, principal: str, *, reason: str, requested_by: str
) -> PrincipalResult:
    """Release a principal whatever holds it: clear every holder, then detach the deny policy.

    The alarms stay as they are: one still in ALARM does not lock again until it has been OK
    and fires anew (a replay of the message that locked is recognised and changes nothing).
    Raises :class:`~bedrock_guard.core.principals.PrincipalError` for a malformed principal.
    """
    parsed = parse_principal(principal)
    canonical = parsed.canonical
    now = service.clock()
    released = sorted(service.ledger.holders(canonical))
    event = service.ledger.event_put(
        canonical,
        EventAction.UNLOCK,
        at=now,
        event_key=uuid.uuid4().hex[:16],
        requested_by=requested_by,
        operator_reason=reason,
        released_holders=released,
        recorded_at=now,
    )
    # Ledger first (the gate serves the caller again), then IAM follows it, as for an OK.
    service.ledger.remove_holders(canonical, released, now=now, event=event)
    state = service.reconcile(parsed)
    if state.holders:  # an alarm locked again meanwhile: its lock stands
        return PrincipalResult(canonical, Outcome.STILL_HELD, state.detail)
    return PrincipalResult(canonical, Outcome.RELEASED, ",".join(released))


def lock(
    service: LockService, principal: str, home: Home, *, reason: str, requested_by: str
) -> PrincipalResult:
    """Lock a principal by hand; it stays locked until :func:`unlock`, whatever alarms do."""
    resolved = service.resolve(principal, home)
    if isinstance(resolved, PrincipalResult):
        return resolved
    canonical = resolved.canonical
    now = service.clock()
    event = service.ledger.event_put(
        canonical,
        EventAction.OPERATOR_LOCK,
        at=now,
        event_key=uuid.uuid4().hex[:16],
        requested_by=requested_by,
        operator_reason=reason,
        policy_arn=service.config.deny_policy_arn,
        recorded_at=now,
    )
    # Ledger first (the gate refuses from here on), then IAM follows it, as for an ALARM.
    service.ledger.add_holder(canonical, keys.OPERATOR_LOCK, now=now, event=event)
    state = service.reconcile(resolved)
    return PrincipalResult(
        canonical, Outcome.LOCKED if state.attached else Outcome.LOCKED_LEDGER_ONLY
    )
