"""Deterministic Converse replies for the local Bedrock stand-in: validation, tokens, shape.

Pure functions, no I/O. The reply text is derived from the request, and the usage is plausible
and bounded the way a budget gate needs it to be: the input figures together never exceed the
UTF-8 byte count of the prompt's text, and ``outputTokens`` never exceeds ``maxTokens``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Final

# The gate's own record of a call's tokens: the stand-in reports usage the way the gate reads it.
from bedrock_guard.core.pricing import TokenUsage

# The Converse errors of the Bedrock Runtime API model, with the HTTP status each comes with.
ERROR_STATUS: Final[dict[str, int]] = {
    "AccessDeniedException": 403,
    "InternalServerException": 500,
    "ModelErrorException": 424,
    "ModelNotReadyException": 429,
    "ModelTimeoutException": 408,
    "ResourceNotFoundException": 404,
    "ServiceUnavailableException": 503,
    "ThrottlingException": 429,
    "ValidationException": 400,
}

DEFAULT_MAX_TOKENS: Final = 4096
_ROLES: Final = ("user", "assistant")


class ConverseInputError(ValueError):
    """A request Bedrock would refuse with ValidationException (HTTP 400)."""


@dataclass(frozen=True, slots=True)
class Reply:
    """How the stand-in answers one request.

    ``error`` names a Converse error (see :data:`ERROR_STATUS`) to answer with instead of a
    reply; ``latency_ms`` delays the answer; ``output_tokens`` asks for a reply of that many
    tokens (capped at ``maxTokens``); the cache fields move that many input tokens into
    ``cacheReadInputTokens`` / ``cacheWriteInputTokens`` (never more than the input has).
    """

    error: str | None = None
    message: str | None = None
    latency_ms: int = 0
    output_tokens: int | None = None
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __post_init__(self) -> None:
        if self.error is not None and self.error not in ERROR_STATUS:
            known = ", ".join(sorted(ERROR_STATUS))
            raise ValueError(f"unknown Converse error {self.error!r}; known: {known}")
        for name in ("latency_ms", "cache_read_tokens", "cache_write_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.output_tokens is not None and (
            isinstance(self.output_tokens, bool)
            or not isinstance(self.output_tokens, int)
            or self.output_tokens < 1
        ):
            raise ValueError(
                f"output_tokens must be a positive integer, got {self.output_tokens!r}"
            )

    @property
    def status(self) -> int:
        """The HTTP status of this reply: the error's, or 200."""
        return ERROR_STATUS[self.error] if self.error else 200

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict, for the stand-in's control API."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: object) -> Reply:
        """Build a reply from :meth:`to_json` output; unknown keys are an error."""
        if not isinstance(data, dict):
            raise ValueError(f"a reply must be a JSON object, got {type(data).__name__}")
        allowed = {field.name for field in fields(cls)}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ValueError(f"unknown reply fields {unknown}; allowed: {sorted(allowed)}")
        return cls(**data)


@dataclass(frozen=True, slots=True)
class ConverseRequest:
    """The parts of a Converse request body the stand-in's reply depends on."""

    prompt_bytes: int
    last_user_text: str
    max_tokens: int
    stop_sequences: tuple[str, ...]
    # What the caller asked Bedrock to write into its invocation log record.
    request_metadata: Mapping[str, str] = field(default_factory=dict)


def usage_json(usage: TokenUsage, *, with_cache: bool) -> dict[str, int]:
    """The Converse ``usage`` object; cache fields only when the reply involved the cache."""
    document = {
        "inputTokens": usage.input_tokens,
        "outputTokens": usage.output_tokens,
        "totalTokens": usage.total,
    }
    if with_cache:
        document["cacheReadInputTokens"] = usage.cache_read_tokens
        document["cacheWriteInputTokens"] = usage.cache_write_tokens
    return document


def tokens_for(n_bytes: int) -> int:
    """Plausible token count of ``n_bytes`` of UTF-8 text (about four bytes a token)."""
    return (n_bytes + 3) // 4


def parse_request(body: object) -> ConverseRequest:
    """Check a Converse body the way Bedrock does (the parts it cares about) and extract it."""
    if not isinstance(body, dict):
        raise ConverseInputError("Malformed input request: the body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ConverseInputError("messages: must be a non-empty list")
    texts: list[str] = []
    last_user_text = ""
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise ConverseInputError(f"messages.{index}.role: must be one of {list(_ROLES)}")
        if index == 0 and message["role"] != "user":
            raise ConverseInputError("A conversation must start with a user message.")
        message_texts = _block_texts(message.get("content"), f"messages.{index}.content")
        texts.extend(message_texts)
        if message["role"] == "user":
            last_user_text = " ".join(message_texts)
    system = body.get("system")
    if system is not None:
        texts.extend(_block_texts(system, "system", allow_empty=True))
    config = body.get("inferenceConfig") or {}
    if not isinstance(config, dict):
        raise ConverseInputError("inferenceConfig: must be an object")
    max_tokens = config.get("maxTokens", DEFAULT_MAX_TOKENS)
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ConverseInputError("inferenceConfig.maxTokens: must be an integer >= 1")
    for name in ("temperature", "topP"):
        value = config.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1
        ):
            raise ConverseInputError(f"inferenceConfig.{name}: must be a number from 0 to 1")
    stops = config.get("stopSequences") or []
    if not isinstance(stops, list) or not all(isinstance(stop, str) for stop in stops):
        raise ConverseInputError("inferenceConfig.stopSequences: must be a list of strings")
    return ConverseRequest(
        prompt_bytes=sum(len(text.encode("utf-8")) for text in texts),
        last_user_text=last_user_text,
        max_tokens=max_tokens,
        stop_sequences=tuple(stop for stop in stops if stop),
        request_metadata=_request_metadata(body.get("requestMetadata")),
    )


def _request_metadata(value: object) -> dict[str, str]:
    """``requestMetadata``: string keys to string values, or absent."""
    metadata = value or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(key, str) and isinstance(item, str) for key, item in metadata.items()
    ):
        raise ConverseInputError("requestMetadata: must be a map of strings to strings")
    return dict(metadata)


def _block_texts(blocks: object, where: str, *, allow_empty: bool = False) -> list[str]:
    """The text of a list of content blocks; other block kinds are accepted and not counted."""
    if not isinstance(blocks, list) or (not blocks and not allow_empty):
        raise ConverseInputError(f"{where}: must be a non-empty list of content blocks")
    texts: list[str] = []
    for index, block in enumerate(blocks):
        if not isinstance(block, dict) or not block:
            raise ConverseInputError(f"{where}.{index}: must be a content block object")
        text = block.get("text")
        if "text" in block and not isinstance(text, str):
            raise ConverseInputError(f"{where}.{index}.text: must be a string")
        if isinstance(text, str):
            texts.append(text)
    return texts


def reply_text(model_id: str, request: ConverseRequest) -> str:
    """The untruncated reply: derived from the model and the last user message only."""
    words = request.last_user_text.split()
    return f"[{model_id}] You said {len(words)} words: {' '.join(words)}"


def build_reply(
    model_id: str, request: ConverseRequest, reply: Reply, latency_ms: int
) -> tuple[dict[str, Any], TokenUsage]:
    """The Converse response document for a successful reply, and its token usage."""
    text = reply_text(model_id, request)
    stop_reason = "end_turn"
    if reply.output_tokens is not None:
        wanted = min(reply.output_tokens, request.max_tokens)
        text = _fit_utf8(text, wanted * 4)
        if reply.output_tokens > request.max_tokens:
            stop_reason = "max_tokens"
    else:
        cut = min((text.find(stop) for stop in request.stop_sequences if stop in text), default=-1)
        if cut >= 0:
            text, stop_reason = text[:cut], "stop_sequence"
        if tokens_for(len(text.encode("utf-8"))) > request.max_tokens:
            text, stop_reason = _cut_utf8(text, request.max_tokens * 4), "max_tokens"
    input_total = tokens_for(request.prompt_bytes)
    cache_read = min(reply.cache_read_tokens, input_total)
    cache_write = min(reply.cache_write_tokens, input_total - cache_read)
    usage = TokenUsage(
        input_tokens=input_total - cache_read - cache_write,
        output_tokens=tokens_for(len(text.encode("utf-8"))),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )
    with_cache = bool(reply.cache_read_tokens or reply.cache_write_tokens)
    document = {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": stop_reason,
        "usage": usage_json(usage, with_cache=with_cache),
        "metrics": {"latencyMs": max(1, latency_ms)},
    }
    return document, usage


def _cut_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` that fits in ``max_bytes`` of UTF-8."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")


def _fit_utf8(text: str, n_bytes: int) -> str:
    """``text`` cut or padded with dots to exactly ``n_bytes`` of UTF-8."""
    cut = _cut_utf8(text, n_bytes)
    return cut + "." * (n_bytes - len(cut.encode("utf-8")))
