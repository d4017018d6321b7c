"""Bedrock model invocation log records, read from a CloudWatch Logs subscription event.

Bedrock writes one JSON record per model invocation to the invocation log group
(``schemaType`` ``ModelInvocationLog``, ``schemaVersion`` ``1.0``): ``timestamp``,
``accountId``, ``region``, ``requestId``, ``operation``, ``modelId``, ``identity.arn``,
``input.inputTokenCount`` (with ``cacheReadInputTokenCount`` and ``cacheWriteInputTokenCount``
when prompt caching was used), ``output.outputTokenCount``, ``requestMetadata`` when the caller
set it, ``inferenceRegion`` when cross-region inference served it elsewhere, and ``errorCode``
for a failed call. The request and response bodies (``inputBodyJson``, ``outputBodyJson``) are
there only when text delivery is on; from them come the details the record's own counters do not
carry: the 1-hour part of cache writes (the Converse ``usage.cacheDetails`` or the Anthropic
``usage.cache_creation`` split) and the service tier (Converse ``serviceTier``).

:func:`parse_subscription_event` is pure and never raises on bad data: every log event that is
not a usable record is counted by reason in :attr:`ParsedBatch.rejected`, so that one foreign or
truncated line never costs the rest of the batch, and no record is returned twice.
"""

from __future__ import annotations

import binascii
import json
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from aws_lambda_powertools.utilities.data_classes import CloudWatchLogsEvent

SCHEMA_TYPE: Final = "ModelInvocationLog"
SCHEMA_MAJOR_VERSION: Final = "1"
CONTROL_MESSAGE: Final = "CONTROL_MESSAGE"
DATA_MESSAGE: Final = "DATA_MESSAGE"
SERVICE_TIERS: Final = frozenset({"priority", "default", "flex", "reserved"})
# The Standard tier is "default" in the API; some SDKs and bodies spell it "standard".
_TIER_ALIASES: Final = {"standard": "default"}
ONE_HOUR_TTL: Final = "1h"
# Operations of batch inference jobs. No batch record was found in the AWS documentation: a
# record counts as batch when its operation names a model invocation job or it carries the
# job's ARN (see _is_batch); the meter prices it at the batch discount.
_BATCH_JOB_KEYS: Final = ("modelInvocationJobArn", "jobArn")

# Reasons a log event is rejected (the keys of ParsedBatch.rejected).
BAD_EVENT: Final = "bad_event"  # not {"awslogs": {"data": "<base64>"}}
UNDECODABLE: Final = "undecodable"  # base64, gzip, UTF-8 or JSON of the payload failed
BAD_PAYLOAD: Final = "bad_payload"  # decoded, but not a CloudWatch Logs data message
CONTROL: Final = "control_message"  # CloudWatch Logs checking the destination: nothing to meter
BAD_LOG_EVENT: Final = "bad_log_event"  # a log event without a string message
NOT_JSON: Final = "not_json"  # a foreign line, or a record truncated by the log pipeline
FOREIGN_SCHEMA: Final = "foreign_schema"  # JSON, but not a ModelInvocationLog record
UNSUPPORTED_VERSION: Final = "unsupported_schema_version"
MISSING_FIELD: Final = "missing_field"  # requestId, operation, modelId, accountId or region
BAD_IDENTITY: Final = "bad_identity"  # identity.arn missing or not an ARN
BAD_TIMESTAMP: Final = "bad_timestamp"
FAILED_INVOCATION: Final = "failed_invocation"  # errorCode and no token counts: nothing billed
MISSING_TOKENS: Final = "missing_tokens"
BAD_TOKENS: Final = "bad_tokens"  # not an integer (a float, a string, a boolean)
NEGATIVE_TOKENS: Final = "negative_tokens"
INCONSISTENT_TOKENS: Final = "inconsistent_tokens"  # more 1-hour cache writes than writes
DUPLICATE_IN_BATCH: Final = "duplicate_in_batch"
OTHER_ACCOUNT: Final = "other_account"
OTHER_REGION: Final = "other_region"


@dataclass(frozen=True, slots=True)
class InvocationRecord:
    """One Bedrock model invocation, as its log record reports it."""

    request_id: str
    timestamp: datetime  # UTC-aware
    account_id: str
    region: str
    operation: str  # Converse, ConverseStream, InvokeModel, InvokeModelWithResponseStream, ...
    model_id: str  # as logged: model id, cross-region profile id, or application profile ARN
    identity_arn: str  # raw identity.arn
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int  # totals (all TTLs)
    cache_write_tokens: int
    cache_write_1h_tokens: int  # the part of cache writes with a 1-hour TTL (0 if not reported)
    service_tier: str | None  # "priority" | "default" | "flex" | "reserved"; None if not reported
    batch: bool  # a batch inference record
    request_metadata: Mapping[str, str]  # {} when absent
    inference_region: str | None = None  # the region that served a cross-region call
    error_code: str | None = None  # set when Bedrock logged an error but also tokens
    schema_version: str = "1.0"


@dataclass
class ParsedBatch:
    """The records of one subscription event, and what was rejected, by reason."""

    records: list[InvocationRecord] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    log_events: int = 0  # log events seen (records + rejected log events)


class _Reject(Exception):
    """A log event that is not a usable record, and why (control flow of this module only)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_subscription_event(
    event: Mapping[str, Any], *, account_id: str | None, region: str | None
) -> ParsedBatch:
    """The invocation records of a CloudWatch Logs subscription event, with rejects counted.

    ``account_id`` and ``region``, when given, keep only records of that account and region
    (the meter charges budgets of its own account and region). Never raises on bad data.
    """
    batch = ParsedBatch()
    messages = _log_messages(event, batch)
    seen: set[str] = set()
    for message in messages:
        batch.log_events += 1
        try:
            if message is None:
                raise _Reject(BAD_LOG_EVENT)
            record = _parse_record(message)
            if account_id is not None and record.account_id != account_id:
                raise _Reject(OTHER_ACCOUNT)
            if region is not None and record.region != region:
                raise _Reject(OTHER_REGION)
            if record.request_id in seen:
                raise _Reject(DUPLICATE_IN_BATCH)
        except _Reject as reject:
            batch.rejected[reject.reason] += 1
            continue
        seen.add(record.request_id)
        batch.records.append(record)
    return batch


def _log_messages(event: Mapping[str, Any], batch: ParsedBatch) -> list[str | None]:
    """The message of each log event (``None`` for a malformed one); an unusable event counts
    once under its reason and gives none."""
    awslogs = event.get("awslogs") if isinstance(event, Mapping) else None
    if not isinstance(awslogs, Mapping) or not isinstance(awslogs.get("data"), str):
        batch.rejected[BAD_EVENT] += 1
        return []
    try:
        decoded = CloudWatchLogsEvent(dict(event)).parse_logs_data()
        payload: object = decoded.raw_event
    except (binascii.Error, zlib.error, UnicodeDecodeError, ValueError):
        # ValueError covers json.JSONDecodeError and base64's non-ASCII input.
        batch.rejected[UNDECODABLE] += 1
        return []
    if not isinstance(payload, dict):
        batch.rejected[BAD_PAYLOAD] += 1
        return []
    if payload.get("messageType") == CONTROL_MESSAGE:
        batch.rejected[CONTROL] += 1
        return []
    log_events = payload.get("logEvents")
    if payload.get("messageType") != DATA_MESSAGE or not isinstance(log_events, list):
        batch.rejected[BAD_PAYLOAD] += 1
        return []
    return [
        item["message"] if isinstance(item, dict) and isinstance(item.get("message"), str) else None
        for item in log_events
    ]


def _parse_record(message: str) -> InvocationRecord:
    """One invocation log record from a log event's message; raises ``_Reject`` with a reason."""
    try:
        record = json.loads(message)
    except ValueError:
        raise _Reject(NOT_JSON) from None
    if not isinstance(record, dict) or record.get("schemaType") != SCHEMA_TYPE:
        raise _Reject(FOREIGN_SCHEMA)
    version = record.get("schemaVersion", "1.0")
    if not isinstance(version, str) or version.split(".")[0] != SCHEMA_MAJOR_VERSION:
        raise _Reject(UNSUPPORTED_VERSION)
    request_id, operation, model_id, account, record_region = (
        _text(record.get(name))
        for name in ("requestId", "operation", "modelId", "accountId", "region")
    )
    if not (request_id and operation and model_id and account and record_region):
        raise _Reject(MISSING_FIELD)
    identity = record.get("identity")
    arn = _text(identity.get("arn")) if isinstance(identity, dict) else None
    if arn is None or not _looks_like_arn(arn):
        raise _Reject(BAD_IDENTITY)
    timestamp = _timestamp(record.get("timestamp"))
    inputs = _object(record.get("input"))
    outputs = _object(record.get("output"))
    error_code = _text(record.get("errorCode"))
    if "inputTokenCount" not in inputs or "outputTokenCount" not in outputs:
        raise _Reject(FAILED_INVOCATION if error_code else MISSING_TOKENS)
    input_tokens = _count(inputs["inputTokenCount"])
    output_tokens = _count(outputs["outputTokenCount"])
    cache_read = _count(inputs.get("cacheReadInputTokenCount", 0))
    cache_write = _count(inputs.get("cacheWriteInputTokenCount", 0))
    one_hour = _one_hour_cache_writes(outputs.get("outputBodyJson"))
    if one_hour > cache_write:
        raise _Reject(INCONSISTENT_TOKENS)
    return InvocationRecord(
        request_id=request_id,
        timestamp=timestamp,
        account_id=account,
        region=record_region,
        operation=operation,
        model_id=model_id,
        identity_arn=arn,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        cache_write_1h_tokens=one_hour,
        service_tier=_service_tier(record, inputs, outputs),
        batch=_is_batch(record, operation),
        request_metadata=_metadata(record.get("requestMetadata")),
        inference_region=_text(record.get("inferenceRegion")),
        error_code=error_code,
        schema_version=version,
    )


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _looks_like_arn(value: str) -> bool:
    parts = value.split(":", 5)
    return len(parts) == 6 and parts[0] == "arn" and bool(parts[1]) and bool(parts[5])


def _timestamp(value: object) -> datetime:
    if not isinstance(value, str):
        raise _Reject(BAD_TIMESTAMP)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _Reject(BAD_TIMESTAMP) from None
    if moment.tzinfo is None:
        raise _Reject(BAD_TIMESTAMP)  # Bedrock writes RFC 3339 with a zone; a naive one is foreign
    return moment.astimezone(UTC)


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Reject(BAD_TOKENS)
    if value < 0:
        raise _Reject(NEGATIVE_TOKENS)
    return value


def _one_hour_cache_writes(body: object) -> int:
    """Tokens written to the cache with a 1-hour TTL, from the logged response body: Converse's
    ``usage.cacheDetails`` (``[{"ttl": "1h", "inputTokens": n}]``) or the Anthropic Messages
    ``usage.cache_creation.ephemeral_1h_input_tokens``. 0 when the body is not logged."""
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return 0
    details = usage.get("cacheDetails")
    if isinstance(details, list):
        return sum(
            _count(item.get("inputTokens", 0))
            for item in details
            if isinstance(item, dict) and item.get("ttl") == ONE_HOUR_TTL
        )
    creation = usage.get("cache_creation")
    if isinstance(creation, dict):
        return _count(creation.get("ephemeral_1h_input_tokens", 0))
    return 0


def _service_tier(
    record: Mapping[str, Any], inputs: Mapping[str, Any], outputs: Mapping[str, Any]
) -> str | None:
    """The tier that served the call: a ``serviceTier`` on the record, else the one the response
    reports, else the one the request asked for (Converse ``serviceTier.type``, InvokeModel
    ``service_tier``); ``None`` when nothing says."""
    response = outputs.get("outputBodyJson")
    request = inputs.get("inputBodyJson")
    candidates = [record.get("serviceTier")]
    for body in (response, request):
        if isinstance(body, dict):
            candidates += [body.get("serviceTier"), body.get("service_tier")]
    for candidate in candidates:
        value = candidate.get("type") if isinstance(candidate, dict) else candidate
        tier = _text(value)
        if tier is not None:
            tier = tier.lower()
            tier = _TIER_ALIASES.get(tier, tier)
            return tier if tier in SERVICE_TIERS else None
    return None


def _is_batch(record: Mapping[str, Any], operation: str) -> bool:
    return "ModelInvocationJob" in operation or any(
        _text(record.get(key)) for key in _BATCH_JOB_KEYS
    )


def _metadata(value: object) -> Mapping[str, str]:
    """``requestMetadata`` as string pairs (the API allows nothing else; anything else is
    dropped rather than trusted)."""
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}
