"""Reading botocore's errors, shared by every layer that talks to AWS."""

from __future__ import annotations

from botocore.exceptions import ClientError


def error_code(error: ClientError) -> str:
    """The AWS error code of a botocore client error (empty when the response has none)."""
    return str(error.response.get("Error", {}).get("Code", ""))
