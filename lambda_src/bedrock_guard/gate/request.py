"""Validation of the token gate's request body: every field, every size, nothing unknown.

A body either becomes a :class:`GateRequest` whose messages are already in Converse shape, or
raises :class:`RequestError` naming the offending field. Nothing here touches AWS, so a
malformed request can never reserve, charge or reach Bedrock.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

MAX_MODEL_ALIAS_CHARS: Final = 64
MAX_MESSAGES: Final = 100
MAX_BLOCKS_PER_MESSAGE: Final = 20
MAX_SYSTEM_BLOCKS: Final = 10
MAX_CACHE_POINTS: Final = 4  # Bedrock accepts at most four cache checkpoints per request
MAX_STOP_SEQUENCES: Final = 4
MAX_STOP_SEQUENCE_CHARS: Final = 200
MAX_TAG_CHARS: Final = 128

TOP_LEVEL_KEYS: Final = frozenset({"model", "messages", "system", "parameters", "tags"})
MESSAGE_KEYS: Final = frozenset({"role", "content"})
PARAMETER_KEYS: Final = frozenset({"max_tokens", "temperature", "top_p", "stop_sequences"})
TAG_KEYS: Final = frozenset({"applicationId", "costCenter", "environment"})
ROLES: Final = ("user", "assistant")

# Shared with MODEL_ALIASES_JSON, so that every configured alias can be requested.
MODEL_ALIAS_RE: Final = re.compile(
    rf"^[A-Za-z0-9][A-Za-z0-9._:-]{{0,{MAX_MODEL_ALIAS_CHARS - 1}}}$"
)
_TAG_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/=+@ -]*$")
CACHE_POINT: Final = {"cachePoint": {"type": "default"}}


class RequestError(ValueError):
    """A request the gate refuses with 400; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class RequestRules:
    """Operator-set bounds (from the environment) that validation enforces."""

    max_request_bytes: int
    max_output_tokens: int
    default_max_tokens: int


@dataclass(frozen=True, slots=True)
class Tags:
    """Attribution tags the caller declares. Logged, never used as metric dimensions."""

    application_id: str
    cost_center: str | None = None
    environment: str | None = None


@dataclass(frozen=True, slots=True)
class GateRequest:
    """A validated request, with messages and system prompt in Converse shape."""

    model: str
    messages: tuple[dict[str, Any], ...]
    system: tuple[dict[str, Any], ...]
    max_tokens: int
    temperature: float | None
    top_p: float | None
    stop_sequences: tuple[str, ...]
    tags: Tags

    def message_texts(self) -> list[list[str]]:
        """Per message, the texts of its blocks (what the input bound counts)."""
        return [_texts(message["content"]) for message in self.messages]

    def system_texts(self) -> list[str]:
        return _texts(self.system)


def _texts(blocks: Any) -> list[str]:
    return [block["text"] for block in blocks if "text" in block]


def decode_body(body: str | None, is_base64: bool, max_bytes: int) -> bytes:
    """The raw request bytes, bounded; base64 is decoded strictly (no skipped characters)."""
    if body is None or body == "":
        raise RequestError("body", "is empty; send a JSON object")
    if is_base64:
        # Base64 is 4/3 the size of what it encodes: refuse early without decoding a huge body.
        if len(body) > (max_bytes + 2) // 3 * 4:
            raise RequestError("body", f"is larger than {max_bytes} bytes")
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as error:
            raise RequestError("body", "is marked base64 but is not valid base64") from error
    else:
        if len(body) > max_bytes:  # characters <= bytes: a cheap early refusal
            raise RequestError("body", f"is larger than {max_bytes} bytes")
        try:
            raw = body.encode("utf-8")
        except UnicodeEncodeError as error:
            raise RequestError("body", "is not valid UTF-8") from error
    if len(raw) > max_bytes:
        raise RequestError("body", f"is larger than {max_bytes} bytes")
    return raw


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise RequestError("body", f"key {key[:40]!r} appears more than once in one object")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise RequestError("body", f"contains {name}, which is not JSON")


def load_json(raw: bytes) -> dict[str, Any]:
    """Parse a body that must be one JSON object (UTF-8, no duplicate keys, no NaN)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RequestError("body", "is not valid UTF-8") from error
    try:
        document = json.loads(
            text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants
        )
    except json.JSONDecodeError as error:
        raise RequestError("body", f"is not valid JSON ({error.msg} at {error.pos})") from error
    except RecursionError as error:
        raise RequestError("body", "is nested too deeply") from error
    if not isinstance(document, dict):
        raise RequestError("body", "must be a JSON object")
    return document


def parse_request(body: str | None, is_base64: bool, rules: RequestRules) -> GateRequest:
    """Validate a request body completely, or raise :class:`RequestError`."""
    document = load_json(decode_body(body, is_base64, rules.max_request_bytes))
    _only_keys(document, TOP_LEVEL_KEYS, "body")
    model = _model(document.get("model"))
    messages = _messages(document.get("messages"))
    system = _system(document.get("system"))
    cache_points = sum(
        1
        for blocks in [system, *(m["content"] for m in messages)]
        for b in blocks
        if b == CACHE_POINT
    )
    if cache_points > MAX_CACHE_POINTS:
        raise RequestError("messages", f"has more than {MAX_CACHE_POINTS} cachePoint blocks in all")
    max_tokens, temperature, top_p, stops = _parameters(document.get("parameters"), rules)
    return GateRequest(
        model=model,
        messages=messages,
        system=system,
        max_tokens=max_tokens,
        temperature=temperature,
        top_p=top_p,
        stop_sequences=stops,
        tags=_tags(document.get("tags")),
    )


def _only_keys(obj: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        name = unknown[0][:40]  # echo at most a short prefix of what the caller sent
        field = name if where == "body" else f"{where}.{name}"
        raise RequestError(field, f"is not a known field; allowed: {', '.join(sorted(allowed))}")


def _string(value: Any, field: str, max_chars: int | None = None) -> str:
    """A non-blank string of valid Unicode (no lone surrogates), optionally bounded."""
    if not isinstance(value, str):
        raise RequestError(field, "must be a string")
    if not value.strip():
        raise RequestError(field, "must not be empty or blank")
    if max_chars is not None and len(value) > max_chars:
        raise RequestError(field, f"must be at most {max_chars} characters")
    return _encodable(value, field)


def _encodable(value: str, field: str) -> str:
    """``value`` if it is valid Unicode (JSON may carry lone surrogates, UTF-8 may not)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise RequestError(field, "contains an invalid Unicode code point") from error
    return value


def _model(value: Any) -> str:
    if value is None:
        raise RequestError("model", "is required (a model alias)")
    alias = _string(value, "model", MAX_MODEL_ALIAS_CHARS)
    if not MODEL_ALIAS_RE.match(alias):
        raise RequestError("model", "must be a model alias (letters, digits, . _ : -)")
    return alias


def _blocks(value: Any, field: str, max_blocks: int) -> tuple[dict[str, Any], ...]:
    """Content as Converse blocks: a string becomes one text block; a list may hold
    ``{"text": str}`` and ``{"cachePoint": {"type": "default"}}`` blocks only."""
    if isinstance(value, str):
        return ({"text": _string(value, field)},)
    if not isinstance(value, list):
        raise RequestError(field, "must be a string or a list of content blocks")
    if not value:
        raise RequestError(field, "must not be an empty list")
    if len(value) > max_blocks:
        raise RequestError(field, f"must have at most {max_blocks} blocks")
    blocks: list[dict[str, Any]] = []
    for index, block in enumerate(value):
        where = f"{field}[{index}]"
        if not isinstance(block, dict) or len(block) != 1:
            raise RequestError(where, "must be an object with exactly one of: text, cachePoint")
        if "text" in block:
            blocks.append({"text": _string(block["text"], f"{where}.text")})
        elif "cachePoint" in block:
            if block["cachePoint"] != CACHE_POINT["cachePoint"]:
                raise RequestError(f"{where}.cachePoint", 'must be {"type": "default"}')
            if index == 0:
                raise RequestError(where, "a cachePoint must follow the content it caches")
            blocks.append({"cachePoint": {"type": "default"}})
        else:
            key = str(next(iter(block)))[:40]
            raise RequestError(f"{where}.{key}", "is not a supported block; use text or cachePoint")
    if not any("text" in block for block in blocks):
        raise RequestError(field, "must contain at least one text block")
    return tuple(blocks)


def _messages(value: Any) -> tuple[dict[str, Any], ...]:
    if value is None:
        raise RequestError("messages", "is required (a list of messages)")
    if not isinstance(value, list) or not value:
        raise RequestError("messages", "must be a non-empty list")
    if len(value) > MAX_MESSAGES:
        raise RequestError("messages", f"must have at most {MAX_MESSAGES} messages")
    messages: list[dict[str, Any]] = []
    for index, message in enumerate(value):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise RequestError(where, "must be an object with role and content")
        _only_keys(message, MESSAGE_KEYS, where)
        role = message.get("role")
        if role not in ROLES:
            raise RequestError(f"{where}.role", "must be 'user' or 'assistant'")
        expected = ROLES[index % 2]
        if role != expected:
            raise RequestError(
                f"{where}.role",
                f"must be '{expected}': messages start with user and alternate",
            )
        if "content" not in message:
            raise RequestError(f"{where}.content", "is required")
        content = _blocks(message["content"], f"{where}.content", MAX_BLOCKS_PER_MESSAGE)
        messages.append({"role": role, "content": list(content)})
    return tuple(messages)


def _system(value: Any) -> tuple[dict[str, Any], ...]:
    if value is None:
        return ()
    return _blocks(value, "system", MAX_SYSTEM_BLOCKS)


def _number(value: Any, field: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestError(field, "must be a number")
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise RequestError(field, f"must be between {low:g} and {high:g}")
    return number


def _parameters(
    value: Any, rules: RequestRules
) -> tuple[int, float | None, float | None, tuple[str, ...]]:
    if value is None:
        return rules.default_max_tokens, None, None, ()
    if not isinstance(value, dict):
        raise RequestError("parameters", "must be an object")
    _only_keys(value, PARAMETER_KEYS, "parameters")
    max_tokens = value.get("max_tokens", rules.default_max_tokens)
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        raise RequestError("parameters.max_tokens", "must be an integer")
    if not 1 <= max_tokens <= rules.max_output_tokens:
        raise RequestError(
            "parameters.max_tokens", f"must be between 1 and {rules.max_output_tokens}"
        )
    temperature = value.get("temperature")
    if temperature is not None:
        temperature = _number(temperature, "parameters.temperature", 0.0, 1.0)
    top_p = value.get("top_p")
    if top_p is not None:
        top_p = _number(top_p, "parameters.top_p", 0.0, 1.0)
    stops = value.get("stop_sequences", [])
    if not isinstance(stops, list):
        raise RequestError("parameters.stop_sequences", "must be a list of strings")
    if len(stops) > MAX_STOP_SEQUENCES:
        raise RequestError(
            "parameters.stop_sequences", f"must have at most {MAX_STOP_SEQUENCES} entries"
        )
    checked = tuple(
        _non_empty(s, f"parameters.stop_sequences[{i}]", MAX_STOP_SEQUENCE_CHARS)
        for i, s in enumerate(stops)
    )
    return max_tokens, temperature, top_p, checked


def _non_empty(value: Any, field: str, max_chars: int) -> str:
    # A stop sequence may be whitespace ("\n\n"), but not empty.
    if not isinstance(value, str) or value == "":
        raise RequestError(field, "must be a non-empty string")
    if len(value) > max_chars:
        raise RequestError(field, f"must be at most {max_chars} characters")
    return _encodable(value, field)


def _tag(value: Any, field: str) -> str:
    text = _string(value, field, MAX_TAG_CHARS)
    if not _TAG_RE.match(text):
        raise RequestError(field, "may hold letters, digits, spaces and _ . : / = + @ - only")
    return text


def _tags(value: Any) -> Tags:
    if value is None:
        raise RequestError("tags", "is required (with tags.applicationId)")
    if not isinstance(value, dict):
        raise RequestError("tags", "must be an object")
    _only_keys(value, TAG_KEYS, "tags")
    if "applicationId" not in value:
        raise RequestError("tags.applicationId", "is required")
    optional = {k: _tag(value[k], f"tags.{k}") for k in ("costCenter", "environment") if k in value}
    return Tags(
        application_id=_tag(value["applicationId"], "tags.applicationId"),
        cost_center=optional.get("costCenter"),
        environment=optional.get("environment"),
    )
