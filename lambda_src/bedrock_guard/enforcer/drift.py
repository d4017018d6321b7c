"""Drift between IAM and the lock ledger: find it, and bring IAM (or the gate's marks) back.

The ledger is the source of truth. Drift is anything that disagrees with it:

* ``attached_without_holder``: IAM shows the deny policy on a principal nothing holds (a lock
  made outside the enforcer, or a release whose detach never ran). Fix: detach.
* ``holder_without_attachment``: the ledger holds a lock IAM does not show (the policy was
  detached by hand, or IAM refused it). The gate refuses the caller; direct Bedrock calls are
  not denied. Fix: attach.
* ``policy_missing``: the deny policy itself does not exist, so no lock is enforced in IAM.
  Not fixable from here: re-create it (terraform apply), then fix again.
* ``marks_differ``: the gate's lock marks on the current month usage item say something else
  than the lock (written outside the enforcer). Fix: correct the marks.

The enforcer runs :func:`audit` daily (a scheduled event) and publishes the count as the
``LockDrift`` metric; ``bedrock-guard locks --audit [--fix]`` runs the same check.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from bedrock_guard.core.accounting import period_of
from bedrock_guard.core.principals import PrincipalError, parse_principal
from bedrock_guard.enforcer.ledger import ledger_time
from bedrock_guard.enforcer.lock_service import Home, LockService, PrincipalResult

AUDIT_FIX: Final = "audit_fix"
# The event an EventBridge schedule rule sends (modules/alarm-enforcer/audit.tf).
SCHEDULE_SOURCE: Final = "aws.events"
SCHEDULE_DETAIL_TYPE: Final = "Scheduled Event"


def is_scheduled(event: object) -> bool:
    """Whether a Lambda event is the audit schedule's (EventBridge), not an SNS delivery."""
    return (
        isinstance(event, Mapping)
        and event.get("source") == SCHEDULE_SOURCE
        and event.get("detail-type") == SCHEDULE_DETAIL_TYPE
    )


class DriftKind(StrEnum):
    """What disagrees. The values appear in JSON output, logs and history items."""

    ATTACHED_WITHOUT_HOLDER = "attached_without_holder"
    HOLDER_WITHOUT_ATTACHMENT = "holder_without_attachment"
    POLICY_MISSING = "policy_missing"
    MARKS_DIFFER = "marks_differ"


FIXES: Final = {
    DriftKind.ATTACHED_WITHOUT_HOLDER: "detach the deny policy",
    DriftKind.HOLDER_WITHOUT_ATTACHMENT: "attach the deny policy",
    DriftKind.POLICY_MISSING: "re-create the deny policy (terraform apply), then fix again",
    DriftKind.MARKS_DIFFER: "write the lock's holders on the month usage items",
}


@dataclass(frozen=True, slots=True)
class Drift:
    """One principal whose IAM attachment, lock and marks disagree."""

    principal: str
    kind: DriftKind
    holders: tuple[str, ...] = ()
    marks: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "principal": self.principal,
            "kind": str(self.kind),
            "holders": list(self.holders),
            "marks": list(self.marks),
            "fix": FIXES[self.kind],
        }


def find_drift(
    held: Mapping[str, Collection[str]],
    attached: Collection[str] | None,
    marks: Mapping[str, Collection[str]],
) -> list[Drift]:
    """Every disagreement, sorted by principal. Pure.

    ``held``: principal -> holders (locked principals only); ``attached``: the principals IAM
    shows the deny policy on, ``None`` when the policy does not exist; ``marks``: principal ->
    marks on the current month's usage item, for the items that exist.
    """
    found: list[Drift] = []
    for principal in sorted(set(held) | set(attached or ()) | set(marks)):
        holders = tuple(sorted(held.get(principal, ())))
        on_item = marks.get(principal)
        if attached is None:
            if holders:
                found.append(Drift(principal, DriftKind.POLICY_MISSING, holders))
        elif principal in attached and not holders:
            found.append(Drift(principal, DriftKind.ATTACHED_WITHOUT_HOLDER))
        elif holders and principal not in attached:
            found.append(Drift(principal, DriftKind.HOLDER_WITHOUT_ATTACHMENT, holders))
        if on_item is not None and set(on_item) != set(holders):
            found.append(Drift(principal, DriftKind.MARKS_DIFFER, holders, tuple(sorted(on_item))))
    return found


def audit(service: LockService) -> list[Drift]:
    """Compare IAM's attachments of the deny policy, the ledger's locks and the gate's marks.

    One ListEntitiesForPolicy (paged), one filtered Scan for the locks, one for the marks.
    """
    held = {entry.principal: entry.holders for entry in service.ledger.list_locks()}
    principals = service.iam.attached_principals()
    attached = None if principals is None else {p.canonical for p in principals}
    month = period_of(ledger_time(service.clock())).month
    return find_drift(held, attached, service.ledger.current_marks(month))


@dataclass(frozen=True, slots=True)
class FixResult:
    """What a fix did to one drift: ``fixed``, ``changed`` (re-audit), or ``not_fixable``."""

    drift: Drift
    outcome: str
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {**self.drift.as_dict(), "outcome": self.outcome, "detail": self.detail}


def fix(service: LockService, drift: Drift, home: Home, *, requested_by: str) -> FixResult:
    """Reconcile one drift with the ledger, and record who asked in the principal's history.

    ``home`` is the account IAM is changed in (the caller's); an attach goes through the same
    refusals as an alarm's (protected principals, allowed paths).
    """
    if drift.kind is DriftKind.POLICY_MISSING:
        return FixResult(drift, "not_fixable", FIXES[drift.kind])
    try:
        principal = parse_principal(drift.principal)
    except PrincipalError as error:
        return FixResult(drift, "not_fixable", str(error))
    now = service.clock()
    event = service.ledger.event_put(
        principal.canonical,
        AUDIT_FIX,
        at=now,
        event_key=uuid.uuid4().hex[:16],
        requested_by=requested_by,
        drift=str(drift.kind),
        holders=list(drift.holders),
        marks=list(drift.marks),
        recorded_at=now,
    )
    if drift.kind is DriftKind.MARKS_DIFFER:
        return _fix_marks(service, drift, event, now)
    if drift.kind is DriftKind.HOLDER_WITHOUT_ATTACHMENT:
        # The lookup gives the real path; protection and allowed paths apply as for an alarm.
        resolved = service.resolve(drift.principal, home)
        if isinstance(resolved, PrincipalResult):
            return FixResult(drift, "not_fixable", f"refused: {resolved.detail}")
        principal = resolved
    state = service.reconcile(principal)
    service.ledger.put_event(event)
    if drift.kind is DriftKind.HOLDER_WITHOUT_ATTACHMENT and not state.attached:
        return FixResult(drift, "not_fixable", "IAM refused the attachment (see the log)")
    return FixResult(drift, "fixed", state.detail)


def _fix_marks(service: LockService, drift: Drift, event: dict[str, Any], now: str) -> FixResult:
    """Write the lock's holders on the marks, unless the lock changed since the audit."""
    canonical = drift.principal
    holders, updated_at = service.ledger.lock_state(canonical)
    if holders != frozenset(drift.holders):
        return FixResult(drift, "changed", "the lock changed since the audit: audit again")
    done = service.ledger.correct_marks(
        canonical,
        add=set(drift.holders) - set(drift.marks),
        remove=set(drift.marks) - set(drift.holders),
        seen_updated_at=updated_at,
        now=now,
        event=event,
    )
    return FixResult(drift, "fixed" if done else "changed")


def summary(drift: list[Drift]) -> dict[str, int]:
    """How many drifts of each kind (for a log line)."""
    kinds: dict[str, int] = {}
    for item in drift:
        kinds[str(item.kind)] = kinds.get(str(item.kind), 0) + 1
    return kinds
