"""A direct caller running past its limit while the played subscription feeds the usage meter,
and how long after the record that crossed the limit reached the log group the lock came.

The caller calls Bedrock (the stand-in, with its invocation log on) in a thread of its own,
one call after another, and stops after the call that takes its day past the limit. Meanwhile
this thread plays CloudWatch Logs and Lambda: every ``interval_s`` it reads the group's new
events (:class:`~.log_subscription.PlayedSubscription`) and hands each delivery to the meter.
The lock's latency runs from the moment PutLogEvents of the crossing record returned (the
stand-in's :class:`~.invocation_log.WrittenRecord`) to the moment the meter invocation whose
summary reports the lock returned: the deny policy was attached within it.

The meter is invoked from this thread only: a local Lambda container swaps the process's
environment while it runs, so two of them must never run at once.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from bedrock_guard.local.invocation_log import InvocationLog
from bedrock_guard.local.log_subscription import Delivery, PlayedSubscription

LOCKED: Final = "locked"
MAX_CALLS: Final = 10_000  # a caller whose calls carry no tokens would otherwise never stop


@dataclass(frozen=True, slots=True)
class Crossing:
    """The record that took the caller over its limit, and when its lock came."""

    request_id: str
    put_at: float  # PutLogEvents of the record returned (time.perf_counter)
    read_at: float  # the played subscription read it back from the group
    locked_at: float  # the meter invocation that locked returned (time.perf_counter)

    @property
    def latency_s(self) -> float:
        return self.locked_at - self.put_at

    @property
    def delivery_s(self) -> float:
        """The part spent before the meter had the record: waiting for the next poll, reading."""
        return self.read_at - self.put_at


@dataclass
class RunawayOutcome:
    """What the caller did and what the meter said about it."""

    calls: int = 0
    tokens: int = 0  # totalTokens of the answers
    summaries: list[Mapping[str, Any]] = field(default_factory=list)  # one per delivery
    records_delivered: int = 0
    crossing: Crossing | None = None
    lock: Mapping[str, Any] | None = None  # the meter's lock entry (principal, outcome, ...)
    timed_out: bool = False  # no lock came within the timeout

    @property
    def deliveries(self) -> int:
        return len(self.summaries)


def run_past_limit(
    *,
    converse: Callable[[int], int],
    principal: str,
    limit_tokens: int,
    used_before: int,
    played: PlayedSubscription,
    meter: Callable[[Delivery], Mapping[str, Any]],
    log: InvocationLog,
    interval_s: float,
    timeout_s: float,
    start_delay_s: float = 0.0,
) -> RunawayOutcome:
    """Run the caller (``converse(i)`` makes its i-th call and returns the answer's
    totalTokens) until ``used_before`` plus its tokens passes ``limit_tokens``, while following
    the subscription until the meter reports ``principal`` locked, or ``timeout_s`` passed
    (``timed_out``, no ``crossing``). The caller's own error, if it failed, is raised here."""
    outcome = RunawayOutcome()
    finished = threading.Event()
    failure: list[BaseException] = []

    def caller() -> None:
        try:
            time.sleep(start_delay_s)
            while outcome.calls < MAX_CALLS:
                outcome.tokens += converse(outcome.calls)
                outcome.calls += 1
                if used_before + outcome.tokens > limit_tokens:
                    return
        except BaseException as error:  # re-raised in the caller's thread below
            failure.append(error)
        finally:
            finished.set()

    def handle(delivery: Delivery) -> None:
        summary = meter(delivery)
        outcome.summaries.append(summary)
        outcome.records_delivered += len(delivery.log_events)
        if outcome.crossing is not None:
            return
        for entry in summary.get("locked", []):
            if entry.get("principal") == principal and entry.get("outcome") == LOCKED:
                locked_at = time.perf_counter()
                put_at = _put_at(log, str(entry.get("request_id", "")))
                outcome.lock = entry
                outcome.crossing = Crossing(
                    str(entry.get("request_id")), put_at, delivery.read_at, locked_at
                )
                return

    thread = threading.Thread(target=caller, name="direct-caller", daemon=True)
    thread.start()
    try:
        played.follow(
            handle,
            interval_s=interval_s,
            done=lambda: finished.is_set() and (outcome.crossing is not None or bool(failure)),
            timeout_s=timeout_s,
        )
    except TimeoutError:
        outcome.timed_out = True
    finally:
        thread.join(timeout_s)
    if failure:
        raise failure[0]
    return outcome


def _put_at(log: InvocationLog, request_id: str) -> float:
    for written in reversed(log.written()):
        if written.request_id == request_id:
            return written.put_at
    raise LookupError(f"the meter locked on record {request_id!r}, which the stand-in never wrote")


def start_delays(runs: int, interval_s: float, seed: int = 7) -> list[float]:
    """A start offset per run, uniform over one polling interval, so the records do not arrive
    at the same point of the polling cycle every time (seeded: repeatable)."""
    rng = random.Random(seed)  # noqa: S311  (spreading start times, not security)
    return [rng.uniform(0.0, interval_s) for _ in range(runs)]
