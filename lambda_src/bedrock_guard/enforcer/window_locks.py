"""Locks held by a budget window: a caller over a limit stays locked until the window resets.

The usage meter locks a direct caller that went over a limit through the same path as an alarm
or an operator: the ledger first (the gate refuses from then on), IAM following it (the deny
policy attached), protected principals and allowed paths honoured, history written. The holder
names the window and its period, ``window:daily_tokens:2026-11-23`` or
``window:monthly_usd:2026-11``, so the lock is released when that period has ended and nothing
else holds the principal (an alarm's or an operator's hold stays).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from bedrock_guard.core import keys
from bedrock_guard.core.accounting import Period, Window, period_of
from bedrock_guard.enforcer.ledger import EventAction
from bedrock_guard.enforcer.lock_service import (
    Home,
    LockService,
    Outcome,
    PrincipalResult,
)
from bedrock_guard.enforcer.operator_actions import add_holder, release_holders

HOLDER_PREFIX: Final = keys.WINDOW_LOCK_PREFIX
REQUESTED_BY: Final = "usage-meter"


def window_holder(window: Window, period: Period) -> str:
    """The holder of a lock for ``window`` in ``period``."""
    key = f"{period.month}-{period.day}" if window.is_daily else period.month
    return f"{HOLDER_PREFIX}{window.value}:{key}"


@dataclass(frozen=True, slots=True)
class WindowHold:
    window: Window
    period_key: str  # yyyy-mm-dd or yyyy-mm

    def ended(self, now: datetime) -> bool:
        """Whether the window's period is over at ``now``: the lock may go."""
        current = period_of(now)
        today = f"{current.month}-{current.day}"
        return self.period_key < (today if self.window.is_daily else current.month)


def parse_window_holder(holder: str) -> WindowHold | None:
    """The window and period a holder names; ``None`` for other holders."""
    if not holder.startswith(HOLDER_PREFIX):
        return None
    name, _, period_key = holder[len(HOLDER_PREFIX) :].partition(":")
    try:
        window = Window(name)
    except ValueError:
        return None
    return WindowHold(window, period_key) if period_key else None


def lock_for_window(
    service: LockService,
    principal: str,
    home: Home,
    *,
    holder: str,
    reason: str,
) -> PrincipalResult:
    """Lock ``principal`` for a window (once: a holder already recorded changes nothing)."""
    resolved = service.resolve(principal, home)
    if isinstance(resolved, PrincipalResult):
        return resolved
    canonical = resolved.canonical
    if holder in service.ledger.holders(canonical):
        return PrincipalResult(canonical, Outcome.REPLAY, holder)
    now = service.clock()
    if service.config.dry_run:
        service.ledger.put_event(
            service.ledger.event_put(
                canonical,
                EventAction.WINDOW_LOCK,
                at=now,
                event_key=f"{holder}-dry-run",
                requested_by=REQUESTED_BY,
                holder=holder,
                operator_reason=reason,
                dry_run=True,
                recorded_at=now,
            )
        )
        return PrincipalResult(canonical, Outcome.DRY_RUN_LOCK, holder)
    return add_holder(
        service,
        resolved,
        holder,
        EventAction.WINDOW_LOCK,
        requested_by=REQUESTED_BY,
        holder=holder,
        operator_reason=reason,
    )


def release_ended_windows(
    service: LockService, *, now: datetime | None = None
) -> list[PrincipalResult]:
    """Release every window hold whose period has ended; other holders stay."""
    when = now or datetime.now(UTC)
    results = []
    for entry in service.ledger.list_locks():
        ended = [h for h in entry.holders if (w := parse_window_holder(h)) and w.ended(when)]
        if ended:
            results.append(_release(service, entry.principal, ended))
    return results


def _release(service: LockService, principal: str, holders: Iterable[str]) -> PrincipalResult:
    released = sorted(holders)
    if service.config.dry_run:
        return PrincipalResult(principal, Outcome.DRY_RUN_RELEASE, ",".join(released))
    return release_holders(
        service, principal, released, EventAction.WINDOW_RELEASE, requested_by=REQUESTED_BY
    )
