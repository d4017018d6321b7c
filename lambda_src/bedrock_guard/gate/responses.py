"""API Gateway proxy responses of the token gate: JSON bodies, error envelopes, headers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any


class GateError(Exception):
    """A refusal or failure the gate answers as ``{"error": {"code", "message", ...}}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Mapping[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = dict(details or {})
        self.retry_after = retry_after

    def response(self) -> dict[str, Any]:
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        body = {"error": {"code": self.code, "message": self.message, **self.details}}
        return json_response(self.status, body, headers)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        # Exact amounts are stored as Decimal; the answer is a JSON number.
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def json_response(
    status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A proxy-integration response with a JSON body."""
    return {
        "statusCode": status,
        "headers": {
            "Content-Type": "application/json",
            "Cache-Control": "no-store",
            **(headers or {}),
        },
        "body": json.dumps(body, default=_json_default, separators=(",", ":")),
        "isBase64Encoded": False,
    }
