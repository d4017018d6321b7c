"""The Bedrock stand-in with boto3's real bedrock-runtime client: shape, faults, counts, stop."""

from __future__ import annotations

import http.client
import json
import multiprocessing
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError

from bedrock_guard.local.bedrock_stub import BedrockStub, StubControl
from bedrock_guard.local.clients import local_client
from bedrock_guard.local.converse_replies import ERROR_STATUS, Reply

pytestmark = pytest.mark.server

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
NOVA = "amazon.nova-micro-v1:0"
PROFILE_ARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"
MESSAGES = [{"role": "user", "content": [{"text": "What is the capital of France?"}]}]


@pytest.fixture
def stub() -> Iterator[BedrockStub]:
    with BedrockStub() as running:
        yield running


def converse(client: Any, model_id: str = HAIKU, **kwargs: Any) -> dict[str, Any]:
    result: dict[str, Any] = client.converse(
        modelId=model_id, messages=MESSAGES, inferenceConfig={"maxTokens": 256}, **kwargs
    )
    return result


def conforms(shape: Any, value: Any, where: str = "$") -> list[str]:
    """Differences between a JSON value and a botocore output shape (required, known, types)."""
    kind = shape.type_name
    if kind == "structure" and not shape.is_document_type:
        return _structure_conforms(shape, value, where)
    if kind == "list":
        if not isinstance(value, list):
            return [f"{where}: expected a list"]
        return [
            problem
            for index, item in enumerate(value)
            for problem in conforms(shape.member, item, f"{where}[{index}]")
        ]
    if kind == "string" and (
        not isinstance(value, str) or (shape.enum and value not in shape.enum)
    ):
        return [f"{where}: {value!r} is not a valid {shape.name}"]
    if kind in {"integer", "long"} and (not isinstance(value, int) or isinstance(value, bool)):
        return [f"{where}: expected an integer"]
    return []


def _structure_conforms(shape: Any, value: Any, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: expected an object"]
    problems = [f"{where}.{name}: missing" for name in shape.required_members if name not in value]
    for name, item in value.items():
        if name not in shape.members:
            problems.append(f"{where}.{name}: not in the Converse API")
        else:
            problems += conforms(shape.members[name], item, f"{where}.{name}")
    return problems


def raw_post(stub: BedrockStub, path: str, payload: object) -> tuple[int, dict[str, str], Any]:
    connection = http.client.HTTPConnection("127.0.0.1", stub.port, timeout=10)
    try:
        connection.request("POST", path, body=json.dumps(payload))
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())
    finally:
        connection.close()


def test_converse_reply_has_the_documented_shape(stub: BedrockStub) -> None:
    status, headers, document = raw_post(
        stub,
        f"/model/{HAIKU}/converse",
        {"messages": MESSAGES, "inferenceConfig": {"maxTokens": 64}},
    )
    output_shape = (
        botocore.session.get_session()
        .get_service_model("bedrock-runtime")
        .operation_model("Converse")
        .output_shape
    )

    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert headers["x-amzn-RequestId"]
    assert conforms(output_shape, document) == []
    assert document["output"]["message"]["role"] == "assistant"


def test_boto3_client_parses_the_reply(stub: BedrockStub) -> None:
    result = converse(stub.client(), system=[{"text": "Answer in one word."}])

    usage = result["usage"]
    prompt = "What is the capital of France?Answer in one word."
    assert result["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert result["stopReason"] in {"end_turn", "max_tokens"}
    assert 1 <= usage["inputTokens"] <= len(prompt.encode("utf-8"))
    assert 1 <= usage["outputTokens"] <= 256
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert result["metrics"]["latencyMs"] >= 1
    assert result["output"]["message"]["content"][0]["text"]


def test_inference_profile_arn_reaches_the_stub_as_the_model_id(stub: BedrockStub) -> None:
    converse(stub.client(), PROFILE_ARN)

    assert stub.stats().calls == {PROFILE_ARN: 1}


def test_cache_fields_reach_the_client(stub: BedrockStub) -> None:
    stub.set_reply(Reply(cache_read_tokens=3, cache_write_tokens=2), model_id=HAIKU)

    usage = converse(stub.client())["usage"]

    assert (usage["cacheReadInputTokens"], usage["cacheWriteInputTokens"]) == (3, 2)
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"] + 5


@pytest.mark.parametrize("error", sorted(ERROR_STATUS))
def test_each_injected_fault_maps_to_its_botocore_exception(stub: BedrockStub, error: str) -> None:
    client = stub.client()
    stub.enqueue(Reply(error=error, message="injected for the test"))

    with pytest.raises(getattr(client.exceptions, error)) as raised:
        converse(client)

    response = raised.value.response
    assert response["Error"] == {"Code": error, "Message": "injected for the test"}
    assert response["ResponseMetadata"]["HTTPStatusCode"] == ERROR_STATUS[error]
    assert stub.stats().outcomes == {HAIKU: {error: 1}}


def test_throttling_is_retried_by_botocore_standard_mode(stub: BedrockStub) -> None:
    stub.enqueue(Reply(error="ThrottlingException"))

    result = converse(stub.client(max_attempts=3))

    assert result["ResponseMetadata"]["RetryAttempts"] == 1
    assert stub.stats().outcomes == {HAIKU: {"ThrottlingException": 1, "ok": 1}}


def test_per_model_rule_persists_and_leaves_other_models_alone(stub: BedrockStub) -> None:
    client = stub.client()
    stub.set_reply(Reply(error="InternalServerException"), model_id=NOVA)

    for _ in range(2):
        with pytest.raises(client.exceptions.InternalServerException):
            converse(client, NOVA)
    converse(client, HAIKU)
    stub.set_reply(None, model_id=NOVA)
    converse(client, NOVA)

    assert stub.stats().outcomes == {
        NOVA: {"InternalServerException": 2, "ok": 1},
        HAIKU: {"ok": 1},
    }


def test_queued_replies_come_before_rules_and_in_order(stub: BedrockStub) -> None:
    client = stub.client()
    stub.set_reply(Reply(error="ServiceUnavailableException"))  # the default for every model
    stub.enqueue(Reply(error="ValidationException"), model_id=NOVA)
    stub.enqueue(Reply(), Reply(error="ModelNotReadyException"))

    outcomes = []
    for model in (NOVA, HAIKU, HAIKU, HAIKU):
        try:
            converse(client, model)
            outcomes.append("ok")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])

    assert outcomes == [
        "ValidationException",
        "ok",
        "ModelNotReadyException",
        "ServiceUnavailableException",
    ]


def test_latency_is_injected_without_changing_the_reply(stub: BedrockStub) -> None:
    client = stub.client()
    plain = converse(client)
    stub.enqueue(Reply(latency_ms=50))

    delayed = converse(client)

    assert delayed["output"] == plain["output"]
    assert delayed["usage"] == plain["usage"]
    assert delayed["metrics"]["latencyMs"] >= 50


def test_requested_output_tokens_reach_the_client(stub: BedrockStub) -> None:
    stub.enqueue(Reply(output_tokens=40))

    result = converse(stub.client())

    assert result["usage"]["outputTokens"] == 40


def test_models_outside_the_allowlist_are_invalid() -> None:
    with BedrockStub(models=frozenset({HAIKU})) as stub:
        client = stub.client()
        converse(client, HAIKU)
        with pytest.raises(client.exceptions.ValidationException, match="model identifier"):
            converse(client, NOVA)

        assert stub.stats().outcomes == {HAIKU: {"ok": 1}, NOVA: {"ValidationException": 1}}


def test_a_malformed_body_is_a_validation_exception(stub: BedrockStub) -> None:
    status, headers, document = raw_post(stub, f"/model/{HAIKU}/converse", {"messages": []})

    assert status == 400
    assert headers["x-amzn-ErrorType"].startswith("ValidationException")
    assert "messages" in document["message"]


def test_counts_and_served_tokens_add_up_and_reset(stub: BedrockStub) -> None:
    client = stub.client()
    usages = [converse(client, model)["usage"] for model in (HAIKU, HAIKU, NOVA)]
    stub.enqueue(Reply(error="ThrottlingException"))
    with pytest.raises(client.exceptions.ThrottlingException):
        converse(client, NOVA)

    stats = stub.stats()
    assert stats.calls == {HAIKU: 2, NOVA: 2}
    assert (stats.total_calls, stats.total_ok) == (4, 3)
    assert stats.tokens("totalTokens") == sum(usage["totalTokens"] for usage in usages)
    assert stats.tokens("outputTokens") == sum(usage["outputTokens"] for usage in usages)

    stub.reset()
    assert stub.stats().total_calls == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/"), ("POST", "/model/x/invoke"), ("PUT", "/model/x/converse"), ("GET", "/_stub/x")],
)
def test_unknown_paths_are_json_404s(stub: BedrockStub, method: str, path: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", stub.port, timeout=10)
    try:
        connection.request(method, path, body=b"{}")
        response = connection.getresponse()
        document = json.loads(response.read())
    finally:
        connection.close()

    assert response.status == 404
    assert response.getheader("Content-Type") == "application/json"
    assert path in document["message"]
    assert stub.stats().total_calls == 0


def test_bad_control_requests_are_refused(stub: BedrockStub) -> None:
    status, _, document = raw_post(stub, "/_stub/enqueue", {"replies": [{"error": "Nope"}]})

    assert status == 400
    assert "Nope" in document["message"]


def _call_from_another_process(endpoint_url: str, model_id: str) -> str:
    """Runs in a spawned process: queue a fault, make two calls, report what came back."""
    control = StubControl(endpoint_url)
    control.enqueue(Reply(error="ThrottlingException"), model_id=model_id)
    client = local_client("bedrock-runtime", endpoint_url, max_attempts=1)
    seen = []
    for _ in range(2):
        try:
            client.converse(modelId=model_id, messages=MESSAGES)
            seen.append("ok")
        except ClientError as error:
            seen.append(error.response["Error"]["Code"])
    return ",".join(seen)


def test_other_processes_call_and_control_it_over_http(stub: BedrockStub) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        results = pool.starmap(
            _call_from_another_process, [(stub.endpoint_url, HAIKU), (stub.endpoint_url, NOVA)]
        )
    control = StubControl(stub.endpoint_url)

    assert results == ["ThrottlingException,ok", "ThrottlingException,ok"]
    assert control.stats().outcomes == stub.stats().outcomes
    assert stub.stats().outcomes == {
        HAIKU: {"ThrottlingException": 1, "ok": 1},
        NOVA: {"ThrottlingException": 1, "ok": 1},
    }
    control.reset()
    assert stub.stats().total_calls == 0


def port_is_free(port: int) -> bool:
    """Whether a new server could listen on the port (as servers do, with SO_REUSEADDR)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_stop_frees_the_port_even_with_open_keep_alive_connections() -> None:
    stub = BedrockStub().start()
    port = stub.port
    client = stub.client()
    converse(client)  # leaves a pooled keep-alive connection open

    stub.stop()
    stub.stop()  # a second stop is harmless

    assert port_is_free(port)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_an_error_inside_the_block_still_stops_it() -> None:
    with pytest.raises(RuntimeError, match="boom"), BedrockStub() as stub:
        port = stub.port
        raise RuntimeError("boom")

    assert port_is_free(port)


def test_a_stub_cannot_be_started_twice(stub: BedrockStub) -> None:
    with pytest.raises(RuntimeError, match="already running"):
        stub.start()


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_command_line_server_serves_until_interrupted(stop_signal: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bedrock_guard.local.bedrock_stub", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        endpoint_url = process.stdout.readline().strip()
        port = int(endpoint_url.rsplit(":", 1)[1])
        client = local_client("bedrock-runtime", endpoint_url, max_attempts=1)

        converse(client)
        assert StubControl(endpoint_url).stats().total_calls == 1

        process.send_signal(stop_signal)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert port_is_free(port)
