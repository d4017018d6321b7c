"""An HTTP endpoint in front of moto that answers DynamoDB calls with DynamoDB's rules.

DynamoDB JSON requests (``X-Amz-Target: DynamoDB_20120810.<Op>``) go through
:class:`~.service.RulesService`; every other request (other services, moto's own API) is
relayed to the upstream unchanged, so one endpoint URL can stand for moto as a whole. Requests
are served concurrently, one thread each, so that concurrent callers really meet in the rules
(moto behind it serves one request at a time, see :mod:`bedrock_guard.local.moto_server`).

Control API, usable from any process (see :class:`RulesControl`):

- ``GET /__rules/capacity``: consumed units per operation, table and item.
- ``GET /__rules/faults``, ``POST /__rules/faults`` with ``{"rules": [...], "replace": false}``
  (or one rule object): list or add fault rules (fields of :class:`~.faults.FaultRule`).
- ``POST /__rules/reset``: forget capacity, faults and tokens (``{"capacity_only": true}``
  forgets the capacity figures only).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Self

from bedrock_guard.local.clients import (
    DEFAULT_REGION,
    FAKE_CREDENTIALS,
    local_client,
    local_http,
)
from bedrock_guard.local.dynamodb_rules.faults import FaultRule
from bedrock_guard.local.dynamodb_rules.service import DEFAULT_COMMIT_HOLD_SECONDS, RulesService
from bedrock_guard.local.dynamodb_rules.wire import TARGET_PREFIX, DynamoDBError, Reply

CONTROL_PREFIX: Final = "/__rules"
_HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "content-length",
        "host",
    }
)
_UPSTREAM_TIMEOUT_S: Final = 60.0
_POLL_INTERVAL_S: Final = 0.05
_STOP_TIMEOUT_S: Final = 5.0

logger = logging.getLogger(__name__)


class HttpUpstream:
    """Sends requests to the upstream over a fresh connection each (cheap on loopback, and
    never a stale kept-alive socket that would make a write's fate ambiguous)."""

    def __init__(self, url: str, timeout: float = _UPSTREAM_TIMEOUT_S) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the upstream must be an http:// URL, got {url!r}")
        self.url = url.rstrip("/")
        self._host = parts.hostname
        self._port = parts.port or 80
        self._timeout = timeout

    def send(self, target: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        """POST one DynamoDB JSON request."""
        fields = {name: value for name, value in headers.items() if name.lower() != "x-amz-target"}
        fields.setdefault("Content-Type", "application/x-amz-json-1.0")
        return self.request("POST", "/", body, {**fields, "X-Amz-Target": target})

    def request(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        """Relay any request; the answer is read whole."""
        connection = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        try:
            fields = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
            connection.request(method, path, body=body or None, headers=fields)
            response = connection.getresponse()
            payload = response.read()
            kept = [
                (name, value)
                for name, value in response.getheaders()
                if name.lower() not in _HOP_BY_HOP
            ]
            return Reply(response.status, payload, kept)
        finally:
            connection.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # dozens of callers connect at once in the concurrency tests

    def __init__(self, address: tuple[str, int], service: RulesService, upstream: HttpUpstream):
        super().__init__(address, _Handler)
        self.service = service
        self.upstream = upstream
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, connection: socket.socket, *, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):  # the peer may have closed it first
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    disable_nagle_algorithm = True  # small replies would otherwise wait for Nagle
    timeout = 30
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, open_=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: tests print what matters themselves."""

    def do_POST(self) -> None:
        body = self._read_body()
        path = urllib.parse.urlsplit(self.path).path
        target = self.headers.get("X-Amz-Target", "")
        if path.startswith(f"{CONTROL_PREFIX}/"):
            self._control(path.removeprefix(f"{CONTROL_PREFIX}/"), body)
        elif target.startswith(TARGET_PREFIX):
            operation = target.removeprefix(TARGET_PREFIX)
            try:
                reply = self.server.service.handle(operation, body, dict(self.headers.items()))
            except Exception:  # a bug or an unreachable upstream: answer, never hang the caller
                logger.exception("the DynamoDB rules failed on %s", operation)
                reply = DynamoDBError("InternalServerError", "Internal server error", 500).reply()
            self._send(reply)
        else:
            self._relay(body)

    def do_GET(self) -> None:
        body = self._read_body()
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith(f"{CONTROL_PREFIX}/"):
            self._control(path.removeprefix(f"{CONTROL_PREFIX}/"), None)
        else:
            self._relay(body)

    def _relay_any(self) -> None:
        self._relay(self._read_body())

    do_PUT = _relay_any
    do_DELETE = _relay_any
    do_PATCH = _relay_any
    do_HEAD = _relay_any

    def _relay(self, body: bytes) -> None:
        try:
            reply = self.server.upstream.request(
                self.command, self.path, body, dict(self.headers.items())
            )
        except OSError:
            # An empty 502: every botocore protocol reads it as error "502", whatever it speaks.
            logger.warning("the upstream %s is unreachable", self.server.upstream.url)
            reply = Reply(502)
        self._send(reply)

    def _control(self, action: str, raw: bytes | None) -> None:
        service = self.server.service
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            if action == "capacity" and raw is None:
                self._send(Reply.from_document(200, service.ledger.snapshot()))
                return
            if action == "faults" and raw is None:
                listed = [rule.to_json() for rule in service.faults.rules()]
                self._send(
                    Reply.from_document(200, {"rules": listed, "fired": service.faults.fired})
                )
                return
            if action == "faults":
                entries = body.get("rules", [body] if "kind" in body else [])
                rules = [FaultRule.from_json(entry) for entry in entries]
                if body.get("replace"):
                    service.faults.clear()
                for rule in rules:
                    service.faults.add(rule)
            elif action == "reset":
                if body.get("capacity_only"):
                    service.ledger.reset()
                else:
                    service.reset()
            else:
                self._send(Reply.from_document(404, {"message": f"no control action {action!r}"}))
                return
        except (ValueError, TypeError) as error:
            self._send(Reply.from_document(400, {"message": f"bad control request: {error}"}))
            return
        self._send(Reply.from_document(200, {"ok": True}))

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, reply: Reply) -> None:
        if reply.close:
            # The write was applied; the caller never hears so (a lost answer).
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(reply.status)
        for name, value in reply.headers:
            # send_response wrote its own Server and Date; the upstream's would repeat them.
            if name.lower() not in _HOP_BY_HOP | {"server", "date"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)


class DynamoDBRules:
    """The rules proxy as a context manager, in front of a running moto server.

    >>> with MotoServer() as moto, DynamoDBRules(upstream=moto.endpoint_url) as ddb:
    ...     ddb.client().list_tables()

    ``commit_hold_seconds``: how long a TransactWriteItems holds its items;
    ``partition_wcu_per_second``: optional write throughput limit per partition key;
    ``fault_seed``: seed of probabilistic faults.

    moto applies its own item size check (its measure, 405,000 bytes) before the rules see the
    result, so behind this proxy alone moto still refuses some items DynamoDB stores; the
    moto started by :func:`~.stack.local_dynamodb` has that check turned off
    (:func:`~.stack.moto_item_limit_relaxed`), leaving DynamoDB's limit to the rules.
    """

    def __init__(
        self,
        upstream: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        commit_hold_seconds: float = DEFAULT_COMMIT_HOLD_SECONDS,
        partition_wcu_per_second: float | None = None,
        fault_seed: int = 0,
        region_name: str = DEFAULT_REGION,
    ) -> None:
        self.upstream = HttpUpstream(upstream)
        self.service = RulesService(
            self.upstream,
            commit_hold_seconds=commit_hold_seconds,
            partition_wcu_per_second=partition_wcu_per_second,
            fault_seed=fault_seed,
        )
        self.region_name = region_name
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Bind (port 0 picks a free one) and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the DynamoDB rules proxy is already running")
        self._server = _Server(self._address, self.service, self.upstream)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL_S},
            name="dynamodb-rules",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and free the port. Safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(_STOP_TIMEOUT_S)
            self._thread = None

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
    def port(self) -> int:
        """The bound port."""
        if self._server is None:
            raise RuntimeError("the DynamoDB rules proxy is not running")
        return int(self._server.server_address[1])

    @property
    def endpoint_url(self) -> str:
        """What to pass as ``endpoint_url`` or ``AWS_ENDPOINT_URL_DYNAMODB``."""
        return f"http://{self._address[0]}:{self.port}"

    def client(
        self, service_name: str = "dynamodb", *, max_attempts: int = 3, **config: Any
    ) -> Any:
        """A real boto3 client pointing here (retries in botocore's standard mode)."""
        return local_client(
            service_name,
            self.endpoint_url,
            region_name=self.region_name,
            max_attempts=max_attempts,
            **config,
        )

    def environ(self, services: Iterable[str] = ("DYNAMODB",)) -> dict[str, str]:
        """Environment for a process whose default clients of ``services`` come here."""
        env = {f"AWS_ENDPOINT_URL_{service}": self.endpoint_url for service in services}
        env.update({name.upper(): value for name, value in FAKE_CREDENTIALS.items()})
        env.update({"AWS_DEFAULT_REGION": self.region_name, "AWS_REGION": self.region_name})
        return env

    def capacity(self) -> dict[str, Any]:
        """Units consumed since the last reset: ``total``, ``operations``, ``tables``,
        ``items`` (keyed ``table|canonical key``), each ``{"read": r, "write": w}``."""
        return self.service.ledger.snapshot()

    def reset_capacity(self) -> None:
        """Start counting capacity from zero."""
        self.service.ledger.reset()

    def add_fault(self, rule: FaultRule | None = None, **fields: Any) -> FaultRule:
        """Activate a fault rule (a :class:`FaultRule`, or its fields as keywords)."""
        fault = rule if rule is not None else FaultRule(**fields)
        self.service.faults.add(fault)
        return fault

    def clear_faults(self) -> None:
        """Drop every fault rule."""
        self.service.faults.clear()

    def reset(self) -> None:
        """Forget capacity, faults, idempotency tokens and partition balances."""
        self.service.reset()


class RulesControl:
    """Drives a running rules proxy over HTTP, from any process."""

    def __init__(self, endpoint_url: str, timeout: float = 10.0) -> None:
        if not endpoint_url.startswith(("http://", "https://")):
            raise ValueError(f"endpoint_url must be an http(s) URL, got {endpoint_url!r}")
        self.endpoint_url = endpoint_url.rstrip("/")
        self._timeout = timeout

    def capacity(self) -> dict[str, Any]:
        """See :meth:`DynamoDBRules.capacity`."""
        return self._call("capacity")

    def add_fault(self, *rules: FaultRule, replace: bool = False) -> None:
        """Activate fault rules (``replace`` drops the active ones first)."""
        self._call("faults", {"rules": [rule.to_json() for rule in rules], "replace": replace})

    def faults(self) -> list[FaultRule]:
        """The active fault rules."""
        return [FaultRule.from_json(rule) for rule in self._call("faults")["rules"]]

    def reset(self, *, capacity_only: bool = False) -> None:
        """See :meth:`DynamoDBRules.reset`."""
        self._call("reset", {"capacity_only": capacity_only})

    def _call(self, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(  # noqa: S310  (scheme checked in __init__)
            f"{self.endpoint_url}{CONTROL_PREFIX}/{action}",
            data=data,
            method="GET" if body is None else "POST",
            headers={"Content-Type": "application/json"},
        )
        result: dict[str, Any] = json.loads(local_http(request, self._timeout))
        return result
