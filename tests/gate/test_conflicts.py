"""Transaction conflicts: real DynamoDB cancels concurrent transactions on one item, moto never
does, so a client wrapper injects the cancellation exactly as DynamoDB reports it."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from bedrock_guard.gate.service import (
    BACKOFF_BASE_SECONDS,
    BACKOFF_CAP_SECONDS,
    MAX_RESERVE_ATTEMPTS,
    backoff_seconds,
)
from tests.gate.conftest import ROLE, Gate, request_body


class Conflicting:
    """Delegates to the moto client; the first ``conflicts`` transactions are cancelled with
    the reasons DynamoDB gives when another transaction holds the usage item."""

    def __init__(self, client: Any, conflicts: float, reasons: tuple[str, ...]) -> None:
        self._client = client
        self.remaining = conflicts
        self.reasons = reasons
        self.attempts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **params: Any) -> Any:
        self.attempts += 1
        if self.remaining > 0:
            self.remaining -= 1
            raise ClientError(
                {
                    "Error": {
                        "Code": "TransactionCanceledException",
                        "Message": "Transaction cancelled, please refer cancellation reasons",
                    },
                    "CancellationReasons": [{"Code": code} for code in self.reasons],
                },
                "TransactWriteItems",
            )
        return self._client.transact_write_items(**params)


CONFLICT = ("None", "None", "TransactionConflict")


def conflicting(gate: Gate, conflicts: float, reasons: tuple[str, ...] = CONFLICT) -> Conflicting:
    wrapper = Conflicting(gate.runtime.store.client, conflicts, reasons)
    gate.runtime.store.client = wrapper
    return wrapper


def test_conflicts_are_retried_with_backoff_then_succeed(gate: Gate) -> None:
    wrapper = conflicting(gate, conflicts=2)
    gate.bedrock.reply()
    assert gate.invoke(request_body())[0] == 200
    assert wrapper.attempts == 3
    # Full jitter (pinned to its maximum here): base x 2^attempt, capped.
    assert gate.sleeps == [BACKOFF_BASE_SECONDS * 2, BACKOFF_BASE_SECONDS * 4]
    assert gate.usage(ROLE)["month_tokens"] == 18  # charged once
    assert len(gate.bedrock.calls) == 1


def test_persistent_conflict_is_503_busy_and_charges_nothing(gate: Gate) -> None:
    wrapper = conflicting(gate, conflicts=float("inf"))
    status, body, headers = gate.invoke(request_body())
    assert status == 503
    assert body["error"]["code"] == "Busy"
    assert headers["Retry-After"] == "1"
    assert wrapper.attempts == MAX_RESERVE_ATTEMPTS
    assert len(gate.sleeps) == MAX_RESERVE_ATTEMPTS - 1
    assert gate.usage(ROLE) == {}
    assert gate.bedrock.calls == []


def test_a_conflict_on_the_registry_check_is_a_conflict_too(gate: Gate) -> None:
    conflicting(gate, conflicts=1, reasons=("TransactionConflict", "None", "None"))
    gate.bedrock.reply()
    assert gate.invoke(request_body())[0] == 200


def test_throttled_transaction_is_503_not_429(gate: Gate) -> None:
    conflicting(gate, conflicts=1, reasons=("None", "None", "ThrottlingError"))
    status, body, _ = gate.invoke(request_body())
    assert (status, body["error"]["code"]) == (503, "Busy")
    assert gate.bedrock.calls == []


def test_lock_wins_over_a_simultaneous_conflict(gate: Gate) -> None:
    conflicting(
        gate, conflicts=1, reasons=("None", "ConditionalCheckFailed", "TransactionConflict")
    )
    status, body, _ = gate.invoke(request_body())
    assert (status, body["error"]["code"]) == (403, "Locked")


@pytest.mark.parametrize("attempt", range(12))
def test_backoff_is_bounded_full_jitter(attempt: int) -> None:
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)
    assert backoff_seconds(attempt, 0.0) == 0.0
    assert backoff_seconds(attempt, 0.5) == pytest.approx(ceiling / 2)
    assert backoff_seconds(attempt, 1.0) == pytest.approx(ceiling)


class LostAnswer:
    """Commits the transaction in moto, then loses the answer as a read timeout would."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **params: Any) -> Any:
        self._client.transact_write_items(**params)
        raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")


def test_reservation_committed_unseen_is_released(gate: Gate) -> None:
    gate.runtime.store.client = LostAnswer(gate.runtime.store.client)
    status, body, _ = gate.invoke(request_body())
    assert (status, body["error"]["code"]) == (503, "Busy")
    item = gate.usage(ROLE)
    assert item["month_tokens"] == item["d23_tokens"] == 0  # reserved, then given back
    assert not [name for name in item if name.startswith("rsv_")]
    assert gate.bedrock.calls == []


def test_reservation_that_never_committed_is_left_alone(gate: Gate) -> None:
    class NeverArrives:
        def __init__(self, client: Any) -> None:
            self._client = client

        def __getattr__(self, name: str) -> Any:
            return getattr(self._client, name)

        def transact_write_items(self, **_: Any) -> Any:
            raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")

    gate.runtime.store.client = NeverArrives(gate.runtime.store.client)
    status, _, _ = gate.invoke(request_body())
    assert status == 503
    assert gate.usage(ROLE) == {}  # the conditional release wrote nothing
