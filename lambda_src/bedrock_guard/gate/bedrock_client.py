"""The Converse call and what its failures mean for the reservation.

Errors Bedrock answers (throttling, validation, access, model errors) mean no tokens were
billed, so the reservation is released. A transport failure after the request was sent (read
timeout, connection dropped mid-answer) leaves it unknown whether Bedrock ran the model, so the
reservation is kept as the charge: the caller may be over-charged by the worst case, never
under-charged. Connection failures before anything was sent release it.

One Bedrock run per charge: the SDK never retries (a retried read timeout would run the model
a second time under one hold). The gate retries by itself only answers that prove the model did
not run (throttling, service unavailable, no connection), up to ``BEDROCK_MAX_ATTEMPTS``.

The read timeout grows with ``max_tokens``: a first-byte allowance plus the time to generate
``max_tokens`` at a slow rate, capped by ``BEDROCK_READ_TIMEOUT_SECONDS``. A generation slower
than that times out and stays charged at its worst case, once.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from bedrock_guard.core.pricing import TokenUsage
from bedrock_guard.gate.config import GateConfig
from bedrock_guard.gate.request import GateRequest

CONNECT_TIMEOUT_SECONDS: Final = 3.0
# botocore's standard retry mode sleeps at most this long between attempts.
MAX_RETRY_BACKOFF_SECONDS: Final = 20.0
# Read timeout of a call: time to first byte, then max_tokens at no less than this rate.
FIRST_BYTE_SECONDS: Final = 10.0
SLOWEST_TOKENS_PER_SECOND: Final = 20.0
TIMEOUT_STEP_SECONDS: Final = 15.0
# The gate's own backoff between attempts that Bedrock proved it did not run.
RETRY_BACKOFF_BASE_SECONDS: Final = 0.25
RETRY_BACKOFF_CAP_SECONDS: Final = 2.0

_AMBIGUOUS: Final = (ReadTimeoutError, ConnectionClosedError, ResponseStreamingError)
_NOT_SENT: Final = (EndpointConnectionError, ConnectTimeoutError)
_THROTTLED: Final = frozenset({"ThrottlingException", "ServiceQuotaExceededException"})
_RETRYABLE: Final = _THROTTLED | {"ServiceUnavailableException"}


def read_timeout_for(max_tokens: int, cap: float) -> float:
    """Read timeout of a call with ``max_tokens``: enough for a slow generation, in steps of
    :data:`TIMEOUT_STEP_SECONDS` (so a container keeps few clients), at most ``cap``."""
    needed = FIRST_BYTE_SECONDS + max_tokens / SLOWEST_TOKENS_PER_SECOND
    return min(cap, math.ceil(needed / TIMEOUT_STEP_SECONDS) * TIMEOUT_STEP_SECONDS)


def build_client(config: GateConfig, read_timeout: float | None = None) -> Any:
    """A bedrock-runtime client that never retries by itself (see the module docstring)."""
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=config.bedrock_endpoint_url,
        config=Config(
            retries={"mode": "standard", "total_max_attempts": 1},
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=config.bedrock_read_timeout if read_timeout is None else read_timeout,
            parameter_validation=False,  # the gate validated the request already
        ),
    )


@dataclass(slots=True)
class BedrockClients:
    """The container's bedrock-runtime clients, one per read timeout in use."""

    config: GateConfig
    _clients: dict[float, Any] = field(default_factory=dict)

    def client_for(self, max_tokens: int) -> Any:
        timeout = read_timeout_for(max_tokens, self.config.bedrock_read_timeout)
        client = self._clients.get(timeout)
        if client is None:
            client = self._clients[timeout] = build_client(self.config, timeout)
        return client


def retry_budget_seconds(attempts: int, connect_timeout: float, read_timeout: float) -> float:
    """Longest a botocore call can take in standard retry mode: every attempt timing out,
    with the longest backoff (2^n seconds, at most 20) between attempts."""
    backoff = sum(min(MAX_RETRY_BACKOFF_SECONDS, 2.0**i) for i in range(attempts - 1))
    return attempts * (connect_timeout + read_timeout) + backoff


def worst_call_seconds(config: GateConfig) -> float:
    """Longest a Converse call can take with the configured timeouts and retries: every
    attempt but the last refused quickly is not assumed, so each may use the full timeout."""
    backoff = sum(
        min(RETRY_BACKOFF_CAP_SECONDS, RETRY_BACKOFF_BASE_SECONDS * 2.0**i)
        for i in range(config.bedrock_max_attempts - 1)
    )
    per_attempt = CONNECT_TIMEOUT_SECONDS + config.bedrock_read_timeout
    return config.bedrock_max_attempts * per_attempt + backoff


@dataclass(frozen=True, slots=True)
class ConverseResult:
    """The text and token usage of a successful call."""

    output: str
    usage: TokenUsage
    stop_reason: str
    reported_cache_fields: bool


class BedrockFailure(Exception):
    """A failed call, with the answer the gate gives and whether Bedrock may have billed it."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        maybe_billed: bool,
        bedrock_code: str,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.maybe_billed = maybe_billed
        self.bedrock_code = bedrock_code
        # Only when the answer proves the model did not run: a retry cannot run it twice.
        self.retryable = retryable and not maybe_billed


def converse_arguments(target: str, request: GateRequest) -> dict[str, Any]:
    """The Converse parameters of a validated request."""
    inference: dict[str, Any] = {"maxTokens": request.max_tokens}
    if request.temperature is not None:
        inference["temperature"] = request.temperature
    if request.top_p is not None:
        inference["topP"] = request.top_p
    if request.stop_sequences:
        inference["stopSequences"] = list(request.stop_sequences)
    arguments: dict[str, Any] = {
        "modelId": target,
        "messages": [dict(m) for m in request.messages],
        "inferenceConfig": inference,
    }
    if request.system:
        arguments["system"] = [dict(b) for b in request.system]
    return arguments


def converse(
    client: Any,
    target: str,
    request: GateRequest,
    *,
    attempts: int = 1,
    sleep: Callable[[float], None] = time.sleep,
    jitter: Callable[[], float] = random.random,
) -> ConverseResult:
    """Call Converse; raise :class:`BedrockFailure` saying how to answer and what to charge.

    Up to ``attempts`` calls, a new one only after an answer proving the model did not run.
    """
    arguments = converse_arguments(target, request)
    for attempt in range(attempts):
        last = attempt + 1 == attempts
        try:
            return _converse_once(client, arguments)
        except BedrockFailure as failure:
            if last or not failure.retryable:
                raise
        sleep(jitter() * min(RETRY_BACKOFF_CAP_SECONDS, RETRY_BACKOFF_BASE_SECONDS * 2.0**attempt))
    raise AssertionError("unreachable: the last attempt returns or raises")


def _converse_once(client: Any, arguments: dict[str, Any]) -> ConverseResult:
    try:
        response = client.converse(**arguments)
    except ClientError as error:
        raise _client_failure(error) from error
    except _AMBIGUOUS as error:
        raise BedrockFailure(
            504,
            "BedrockTimeout",
            "Bedrock did not answer in time; the reserved worst case stays charged because the "
            "model may have run",
            maybe_billed=True,
            bedrock_code=type(error).__name__,
        ) from error
    except BotoCoreError as error:
        raise BedrockFailure(
            502,
            "BedrockError",
            "Bedrock could not be reached; nothing was charged",
            maybe_billed=False,
            bedrock_code=type(error).__name__,
            retryable=isinstance(error, _NOT_SENT),
        ) from error
    return parse_response(response)


def parse_response(response: dict[str, Any]) -> ConverseResult:
    """Text and usage of a Converse response; an unreadable one is treated as possibly billed."""
    try:
        usage = response["usage"]
        blocks = response["output"]["message"]["content"]
        text = "".join(b["text"] for b in blocks if isinstance(b, dict) and "text" in b)
        cache_read = usage.get("cacheReadInputTokens")
        cache_write = usage.get("cacheWriteInputTokens")
        tokens = TokenUsage(
            input_tokens=_count(usage["inputTokens"]),
            output_tokens=_count(usage["outputTokens"]),
            cache_read_tokens=_count(cache_read or 0),
            cache_write_tokens=_count(cache_write or 0),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise BedrockFailure(
            502,
            "BedrockError",
            "Bedrock returned an unreadable answer; the reserved worst case stays charged",
            maybe_billed=True,
            bedrock_code="UnreadableResponse",
        ) from error
    return ConverseResult(
        output=text,
        usage=tokens,
        stop_reason=str(response.get("stopReason", "")),
        reported_cache_fields=cache_read is not None or cache_write is not None,
    )


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"not a token count: {value!r}")
    return value


def _client_failure(error: ClientError) -> BedrockFailure:
    code = str(error.response.get("Error", {}).get("Code", "Unknown"))
    if code == "ValidationException":
        # Bedrock's own words help the caller fix the request (e.g. input too long).
        detail = str(error.response.get("Error", {}).get("Message", ""))[:300]
        return BedrockFailure(
            400,
            "BedrockValidationError",
            f"Bedrock rejected the request as invalid ({detail}); nothing was charged",
            maybe_billed=False,
            bedrock_code=code,
        )
    if code in _THROTTLED:
        return BedrockFailure(
            429,
            "BedrockThrottled",
            "Bedrock is throttling this model (not your budget); retry later, nothing was charged",
            maybe_billed=False,
            bedrock_code=code,
            retryable=True,
        )
    return BedrockFailure(
        502,
        "BedrockError",
        f"Bedrock failed ({code}); nothing was charged",
        maybe_billed=False,
        bedrock_code=code,
        retryable=code in _RETRYABLE,
    )
