"""One hot caller against DynamoDB's real rules, simulated in virtual time.

Requests of ONE caller arrive at a steady rate (Poisson). Each runs the gate's operation
sequence against the rules proxy's own engine (:mod:`bedrock_guard.local.dynamodb_rules.engine`):
a transaction holds its items for the commit hold and cancels any other transaction on them; a
standard write to a held item fails with ``TransactionConflictException``; each write consumes
write units by the item's size, from a partition that refills 1,000 WCU a second (DynamoDB's
per-partition limit). Two designs:

* ``transaction`` (the previous release): reserve in a TransactWriteItems over the registry,
  lock and month items, retried on cancellation up to 6 times (20 ms x 2^n full jitter, at most
  0.5 s); settle with an UpdateItem that is not retried when it meets a transaction, which
  leaves the worst case charged (a phantom charge).
* ``conditional write`` (this release): one conditional UpdateItem on the month item to
  reserve and one to settle, each retried on conflicts and throttles up to 8 times (25 ms x 2^n,
  at most 1 s); at most 64 holds in flight.

The figure is the highest rate with fewer than 0.1% of requests answered 503 (or refused for
holds in flight) and no phantom charge. The month item is sized as it is on day 31 (every day's
counters) plus the holds in flight at the moment of each write.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from bedrock_guard.core import keys
from bedrock_guard.core.accounting import Charge
from bedrock_guard.core.usage_item import HOLDS, MAX_HOLDS_IN_FLIGHT, Hold
from bedrock_guard.local.dynamodb_rules.engine import HoldTable, PartitionThroughput
from bedrock_guard.local.dynamodb_rules.item_size import item_size, write_units

PARTITION_WCU_PER_SECOND: Final = 1000.0
RATES: Final = (10, 20, 30, 40, 50, 75, 100, 150, 200, 250, 300, 400, 500, 750, 1000)
REQUESTS: Final = 3000
PRINCIPAL: Final = "arn:aws:iam::123456789012:role/hot-app"
REGISTRY, LOCK, MONTH = ("t", "CALLER"), ("t", "LOCK"), ("t", "MONTH")
PARTITION: Final = ("t", "USAGE")


def month_item_bytes(days: int, holds: int) -> int:
    """Size of the caller's month item with ``days`` days of counters and ``holds`` holds."""
    item: dict[str, Any] = keys.attribute_values(keys.usage_key(PRINCIPAL, "2026-11"))
    item |= {"month_tokens": {"N": "3827136"}, "month_usd": {"N": "38.271577"}}
    for day in range(1, days + 1):
        item[f"d{day:02d}_tokens"] = {"N": "123456"}
        item[f"d{day:02d}_usd"] = {"N": "1.234567"}
    item[keys.TTL_ATTRIBUTE] = {"N": "1830297600"}
    sample = Hold("0123456789", Charge(4296, Decimal("0.0052")), "23", 1795446090, "x" * 36)
    item[HOLDS] = {"M": {f"{i:010d}": sample.attribute_value() for i in range(holds)}}
    return item_size(item)


@dataclass
class Outcome:
    rate: float
    served: int = 0
    busy: int = 0
    phantom: int = 0

    @property
    def bad_share(self) -> float:
        return self.busy / max(1, self.served + self.busy)


class _Simulation:
    def __init__(self, rate: float, hold_s: float, latency_s: float, days: int, seed: int):
        self.now = 0.0
        self.events: list[tuple[float, int, Callable[[], None]]] = []
        self.seq = 0
        self.random = random.Random(seed)  # noqa: S311 (a reproducible simulation)
        self.holds = HoldTable(lambda: self.now)
        self.partition = PartitionThroughput(lambda: self.now, PARTITION_WCU_PER_SECOND)
        self.hold_s, self.latency_s, self.days = hold_s, latency_s, days
        self.in_flight = 0
        self.outcome = Outcome(rate)
        self._units = [
            write_units(month_item_bytes(days, n)) for n in range(MAX_HOLDS_IN_FLIGHT + 1)
        ]

    def at(self, when: float, action: Callable[[], None]) -> None:
        self.seq += 1
        heapq.heappush(self.events, (when, self.seq, action))

    def run(self, arrivals: int, start: Callable[[int], None]) -> Outcome:
        when = 0.0
        for index in range(arrivals):
            when += self.random.expovariate(self.outcome.rate)
            self.at(when, lambda index=index: start(index))  # type: ignore[misc]
        while self.events:
            self.now, _, action = heapq.heappop(self.events)
            action()
        return self.outcome

    def month_units(self) -> int:
        return self._units[min(self.in_flight, MAX_HOLDS_IN_FLIGHT)]

    def standard_write(self) -> bool:
        """An UpdateItem on the month item: refused while a transaction holds it, or when the
        partition has no capacity left (a throttle)."""
        if self.holds.is_held(MONTH) or not self.partition.admit(PARTITION):
            return False
        self.partition.consume(PARTITION, self.month_units())
        return True


def transaction_design(rate: float, hold_s: float, latency_s: float, days: int) -> Outcome:
    sim = _Simulation(rate, hold_s, latency_s, days, seed=7)

    def reserve(index: int, attempt: int = 1) -> None:
        conflicts = sim.holds.try_hold([REGISTRY, LOCK, MONTH], until=sim.now + hold_s, owner=index)
        throttled = not conflicts and not sim.partition.admit(PARTITION)
        if conflicts or throttled:
            if throttled:
                sim.holds.release([REGISTRY, LOCK, MONTH], owner=index)
            if attempt >= 6 or throttled:
                sim.outcome.busy += 1
                return
            backoff = sim.random.random() * min(0.5, 0.02 * 2**attempt)
            sim.at(sim.now + backoff, lambda: reserve(index, attempt + 1))
            return
        sim.partition.consume(PARTITION, 2 * sim.month_units() + 4)  # 2x, three items
        sim.at(sim.now + hold_s + latency_s, settle)

    def settle() -> None:
        sim.outcome.served += 1
        if not sim.standard_write():
            sim.outcome.phantom += 1  # not retried: the worst case stays charged

    return sim.run(REQUESTS, reserve)


def conditional_write_design(rate: float, hold_s: float, latency_s: float, days: int) -> Outcome:
    sim = _Simulation(rate, hold_s, latency_s, days, seed=7)

    def write(then: Callable[[], None], failed: Callable[[], None], attempt: int = 0) -> None:
        if sim.standard_write():
            then()
            return
        if attempt + 1 >= 8:
            failed()
            return
        backoff = sim.random.random() * min(1.0, 0.025 * 2**attempt)
        sim.at(sim.now + backoff, lambda: write(then, failed, attempt + 1))

    def reserve(index: int) -> None:
        if sim.in_flight >= MAX_HOLDS_IN_FLIGHT:
            sim.outcome.busy += 1  # answered 429 TooManyInFlight
            return

        def held() -> None:
            sim.in_flight += 1
            sim.at(sim.now + latency_s, settle)

        write(held, lambda: setattr(sim.outcome, "busy", sim.outcome.busy + 1))

    def settle() -> None:
        def done() -> None:
            sim.in_flight -= 1
            sim.outcome.served += 1

        def failed() -> None:
            sim.in_flight -= 1
            sim.outcome.served += 1
            sim.outcome.phantom += 1

        write(done, failed)

    return sim.run(REQUESTS, reserve)


DESIGNS: Final = {
    "transaction (previous)": transaction_design,
    "conditional write": conditional_write_design,
}


def highest_sustained_rate(
    design: Callable[[float, float, float, int], Outcome],
    hold_s: float,
    latency_s: float,
    days: int = 31,
) -> dict[str, Any]:
    """The highest rate of :data:`RATES` with < 0.1% refused as busy (``busy_free_rps``), the
    highest that also leaves no phantom charge (``exact_rps``), and the first rate that failed."""
    busy_free = exact = 0.0
    first_failure: Outcome | None = None
    for rate in RATES:
        outcome = design(rate, hold_s, latency_s, days)
        calm = outcome.bad_share < 0.001
        if calm and busy_free == rate_before(rate):
            busy_free = rate
        if calm and outcome.phantom == 0 and exact == rate_before(rate):
            exact = rate
        if not calm or outcome.phantom:
            first_failure = first_failure or outcome
        if not calm:
            break
    return {
        "exact_rps": exact,
        "busy_free_rps": busy_free,
        "first_failure": None
        if first_failure is None
        else {
            "rate": first_failure.rate,
            "busy_pct": round(100 * first_failure.bad_share, 2),
            "phantom_charges": first_failure.phantom,
        },
    }


def rate_before(rate: float) -> float:
    index = RATES.index(int(rate))
    return 0.0 if index == 0 else float(RATES[index - 1])


def hot_caller(latencies: tuple[float, ...] = (0.1,)) -> list[dict[str, Any]]:
    """Both designs at commit holds of 5, 10 and 20 ms."""
    rows = []
    for latency_s in latencies:
        for hold_ms in (5, 10, 20):
            for name, design in DESIGNS.items():
                rows.append(
                    {
                        "design": name,
                        "commit_hold_ms": hold_ms,
                        "bedrock_latency_ms": int(latency_s * 1000),
                        **highest_sustained_rate(design, hold_ms / 1000, latency_s),
                    }
                )
    return rows
