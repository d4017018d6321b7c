"""A local HTTP stand-in of the Bedrock Runtime Converse API, for tests, benchmarks and the demo.

boto3's real ``bedrock-runtime`` client talks to it through ``endpoint_url``, so everything
between the caller and the wire (serialisation, error mapping, retries) is the real thing.
Replies are deterministic (see :mod:`.converse_replies`); errors and latency can be injected
per model or as a queue of next replies; every Converse call is counted per model, so a test
can assert that only granted requests reached Bedrock. The server runs in one process and is
controlled and inspected over HTTP (``/_stub/...``) from any other, via :class:`StubControl`.
Optionally (off unless :meth:`BedrockStub.set_invocation_log` is given a log), it writes
Bedrock's model invocation log record of every call it answers (:mod:`.invocation_log`).

Run it alone with ``python -m bedrock_guard.local.bedrock_stub [--port N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import signal
import socket
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any, Final, Self

from bedrock_guard.core.pricing import TokenUsage
from bedrock_guard.local.clients import local_client, local_http
from bedrock_guard.local.converse_replies import (
    ConverseInputError,
    Reply,
    build_reply,
    parse_request,
)
from bedrock_guard.local.invocation_log import InvocationLog, InvocationLogError

_CONVERSE_PATH: Final = re.compile(r"^/model/(?P<model>[^/]+)/converse$")
CONTROL_PREFIX: Final = "/_stub"
OK: Final = "ok"
# With the invocation log on, the stand-in plays the account's Bedrock: a request whose signer
# it cannot name is refused as Bedrock refuses credentials that are not the account's.
UNRECOGNIZED_CLIENT: Final = "UnrecognizedClientException"
_STOP_TIMEOUT_S: Final = 5.0
_POLL_INTERVAL_S: Final = 0.05  # how soon serve_forever notices a stop


@dataclass
class StubStats:
    """What reached the stand-in, per model id: calls, outcomes, and the tokens it served."""

    calls: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    usage: dict[str, dict[str, int]] = field(default_factory=dict)
    records_written: int = 0  # invocation log records written (the log on)
    record_failures: int = 0  # calls answered whose record could not be written

    @property
    def total_calls(self) -> int:
        """Converse calls received, whatever they were answered with."""
        return sum(self.calls.values())

    @property
    def total_ok(self) -> int:
        """Converse calls answered with a reply (HTTP 200)."""
        return sum(outcome.get(OK, 0) for outcome in self.outcomes.values())

    def tokens(self, kind: str = "totalTokens") -> int:
        """Tokens of one ``usage`` kind served over all models (e.g. ``outputTokens``)."""
        return sum(usage.get(kind, 0) for usage in self.usage.values())

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict, as the control API returns it."""
        return {
            "calls": self.calls,
            "outcomes": self.outcomes,
            "usage": self.usage,
            "recordsWritten": self.records_written,
            "recordFailures": self.record_failures,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StubStats:
        """The inverse of :meth:`to_json`."""
        return cls(
            calls=data["calls"],
            outcomes=data["outcomes"],
            usage=data["usage"],
            records_written=int(data.get("recordsWritten", 0)),
            record_failures=int(data.get("recordFailures", 0)),
        )


class StubState:
    """Thread-safe rules, queues and counters of one stand-in."""

    def __init__(self, default: Reply | None = None, models: frozenset[str] | None = None) -> None:
        self._lock = threading.Lock()
        self._initial_default = default or Reply()
        self.models = models
        self._default = self._initial_default
        self._rules: dict[str, Reply] = {}
        self._queues: dict[str | None, deque[Reply]] = defaultdict(deque)
        self._calls: Counter[str] = Counter()
        self._outcomes: dict[str, Counter[str]] = defaultdict(Counter)
        self._usage: dict[str, Counter[str]] = defaultdict(Counter)
        self._records = Counter[str]()
        self.invocation_log: InvocationLog | None = None

    def set_reply(self, reply: Reply | None, model_id: str | None = None) -> None:
        """Answer every call (for one model, or by default) like ``reply``; None clears it."""
        with self._lock:
            if model_id is None:
                self._default = reply or self._initial_default
            elif reply is None:
                self._rules.pop(model_id, None)
            else:
                self._rules[model_id] = reply

    def enqueue(self, replies: list[Reply], model_id: str | None = None) -> None:
        """Answer the next calls (for one model, or any) with these replies, in order."""
        with self._lock:
            self._queues[model_id].extend(replies)

    def take(self, model_id: str) -> Reply:
        """The reply for the next call: its model's queue, the shared queue, rule, default."""
        with self._lock:
            for queue in (self._queues.get(model_id), self._queues.get(None)):
                if queue:
                    return queue.popleft()
            return self._rules.get(model_id, self._default)

    def record(self, model_id: str, outcome: str, usage: TokenUsage | None = None) -> None:
        """Count one call and, for a reply, the tokens it served."""
        with self._lock:
            self._calls[model_id] += 1
            self._outcomes[model_id][outcome] += 1
            if usage is not None:
                self._usage[model_id].update(
                    {
                        "inputTokens": usage.input_tokens,
                        "outputTokens": usage.output_tokens,
                        "cacheReadInputTokens": usage.cache_read_tokens,
                        "cacheWriteInputTokens": usage.cache_write_tokens,
                        "totalTokens": usage.total,
                    }
                )

    def record_written(self, *, ok: bool) -> None:
        """Count an invocation record written, or one that could not be."""
        with self._lock:
            self._records["written" if ok else "failed"] += 1

    def stats(self) -> StubStats:
        """A consistent copy of the counters."""
        with self._lock:
            return StubStats(
                calls=dict(self._calls),
                outcomes={model: dict(counts) for model, counts in self._outcomes.items()},
                usage={model: dict(counts) for model, counts in self._usage.items()},
                records_written=self._records["written"],
                record_failures=self._records["failed"],
            )

    def reset(self) -> None:
        """Forget every rule, queued reply and count."""
        with self._lock:
            self._default = self._initial_default
            self._rules.clear()
            self._queues.clear()
            self._calls.clear()
            self._outcomes.clear()
            self._usage.clear()
            self._records.clear()


class _Server(ThreadingHTTPServer):
    """A threading HTTP server that can close its open keep-alive connections on stop."""

    daemon_threads = True
    request_queue_size = 128  # dozens of callers connect at once in the concurrency tests

    def __init__(self, address: tuple[str, int], state: StubState) -> None:
        super().__init__(address, _Handler)
        self.state = state
        self.stopping = threading.Event()
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
    """Routes Converse calls and control requests; anything else is a JSON 404."""

    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    # Small replies on a kept-alive connection otherwise wait ~40 ms for Nagle's algorithm.
    disable_nagle_algorithm = True
    timeout = 30  # an idle keep-alive connection frees its thread after this
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
        """Silent: tests and the demo print what matters themselves."""

    def do_GET(self) -> None:
        self._read_body()
        if self.path == f"{CONTROL_PREFIX}/stats":
            self._send_json(200, self.server.state.stats().to_json())
        else:
            self._not_found()

    def do_POST(self) -> None:
        raw = self._read_body()
        path = urllib.parse.urlsplit(self.path).path
        if match := _CONVERSE_PATH.match(path):
            self._converse(urllib.parse.unquote(match["model"]), raw)
        elif path.startswith(f"{CONTROL_PREFIX}/"):
            self._control(path.removeprefix(f"{CONTROL_PREFIX}/"), raw)
        else:
            self._not_found()

    def do_PUT(self) -> None:
        self._read_body()
        self._not_found()

    do_DELETE = do_PUT
    do_PATCH = do_PUT

    def _converse(self, model_id: str, raw: bytes) -> None:
        started = time.perf_counter()
        state = self.server.state
        log = state.invocation_log
        caller = log.identity(self.headers.get("Authorization")) if log is not None else None
        if log is not None and caller is None:  # before anything else, as Bedrock checks it
            state.record(model_id, UNRECOGNIZED_CLIENT)
            self._send_error(
                UNRECOGNIZED_CLIENT, 403, "The security token included in the request is invalid."
            )
            return
        reply = state.take(model_id)
        if reply.latency_ms and self.server.stopping.wait(reply.latency_ms / 1000):
            return  # stopping: drop the call rather than hold the shutdown
        if reply.error:
            state.record(model_id, reply.error)
            self._send_error(reply.error, reply.status, reply.message or _message(reply.error))
            return
        if state.models is not None and model_id not in state.models:
            state.record(model_id, "ValidationException")
            self._send_error(
                "ValidationException", 400, "The provided model identifier is invalid."
            )
            return
        try:
            request = parse_request(json.loads(raw or b"null"))
        except (ValueError, ConverseInputError) as error:
            state.record(model_id, "ValidationException")
            self._send_error("ValidationException", 400, str(error))
            return
        elapsed_ms = int((time.perf_counter() - started) * 1000)
        document, usage = build_reply(model_id, request, reply, elapsed_ms)
        request_id = str(uuid.uuid4())
        if log is not None and caller is not None:
            try:
                log.write(
                    identity_arn=caller,
                    model_id=model_id,
                    request_id=request_id,
                    usage=usage,
                    request_metadata=request.request_metadata,
                )
            except InvocationLogError:
                # Bedrock answers even when its log delivery fails; the count shows the gap.
                state.record_written(ok=False)
            else:
                state.record_written(ok=True)
        state.record(model_id, OK, usage)
        self._send_json(200, document, request_id=request_id)

    def _control(self, action: str, raw: bytes) -> None:
        state = self.server.state
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            model_id = body.get("modelId")
            if action == "reset":
                state.reset()
            elif action == "reply":
                reply = body.get("reply")
                state.set_reply(None if reply is None else Reply.from_json(reply), model_id)
            elif action == "enqueue":
                replies = [Reply.from_json(item) for item in body.get("replies", [])]
                state.enqueue(replies, model_id)
            else:
                self._not_found()
                return
        except (ValueError, TypeError) as error:
            self._send_json(400, {"message": f"bad control request: {error}"})
            return
        self._send_json(200, {"ok": True})

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _not_found(self) -> None:
        self._send_json(404, {"message": f"no route for {self.command} {self.path}"})

    def _send_error(self, code: str, status: int, message: str) -> None:
        # rest-json: botocore reads the error code from this header, the text from "message".
        self._send_json(status, {"message": message}, {"x-amzn-ErrorType": f"{code}:"})

    def _send_json(
        self,
        status: int,
        document: dict[str, Any],
        headers: dict[str, str] | None = None,
        *,
        request_id: str | None = None,
    ) -> None:
        payload = json.dumps(document).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        # The invocation record's requestId is the answer's, as Bedrock's are.
        self.send_header("x-amzn-RequestId", request_id or str(uuid.uuid4()))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


def _message(error: str) -> str:
    return f"{error} injected by the local Bedrock stand-in"


class BedrockStub:
    """The stand-in as a context manager: starts on enter, stops on exit (also on errors).

    >>> with BedrockStub() as stub:
    ...     client = stub.client()
    ...     stub.enqueue(Reply(error="ThrottlingException"))
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        default: Reply | None = None,
        models: frozenset[str] | None = None,
    ) -> None:
        self.state = StubState(default, models)
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Bind (port 0 picks a free one) and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the Bedrock stand-in is already running")
        self._server = _Server(self._address, self.state)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL_S},
            name="bedrock-stub",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and free the port. Safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        server.stopping.set()
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
            raise RuntimeError("the Bedrock stand-in is not running")
        return int(self._server.server_address[1])

    @property
    def endpoint_url(self) -> str:
        """What to pass as ``endpoint_url`` (or ``BEDROCK_ENDPOINT_URL``)."""
        return f"http://{self._address[0]}:{self.port}"

    def client(self, *, max_attempts: int = 1, **config: Any) -> Any:
        """A real boto3 ``bedrock-runtime`` client pointing here, with fake credentials."""
        return local_client(
            "bedrock-runtime", self.endpoint_url, max_attempts=max_attempts, **config
        )

    def set_reply(self, reply: Reply | None, model_id: str | None = None) -> None:
        """See :meth:`StubState.set_reply`."""
        self.state.set_reply(reply, model_id)

    def enqueue(self, *replies: Reply, model_id: str | None = None) -> None:
        """See :meth:`StubState.enqueue`."""
        self.state.enqueue(list(replies), model_id)

    def stats(self) -> StubStats:
        """See :meth:`StubState.stats`."""
        return self.state.stats()

    def reset(self) -> None:
        """See :meth:`StubState.reset`."""
        self.state.reset()

    def set_invocation_log(self, log: InvocationLog | None) -> None:
        """Write every answered call's invocation record to ``log`` from now on (``None``:
        stop). While it is on, a call whose signer the log's resolver cannot name is refused
        with 403 ``UnrecognizedClientException`` and writes nothing."""
        self.state.invocation_log = log


class StubControl:
    """Drives a running stand-in over HTTP, from any process."""

    def __init__(self, endpoint_url: str, timeout: float = 10.0) -> None:
        if not endpoint_url.startswith(("http://", "https://")):
            raise ValueError(f"endpoint_url must be an http(s) URL, got {endpoint_url!r}")
        self.endpoint_url = endpoint_url.rstrip("/")
        self._timeout = timeout

    def set_reply(self, reply: Reply | None, model_id: str | None = None) -> None:
        """See :meth:`StubState.set_reply`."""
        self._call("reply", {"modelId": model_id, "reply": reply and reply.to_json()})

    def enqueue(self, *replies: Reply, model_id: str | None = None) -> None:
        """See :meth:`StubState.enqueue`."""
        self._call("enqueue", {"modelId": model_id, "replies": [r.to_json() for r in replies]})

    def stats(self) -> StubStats:
        """See :meth:`StubState.stats`."""
        return StubStats.from_json(self._call("stats"))

    def reset(self) -> None:
        """See :meth:`StubState.reset`."""
        self._call("reset", {})

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


def main(argv: list[str] | None = None) -> None:
    """Serve the stand-in until Ctrl-C or SIGTERM, printing its endpoint URL first."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)

    def _terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    # A job started in the background by a non-interactive shell inherits SIGINT ignored;
    # Ctrl-C (or kill -INT) must stop the server all the same.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with BedrockStub(args.host, args.port) as stub:
        print(stub.endpoint_url, flush=True)  # the one line a script reads
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
