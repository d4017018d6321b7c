"""boto3 clients for the local stand-ins: fake credentials, explicit endpoint, bounded retries."""

from __future__ import annotations

import urllib.request
from typing import Any, Final

import boto3
from botocore.config import Config

# Placeholders only the local stand-ins accept; passed explicitly so that no profile, SSO
# session or instance role of the machine is ever picked up.
FAKE_CREDENTIALS: Final = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "aws_session_token": "testing",
}
DEFAULT_REGION: Final = "us-east-1"


def local_client(
    service_name: str,
    endpoint_url: str,
    *,
    region_name: str = DEFAULT_REGION,
    max_attempts: int = 3,
    **config: Any,
) -> Any:
    """A real boto3 client for ``service_name`` that talks to ``endpoint_url`` only.

    ``max_attempts`` counts every attempt, the first included (1 = no retries). Each call
    builds its own session, so clients made in different threads never share one (boto3
    sessions are not thread-safe).
    """
    session = boto3.session.Session(region_name=region_name, **FAKE_CREDENTIALS)
    # total_max_attempts counts the first try; botocore's max_attempts counts only retries.
    retries = {"mode": "standard", "total_max_attempts": max_attempts}
    settings = Config(retries=retries, **config)
    return session.client(service_name, endpoint_url=endpoint_url, config=settings)


# The stand-ins listen on 127.0.0.1: never route their control requests through a proxy.
_DIRECT: Final = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def local_http(request: urllib.request.Request, timeout: float = 10.0) -> bytes:
    """Send a plain HTTP request to a local stand-in, bypassing any configured proxy."""
    if request.type not in {"http", "https"}:
        raise ValueError(f"not an http(s) URL: {request.full_url!r}")
    with _DIRECT.open(request, timeout=timeout) as response:
        body: bytes = response.read()
        return body
