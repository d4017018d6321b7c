"""Operator commands on locks (the operator CLI calls these): lock, unlock, list.

They use the same IAM and ledger layers as the alarm path and the same refusals, so an operator
command can neither lock a protected principal nor leave the ledger and IAM disagreeing: the
ledger is written first, then IAM is reconciled with it.
"""

from __future__ import annotations

import uuid
from typing import Any

from bedrock_guard.core import keys
from bedrock_guard.core.principals import Principal, parse_principal
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
    canonical = parse_principal(principal).canonical
    released = sorted(service.ledger.holders(canonical))
    return release_holders(
        service,
        canonical,
        released,
        EventAction.UNLOCK,
        requested_by=requested_by,
        operator_reason=reason,
    )


def lock(
    service: LockService, principal: str, home: Home, *, reason: str, requested_by: str
) -> PrincipalResult:
    """Lock a principal by hand; it stays locked until :func:`unlock`, whatever alarms do."""
    resolved = service.resolve(principal, home)
    if isinstance(resolved, PrincipalResult):
        return resolved
    return add_holder(
        service,
        resolved,
        keys.OPERATOR_LOCK,
        EventAction.OPERATOR_LOCK,
        requested_by=requested_by,
        operator_reason=reason,
    )


def add_holder(
    service: LockService, principal: Principal, lock_holder: str, action: str, **fields: Any
) -> PrincipalResult:
    """Lock ``principal`` by ``lock_holder``: the ledger (with its history item) first, so the gate
    refuses from here on, then IAM follows it, as for an ALARM."""
    canonical = principal.canonical
    now = service.clock()
    event = service.ledger.event_put(
        canonical,
        action,
        at=now,
        event_key=uuid.uuid4().hex[:16],
        policy_arn=service.config.deny_policy_arn,
        recorded_at=now,
        **fields,
    )
    service.ledger.add_holder(canonical, lock_holder, now=now, event=event)
    state = service.reconcile(principal)
    return PrincipalResult(
        canonical, Outcome.LOCKED if state.attached else Outcome.LOCKED_LEDGER_ONLY, lock_holder
    )


def release_holders(
    service: LockService, canonical: str, holders: list[str], action: str, **fields: Any
) -> PrincipalResult:
    """Release ``holders``: the ledger first (the gate serves the caller again unless another
    holder stays), then IAM follows it, as for an OK."""
    now = service.clock()
    event = service.ledger.event_put(
        canonical,
        action,
        at=now,
        event_key=uuid.uuid4().hex[:16],
        released_holders=holders,
        recorded_at=now,
        **fields,
    )
    service.ledger.remove_holders(canonical, holders, now=now, event=event)
    state = service.reconcile(parse_principal(canonical))
    if state.holders:  # another holder (or one added meanwhile) keeps the lock
        return PrincipalResult(canonical, Outcome.STILL_HELD, state.detail)
    return PrincipalResult(canonical, Outcome.RELEASED, ",".join(holders))
