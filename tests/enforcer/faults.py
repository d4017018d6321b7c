"""Fault injection for the enforcer's AWS calls, through botocore's own event hooks.

A :class:`Faults` plan is registered on a client (``before-call`` and ``after-call`` of one
operation), so the code under test keeps its real client and its real calls; only the answer
changes. The errors are the shapes the services return (DynamoDB's ``TransactionCanceledException``
with its ``CancellationReasons``, ``ProvisionedThroughputExceededException``,
``TransactionInProgressException``, IAM's ``Throttling`` and ``ServiceFailure``, CloudWatch's
``Throttling`` and ``InternalServiceError``), built by botocore from the parsed body exactly as
for a real answer, so ``except client.exceptions.X`` and error-code checks behave as in AWS.

Three kinds of fault:

* ``fail``: the call is refused before it reaches the service (nothing applied);
* ``lost_answer``: the call is applied, then the caller sees an error (a 500, or a timeout in
  real life): the state changed but the code does not know it;
* ``throttle``: the service's throttling answer (for a transaction: cancelled with
  ``ThrottlingError`` reasons), nothing applied.

The same plans work against any endpoint (moto in process, moto server, or a proxy applying
DynamoDB's real rules): they sit in the client, not in the service.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError


class Fault(StrEnum):
    FAIL = "fail"
    LOST_ANSWER = "lost_answer"
    THROTTLE = "throttle"


@dataclass
class _Answer:
    """The part of an HTTP response botocore reads after ``before-call`` answered."""

    status_code: int
    headers: dict[str, str] = field(default_factory=dict)


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {}, **extra}


def cancelled(reason: str, count: int) -> dict[str, Any]:
    """A TransactWriteItems cancellation: ``reason`` on the first item, ``None`` on the rest."""
    reasons = [{"Code": reason, "Message": reason}] + [{"Code": "None"}] * (count - 1)
    return error_body(
        "TransactionCanceledException",
        f"Transaction cancelled, please refer cancellation reasons for specific reasons "
        f"[{', '.join(r['Code'] for r in reasons)}]",
        CancellationReasons=reasons,
    )


# (service, fault) -> (status, code, message) of the answer to a single-item call.
_REFUSALS = {
    ("dynamodb", Fault.THROTTLE): (
        400,
        "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded.",
    ),
    ("dynamodb", Fault.FAIL): (500, "InternalServerError", "Internal server error"),
    ("iam", Fault.THROTTLE): (400, "Throttling", "Rate exceeded"),
    ("iam", Fault.FAIL): (500, "ServiceFailure", "Request processing has failed."),
    ("cloudwatch", Fault.THROTTLE): (400, "Throttling", "Rate exceeded"),
    ("cloudwatch", Fault.FAIL): (500, "InternalServiceError", "Internal service error"),
}


def refusal(
    service: str, operation: str, fault: Fault, params: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """(status, parsed body) of the error ``service`` answers ``operation`` with for ``fault``.

    A transaction is cancelled rather than failed: by a conflict with another transaction (a
    gate request on the same month item), or by throttling.
    """
    if (service, operation) == ("dynamodb", "TransactWriteItems"):
        count = len(params.get("TransactItems", [])) or 1
        reason = "ThrottlingError" if fault is Fault.THROTTLE else "TransactionConflict"
        return 400, cancelled(reason, count)
    status, code, message = _REFUSALS[(service, fault)]
    return status, error_body(code, message)


def lost_answer(service: str, operation: str) -> ClientError:
    """The error a caller sees when its applied call's answer is lost."""
    code = {"dynamodb": "InternalServerError", "iam": "ServiceFailure"}.get(
        service, "InternalServiceError"
    )
    return ClientError(
        {**error_body(code, "answer lost"), "ResponseMetadata": {"HTTPStatusCode": 500}}, operation
    )


@dataclass
class Faults:
    """Faults on one client's calls of some operations; each fires ``times`` times (``None``:
    until :meth:`clear`). Counts what it did in :attr:`fired`."""

    client: Any
    service: str
    plans: dict[str, tuple[Fault, int | None, dict[str, Any] | None]] = field(default_factory=dict)
    fired: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        events = self.client.meta.events
        events.register(f"before-call.{self.service}", self._before)
        events.register(f"after-call.{self.service}", self._after)

    def inject(
        self,
        operation: str,
        fault: Fault,
        *,
        times: int | None = 1,
        body: dict[str, Any] | None = None,
    ) -> Faults:
        """From now on, ``operation`` meets ``fault`` (``body``: a given error body instead)."""
        self.plans[operation] = (fault, times, body)
        return self

    def clear(self) -> None:
        self.plans.clear()

    def _take(
        self, operation: str, *, kinds: tuple[Fault, ...]
    ) -> tuple[Fault, dict[str, Any] | None] | None:
        plan = self.plans.get(operation)
        if plan is None or plan[0] not in kinds:
            return None
        fault, times, body = plan
        if times is not None:
            if times <= 0:
                return None
            self.plans[operation] = (fault, times - 1, body)
        self.fired[operation] = self.fired.get(operation, 0) + 1
        return fault, body

    def _before(self, model: Any, params: dict[str, Any], **_: Any) -> Any:
        taken = self._take(model.name, kinds=(Fault.FAIL, Fault.THROTTLE))
        if taken is None:
            return None
        fault, body = taken
        if body is not None:
            return _Answer(400), body
        status, parsed = refusal(self.service, model.name, fault, _api_params(params))
        return _Answer(status), {**parsed, "ResponseMetadata": {"HTTPStatusCode": status}}

    def _after(self, model: Any, http_response: Any, **_: Any) -> None:
        if getattr(http_response, "status_code", 500) >= 300:
            return
        if self._take(model.name, kinds=(Fault.LOST_ANSWER,)) is not None:
            raise lost_answer(self.service, model.name)


def _api_params(request: dict[str, Any]) -> dict[str, Any]:
    """The parameters of a JSON-protocol request (DynamoDB's), from its serialized body."""
    body = request.get("body")
    try:
        parsed = json.loads(body) if body else {}
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


@contextmanager
def faults_during(*plans: Faults) -> Iterator[None]:
    """Run the block with the plans armed; disarm them all afterwards, whatever happened."""
    try:
        yield
    finally:
        for plan in plans:
            plan.clear()
