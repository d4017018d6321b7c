"""Malformed requests through the handler: each a 4xx, nothing charged, no AWS call at all."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from bedrock_guard import token_gate
from tests.gate.conftest import ROLE, Gate, load_event, request_body


def raw(document: Any) -> str:
    return json.dumps(document)


def with_params(**parameters: Any) -> str:
    return raw(request_body(parameters={"max_tokens": 100, **parameters}))


def with_message(*messages: Any) -> str:
    return raw(request_body(messages=list(messages)))


USER_TEXT = {"role": "user", "content": "hello"}
CACHED = [{"text": "a"}, {"cachePoint": {"type": "default"}}]
VALID = raw(request_body())

# (id, body as sent, whether the body is base64, expected status, field named in the message)
MALFORMED: list[tuple[str, str | None, bool, int, str]] = [
    ("not-json", "summarise this please", False, 400, "body"),
    ("json-array", "[]", False, 400, "body"),
    ("json-string", '"hello"', False, 400, "body"),
    ("empty-body", "", False, 400, "body"),
    ("null-body", None, False, 400, "body"),
    ("base64-garbage", "%%%not-base64%%%", True, 400, "body"),
    ("base64-not-utf8", base64.b64encode(b"\xff\xfe{}").decode(), True, 400, "body"),
    (
        "too-big",
        raw(request_body(messages=[{"role": "user", "content": "x" * 300_000}])),
        False,
        400,
        "body",
    ),
    ("nested-too-deep", "[" * 100_000 + "]" * 100_000, False, 400, "body"),
    ("duplicate-keys", VALID[:-1] + ', "model": "nova-micro"}', False, 400, "body"),
    (
        "nan",
        VALID.replace('"max_tokens": 100', '"max_tokens": 100, "temperature": NaN'),
        False,
        400,
        "body",
    ),
    (
        "lone-surrogate",
        raw(request_body()).replace("Summarise", "\\ud800Summarise"),
        False,
        400,
        "messages[0].content",
    ),
    ("unknown-top-level", raw({**request_body(), "stream": True}), False, 400, "stream"),
    (
        "missing-model",
        raw({k: v for k, v in request_body().items() if k != "model"}),
        False,
        400,
        "model",
    ),
    ("model-not-string", raw(request_body(model=42)), False, 400, "model"),
    ("model-path", raw(request_body(model="../../etc/passwd")), False, 400, "model"),
    ("model-not-allowed", raw(request_body(model="gpt-4o")), False, 400, "model"),
    (
        "missing-messages",
        raw({k: v for k, v in request_body().items() if k != "messages"}),
        False,
        400,
        "messages",
    ),
    ("messages-empty", with_message(), False, 400, "messages"),
    ("messages-object", raw(request_body(messages={"role": "user"})), False, 400, "messages"),
    (
        "too-many-messages",
        with_message(*([USER_TEXT, {"role": "assistant", "content": "ok"}] * 51)),
        False,
        400,
        "messages",
    ),
    (
        "first-is-assistant",
        with_message({"role": "assistant", "content": "hi"}),
        False,
        400,
        "messages[0].role",
    ),
    ("not-alternating", with_message(USER_TEXT, USER_TEXT), False, 400, "messages[1].role"),
    (
        "role-system",
        with_message({"role": "system", "content": "hi"}),
        False,
        400,
        "messages[0].role",
    ),
    (
        "message-extra-key",
        with_message({**USER_TEXT, "name": "bob"}),
        False,
        400,
        "messages[0].name",
    ),
    (
        "blank-content",
        with_message({"role": "user", "content": "   "}),
        False,
        400,
        "messages[0].content",
    ),
    (
        "content-number",
        with_message({"role": "user", "content": 7}),
        False,
        400,
        "messages[0].content",
    ),
    (
        "image-block",
        with_message({"role": "user", "content": [{"image": {"format": "png"}}]}),
        False,
        400,
        "messages[0].content[0].image",
    ),
    (
        "two-key-block",
        with_message(
            {"role": "user", "content": [{"text": "a", "cachePoint": {"type": "default"}}]}
        ),
        False,
        400,
        "messages[0].content[0]",
    ),
    (
        "cache-point-type",
        with_message(
            {"role": "user", "content": [{"text": "a"}, {"cachePoint": {"type": "ephemeral"}}]}
        ),
        False,
        400,
        "messages[0].content[1].cachePoint",
    ),
    (
        "cache-point-first",
        with_message(
            {"role": "user", "content": [{"cachePoint": {"type": "default"}}, {"text": "a"}]}
        ),
        False,
        400,
        "messages[0].content[0]",
    ),
    (
        "five-cache-points",
        raw(
            request_body(
                system=CACHED,
                messages=[
                    {"role": "user", "content": CACHED},
                    {"role": "assistant", "content": CACHED},
                    {"role": "user", "content": CACHED},
                    {"role": "assistant", "content": CACHED},
                ],
            )
        ),
        False,
        400,
        "messages",
    ),
    ("system-blank", raw(request_body(system=" ")), False, 400, "system"),
    ("system-number", raw(request_body(system=1)), False, 400, "system"),
    ("parameters-string", raw(request_body(parameters="fast")), False, 400, "parameters"),
    ("max-tokens-zero", with_params(max_tokens=0), False, 400, "parameters.max_tokens"),
    ("max-tokens-over-max", with_params(max_tokens=4097), False, 400, "parameters.max_tokens"),
    ("max-tokens-string", with_params(max_tokens="100"), False, 400, "parameters.max_tokens"),
    ("max-tokens-bool", with_params(max_tokens=True), False, 400, "parameters.max_tokens"),
    ("temperature-high", with_params(temperature=1.5), False, 400, "parameters.temperature"),
    ("top-p-negative", with_params(top_p=-0.1), False, 400, "parameters.top_p"),
    (
        "five-stop-sequences",
        with_params(stop_sequences=["a", "b", "c", "d", "e"]),
        False,
        400,
        "parameters.stop_sequences",
    ),
    (
        "empty-stop-sequence",
        with_params(stop_sequences=[""]),
        False,
        400,
        "parameters.stop_sequences[0]",
    ),
    ("unknown-parameter", with_params(top_k=5), False, 400, "parameters.top_k"),
    (
        "missing-tags",
        raw({k: v for k, v in request_body().items() if k != "tags"}),
        False,
        400,
        "tags",
    ),
    (
        "missing-application-id",
        raw(request_body(tags={"costCenter": "cc-1"})),
        False,
        400,
        "tags.applicationId",
    ),
    (
        "unknown-tag",
        raw(request_body(tags={"applicationId": "a", "owner": "me"})),
        False,
        400,
        "tags.owner",
    ),
    (
        "tag-injection",
        raw(request_body(tags={"applicationId": 'a"},{"x'})),
        False,
        400,
        "tags.applicationId",
    ),
    (
        "tag-too-long",
        raw(request_body(tags={"applicationId": "a" * 129})),
        False,
        400,
        "tags.applicationId",
    ),
]


@pytest.mark.parametrize(
    ("body", "is_base64", "status", "field"),
    [pytest.param(*case[1:], id=case[0]) for case in MALFORMED],
)
def test_malformed_request_is_refused_and_changes_nothing(
    gate: Gate, body: str | None, is_base64: bool, status: int, field: str
) -> None:
    payload = load_event("assumed_role")
    payload["body"] = body
    payload["isBase64Encoded"] = is_base64
    response = token_gate.handler(payload, gate.lambda_context)
    answer = json.loads(response["body"])

    assert response["statusCode"] == status
    assert answer["error"]["code"] == "InvalidRequest"
    assert answer["error"]["message"].startswith(f"{field}: ")
    assert len(answer["error"]["message"]) < 500
    assert gate.dynamo_calls.operations == []  # no registry read, no reservation, no write
    assert gate.bedrock.calls == []
    assert gate.usage(ROLE) == {}


def test_there_are_at_least_twenty_distinct_cases() -> None:
    assert len({case[0] for case in MALFORMED}) == len(MALFORMED) >= 20
