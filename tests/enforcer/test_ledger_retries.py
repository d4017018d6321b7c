"""Which ledger write failures are tried again, how long between tries, and the request token
that makes a retried transaction idempotent."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from bedrock_guard.enforcer.ledger import (
    BACKOFF_CAP_SECONDS,
    backoff,
    request_token,
    retryable,
)
from tests.enforcer.faults import cancelled, error_body


def _error(body: dict[str, Any]) -> ClientError:
    return ClientError(body, "TransactWriteItems")


@pytest.mark.parametrize(
    ("body", "again"),
    [
        (cancelled("TransactionConflict", 6), True),
        (cancelled("ThrottlingError", 3), True),
        (cancelled("ProvisionedThroughputExceeded", 1), True),
        (cancelled("ConditionalCheckFailed", 6), False),  # a decision, not a failure
        (cancelled("ValidationError", 2), False),
        (error_body("TransactionCanceledException", "no reasons"), False),
        (error_body("TransactionConflictException", "held"), True),
        (error_body("TransactionInProgressException", "committing"), True),
        (error_body("ProvisionedThroughputExceededException", "slow down"), True),
        (error_body("ThrottlingException", "slow down"), True),
        (error_body("InternalServerError", "answer lost"), True),
        (error_body("ValidationException", "bad"), False),
        (error_body("AccessDeniedException", "no"), False),
        (error_body("IdempotentParameterMismatchException", "token reused"), False),
    ],
)
def test_retryable(body: dict[str, Any], again: bool) -> None:
    assert retryable(_error(body)) is again


def test_a_condition_and_a_conflict_together_are_not_retried() -> None:
    body = cancelled("TransactionConflict", 3)
    body["CancellationReasons"][1] = {"Code": "ConditionalCheckFailed"}
    assert retryable(_error(body)) is False


def test_backoff_is_jittered_growing_and_capped() -> None:
    for attempt in range(10):
        ceiling = min(BACKOFF_CAP_SECONDS, 0.05 * 2**attempt)
        waits = [backoff(attempt) for _ in range(50)]
        assert all(0 <= wait <= ceiling for wait in waits)
        assert len(set(waits)) > 1  # jittered: concurrent retries spread out


def test_the_request_token_names_the_transaction() -> None:
    items = [{"Update": {"TableName": "t", "Key": {"pk": {"S": "a"}}}}]
    same = [{"Update": {"Key": {"pk": {"S": "a"}}, "TableName": "t"}}]
    other = [{"Update": {"TableName": "t", "Key": {"pk": {"S": "b"}}}}]
    assert request_token(items) == request_token(same)
    assert request_token(items) != request_token(other)
    assert len(request_token(items)) == 36  # DynamoDB's maximum token length
