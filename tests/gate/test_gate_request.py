"""Body validation without AWS: accepted shapes, and refusals that name the field."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from bedrock_guard.gate.request import RequestError, RequestRules, parse_request

RULES = RequestRules(max_request_bytes=4096, max_output_tokens=1000, default_max_tokens=200)


def body(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "model": "claude-3-haiku",
        "messages": [{"role": "user", "content": "hi"}],
        "tags": {"applicationId": "app-1"},
    }
    document.update(overrides)
    return document


def parse(document: Any) -> Any:
    return parse_request(json.dumps(document), False, RULES)


def test_string_content_becomes_one_text_block_and_defaults_apply() -> None:
    request = parse(body())
    assert request.messages == ({"role": "user", "content": [{"text": "hi"}]},)
    assert request.system == ()
    assert (request.max_tokens, request.temperature, request.top_p) == (200, None, None)
    assert request.stop_sequences == ()
    assert request.tags.application_id == "app-1"


def test_full_request_with_cache_points() -> None:
    request = parse(
        body(
            messages=[
                {
                    "role": "user",
                    "content": [{"text": "long context"}, {"cachePoint": {"type": "default"}}],
                },
                {"role": "assistant", "content": "ok"},
                {"role": "user", "content": [{"text": "question"}]},
            ],
            system=[{"text": "be brief"}, {"cachePoint": {"type": "default"}}],
            parameters={
                "max_tokens": 1000,
                "temperature": 0,
                "top_p": 1,
                "stop_sequences": ["\n\n", "END"],
            },
            tags={"applicationId": "app-1", "costCenter": "cc-42", "environment": "prod"},
        )
    )
    assert request.message_texts() == [["long context"], ["ok"], ["question"]]
    assert request.system_texts() == ["be brief"]
    assert request.max_tokens == 1000
    assert request.stop_sequences == ("\n\n", "END")
    assert (request.tags.cost_center, request.tags.environment) == ("cc-42", "prod")


def test_an_assistant_prefill_may_end_the_conversation() -> None:
    request = parse(
        body(messages=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
    )
    assert [m["role"] for m in request.messages] == ["user", "assistant"]


def test_base64_bodies_are_decoded() -> None:
    encoded = base64.b64encode(json.dumps(body()).encode()).decode()
    assert parse_request(encoded, True, RULES).model == "claude-3-haiku"


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (body(extra=1), "extra"),
        (body(model=None), "model"),
        (body(model="a b"), "model"),
        (body(model="x" * 65), "model"),
        (body(messages=[{"role": "user", "content": "a"}] * 101), "messages"),
        (body(messages=[{"role": "user", "content": [{"text": "a"}] * 21}]), "messages[0].content"),
        (body(messages=[{"role": "user", "content": []}]), "messages[0].content"),
        (
            body(messages=[{"role": "user", "content": [{"cachePoint": {"type": "default"}}]}]),
            "messages[0].content[0]",
        ),
        (body(messages=[{"role": "user"}]), "messages[0].content"),
        (body(messages=["hi"]), "messages[0]"),
        (
            body(messages=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]),
            "messages[1].role",
        ),
        (body(system=""), "system"),
        (body(system=[{"image": {}}]), "system[0].image"),
        (body(parameters=[]), "parameters"),
        (body(parameters={"max_tokens": 1001}), "parameters.max_tokens"),
        (body(parameters={"max_tokens": 1.5}), "parameters.max_tokens"),
        (body(parameters={"temperature": "0.5"}), "parameters.temperature"),
        (body(parameters={"top_p": True}), "parameters.top_p"),
        (body(parameters={"stop_sequences": "END"}), "parameters.stop_sequences"),
        (body(parameters={"stop_sequences": ["x" * 201]}), "parameters.stop_sequences[0]"),
        (body(tags=[]), "tags"),
        (body(tags={"applicationId": "app", "costCenter": ""}), "tags.costCenter"),
        (body(tags={"applicationId": "x" * 129}), "tags.applicationId"),
        (body(tags={"applicationId": "a\nb"}), "tags.applicationId"),
    ],
)
def test_refusals_name_the_field(document: Any, field: str) -> None:
    with pytest.raises(RequestError) as caught:
        parse(document)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_five_cache_points_are_refused() -> None:
    cached = [{"text": "a"}, {"cachePoint": {"type": "default"}}]
    messages = [
        {"role": "user", "content": cached},
        {"role": "assistant", "content": cached},
        {"role": "user", "content": cached},
        {"role": "assistant", "content": cached},
        {"role": "user", "content": cached},
    ]
    with pytest.raises(RequestError, match="cachePoint"):
        parse(body(messages=messages))


def test_size_is_checked_on_decoded_bytes() -> None:
    # 1500 three-byte characters: under 4096 characters, over 4096 bytes.
    with pytest.raises(RequestError, match="larger than 4096 bytes"):
        parse(body(messages=[{"role": "user", "content": "€" * 1500}]))


def test_echoed_field_names_are_truncated() -> None:
    with pytest.raises(RequestError) as caught:
        parse({**body(), "k" * 1000: 1})
    assert len(caught.value.field) == 40
