"""The container runtime: clients built once from the environment, configuration errors raised
to the operator, no CloudWatch client ever, and a timeout budget that leaves time to settle."""

from __future__ import annotations

import importlib
import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.validate import ParamValidationDecorator

from bedrock_guard import token_gate
from bedrock_guard.gate import bedrock_client
from bedrock_guard.gate.config import GateConfigError, load_config
from tests.gate.conftest import (
    ROLE,
    TABLE,
    BedrockStub,
    CallCounter,
    create_table,
    environment,
    load_event,
    request_body,
)


@pytest.fixture
def gate_env(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    create_table(boto3.client("dynamodb", region_name="us-east-1"))
    env = environment()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield env


@pytest.fixture
def gate_logs() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The gate's JSON log lines, read from the Powertools handler's stream."""
    handler = token_gate.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in stream.getvalue().splitlines() if line]

    yield lines
    handler.setStream(previous)


def invoke(context: Any, body: Any = None) -> dict[str, Any]:
    event = load_event("assumed_role")
    if body is not None:
        event["body"] = json.dumps(body)
    response: dict[str, Any] = token_gate.handler(event, context)
    return response


def test_runtime_is_built_once_from_the_environment(
    gate_env: dict[str, str], lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    services: list[str] = []
    real_client = boto3.client

    def recording_client(service: str, *args: Any, **kwargs: Any) -> Any:
        services.append(service)
        return real_client(service, *args, **kwargs)

    monkeypatch.setattr(boto3, "client", recording_client)
    runtime = token_gate.get_runtime()
    assert token_gate.get_runtime() is runtime
    assert sorted(services) == ["dynamodb"]

    # Bedrock clients are made per read timeout on first use: one for both requests here.
    stub = BedrockStub(runtime.bedrock.client_for(100))
    counter = CallCounter(runtime.store.client, "dynamodb")
    stub.reply()
    stub.reply()
    assert invoke(lambda_context, request_body())["statusCode"] == 200
    assert invoke(lambda_context, request_body())["statusCode"] == 200
    # No client was created per request, and none of them is CloudWatch.
    assert sorted(services) == ["bedrock-runtime", "dynamodb"]
    assert set(counter.operations) <= {"GetItem", "UpdateItem"}
    assert runtime.store.table_name == TABLE


def test_clients_use_standard_retries_and_bounded_timeouts(
    gate_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BEDROCK_ENDPOINT_URL", "http://127.0.0.1:4010")
    runtime = token_gate.get_runtime()
    bedrock = runtime.bedrock.client_for(100)
    assert bedrock.meta.endpoint_url == "http://127.0.0.1:4010"
    # The SDK never retries Converse: a retried read timeout would run the model twice.
    assert bedrock.meta.config.retries["mode"] == "standard"
    assert bedrock.meta.config.retries["total_max_attempts"] == 1
    assert bedrock.meta.config.read_timeout == 5.0  # capped by BEDROCK_READ_TIMEOUT_SECONDS
    assert not isinstance(bedrock._serializer, ParamValidationDecorator)
    dynamodb = runtime.store.client
    assert dynamodb.meta.config.retries["mode"] == "standard"
    assert dynamodb.meta.config.retries["total_max_attempts"] == 3
    assert (dynamodb.meta.config.connect_timeout, dynamodb.meta.config.read_timeout) == (1, 3)
    assert not isinstance(dynamodb._serializer, ParamValidationDecorator)


def test_worst_call_time_fits_the_default_configuration() -> None:
    config = load_config({k: v for k, v in environment().items() if not k.startswith("BEDROCK_")})
    # 2 attempts x (3 s connect + 25 s read) + 0.25 s backoff.
    assert bedrock_client.worst_call_seconds(config) == 56.25


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_configuration_error_is_raised_not_answered(
    gate_env: dict[str, str], lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIER_LIMITS_JSON", '{"standard": {"daily_tokens": "lots"}}')
    with pytest.raises(GateConfigError, match="TIER_LIMITS_JSON"):
        invoke(lambda_context, request_body())
    # It stays an error on every invocation until the operator fixes it.
    with pytest.raises(GateConfigError):
        invoke(lambda_context, request_body())


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_lambda_init_logs_configuration_errors_and_import_succeeds(
    gate_env: dict[str, str],
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
    gate_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "bedrock-cost-guard-gate")
    monkeypatch.setenv("MODEL_ALIASES_JSON", "not json")
    module = importlib.reload(token_gate)
    try:
        (logged,) = gate_logs()
        assert logged["level"] == "ERROR"
        assert "MODEL_ALIASES_JSON is not valid JSON" in logged["exception"]
        with pytest.raises(GateConfigError, match="MODEL_ALIASES_JSON"):
            module.handler(load_event("assumed_role"), lambda_context)
    finally:
        monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME")
        monkeypatch.setenv("MODEL_ALIASES_JSON", environment()["MODEL_ALIASES_JSON"])
        importlib.reload(token_gate)


def test_lambda_init_builds_the_runtime_before_the_first_request(
    gate_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "bedrock-cost-guard-gate")
    try:
        module = importlib.reload(token_gate)
        assert module._runtime is not None
    finally:
        monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME")
        importlib.reload(token_gate)
    assert token_gate._runtime is None  # outside Lambda, importing builds nothing


def test_short_function_timeout_is_reported_once(
    gate_env: dict[str, str],
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
    gate_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    monkeypatch.setenv("BEDROCK_READ_TIMEOUT_SECONDS", "60")
    runtime = token_gate.get_runtime()
    BedrockStub(runtime.bedrock.client_for(100)).stubber.add_client_error(
        "converse", "ThrottlingException", "", 429
    )
    invoke(lambda_context, request_body())
    invoke(lambda_context, request_body())
    warnings = [log for log in gate_logs() if "function timeout is shorter" in log["message"]]
    assert len(warnings) == 1
    # One Bedrock attempt (3 s connect + 60 s read) plus the settle write's worst case: the
    # store's 5 s retry window, then botocore's 3 attempts x (1 + 3) s + 1 + 2 s of backoff.
    assert warnings[0]["needed_seconds"] == 3 + 60 + 5 + 15
    assert warnings[0]["available_seconds"] == 30


def test_logs_carry_the_request_id_and_the_caller(
    gate_env: dict[str, str],
    lambda_context: Any,
    gate_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    runtime = token_gate.get_runtime()
    BedrockStub(runtime.bedrock.client_for(100)).reply()
    invoke(lambda_context, request_body())
    answered = next(log for log in gate_logs() if log["message"] == "request answered")
    assert answered["correlation_id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    assert answered["caller"] == ROLE
    assert answered["status"] == 200


def test_caller_key_does_not_leak_into_the_next_request(
    gate_env: dict[str, str],
    lambda_context: Any,
    gate_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    runtime = token_gate.get_runtime()
    BedrockStub(runtime.bedrock.client_for(100)).reply()
    invoke(lambda_context, request_body())
    token_gate.handler(load_event("no_identity"), lambda_context)
    last = [log for log in gate_logs() if log["message"] == "request answered"][-1]
    assert last["status"] == 403
    assert "caller" not in last


def test_events_without_request_context_have_no_identity(
    gate_env: dict[str, str], lambda_context: Any
) -> None:
    token_gate.get_runtime()
    for event in ({"body": json.dumps(request_body())}, {"requestContext": {"requestId": "r"}}):
        response = token_gate.handler(event, lambda_context)
        assert response["statusCode"] == 403
        assert json.loads(response["body"])["error"]["code"] == "NoIdentity"
