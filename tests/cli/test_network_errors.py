"""Errors of the connection and of what answers: an endpoint that never answers fails within
seconds, naming the AWS call, the attempts and the timeouts; a web page instead of an AWS answer
is summarised in one line (status and title), never printed raw."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bedrock_guard.cli.context import CLIENT_CONFIG, DEFAULT_MAX_ATTEMPTS
from bedrock_guard.cli.errors import first_meaningful_line
from tests.cli.conftest import BASE, MONTH

PAGE = (
    "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title>"
    "<style>body { color: red; }</style></head>\n<body><h1>Bad Gateway</h1>"
    "<p>The upstream server did not answer.</p>\n" + "<p>padding</p>\n" * 200 + "</body></html>"
)


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A socket that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            accepted.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=2)
    for connection in accepted:
        connection.close()
    server.close()


@pytest.fixture
def web_page_endpoint() -> Iterator[str]:
    """A proxy's error page (HTTP 502, text/html) for every request."""
    body = PAGE.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(502)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_default_timeouts_are_a_few_seconds_and_retries_few() -> None:
    assert CLIENT_CONFIG.connect_timeout <= 5
    assert CLIENT_CONFIG.read_timeout <= 10
    assert CLIENT_CONFIG.retries["total_max_attempts"] == DEFAULT_MAX_ATTEMPTS <= 3


def test_an_endpoint_that_never_answers_fails_in_seconds(cli: Any, silent_endpoint: str) -> None:
    started = time.monotonic()
    run = cli(
        *BASE, "--endpoint-url", silent_endpoint, "--timeout", "0.5", "--max-attempts", "2", "locks"
    )
    elapsed = time.monotonic() - started

    assert run.code == 1
    assert elapsed < 5, elapsed
    assert "could not reach AWS calling dynamodb:Scan" in run.err
    assert "2 attempts, connect timeout 0.5 s, read timeout 0.5 s" in run.err
    assert "--timeout" in run.err  # the fix is named
    assert run.err.count("\n") == 1


def test_report_summarises_a_web_page_error(cli: Any, web_page_endpoint: str) -> None:
    run = cli(
        *BASE,
        "--endpoint-url",
        web_page_endpoint,
        "--max-attempts",
        "1",
        "report",
        "--by",
        "costCenter",
        "--month",
        MONTH,
    )

    assert run.code == 1
    assert run.err.count("\n") == 1, run.err
    assert "HTTP 502: 502 Bad Gateway" in run.err
    assert "dynamodb:Scan failed" in run.err  # the first call of the command
    assert "<" not in run.err and "padding" not in run.err


@pytest.mark.parametrize(
    ("body", "line"),
    [
        (PAGE, "502 Bad Gateway"),
        ("<html><body>\n\n  <p>Service   Unavailable</p></body></html>", "Service Unavailable"),
        ("\n\nThrottled, try later\nmore", "Throttled, try later"),
        ("", ""),
    ],
)
def test_first_meaningful_line(body: str, line: str) -> None:
    assert first_meaningful_line(body) == line
