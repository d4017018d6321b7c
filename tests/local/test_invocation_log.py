"""The stand-in's invocation log: one metadata-only record per answered Converse call, in the
committed records' format, naming the caller its signature names; unknown signers refused."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from bedrock_guard.core.pricing import TokenUsage
from bedrock_guard.local.bedrock_stub import BedrockStub
from bedrock_guard.local.clients import FAKE_CREDENTIALS, local_client
from bedrock_guard.local.converse_replies import Reply
from bedrock_guard.local.invocation_log import (
    LOG_STREAM,
    InvocationLog,
    KeyRegistry,
    access_key_id,
    invocation_record,
    log_timestamp,
)
from bedrock_guard.local.moto_server import MotoServer
from bedrock_guard.meter.records import parse_subscription_event
from tests.meter.events import record, subscription_event

pytestmark = pytest.mark.server

ACCOUNT = "123456789012"  # moto's default account: what the fake credentials act in
GROUP = "/aws/bedrock/local-test/model-invocations"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
NOTEBOOK = f"arn:aws:iam::{ACCOUNT}:role/notebook"
MESSAGES = [{"role": "user", "content": [{"text": "Plot last week's spend per team."}]}]
# What a metadata-only record may carry, by the committed records (their bodies excluded).
BODIES = {"inputBodyJson", "outputBodyJson"}


@dataclass
class Pipeline:
    moto: MotoServer
    stub: BedrockStub
    registry: KeyRegistry
    log: InvocationLog

    def notebook(self, session: str = "nb-1") -> Any:
        """A bedrock-runtime client with a session of the notebook role, registered."""
        credentials = self.registry.assume_role(self.moto.client("sts"), NOTEBOOK, session)
        session_ = boto3.session.Session(region_name="us-east-1", **credentials)
        return session_.client("bedrock-runtime", endpoint_url=self.stub.endpoint_url)

    def records(self) -> list[dict[str, Any]]:
        logs = self.moto.client("logs")
        streams = logs.describe_log_streams(logGroupName=GROUP)["logStreams"]
        if LOG_STREAM not in {s["logStreamName"] for s in streams}:
            return []
        events = logs.get_log_events(
            logGroupName=GROUP, logStreamName=LOG_STREAM, startFromHead=True
        )["events"]
        return [json.loads(event["message"]) for event in events]


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[MotoServer, BedrockStub]]:
    with MotoServer() as moto, BedrockStub() as stub:
        yield moto, stub


@pytest.fixture
def pipeline(servers: tuple[MotoServer, BedrockStub]) -> Iterator[Pipeline]:
    moto, stub = servers
    moto.reset()
    stub.reset()
    moto.client("iam").create_role(RoleName="notebook", AssumeRolePolicyDocument="{}")
    moto.client("logs").create_log_group(logGroupName=GROUP)
    registry = KeyRegistry()
    log = InvocationLog.on_local_aws(
        moto.endpoint_url, GROUP, "us-east-1", registry, FAKE_CREDENTIALS
    )
    stub.set_invocation_log(log)
    yield Pipeline(moto, stub, registry, log)
    stub.set_invocation_log(None)


def committed_metadata_shape() -> tuple[set[str], set[str], set[str]]:
    """Top-level, input and output field names of the committed records, bodies left out."""
    names = (
        "converse",
        "converse_stream_cache_global",
        "invoke_model_metadata_only",
        "invoke_stream_application_profile",
        "converse_priority_tier",
    )
    top: set[str] = set()
    inputs: set[str] = set()
    outputs: set[str] = set()
    for name in names:
        committed = record(name)
        top |= set(committed)
        inputs |= set(committed["input"]) - BODIES
        outputs |= set(committed["output"]) - BODIES
    return top, inputs, outputs


def test_a_call_writes_one_metadata_only_record_in_the_committed_format(
    pipeline: Pipeline,
) -> None:
    response = pipeline.notebook().converse(
        modelId=HAIKU,
        messages=MESSAGES,
        inferenceConfig={"maxTokens": 300},
        requestMetadata={"team": "finops"},
    )
    (written,) = pipeline.records()
    top, inputs, outputs = committed_metadata_shape()
    assert set(written) <= top
    assert set(written["input"]) <= inputs and set(written["output"]) <= outputs
    assert not BODIES & (set(written["input"]) | set(written["output"]))
    assert written["schemaType"] == "ModelInvocationLog" and written["schemaVersion"] == "1.0"
    assert written["operation"] == "Converse" and written["modelId"] == HAIKU
    assert written["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert written["identity"] == {"arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/notebook/nb-1"}
    assert (written["accountId"], written["region"]) == (ACCOUNT, "us-east-1")
    usage = response["usage"]
    assert written["input"]["inputTokenCount"] == usage["inputTokens"]
    assert written["output"]["outputTokenCount"] == usage["outputTokens"]
    assert "cacheReadInputTokenCount" not in written["input"]  # no cache involved
    assert written["requestMetadata"] == {"team": "finops"}
    assert datetime.fromisoformat(written["timestamp"]).tzinfo is not None
    stats = pipeline.stub.stats()
    assert (stats.records_written, stats.record_failures) == (1, 0)


def test_the_record_reads_as_the_meter_reads_committed_records(pipeline: Pipeline) -> None:
    pipeline.stub.enqueue(Reply(cache_read_tokens=4, cache_write_tokens=3, output_tokens=50))
    response = pipeline.notebook().converse(modelId=HAIKU, messages=MESSAGES)
    (written,) = pipeline.records()
    batch = parse_subscription_event(
        subscription_event([written]), account_id=ACCOUNT, region="us-east-1"
    )
    assert not batch.rejected
    (parsed,) = batch.records
    usage = response["usage"]
    assert (parsed.input_tokens, parsed.output_tokens) == (
        usage["inputTokens"],
        usage["outputTokens"],
    )
    assert (parsed.cache_read_tokens, parsed.cache_write_tokens) == (4, 3)
    assert parsed.identity_arn.endswith(":assumed-role/notebook/nb-1")
    assert parsed.request_metadata == {}


def test_each_call_is_named_by_its_own_signer(pipeline: Pipeline) -> None:
    iam = pipeline.moto.client("iam")
    iam.create_user(UserName="dana")
    key = iam.create_access_key(UserName="dana")["AccessKey"]
    pipeline.registry.register(key["AccessKeyId"], f"arn:aws:iam::{ACCOUNT}:user/dana")
    dana = boto3.session.Session(
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    ).client("bedrock-runtime", endpoint_url=pipeline.stub.endpoint_url)
    pipeline.notebook("nb-7").converse(modelId=HAIKU, messages=MESSAGES)
    dana.converse(modelId=HAIKU, messages=MESSAGES)
    assert [r["identity"]["arn"] for r in pipeline.records()] == [
        f"arn:aws:sts::{ACCOUNT}:assumed-role/notebook/nb-7",
        f"arn:aws:iam::{ACCOUNT}:user/dana",
    ]
    assert [w.request_id for w in pipeline.log.written()] == [
        r["requestId"] for r in pipeline.records()
    ]


def test_an_unknown_key_is_refused_and_writes_nothing(pipeline: Pipeline) -> None:
    stranger = local_client("bedrock-runtime", pipeline.stub.endpoint_url, max_attempts=1)
    with pytest.raises(ClientError) as raised:
        stranger.converse(modelId=HAIKU, messages=MESSAGES)
    error = raised.value.response
    assert error["Error"]["Code"] == "UnrecognizedClientException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    # Refused before anything else: a queued reply is still there for the next real caller.
    pipeline.stub.enqueue(Reply(output_tokens=7))
    assert (
        pipeline.notebook().converse(modelId=HAIKU, messages=MESSAGES)["usage"]["outputTokens"] == 7
    )
    assert len(pipeline.records()) == 1
    stats = pipeline.stub.stats()
    assert stats.outcomes[HAIKU] == {"UnrecognizedClientException": 1, "ok": 1}
    assert stats.records_written == 1


def test_an_unsigned_request_is_refused(pipeline: Pipeline) -> None:
    host, port = pipeline.stub.endpoint_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    body = json.dumps({"messages": MESSAGES})
    connection.request("POST", f"/model/{HAIKU}/converse", body=body)
    answer = connection.getresponse()
    assert answer.status == 403
    assert answer.getheader("x-amzn-ErrorType") == "UnrecognizedClientException:"
    connection.close()
    assert pipeline.records() == []


def test_a_failed_write_does_not_fail_the_call_and_is_counted(pipeline: Pipeline) -> None:
    pipeline.moto.client("logs").delete_log_group(logGroupName=GROUP)
    response = pipeline.notebook().converse(modelId=HAIKU, messages=MESSAGES)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    stats = pipeline.stub.stats()
    assert (stats.records_written, stats.record_failures) == (0, 1)
    assert pipeline.log.written() == []


def test_with_the_log_off_nothing_is_written_and_anyone_is_answered(pipeline: Pipeline) -> None:
    pipeline.stub.set_invocation_log(None)
    stranger = local_client("bedrock-runtime", pipeline.stub.endpoint_url, max_attempts=1)
    stranger.converse(modelId=HAIKU, messages=MESSAGES)
    assert pipeline.records() == []
    assert pipeline.stub.stats().records_written == 0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE123/20261203/us-east-1/bedrock/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=abc",
            "ASIAEXAMPLE123",
        ),
        ("AWS4-HMAC-SHA256 SignedHeaders=host, Signature=abc", None),
        ("Bearer bedrock-api-key-abc", None),
        ("", None),
        (None, None),
    ],
)
def test_the_access_key_id_comes_from_the_credential_scope(
    header: str | None, expected: str | None
) -> None:
    assert access_key_id(header) == expected


def test_the_registry_names_only_registered_keys() -> None:
    registry = KeyRegistry({"AKIA1": NOTEBOOK})
    assert registry("AKIA1") == NOTEBOOK
    assert registry("AKIA2") is None
    with pytest.raises(ValueError, match="ARN"):
        registry.register("AKIA3", "notebook")


def test_a_record_with_cache_use_carries_both_cache_counts() -> None:
    usage = TokenUsage(input_tokens=10, output_tokens=5, cache_read_tokens=0, cache_write_tokens=9)
    built = invocation_record(
        request_id="r-1",
        moment=datetime.fromisoformat("2026-11-23T09:14:03.5+00:00"),
        identity_arn=f"arn:aws:iam::{ACCOUNT}:user/dana",
        region="eu-west-1",
        model_id=HAIKU,
        usage=usage,
        request_metadata={},
    )
    assert built["input"] == {
        "inputContentType": "application/json",
        "inputTokenCount": 10,
        "cacheReadInputTokenCount": 0,
        "cacheWriteInputTokenCount": 9,
    }
    assert built["timestamp"] == "2026-11-23T09:14:03.500Z"
    assert "requestMetadata" not in built
    assert log_timestamp(datetime.fromisoformat("2026-11-23T10:00:00+01:00")).startswith(
        "2026-11-23T09:00:00.000Z"
    )
