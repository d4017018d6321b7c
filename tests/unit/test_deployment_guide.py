"""The README's ways of calling the gate, sent as written to a local server that checks what API
Gateway checks: the API key, the SigV4 signature (recomputed with botocore from the headers the
request says it signed) and a body the gate accepts."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from bedrock_guard.gate.request import RequestRules, parse_request

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
CLIENT = REPO / "docs" / "examples" / "gate_client.py"
API_KEY = "k3yV4lue0fPartnerAcme0123456789abcdefgh"
REGION = "us-east-1"
PATH = "/dev/invoke"
CREDENTIALS = Credentials(
    "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token"
)
TAGS = {"applicationId": "gate-client"}
RULES = RequestRules(max_request_bytes=262_144, max_output_tokens=4096, default_max_tokens=512)
AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<signed>[^,]+), ?"
    r"Signature=(?P<sig>[0-9a-f]{64})$"
)


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Gateway:
    """What the server received, and what it answers."""

    url: str
    seen: list[Seen] = field(default_factory=list)
    status: int = 200
    answer: dict[str, Any] = field(default_factory=lambda: {"output": "ok", "costUsd": "0.0001"})


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    state = Gateway(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {name.lower(): value for name, value in self.headers.items()}
            state.seen.append(Seen("POST", self.path, headers, body))
            payload = json.dumps(state.answer).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}{PATH}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def client() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gate_client", CLIENT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def verify_sigv4(seen: Seen, url: str) -> str:
    """Recompute the signature as API Gateway would; the signer's access key id."""
    match = AUTHORIZATION.match(seen.headers["authorization"])
    assert match, seen.headers["authorization"]
    assert (match["region"], match["service"]) == (REGION, "execute-api")
    signed = match["signed"].split(";")
    assert {"host", "x-amz-date"} <= set(signed)
    request = AWSRequest("POST", url, data=seen.body, headers={h: seen.headers[h] for h in signed})
    request.context["timestamp"] = seen.headers["x-amz-date"]
    auth = SigV4Auth(CREDENTIALS, "execute-api", REGION)
    expected = auth.signature(
        auth.string_to_sign(request, auth.canonical_request(request)), request
    )
    assert match["sig"] == expected, "the signature does not verify"
    return match["key"]


def assert_gate_accepts(seen: Seen) -> None:
    assert seen.path == PATH
    assert seen.headers["x-api-key"] == API_KEY
    parsed = parse_request(seen.body.decode(), False, RULES)
    assert parsed.model == "claude-3-haiku"


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def curl_commands() -> list[str]:
    """Each ``curl`` command of the README, continuation lines joined."""
    commands = []
    for block in code_blocks("sh"):
        joined = block.replace("\\\n", " ")
        commands += [line for line in joined.splitlines() if line.startswith("curl ")]
    return commands


@pytest.fixture
def signer_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", str(CREDENTIALS.token))
    monkeypatch.delenv("AWS_SECURITY_TOKEN", raising=False)


def test_the_readme_shows_the_example_client_as_it_is() -> None:
    assert CLIENT.read_text(encoding="utf-8").rstrip("\n") in [
        b.rstrip("\n") for b in code_blocks("python")
    ]


@pytest.mark.usefixtures("signer_environment")
def test_the_python_client_signs_with_the_callers_credentials(gateway: Gateway) -> None:
    body = {
        "model": "claude-3-haiku",
        "messages": [{"role": "user", "content": "Hi"}],
        "tags": TAGS,
    }
    answer = client().invoke(gateway.url, API_KEY, body, REGION)
    assert answer == gateway.answer
    (seen,) = gateway.seen
    assert_gate_accepts(seen)
    assert verify_sigv4(seen, gateway.url) == CREDENTIALS.access_key
    assert seen.headers["x-amz-security-token"] == CREDENTIALS.token


def test_the_python_client_without_iam_sends_the_key_alone(gateway: Gateway) -> None:
    body = {
        "model": "claude-3-haiku",
        "messages": [{"role": "user", "content": "Hi"}],
        "tags": TAGS,
    }
    client().invoke(gateway.url, API_KEY, body, REGION, sign=False)
    (seen,) = gateway.seen
    assert_gate_accepts(seen)
    assert "authorization" not in seen.headers


def test_the_python_client_returns_the_gates_refusal(gateway: Gateway) -> None:
    gateway.status = 429
    gateway.answer = {"error": {"code": "BudgetExceeded", "message": "daily_tokens"}}
    body = {
        "model": "claude-3-haiku",
        "messages": [{"role": "user", "content": "Hi"}],
        "tags": TAGS,
    }
    assert client().invoke(gateway.url, API_KEY, body, REGION, sign=False) == gateway.answer


def test_the_python_client_refuses_what_is_not_an_invoke_url() -> None:
    with pytest.raises(ValueError, match="not an invoke URL"):
        client().invoke("file:///etc/passwd", API_KEY, {}, REGION, sign=False)


def test_the_readme_has_both_curl_commands() -> None:
    commands = curl_commands()
    assert len(commands) == 2
    assert sum("--aws-sigv4" in c for c in commands) == 1


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.usefixtures("signer_environment")
@pytest.mark.parametrize("command", curl_commands(), ids=["api-key", "sigv4"])
def test_each_curl_command_as_written(gateway: Gateway, command: str) -> None:
    env = {**os.environ, "URL": gateway.url, "KEY": API_KEY}
    # The README's own command line, run through a shell as a reader would run it.
    done = subprocess.run(
        command, shell=True, env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == gateway.answer
    (seen,) = gateway.seen
    assert_gate_accepts(seen)
    if "--aws-sigv4" in command:
        assert verify_sigv4(seen, gateway.url) == CREDENTIALS.access_key
        assert seen.headers["x-amz-security-token"] == CREDENTIALS.token
    else:
        assert "authorization" not in seen.headers
