"""The Bedrock stand-in's reply logic, without a server: token bounds, stop reasons, validation."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest

from bedrock_guard.local.converse_replies import (
    ERROR_STATUS,
    ConverseInputError,
    Reply,
    build_reply,
    parse_request,
)

PROMPTS = [
    "hi",
    "x",
    "Summarise the quarterly report in three bullet points, please.",
    "naïve café résumé, déjà vu",  # two-byte characters
    "日本語のテキストを要約してください",  # three-byte characters
    "emoji 🚀🚀🚀 and more 🧪",  # four-byte characters
    "word " * 2000,
]


def body(text: str, *, max_tokens: int | None = 512, system: str | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {"messages": [{"role": "user", "content": [{"text": text}]}]}
    if max_tokens is not None:
        document["inferenceConfig"] = {"maxTokens": max_tokens}
    if system is not None:
        document["system"] = [{"text": system}]
    return document


def prompt_bytes(*texts: str) -> int:
    return sum(len(text.encode("utf-8")) for text in texts)


@pytest.mark.parametrize("text", PROMPTS)
@pytest.mark.parametrize("max_tokens", [1, 7, 512, 4096])
def test_usage_never_exceeds_the_prompt_bytes_or_max_tokens(text: str, max_tokens: int) -> None:
    request = parse_request(body(text, max_tokens=max_tokens, system="Be brief."))
    document, usage = build_reply("anthropic.claude-3-haiku-20240307-v1:0", request, Reply(), 3)

    reported = document["usage"]
    assert 1 <= reported["inputTokens"] <= prompt_bytes(text, "Be brief.")
    assert 1 <= reported["outputTokens"] <= max_tokens
    assert reported["totalTokens"] == reported["inputTokens"] + reported["outputTokens"]
    assert (usage.input_tokens, usage.output_tokens) == (
        reported["inputTokens"],
        reported["outputTokens"],
    )
    text_out = document["output"]["message"]["content"][0]["text"]
    assert len(text_out.encode("utf-8")) <= max_tokens * 4


def test_replies_are_deterministic_and_derived_from_the_input() -> None:
    first = build_reply("m", parse_request(body("alpha beta")), Reply(), 1)[0]
    again = build_reply("m", parse_request(body("alpha beta")), Reply(), 1)[0]
    other = build_reply("m", parse_request(body("gamma delta epsilon")), Reply(), 1)[0]

    assert first == again
    assert first["output"] != other["output"]
    assert "alpha beta" in first["output"]["message"]["content"][0]["text"]
    assert first["usage"]["inputTokens"] < other["usage"]["inputTokens"]


def test_long_reply_stops_at_max_tokens() -> None:
    document, usage = build_reply(
        "m", parse_request(body("word " * 400, max_tokens=10)), Reply(), 1
    )

    assert document["stopReason"] == "max_tokens"
    assert usage.output_tokens == 10


def test_short_reply_ends_its_turn() -> None:
    document, _ = build_reply("m", parse_request(body("hello", max_tokens=512)), Reply(), 1)

    assert document["stopReason"] == "end_turn"


def test_stop_sequence_cuts_the_reply() -> None:
    request = parse_request(
        {
            "messages": [{"role": "user", "content": [{"text": "one two STOP three"}]}],
            "inferenceConfig": {"maxTokens": 100, "stopSequences": ["STOP"]},
        }
    )
    document, _ = build_reply("m", request, Reply(), 1)

    text = document["output"]["message"]["content"][0]["text"]
    assert document["stopReason"] == "stop_sequence"
    assert "STOP" not in text
    assert "three" not in text


@pytest.mark.parametrize(
    ("wanted", "max_tokens", "stop"), [(50, 100, "end_turn"), (300, 64, "max_tokens")]
)
def test_requested_output_size_is_honoured_within_max_tokens(
    wanted: int, max_tokens: int, stop: str
) -> None:
    request = parse_request(body("naïve 🚀", max_tokens=max_tokens))
    document, usage = build_reply("m", request, Reply(output_tokens=wanted), 1)

    assert usage.output_tokens == min(wanted, max_tokens)
    assert document["stopReason"] == stop


def test_cache_tokens_come_out_of_the_input_and_are_reported() -> None:
    text = "cached context " * 40
    request = parse_request(body(text))
    document, usage = build_reply(
        "m", request, Reply(cache_read_tokens=100, cache_write_tokens=20), 1
    )

    reported = document["usage"]
    assert reported["cacheReadInputTokens"] == 100
    assert reported["cacheWriteInputTokens"] == 20
    assert usage.input_tokens + 100 + 20 <= prompt_bytes(text)
    assert reported["totalTokens"] == (
        reported["inputTokens"] + reported["outputTokens"] + 100 + 20
    )


def test_cache_tokens_never_exceed_the_input() -> None:
    request = parse_request(body("tiny"))
    document, usage = build_reply(
        "m", request, Reply(cache_read_tokens=10_000, cache_write_tokens=10_000), 1
    )

    assert usage.input_tokens == 0
    assert usage.cache_read_tokens + usage.cache_write_tokens <= prompt_bytes("tiny")
    assert document["usage"]["cacheWriteInputTokens"] == 0


def test_cache_fields_are_absent_without_cache_use() -> None:
    document, _ = build_reply("m", parse_request(body("hello")), Reply(), 1)

    assert set(document["usage"]) == {"inputTokens", "outputTokens", "totalTokens"}


def test_non_text_blocks_are_accepted_and_not_counted() -> None:
    request = parse_request(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"text": "describe"},
                        {"image": {"format": "png", "source": {"bytes": "aGk="}}},
                    ],
                }
            ]
        }
    )

    assert request.prompt_bytes == len(b"describe")


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ([], "JSON object"),
        ({}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": [{"text": "x"}]}]}, "role"),
        ({"messages": [{"role": "assistant", "content": [{"text": "x"}]}]}, "start with a user"),
        ({"messages": [{"role": "user", "content": []}]}, "content"),
        ({"messages": [{"role": "user", "content": "plain string"}]}, "content"),
        ({"messages": [{"role": "user", "content": [{"text": 5}]}]}, "text"),
        ({"messages": [{"role": "user", "content": [{}]}]}, "content block"),
        ({**body("x", max_tokens=None), "inferenceConfig": {"maxTokens": 0}}, "maxTokens"),
        ({**body("x", max_tokens=None), "inferenceConfig": {"maxTokens": True}}, "maxTokens"),
        ({**body("x", max_tokens=None), "inferenceConfig": {"temperature": 1.5}}, "temperature"),
        ({**body("x", max_tokens=None), "inferenceConfig": {"stopSequences": "END"}}, "stop"),
        ({**body("x"), "system": "not blocks"}, "system"),
    ],
)
def test_invalid_requests_are_refused_naming_the_field(document: object, where: str) -> None:
    with pytest.raises(ConverseInputError, match=where):
        parse_request(document)


def test_error_statuses_match_the_bedrock_runtime_model() -> None:
    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    modelled = {
        shape.name: shape.metadata["error"]["httpStatusCode"]
        for shape in model.operation_model("Converse").error_shapes
    }

    assert modelled == ERROR_STATUS


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"error": "NoSuchException"}, "unknown Converse error"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"output_tokens": 0}, "output_tokens"),
        ({"cache_read_tokens": 1.5}, "cache_read_tokens"),
        ({"latency_ms": True}, "latency_ms"),
    ],
)
def test_bad_reply_settings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Reply(**kwargs)


def test_reply_round_trips_through_json_and_refuses_unknown_fields() -> None:
    reply = Reply(error="ThrottlingException", message="slow down", latency_ms=5)

    assert Reply.from_json(reply.to_json()) == reply
    with pytest.raises(ValueError, match="unknown reply fields"):
        Reply.from_json({"eror": "ThrottlingException"})
