"""What the usage meter does with each invocation record: attribute, charge once, lock.

* The principal is the record's ``identity.arn`` in the gate's canonical form (sessions count as
  their role; a Bedrock API key's calls are its IAM user's).
* A record of the gate's own role that names a hold (``requestMetadata``) is the gate's call:
  it settles that hold to what Bedrock logged (:meth:`MeterStore.reconcile`), never counted twice.
  The same metadata from anyone else is a direct call (callers set requestMetadata freely).
* Any other record is direct usage: added once (by Bedrock's request id) to the caller's day and
  month windows, the same counters the gate reserves against. A caller then over a limit is
  locked through the enforcer's lock path, held by the window until it resets.
* An unknown model is counted in tokens and flagged, never priced as $0.

A delivery's records are metered per principal (the caller a record is charged to), the
principals' groups side by side (:mod:`bedrock_guard.meter.principal_groups`), each principal's
records in delivery order; the caller registry is read once per principal and delivery.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from aws_lambda_powertools import Logger

from bedrock_guard.core.accounting import Amount, Charge, Counters, Limits, Window, period_of
from bedrock_guard.core.invocation_metadata import GateCall, gate_call_of
from bedrock_guard.core.pricing import TokenUsage, invocation_cost
from bedrock_guard.core.principals import caller_identity, is_free_to_mint
from bedrock_guard.enforcer.lock_service import Home, LockService, Outcome
from bedrock_guard.enforcer.window_locks import lock_for_window, window_holder
from bedrock_guard.meter.config import MeterConfig
from bedrock_guard.meter.principal_groups import grouped, run_groups
from bedrock_guard.meter.records import InvocationRecord
from bedrock_guard.meter.store import MeterStore, Reconciled

logger = Logger(child=True)

UNKNOWN_PRINCIPAL: Final = "unknown_principal"


class Verdict(StrEnum):
    """What happened to one record."""

    COUNTED = "counted"
    DUPLICATE = "duplicate"
    GATE_SETTLED = "gate_settled"
    GATE_RECONCILED = "gate_reconciled"
    GATE_NOTED = "gate_noted"
    SKIPPED = "skipped"


@dataclass
class MeterReport:
    """Per batch: verdicts, records skipped by reason, direct tokens per principal and direct
    USD in all, lock attempts and the locks they placed, unpriced records."""

    verdicts: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    direct_tokens: Counter[str] = field(default_factory=Counter)
    direct_usd: Decimal = Decimal(0)
    locked: list[dict[str, str]] = field(default_factory=list)
    locks_placed: int = 0
    unpriced: int = 0

    @classmethod
    def merged(cls, reports: Iterable[MeterReport]) -> MeterReport:
        """One report of several (each principal's group fills its own: nothing is shared
        between threads); locks in the order of the reports."""
        total = cls()
        for report in reports:
            total.verdicts.update(report.verdicts)
            total.skipped.update(report.skipped)
            total.direct_tokens.update(report.direct_tokens)
            total.direct_usd += report.direct_usd
            total.locked.extend(report.locked)
            total.locks_placed += report.locks_placed
            total.unpriced += report.unpriced
        return total


@dataclass(frozen=True, slots=True)
class Attributed:
    """Whom a record is charged to: the caller's canonical ARN, and the gate call the record
    settles when it is the gate's own."""

    record: InvocationRecord
    principal: str | None
    gate_call: GateCall | None = None

    @property
    def charged_to(self) -> str:
        """The principal whose items the record changes (the gate call's caller for the gate's
        own records); records without a usable identity share one key and change nothing."""
        if self.principal is None:
            return UNKNOWN_PRINCIPAL
        if self.gate_call is not None:
            return self.gate_call.caller or self.principal
        return self.principal


@dataclass
class Meter:
    """The meter's collaborators: configuration, store, lock service, home account."""

    config: MeterConfig
    store: MeterStore
    locks: LockService
    home: Home
    clock: Any = time.time
    # The enforcer's lock path counts its metrics in Powertools' shared metric set, which is not
    # safe to add to from several threads; locks are rare, so they are taken one at a time.
    _locking: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def meter(self, records: list[InvocationRecord]) -> MeterReport:
        """Meter a delivery: each principal's records in order, principals side by side."""
        groups = grouped((self._attribute(record) for record in records), _charged_to)
        return MeterReport.merged(run_groups(groups, self._meter_group))

    def _attribute(self, record: InvocationRecord) -> Attributed:
        # As the gate keys callers: the root and other identities IAM cannot lock keep their own
        # ARN (counted, never locked); only an ARN with no budget form at all is skipped.
        principal = caller_identity(record.identity_arn, None)
        if principal is None:
            return Attributed(record, None)
        gate_call = gate_call_of(record.request_metadata)
        if gate_call is not None and self._is_gate(principal):
            return Attributed(record, principal, gate_call)
        return Attributed(record, principal)

    def _meter_group(self, group: list[Attributed]) -> MeterReport:
        report = MeterReport()
        limits: dict[str, Limits | None] = {}  # the registry as of this delivery
        for attributed in group:
            self._one(attributed, report, limits)
        return report

    def _one(
        self, attributed: Attributed, report: MeterReport, limits: dict[str, Limits | None]
    ) -> None:
        record, principal = attributed.record, attributed.principal
        if principal is None:
            report.skipped[UNKNOWN_PRINCIPAL] += 1
            report.verdicts[Verdict.SKIPPED] += 1
            logger.warning(
                "record without a usable identity", extra={"arn": record.identity_arn[:300]}
            )
            return
        usage = TokenUsage(
            input_tokens=record.input_tokens,
            output_tokens=record.output_tokens,
            cache_read_tokens=record.cache_read_tokens,
            cache_write_tokens=record.cache_write_tokens,
        )
        usd = invocation_cost(
            self.config.accounting.prices,
            record.model_id,
            usage,
            cache_write_1h_tokens=record.cache_write_1h_tokens,
            service_tier=record.service_tier,
            batch=record.batch,
            profile_models=self.config.profile_models,
        )
        if usd is None:
            report.unpriced += 1
            logger.error(
                "model has no price: counted in tokens only; add it to PRICING_JSON",
                extra={"model_id": record.model_id, "request_id": record.request_id},
            )
        charge = Charge(usage.total, usd if usd is not None else Decimal(0))
        if attributed.gate_call is not None:
            self._reconcile(
                record, attributed.charged_to, attributed.gate_call.hold_id, charge, report
            )
            return
        self._direct(record, principal, charge, report, limits)

    def _is_gate(self, principal: str) -> bool:
        return self.config.gate_role is None or principal == self.config.gate_role

    def _reconcile(
        self,
        record: InvocationRecord,
        caller: str,
        hold_id: str,
        charge: Charge,
        report: MeterReport,
    ) -> None:
        month = period_of(record.timestamp).month
        outcome = self.store.reconcile(caller, month, hold_id, charge, now=self.clock())
        verdict = {
            Reconciled.SETTLED_BY_GATE: Verdict.GATE_SETTLED,
            Reconciled.ALREADY_RECONCILED: Verdict.GATE_SETTLED,
            Reconciled.RECONCILED: Verdict.GATE_RECONCILED,
            Reconciled.NOTED_FOR_SWEEP: Verdict.GATE_NOTED,
        }[outcome]
        report.verdicts[verdict] += 1
        if outcome in (Reconciled.RECONCILED, Reconciled.NOTED_FOR_SWEEP):
            logger.info(
                "gate hold settled to what Bedrock logged",
                extra={"caller": caller, "hold_id": hold_id, "outcome": str(outcome)},
            )

    def _direct(
        self,
        record: InvocationRecord,
        principal: str,
        charge: Charge,
        report: MeterReport,
        known_limits: dict[str, Limits | None],
    ) -> None:
        period = period_of(record.timestamp)
        charged = self.store.charge_direct(
            principal, record.request_id, period, charge, now=self.clock()
        )
        if not charged.counted:
            report.verdicts[Verdict.DUPLICATE] += 1
            return
        report.verdicts[Verdict.COUNTED] += 1
        report.direct_tokens[principal] += charge.tokens
        report.direct_usd += charge.usd
        if principal not in known_limits:
            known_limits[principal] = self._limits(principal)
        limits = known_limits[principal]
        if limits is None:
            return
        over = over_limit(limits, charged.counters)
        if over is None:
            return
        window, used, limit = over
        holder = window_holder(window, period)
        with self._locking:
            result = lock_for_window(
                self.locks,
                principal,
                self.home,
                holder=holder,
                reason=f"direct Bedrock use over {window.value}: {used} of {limit}",
            )
        # The record that took the caller over the limit: where the lock's latency starts.
        report.locked.append({**result.as_dict(), "request_id": record.request_id})
        # A ledger-only lock is placed too: the gate refuses from here on (IAM is retried).
        if result.outcome in (Outcome.LOCKED, Outcome.LOCKED_LEDGER_ONLY):
            report.locks_placed += 1
            logger.warning(
                "direct caller over its budget: locked",
                extra={
                    "principal": principal,
                    "window": window.value,
                    "holder": holder,
                    "request_id": record.request_id,
                },
            )

    def _limits(self, principal: str) -> Limits | None:
        """The caller's limits as the gate would apply them; ``None``: nothing to enforce."""
        accounting = self.config.accounting
        registered, tier = self.store.registered_tier(principal)
        if registered:
            return accounting.tiers.get(tier) if tier is not None else None
        if accounting.default_tier is None or is_free_to_mint(principal):
            return None
        return accounting.tiers.get(accounting.default_tier)


def _charged_to(attributed: Attributed) -> str:
    return attributed.charged_to


def over_limit(limits: Limits, used: Counters) -> tuple[Window, Amount, Amount] | None:
    """The first limited window (monthly first) whose use is over its limit, if any."""
    for window, limit in limits.limited():
        if used.of(window) > limit:
            return window, used.of(window), limit
    return None
