"""The DynamoDB JSON protocol as the rules speak it: keys, replies and errors.

Errors carry ``__type`` as DynamoDB sends it (``com.amazonaws.dynamodb.v20120810#Code``), which
is what botocore maps to ``client.exceptions.<Code>``; every reply carries ``x-amz-crc32``,
which botocore checks on DynamoDB responses.
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

TARGET_PREFIX: Final = "DynamoDB_20120810."
ERROR_PREFIX: Final = "com.amazonaws.dynamodb.v20120810#"
CONTENT_TYPE: Final = "application/x-amz-json-1.0"

ITEM_TOO_LARGE: Final = "Item size has exceeded the maximum allowed size"
UPDATE_TOO_LARGE: Final = "Item size to update has exceeded the maximum allowed size"
TRANSACTION_CONFLICT: Final = "Transaction is ongoing for the item"


@dataclass
class Reply:
    """An HTTP answer to send back, or (``close``) a connection to drop without one."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    close: bool = False

    @classmethod
    def from_document(cls, status: int, document: Mapping[str, Any]) -> Reply:
        """A DynamoDB-style JSON reply, with the headers botocore checks."""
        payload = json.dumps(document, separators=(",", ":")).encode("utf-8")
        return cls(status, payload, dynamodb_headers(payload))

    def document(self) -> dict[str, Any]:
        """The JSON body ({} when empty or not an object)."""
        try:
            data = json.loads(self.body or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    @property
    def ok(self) -> bool:
        """HTTP 2xx."""
        return 200 <= self.status < 300

    @property
    def error_code(self) -> str | None:
        """The DynamoDB error code of an error reply (``ConditionalCheckFailedException``)."""
        if self.ok:
            return None
        kind = str(self.document().get("__type", ""))
        return kind.rsplit("#", 1)[-1] or None

    def with_document(self, document: Mapping[str, Any]) -> Reply:
        """The same reply with another JSON body (headers that depend on it recomputed)."""
        fresh = Reply.from_document(self.status, document)
        kept = [
            (name, value)
            for name, value in self.headers
            if name.lower() not in {"content-length", "x-amz-crc32", "content-type"}
        ]
        return Reply(self.status, fresh.body, [*kept, *_body_headers(fresh.body)])


def dynamodb_headers(payload: bytes) -> list[tuple[str, str]]:
    """Headers of a DynamoDB JSON reply carrying ``payload``."""
    return [("x-amzn-RequestId", uuid.uuid4().hex), *_body_headers(payload)]


def _body_headers(payload: bytes) -> list[tuple[str, str]]:
    return [
        ("Content-Type", CONTENT_TYPE),
        ("x-amz-crc32", str(zlib.crc32(payload) & 0xFFFFFFFF)),
    ]


class DynamoDBError(Exception):
    """An error DynamoDB answers with: HTTP status, error code, message, extra fields."""

    def __init__(self, code: str, message: str, status: int = 400, **extra: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra

    def reply(self) -> Reply:
        """The error as DynamoDB sends it."""
        # TransactionCanceledException spells its text "Message"; the others "message".
        text_field = "Message" if self.code == "TransactionCanceledException" else "message"
        document = {"__type": ERROR_PREFIX + self.code, text_field: self.message, **self.extra}
        return Reply.from_document(self.status, document)


def validation_error(message: str) -> DynamoDBError:
    """HTTP 400 ``ValidationException``."""
    return DynamoDBError("ValidationException", message)


def transaction_conflict() -> DynamoDBError:
    """What a standard write to an item held by a committing transaction gets."""
    return DynamoDBError(
        "TransactionConflictException",
        "Transaction is ongoing for the item",
    )


def transaction_canceled(reasons: Sequence[Mapping[str, str]]) -> DynamoDBError:
    """``TransactionCanceledException`` with one cancellation reason per action."""
    codes = ", ".join(reason["Code"] for reason in reasons)
    return DynamoDBError(
        "TransactionCanceledException",
        f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
        CancellationReasons=[dict(reason) for reason in reasons],
    )


def cancellation_reasons(count: int, failed: Mapping[int, tuple[str, str]]) -> list[dict[str, str]]:
    """``[{"Code": "None"}, ...]`` with ``{"Code": c, "Message": m}`` at the failed indexes."""
    reasons: list[dict[str, str]] = []
    for index in range(count):
        if index in failed:
            code, message = failed[index]
            reasons.append({"Code": code, "Message": message})
        else:
            reasons.append({"Code": "None"})
    return reasons


def canonical_key(key: Mapping[str, Any]) -> str:
    """One text per primary key, whatever the attribute order: the rules' item identity."""
    return json.dumps(key, sort_keys=True, separators=(",", ":"))


def key_from_item(item: Mapping[str, Any], key_names: Sequence[str]) -> dict[str, Any] | None:
    """The primary key of ``item`` (None when an attribute of the key is missing)."""
    if not all(name in item for name in key_names):
        return None
    return {name: item[name] for name in key_names}


def scalar_texts(key: Mapping[str, Any]) -> list[str]:
    """The scalar values of a key as text (what a fault's ``key_prefix`` is matched against)."""
    texts: list[str] = []
    for value in key.values():
        if isinstance(value, Mapping):
            texts.extend(str(data) for kind, data in value.items() if kind in {"S", "N", "B"})
    return texts
