"""Faults DynamoDB really produces, injected at the client: a standard write meeting a ledger
transaction (``TransactionConflictException``, which botocore does not retry), throttles that
outlast botocore's retries, and answers lost after the write committed. Every case leaves the
counters exact: nothing charged that did not run, nothing run that was not charged.

The same cases run against the real-DynamoDB rules proxy in tests/gate/test_real_dynamodb.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from bedrock_guard.core.usage_item import HOLDS
from bedrock_guard.gate.usage_store import (
    WRITE_ATTEMPTS,
    WRITE_BACKOFF_BASE_SECONDS,
    WRITE_BACKOFF_CAP_SECONDS,
    UsageStore,
)
from tests.gate.conftest import ROLE, Gate, request_body

RESERVE = "SET #holds.#h"  # the reservation adds the worst case and sets a hold
FINISH = "REMOVE #holds.#h"  # settle and release remove the hold


def error(code: str, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "UpdateItem")


class Faulty:
    """Delegates to the moto client; UpdateItems whose expression contains ``matching`` fail
    ``times`` times with ``fault`` (``after=True``: the first failing write is applied, then its
    answer is lost; the retries fail before applying)."""

    def __init__(
        self, client: Any, matching: str, fault: Callable[[], Exception], times: float, after: bool
    ) -> None:
        self._client = client
        self.matching = matching
        self.fault = fault
        self.remaining = times
        self.after = after
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def update_item(self, **params: Any) -> Any:
        expression = params["UpdateExpression"]
        if self.matching in expression:
            self.calls += 1
            if self.remaining > 0:
                self.remaining -= 1
                if self.after and self.calls == 1:
                    self._client.update_item(**params)
                raise self.fault()
        return self._client.update_item(**params)


def inject(
    gate: Gate,
    matching: str,
    fault: Callable[[], Exception],
    times: float = 1,
    *,
    after: bool = False,
) -> Faulty:
    gate.fill(ROLE)  # the month is opened, so every request is one reserve and one finish
    wrapper = Faulty(gate.runtime.store.client, matching, fault, times, after)
    gate.runtime.store.client = wrapper
    return wrapper


def conflict() -> Exception:
    return error("TransactionConflictException", "Transaction is ongoing for the item")


def throttle() -> Exception:
    return error("ProvisionedThroughputExceededException")


def lost() -> Exception:
    return ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")


def server_error() -> Exception:
    return error("InternalServerError")


def assert_exact(gate: Gate, tokens: int) -> None:
    item = gate.usage(ROLE)
    assert item.get("month_tokens", 0) == item.get("d23_tokens", 0) == tokens
    assert item[HOLDS] == {}


@pytest.mark.parametrize("fault", [conflict, throttle, server_error])
@pytest.mark.parametrize("step", [RESERVE, FINISH])
def test_a_passing_fault_is_retried_and_charges_exactly(
    gate: Gate, fault: Callable[[], Exception], step: str
) -> None:
    wrapper = inject(gate, step, fault, times=2)
    gate.bedrock.reply()
    assert gate.invoke(request_body())[0] == 200
    assert wrapper.calls == 3
    assert_exact(gate, 18)
    assert len(gate.bedrock.calls) == 1


@pytest.mark.parametrize("fault", [lost, server_error])
@pytest.mark.parametrize("step", [RESERVE, FINISH])
def test_a_lost_answer_after_the_write_is_not_applied_twice(
    gate: Gate, fault: Callable[[], Exception], step: str
) -> None:
    inject(gate, step, fault, times=1, after=True)
    gate.bedrock.reply()
    assert gate.invoke(request_body())[0] == 200
    assert_exact(gate, 18)


def test_a_reservation_that_keeps_conflicting_is_503_and_charges_nothing(gate: Gate) -> None:
    wrapper = inject(gate, RESERVE, conflict, times=float("inf"))
    status, body, headers = gate.invoke(request_body())
    assert (status, body["error"]["code"], headers["Retry-After"]) == (503, "Busy", "1")
    assert wrapper.calls == WRITE_ATTEMPTS
    assert gate.bedrock.calls == []
    assert_exact(gate, 0)


def test_a_reservation_whose_answers_are_all_lost_is_released(gate: Gate) -> None:
    """The first attempt commits unseen and no retry gets an answer: the gate answers 503 and
    gives the hold back."""
    inject(gate, RESERVE, lost, times=WRITE_ATTEMPTS, after=True)
    status, body, _ = gate.invoke(request_body())
    assert (status, body["error"]["code"]) == (503, "Busy")
    assert gate.bedrock.calls == []
    assert_exact(gate, 0)


def test_a_settle_that_keeps_failing_is_recorded_and_the_hold_stays(
    gate: Gate, caplog: pytest.LogCaptureFixture
) -> None:
    inject(gate, FINISH, conflict, times=float("inf"))
    gate.bedrock.reply()
    status, body, _ = gate.invoke(request_body())
    assert status == 200 and body["remaining"] == {}
    item = gate.usage(ROLE)
    (held,) = item[HOLDS].values()
    assert item["month_tokens"] == held["t"] > 18  # the worst case, never less than used
    assert "could not settle" in caplog.text
    (record,) = [r for r in caplog.records if "could not settle" in r.getMessage()]
    assert (record.request_id, record.actual_tokens) == (held["r"], 18)  # type: ignore[attr-defined]


def test_a_bedrock_failure_whose_release_conflicts_still_releases(gate: Gate) -> None:
    inject(gate, FINISH, conflict, times=3)
    gate.bedrock.fail("ValidationException", 400, "bad input")
    status, body, _ = gate.invoke(request_body())
    assert (status, body["error"]["code"]) == (400, "BedrockValidationError")
    assert_exact(gate, 0)


@pytest.mark.parametrize("attempt", range(12))
def test_backoff_is_bounded_full_jitter(attempt: int) -> None:
    ceiling = min(WRITE_BACKOFF_CAP_SECONDS, WRITE_BACKOFF_BASE_SECONDS * 2**attempt)
    retrying = UsageStore(None, "t").retrying
    for jitter, share in ((0.0, 0.0), (0.5, 0.5), (1.0, 1.0)):
        retrying.jitter = lambda jitter=jitter: jitter  # type: ignore[misc]
        assert retrying.backoff(attempt) == pytest.approx(ceiling * share)
