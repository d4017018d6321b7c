"""Invocation log records from CloudWatch Logs subscription events: the recorded shapes, and every
kind of bad input counted by reason without costing the rest of the batch."""

from __future__ import annotations

import base64
import copy
import gzip
import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from bedrock_guard.meter.records import (
    InvocationRecord,
    ParsedBatch,
    parse_subscription_event,
)
from tests.meter.events import (
    ACCOUNT,
    MIXED,
    REGION,
    committed_events,
    data_message,
    decode,
    encode,
    load_event,
    record,
    subscription_event,
)


def parse(
    event: Any, *, account_id: str | None = ACCOUNT, region: str | None = REGION
) -> ParsedBatch:
    return parse_subscription_event(event, account_id=account_id, region=region)


def parse_one(message: dict[str, Any] | str) -> ParsedBatch:
    return parse(subscription_event([message]))


def rejected_as(message: dict[str, Any] | str) -> str:
    batch = parse_one(message)
    assert batch.records == []
    ((reason, count),) = batch.rejected.items()
    assert count == 1
    return reason


def converse(**changes: Any) -> dict[str, Any]:
    """The Converse record with top-level keys replaced (``None`` removes one)."""
    body = copy.deepcopy(record("converse"))
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


JOB_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-invocation-job/a1b2c3d4e5f6"


# --- the recorded shapes ---------------------------------------------------------------------


def test_the_committed_events_are_built_from_the_readable_records() -> None:
    for name, event in committed_events().items():
        assert decode(load_event(name)) == decode(event), f"regenerate tests/events/{name}"


def test_a_converse_record_of_the_gate_parses_completely() -> None:
    batch = parse(load_event("cwlogs_invocation_converse.json"))
    assert batch.rejected == Counter()
    assert batch.log_events == 1
    assert batch.records == [
        InvocationRecord(
            request_id="5f2c3a8e-6a1d-4b7e-9c1f-0d2e3f4a5b61",
            timestamp=datetime(2026, 11, 23, 9, 14, 3, tzinfo=UTC),
            account_id=ACCOUNT,
            region=REGION,
            operation="Converse",
            model_id="anthropic.claude-3-haiku-20240307-v1:0",
            identity_arn="arn:aws:sts::123456789012:assumed-role/"
            "bedrock-cost-guard-dev-gate/bedrock-cost-guard-dev-gate",
            input_tokens=35,
            output_tokens=146,
            cache_read_tokens=0,
            cache_write_tokens=0,
            cache_write_1h_tokens=0,
            service_tier=None,
            batch=False,
            request_metadata={
                "bedrockGuardHoldId": "h-01JDX4Q8W2RZ",
                "bedrockGuardCaller": "arn:aws:iam::123456789012:role/analytics-app",
            },
        )
    ]


def test_a_mixed_delivery_keeps_every_good_record_in_order() -> None:
    batch = parse(load_event("cwlogs_invocation_mixed.json"))
    assert [r.operation for r in batch.records] == [
        "Converse",
        "ConverseStream",
        "InvokeModel",
        "InvokeModelWithResponseStream",
        "Converse",
    ]
    # The throttled call logged no tokens (nothing billed); the Lambda START line is foreign.
    assert batch.rejected == Counter({"failed_invocation": 1, "not_json": 1})
    assert batch.log_events == len(MIXED) + 1 == len(batch.records) + batch.rejected.total()


def test_cache_tokens_and_the_one_hour_part_from_converse_cache_details() -> None:
    (r,) = parse_one(record("converse_stream_cache_global")).records
    assert (r.input_tokens, r.output_tokens) == (212, 780)
    assert (r.cache_read_tokens, r.cache_write_tokens, r.cache_write_1h_tokens) == (0, 5300, 4100)
    assert r.model_id == "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert r.inference_region == "eu-west-1"
    assert r.timestamp == datetime(2026, 11, 23, 9, 15, 41, 318000, tzinfo=UTC)


def test_the_one_hour_part_from_an_anthropic_invoke_model_body() -> None:
    (r,) = parse_one(record("invoke_stream_application_profile")).records
    assert (r.cache_read_tokens, r.cache_write_tokens, r.cache_write_1h_tokens) == (
        2048,
        1500,
        1000,
    )
    # An application inference profile is kept as logged; pricing maps it to its model.
    assert r.model_id.endswith(":application-inference-profile/a1b2c3d4e5f6")
    assert r.request_metadata == {"tenant": "acme"}


def test_a_metadata_only_record_has_no_tier_no_one_hour_part_and_zero_missing_cache() -> None:
    (r,) = parse_one(record("invoke_model_metadata_only")).records
    assert (r.cache_read_tokens, r.cache_write_tokens, r.cache_write_1h_tokens) == (3000, 0, 0)
    assert r.service_tier is None
    assert r.request_metadata == {}
    assert r.identity_arn == "arn:aws:iam::123456789012:user/alice"


def test_the_service_tier_the_response_reports() -> None:
    (r,) = parse_one(record("converse_priority_tier")).records
    assert r.service_tier == "priority"


@pytest.mark.parametrize(
    ("where", "value", "tier"),
    [
        ("response", {"type": "flex"}, "flex"),
        ("response", {"type": "Standard"}, "default"),
        ("response", {"type": "turbo"}, None),
        ("request", {"type": "priority"}, "priority"),
        ("request_invoke_model", "flex", "flex"),
        ("record", "priority", "priority"),
    ],
)
def test_service_tier_sources(where: str, value: Any, tier: str | None) -> None:
    body = converse()
    if where == "response":
        body["output"]["outputBodyJson"]["serviceTier"] = value
    elif where == "request":
        body["input"]["inputBodyJson"]["serviceTier"] = value
    elif where == "request_invoke_model":
        body["input"]["inputBodyJson"]["service_tier"] = value
    else:
        body["serviceTier"] = value
    (r,) = parse_one(body).records
    assert r.service_tier == tier


@pytest.mark.parametrize(
    "changes",
    [
        {"operation": "CreateModelInvocationJob"},
        {"modelInvocationJobArn": JOB_ARN},
    ],
)
def test_batch_inference_records_are_flagged(changes: dict[str, Any]) -> None:
    (r,) = parse_one(converse(**changes)).records
    assert r.batch is True
    (plain,) = parse_one(converse()).records
    assert plain.batch is False


def test_an_error_record_that_still_logged_tokens_is_kept_with_its_code() -> None:
    (r,) = parse_one(converse(errorCode="ModelStreamErrorException")).records
    assert r.error_code == "ModelStreamErrorException"
    assert (r.input_tokens, r.output_tokens) == (35, 146)


def test_request_metadata_keeps_only_string_pairs() -> None:
    (r,) = parse_one(converse(requestMetadata={"team": "data", "n": 3, "flag": True})).records
    assert r.request_metadata == {"team": "data"}
    (r,) = parse_one(converse(requestMetadata=["not", "a", "map"])).records
    assert r.request_metadata == {}


def test_timestamps_in_other_zones_become_utc() -> None:
    (r,) = parse_one(converse(timestamp="2026-11-23T10:14:03+01:00")).records
    assert r.timestamp == datetime(2026, 11, 23, 9, 14, 3, tzinfo=UTC)
    assert r.timestamp.utcoffset() is not None


# --- bad subscription events -----------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"awslogs": {}},
        {"awslogs": {"data": 5}},
        {"awslogs": "H4sI"},
        {"Records": [{"Sns": {"Message": "{}"}}]},
        [],
        None,
    ],
)
def test_an_event_of_the_wrong_shape_is_counted_once(event: Any) -> None:
    batch = parse(event)
    assert batch.records == []
    assert batch.rejected == Counter({"bad_event": 1})


@pytest.mark.parametrize(
    "data",
    [
        "not base64 at all!",
        base64.b64encode(b"plain text, not gzip").decode(),
        base64.b64encode(gzip.compress(b"{not json")).decode(),
        base64.b64encode(gzip.compress(b"\xff\xfe\xfd")).decode(),
        base64.b64encode(
            gzip.compress(json.dumps(data_message([record("converse")])).encode())[:40]
        ).decode(),
    ],
    ids=["not-base64", "not-gzip", "not-json", "not-utf8", "truncated-gzip"],
)
def test_an_undecodable_payload_is_counted_once(data: str) -> None:
    batch = parse({"awslogs": {"data": data}})
    assert batch.records == []
    assert batch.rejected == Counter({"undecodable": 1})


@pytest.mark.parametrize(
    "payload",
    [
        [1, 2, 3],
        {"messageType": "DATA_MESSAGE", "owner": ACCOUNT},
        {"messageType": "DATA_MESSAGE", "logEvents": {"message": "x"}},
        {"messageType": "SOMETHING_ELSE", "logEvents": []},
    ],
)
def test_a_payload_that_is_not_a_data_message_is_counted_once(payload: Any) -> None:
    batch = parse(encode(json.dumps(payload)))
    assert batch.rejected == Counter({"bad_payload": 1})


def test_a_control_message_is_counted_and_meters_nothing() -> None:
    batch = parse(load_event("cwlogs_control_message.json"))
    assert batch.records == []
    assert batch.rejected == Counter({"control_message": 1})


def test_a_log_event_without_a_message_is_counted() -> None:
    payload = data_message([record("converse")])
    payload["logEvents"].append({"id": "1", "timestamp": 0})
    payload["logEvents"].append("just a string")
    batch = parse(encode(payload))
    assert len(batch.records) == 1
    assert batch.rejected == Counter({"bad_log_event": 2})


# --- bad records -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        "2026-11-23 09:14:03 INFO something else entirely",
        "",
        json.dumps(record("converse"))[:200],  # cut by the log pipeline
    ],
    ids=["foreign-line", "empty", "truncated"],
)
def test_lines_that_are_not_json_are_counted(message: str) -> None:
    assert rejected_as(message) == "not_json"


@pytest.mark.parametrize(
    "message",
    [
        "[1, 2]",
        '"a string"',
        json.dumps({"eventVersion": "1.09", "eventSource": "bedrock.amazonaws.com"}),
        json.dumps(converse(schemaType="ModelInvocationMetrics")),
        json.dumps(converse(schemaType=None)),
    ],
)
def test_json_that_is_not_an_invocation_record_is_foreign(message: str) -> None:
    assert rejected_as(message) == "foreign_schema"


def test_an_unknown_major_schema_version_is_not_guessed_at() -> None:
    assert rejected_as(converse(schemaVersion="2.0")) == "unsupported_schema_version"
    assert rejected_as(converse(schemaVersion=1)) == "unsupported_schema_version"
    assert parse_one(converse(schemaVersion="1.1")).records


@pytest.mark.parametrize("key", ["requestId", "operation", "modelId", "accountId", "region"])
@pytest.mark.parametrize("value", [None, "", "   ", 42])
def test_missing_required_fields_are_counted(key: str, value: Any) -> None:
    assert rejected_as(converse(**{key: value})) == "missing_field"


@pytest.mark.parametrize(
    "identity",
    [
        None,
        "arn:aws:iam::123456789012:user/alice",
        {},
        {"arn": 7},
        {"arn": "alice"},
        {"arn": "arn:aws:iam"},
    ],
)
def test_a_record_without_a_usable_identity_is_counted(identity: Any) -> None:
    assert rejected_as(converse(identity=identity)) == "bad_identity"


@pytest.mark.parametrize(
    "timestamp",
    [None, "", "yesterday", "2026-11-23T09:14:03", 1795425243000, "2026-13-45T00:00:00Z"],
)
def test_a_record_without_a_usable_time_is_counted(timestamp: Any) -> None:
    assert rejected_as(converse(timestamp=timestamp)) == "bad_timestamp"


@pytest.mark.parametrize(
    ("side", "key"), [("input", "inputTokenCount"), ("output", "outputTokenCount")]
)
def test_missing_token_counts_are_counted(side: str, key: str) -> None:
    body = converse()
    del body[side][key]
    assert rejected_as(body) == "missing_tokens"
    body.pop(side)
    assert rejected_as(body) == "missing_tokens"


def test_a_failed_call_without_tokens_is_not_a_charge() -> None:
    assert rejected_as(record("converse_throttled")) == "failed_invocation"


@pytest.mark.parametrize(
    ("side", "key"),
    [
        ("input", "inputTokenCount"),
        ("output", "outputTokenCount"),
        ("input", "cacheReadInputTokenCount"),
        ("input", "cacheWriteInputTokenCount"),
    ],
)
@pytest.mark.parametrize("value", ["35", 35.0, 1e3, True, False, None, [35], {"n": 35}])
def test_token_counts_must_be_integers(side: str, key: str, value: Any) -> None:
    body = converse()
    body[side][key] = value
    assert rejected_as(body) == "bad_tokens"


@pytest.mark.parametrize(
    ("side", "key"),
    [
        ("input", "inputTokenCount"),
        ("output", "outputTokenCount"),
        ("input", "cacheReadInputTokenCount"),
        ("input", "cacheWriteInputTokenCount"),
    ],
)
def test_negative_token_counts_are_counted(side: str, key: str) -> None:
    body = converse()
    body[side][key] = -1
    assert rejected_as(body) == "negative_tokens"


def test_more_one_hour_cache_writes_than_writes_is_inconsistent() -> None:
    body = record("converse_stream_cache_global")
    body["input"]["cacheWriteInputTokenCount"] = 4000
    assert rejected_as(body) == "inconsistent_tokens"
    body["output"]["outputBodyJson"]["usage"]["cacheDetails"] = [{"ttl": "1h", "inputTokens": -5}]
    assert rejected_as(body) == "negative_tokens"


def test_records_of_other_accounts_and_regions_are_counted_unless_unfiltered() -> None:
    event = subscription_event(
        [
            converse(),
            converse(requestId="r-2", accountId="210987654321"),
            converse(requestId="r-3", region="eu-west-1"),
        ]
    )
    batch = parse(event)
    assert [r.request_id for r in batch.records] == ["5f2c3a8e-6a1d-4b7e-9c1f-0d2e3f4a5b61"]
    assert batch.rejected == Counter({"other_account": 1, "other_region": 1})
    assert len(parse(event, account_id=None, region=None).records) == 3


def test_a_request_id_twice_in_one_event_counts_once() -> None:
    first = converse()
    again = converse(timestamp="2026-11-23T09:20:00Z")
    batch = parse(subscription_event([first, again, converse(requestId="other")]))
    assert [r.request_id for r in batch.records] == [first["requestId"], "other"]
    assert batch.records[0].timestamp == datetime(2026, 11, 23, 9, 14, 3, tzinfo=UTC)
    assert batch.rejected == Counter({"duplicate_in_batch": 1})


def test_a_rejected_record_does_not_claim_its_request_id() -> None:
    bad = converse()
    bad["input"]["inputTokenCount"] = -3
    batch = parse(subscription_event([bad, converse()]))
    assert len(batch.records) == 1
    assert batch.rejected == Counter({"negative_tokens": 1})


def test_one_bad_line_of_each_kind_never_costs_the_good_ones() -> None:
    bad_tokens = converse(requestId="bad-tokens")
    bad_tokens["output"]["outputTokenCount"] = "146"
    messages: list[dict[str, Any] | str] = [
        "garbage",
        converse(requestId="ok-1"),
        converse(requestId="no-identity", identity=None),
        bad_tokens,
        converse(requestId="old", timestamp="not a time"),
        converse(requestId="ok-2"),
        converse(requestId="ok-2"),
    ]
    batch = parse(subscription_event(messages))
    assert [r.request_id for r in batch.records] == ["ok-1", "ok-2"]
    assert batch.rejected == Counter(
        {
            "not_json": 1,
            "bad_identity": 1,
            "bad_tokens": 1,
            "bad_timestamp": 1,
            "duplicate_in_batch": 1,
        }
    )
    assert batch.log_events == len(messages)
