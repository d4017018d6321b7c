"""The local metering pipeline end to end (stand-in log -> played subscription -> the real meter
handler in a container -> the deny policy), through the lock-latency benchmark, and the runaway
driver's own rules with stand-ins for the pipeline."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bedrock_guard.local.invocation_log import InvocationLog, KeyRegistry, WrittenRecord
from bedrock_guard.local.log_subscription import Delivery
from bedrock_guard.local.runaway import run_past_limit, start_delays

TOOLS = Path(__file__).resolve().parents[2] / "tools"
PRINCIPAL = "arn:aws:iam::123456789012:role/notebook"


@pytest.fixture
def bench_module() -> Iterator[Any]:
    sys.path.insert(0, str(TOOLS))
    try:
        import bench_meter_latency

        yield bench_meter_latency
    finally:
        sys.path.remove(str(TOOLS))


@pytest.mark.server
def test_every_run_locks_its_caller_through_the_whole_pipeline(bench_module: Any) -> None:
    figures = bench_module.lock_latency(runs=3, poll_interval_s=0.05, answer_ms=0)
    assert figures.runs == len(figures.samples_s) == 3
    # Each caller stopped on the call that passed its day (4,000-token answers, 20,000 a day).
    assert figures.calls_per_run == 5
    assert 0 < figures.min_s <= figures.p50_s <= figures.p95_s <= figures.max_s < 60
    assert figures.delivery_p50_s + figures.meter_p50_s == pytest.approx(figures.p50_s, abs=0.2)


class FakeLog(InvocationLog):
    """Remembers writes without AWS: the driver reads only ``written()``."""

    def __init__(self) -> None:
        super().__init__(None, "/g", "us-east-1", KeyRegistry())
        self.count = 0

    def add(self) -> str:
        self.count += 1
        request_id = f"r-{self.count}"
        with self._lock:
            self._written.append(WrittenRecord(request_id, PRINCIPAL, "m", 10, 1.0, {}))
        return request_id


class FakePlayed:
    """Hands one delivery per poll with the records written since; ``follow`` as the real one."""

    def __init__(self, log: FakeLog) -> None:
        self.log = log
        self.read = 0

    def follow(
        self,
        handle: Callable[[Delivery], None],
        *,
        interval_s: float,
        done: Callable[[], bool],
        timeout_s: float,
    ) -> None:
        deadline = time.monotonic() + timeout_s
        while not done():
            written = self.log.written()[self.read :]
            self.read += len(written)
            if written:
                events = tuple({"id": w.request_id, "message": "{}"} for w in written)
                handle(Delivery({}, "s", events, read_at=2.0))
            if time.monotonic() > deadline:
                raise TimeoutError
            time.sleep(interval_s)


def meter_locking_at(limit: int) -> Callable[[Delivery], dict[str, Any]]:
    """A meter that counts 10 tokens a record and locks the record that passes ``limit``."""
    used = [0]

    def meter(delivery: Delivery) -> dict[str, Any]:
        locked = []
        for event in delivery.log_events:
            used[0] += 10
            if used[0] > limit:
                outcome = "locked" if not locked and used[0] - 10 <= limit else "replay"
                locked.append(
                    {"principal": PRINCIPAL, "outcome": outcome, "request_id": event["id"]}
                )
        return {"locked": locked}

    return meter


def run(
    *,
    limit_tokens: int,
    used_before: int = 0,
    meter: Callable[[Delivery], dict[str, Any]] | None = None,
    converse: Callable[[int], int] | None = None,
    timeout_s: float = 5,
) -> Any:
    """The runaway caller against a fake log and subscription: 10 tokens a call."""
    log = FakeLog()
    return run_past_limit(
        converse=converse or (lambda _: (log.add(), 10)[1]),
        principal=PRINCIPAL,
        limit_tokens=limit_tokens,
        used_before=used_before,
        played=FakePlayed(log),  # type: ignore[arg-type]
        meter=meter or (lambda delivery: {"locked": []}),
        log=log,
        interval_s=0.001,
        timeout_s=timeout_s,
    )


def test_the_caller_stops_after_the_call_that_passes_its_limit_and_the_crossing_is_timed() -> None:
    outcome = run(limit_tokens=45, meter=meter_locking_at(45))
    assert (outcome.calls, outcome.tokens) == (5, 50)
    assert outcome.crossing is not None and outcome.crossing.request_id == "r-5"
    assert outcome.crossing.put_at == 1.0 and outcome.crossing.read_at == 2.0
    assert outcome.records_delivered == 5
    assert outcome.lock is not None and outcome.lock["outcome"] == "locked"
    assert not outcome.timed_out


def test_usage_from_before_counts_towards_the_limit() -> None:
    outcome = run(limit_tokens=45, used_before=30, meter=meter_locking_at(15))
    assert outcome.calls == 2


def test_no_lock_is_a_timeout_not_a_silent_success() -> None:
    outcome = run(limit_tokens=25, timeout_s=0.2)
    assert outcome.timed_out and outcome.crossing is None
    assert outcome.calls == 3  # the caller still stopped once past its limit


def test_the_callers_error_is_raised_here() -> None:
    def failing(index: int) -> int:
        raise RuntimeError("Bedrock said no")

    with pytest.raises(RuntimeError, match="Bedrock said no"):
        run(limit_tokens=25, converse=failing)


def test_start_delays_spread_over_one_interval_and_repeat() -> None:
    delays = start_delays(50, 0.25)
    assert delays == start_delays(50, 0.25)
    assert all(0 <= d <= 0.25 for d in delays)
    assert max(delays) - min(delays) > 0.15
