"""moto in server mode on 127.0.0.1: a real HTTP AWS endpoint for tests, benchmarks and the demo.

Unlike ``moto.mock_aws()``, which patches botocore inside one process, the server is reached
over HTTP, so other processes (one per simulated Lambda container) can share its state.

Requests are served one at a time. moto's backends are not safe under concurrent requests:
a DynamoDB transaction that fails restores a copy of the whole table taken when it started,
undoing writes other requests made meanwhile, and copying a table while another request
changes it can fail outright. Real DynamoDB serialises the writes to an item, so serving
requests in turn keeps results faithful to it; concurrency stays real on the client side.

The operations moto lacks that the Terraform configuration uses are served in front of it by
:mod:`.aws_extras`. Run it alone with ``python -m bedrock_guard.local.moto_server [--port N]``:
it prints its endpoint URL, then serves until SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import threading
import urllib.request
from collections.abc import Callable, Iterable
from types import FrameType, TracebackType
from typing import Any, Final, Self

from moto.server import ThreadedMotoServer

from bedrock_guard.local.aws_extras import AwsExtras, patch_moto
from bedrock_guard.local.clients import (
    DEFAULT_REGION,
    FAKE_CREDENTIALS,
    local_client,
    local_http,
)

# botocore service ids as AWS_ENDPOINT_URL_<ID> spells them, for the services the project uses.
ENDPOINT_SERVICES: Final = ("DYNAMODB", "CLOUDWATCH", "SNS", "IAM", "STS", "CLOUDWATCH_LOGS")

_WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _OneAtATime:
    """WSGI middleware that serves one request at a time (see the module docstring)."""

    def __init__(self, app: _WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self._lock:
            # Drain the body inside the lock: moto may build it lazily from backend state.
            return list(self._app(environ, start_response))


class MotoServer:
    """moto's ``ThreadedMotoServer`` as a context manager on a free port of 127.0.0.1."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, region_name: str = DEFAULT_REGION
    ) -> None:
        self._host = host
        self._port = port
        self.region_name = region_name
        self._server: ThreadedMotoServer | None = None
        self.extras: AwsExtras | None = None

    def start(self) -> Self:
        """Start serving in a daemon thread; port 0 picks a free port."""
        if self._server is not None:
            raise RuntimeError("the moto server is already running")
        # werkzeug logs every request at INFO to stderr; only problems are worth seeing.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = ThreadedMotoServer(ip_address=self._host, port=self._port, verbose=False)
        server.start()
        wsgi = _wsgi_server(server)
        patch_moto()
        self.extras = AwsExtras(wsgi.app)
        wsgi.app = _OneAtATime(self.extras)
        self._server = server
        try:
            # moto's backends live in this process and outlast a server: start from empty.
            self.reset()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket. Safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        with contextlib.suppress(OSError):  # leave nothing behind for in-process moto users
            _reset(server)
        server.stop()
        # ThreadedMotoServer.stop ends the serving loop but leaves the socket bound.
        _wsgi_server(server).server_close()

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
        return self._running().get_host_and_port()[1]

    @property
    def endpoint_url(self) -> str:
        """What to pass as ``endpoint_url`` or ``AWS_ENDPOINT_URL_<SERVICE>``."""
        return f"http://{self._host}:{self.port}"

    def client(self, service_name: str, *, max_attempts: int = 3, **config: Any) -> Any:
        """A real boto3 client for ``service_name`` pointing here, with fake credentials."""
        return local_client(
            service_name,
            self.endpoint_url,
            region_name=self.region_name,
            max_attempts=max_attempts,
            **config,
        )

    def environ(self, services: Iterable[str] = ENDPOINT_SERVICES) -> dict[str, str]:
        """Environment for a process whose default boto3 clients should use this server.

        Per-service endpoint variables rather than ``AWS_ENDPOINT_URL``, so that services the
        server does not stand in for (Bedrock) are never sent here by accident.
        """
        env = {f"AWS_ENDPOINT_URL_{service}": self.endpoint_url for service in services}
        env.update({name.upper(): value for name, value in FAKE_CREDENTIALS.items()})
        env.update({"AWS_DEFAULT_REGION": self.region_name, "AWS_REGION": self.region_name})
        return env

    def reset(self) -> None:
        """Drop every resource the server holds (moto's ``/moto-api/reset``)."""
        _reset(self._running())

    def _running(self) -> ThreadedMotoServer:
        if self._server is None:
            raise RuntimeError("the moto server is not running")
        return self._server


def _reset(server: ThreadedMotoServer) -> None:
    host, port = server.get_host_and_port()
    request = urllib.request.Request(
        f"http://{host}:{port}/moto-api/reset", data=b"", method="POST"
    )
    local_http(request)


def _wsgi_server(server: ThreadedMotoServer) -> Any:
    """The werkzeug server inside ``ThreadedMotoServer`` (moto exposes no accessor for it)."""
    wsgi = getattr(server, "_server", None)
    if wsgi is None:
        raise RuntimeError("ThreadedMotoServer has no running werkzeug server")
    return wsgi


def main(argv: list[str] | None = None) -> None:
    """Serve until Ctrl-C or SIGTERM, printing the endpoint URL first (the line scripts read)."""
    parser = argparse.ArgumentParser(description="moto server with the project's stand-ins")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--region", default=DEFAULT_REGION)
    args = parser.parse_args(argv)

    def _terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    # A job started in the background by a non-interactive shell inherits SIGINT ignored;
    # Ctrl-C (or kill -INT) must stop the server all the same.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with MotoServer(args.host, args.port, region_name=args.region) as server:
        print(server.endpoint_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
