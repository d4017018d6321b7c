"""moto and the rules proxy started together: DynamoDB with its rules, the rest plain moto.

:class:`LocalDynamoDB` offers what :class:`~bedrock_guard.local.moto_server.MotoServer` does
(``endpoint_url``, ``client()``, ``environ()``, ``reset()``), with DynamoDB reached through the
rules, so code written against a ``MotoServer`` can take either.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self

from moto.dynamodb.models import dynamo_type

from bedrock_guard.local.clients import DEFAULT_REGION
from bedrock_guard.local.dynamodb_rules.proxy import DynamoDBRules
from bedrock_guard.local.dynamodb_rules.service import DEFAULT_COMMIT_HOLD_SECONDS
from bedrock_guard.local.moto_server import ENDPOINT_SERVICES, MotoServer

_relaxed_lock = threading.Lock()
_relaxed_users = 0
_original_setitem = dynamo_type.LimitedSizeDict.__setitem__


@contextmanager
def moto_item_limit_relaxed() -> Iterator[None]:
    """Turn off moto's own item size check in this process while the rules enforce the real one.

    moto measures items its own way (a number costs its text length, lists and maps no
    overhead) against 405,000 bytes, so it refuses some items DynamoDB stores; behind the rules
    proxy, which applies DynamoDB's measure and 409,600-byte limit on every write path, moto's
    check only gets in the way. Nested uses are counted; the check comes back with the last.
    """
    global _relaxed_users  # noqa: PLW0603  (one switch per process, shared by every server)
    with _relaxed_lock:
        if _relaxed_users == 0:
            dynamo_type.LimitedSizeDict.__setitem__ = dict.__setitem__  # type: ignore[method-assign]
        _relaxed_users += 1
    try:
        yield
    finally:
        with _relaxed_lock:
            _relaxed_users -= 1
            if _relaxed_users == 0:
                dynamo_type.LimitedSizeDict.__setitem__ = _original_setitem  # type: ignore[method-assign]


class LocalDynamoDB:
    """A :class:`MotoServer` plus a :class:`DynamoDBRules` in front of it, as one object.

    ``endpoint_url`` is the proxy's (it relays other services to moto unchanged);
    ``environ()`` points DynamoDB at the proxy and the other services straight at moto.
    Keyword arguments are those of :class:`DynamoDBRules`.
    """

    def __init__(
        self,
        *,
        region_name: str = DEFAULT_REGION,
        commit_hold_seconds: float = DEFAULT_COMMIT_HOLD_SECONDS,
        partition_wcu_per_second: float | None = None,
        fault_seed: int = 0,
    ) -> None:
        self.region_name = region_name
        self.moto = MotoServer(region_name=region_name)
        self._rules_options: dict[str, Any] = {
            "commit_hold_seconds": commit_hold_seconds,
            "partition_wcu_per_second": partition_wcu_per_second,
            "fault_seed": fault_seed,
            "region_name": region_name,
        }
        self._rules: DynamoDBRules | None = None
        self._relaxed: Any = None

    def start(self) -> Self:
        """Start moto, then the proxy in front of it."""
        if self._rules is not None:
            raise RuntimeError("the local DynamoDB is already running")
        relaxed = moto_item_limit_relaxed()
        relaxed.__enter__()
        try:
            self.moto.start()
            self._rules = DynamoDBRules(self.moto.endpoint_url, **self._rules_options).start()
        except BaseException:
            self.moto.stop()
            relaxed.__exit__(None, None, None)
            raise
        self._relaxed = relaxed
        return self

    def stop(self) -> None:
        """Stop the proxy and moto. Safe to call twice."""
        rules, self._rules = self._rules, None
        if rules is None:
            return
        try:
            rules.stop()
            self.moto.stop()
        finally:
            self._relaxed.__exit__(None, None, None)
            self._relaxed = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def rules(self) -> DynamoDBRules:
        """The proxy: ``capacity()``, ``add_fault()``, ``service``..."""
        if self._rules is None:
            raise RuntimeError("the local DynamoDB is not running")
        return self._rules

    @property
    def port(self) -> int:
        """The proxy's port."""
        return self.rules.port

    @property
    def endpoint_url(self) -> str:
        """The proxy's URL: DynamoDB with its rules, every other service relayed to moto."""
        return self.rules.endpoint_url

    def client(self, service_name: str, *, max_attempts: int = 3, **config: Any) -> Any:
        """A boto3 client: DynamoDB through the rules, other services straight to moto."""
        if service_name == "dynamodb":
            return self.rules.client(max_attempts=max_attempts, **config)
        return self.moto.client(service_name, max_attempts=max_attempts, **config)

    def environ(self, services: Iterable[str] = ENDPOINT_SERVICES) -> dict[str, str]:
        """Like :meth:`MotoServer.environ`, with ``AWS_ENDPOINT_URL_DYNAMODB`` on the proxy."""
        env = self.moto.environ(services)
        if "AWS_ENDPOINT_URL_DYNAMODB" in env:
            env["AWS_ENDPOINT_URL_DYNAMODB"] = self.rules.endpoint_url
        return env

    def capacity(self) -> dict[str, Any]:
        """See :meth:`DynamoDBRules.capacity`."""
        return self.rules.capacity()

    def reset(self) -> None:
        """Drop every moto resource and the rules' state (capacity, faults, tokens)."""
        self.moto.reset()
        self.rules.reset()


@contextmanager
def local_dynamodb(**options: Any) -> Iterator[LocalDynamoDB]:
    """``with local_dynamodb(commit_hold_seconds=0.05) as aws: aws.client("dynamodb")``."""
    with LocalDynamoDB(**options) as stack:
        yield stack
