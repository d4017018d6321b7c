"""DynamoDB calls retried the way DynamoDB asks, shared by the gate's and the meter's stores.

botocore's standard retry mode retries throttles and 5xx, but not
``TransactionConflictException`` (a standard write meeting an item a transaction holds) nor a
transaction cancelled for a conflict: both are retried here with full-jitter backoff, within a
bounded number of attempts and a time window. Every call retried here must be idempotent (a
condition on the item, or a transaction whose conditions make a replay fail).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from bedrock_guard.core.aws_errors import error_code

CONDITION_FAILED: Final = "ConditionalCheckFailedException"
TRANSACTION_CANCELED: Final = "TransactionCanceledException"
RETRYABLE_CODES: Final = frozenset(
    {
        "TransactionConflictException",
        "TransactionInProgressException",
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
RETRYABLE_REASONS: Final = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
)


class ConditionFailed(Exception):
    """A condition failed; ``item`` is the stored item when the call asked for it (ALL_OLD)."""

    def __init__(self, item: Mapping[str, Any] | None = None) -> None:
        super().__init__("condition failed")
        self.item: Mapping[str, Any] = item or {}


class DynamoDBFailure(Exception):
    """A call failed for good; ``transient`` when retrying later may succeed."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass
class Retrying:
    """Attempts, backoff (full jitter from ``base`` doubling up to ``cap``) and a time window
    after which no new attempt starts; ``sleep``, ``jitter`` and ``monotonic`` are for tests."""

    attempts: int = 8
    base_seconds: float = 0.025
    cap_seconds: float = 1.0
    window_seconds: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = field(default=random.random)
    monotonic: Callable[[], float] = time.monotonic

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1``."""
        return self.jitter() * min(self.cap_seconds, self.base_seconds * 2.0**attempt)

    def call(self, client: Any, operation: str, **params: Any) -> dict[str, Any]:
        """``client.<operation>(**params)``; raises :class:`ConditionFailed` or
        :class:`DynamoDBFailure`."""
        return self._run(operation, lambda: getattr(client, operation)(**params))

    def transact(self, client: Any, items: list[dict[str, Any]], **extra: Any) -> bool:
        """A TransactWriteItems; ``False`` when a condition cancelled it (done before)."""
        try:
            self._run(
                "TransactWriteItems",
                lambda: client.transact_write_items(TransactItems=items, **extra),
            )
        except ConditionFailed:
            return False
        return True

    def _run(self, operation: str, call: Callable[[], Any]) -> dict[str, Any]:
        give_up_at = self.monotonic() + self.window_seconds
        failure = DynamoDBFailure(f"{operation} was not attempted", transient=True)
        for attempt in range(self.attempts):
            try:
                response: dict[str, Any] = call()
                return response
            except ClientError as error:
                code = error_code(error)
                reasons = [r.get("Code") for r in error.response.get("CancellationReasons") or []]
                if code == CONDITION_FAILED or (
                    code == TRANSACTION_CANCELED and "ConditionalCheckFailed" in reasons
                ):
                    raise ConditionFailed(error.response.get("Item")) from error
                retryable = code in RETRYABLE_CODES or (
                    code == TRANSACTION_CANCELED and any(r in RETRYABLE_REASONS for r in reasons)
                )
                detail = f"{code} {reasons}" if reasons else code
                if not retryable:
                    raise DynamoDBFailure(
                        f"{operation} failed: {detail}", transient=False
                    ) from error
                failure = DynamoDBFailure(f"{operation} failed: {detail}", transient=True)
            except BotoCoreError as error:
                failure = DynamoDBFailure(f"{operation} failed: {error}", transient=True)
            if attempt + 1 == self.attempts or self.monotonic() >= give_up_at:
                break
            self.sleep(self.backoff(attempt))
        raise failure
