"""Bedrock's model invocation log as the local Bedrock stand-in writes it, and who the caller is.

With the log switched on (:meth:`.bedrock_stub.BedrockStub.set_invocation_log`), the stand-in
writes one ``ModelInvocationLog`` record per Converse call it answers to a CloudWatch Logs group
on the local AWS (moto server), with PutLogEvents, before it sends the answer: a caller that
has its answer knows its record is in the group. Bedrock writes it asynchronously, seconds
later; the local pipeline's latency is measured from this write. Records are metadata only, as
Bedrock writes them with text, image and embedding delivery off (the environments' setting),
with the field names of the committed records in ``tests/events/invocation_records``.

The caller is whoever signed the request: the SigV4 ``Authorization`` header names the access
key id in its credential scope (the secret never travels). A :class:`KeyRegistry` maps access
key ids to the ARN the credentials stand for, filled by whoever mints them
(:meth:`KeyRegistry.assume_role` calls STS and registers in one step). Asking moto's STS
instead (GetCallerIdentity with the caller's key id) was rejected: the call must be signed
with the caller's secret, which the stand-in never sees, so it would rely on moto not checking
signatures; and for a key moto does not know it answers a made-up identity
(``arn:aws:sts::123456789012:user/moto``) instead of an error, so a forgotten key would be
charged silently to a principal that does not exist. With the registry an unknown key is known
to be unknown, and the stand-in refuses the call (403 ``UnrecognizedClientException``, as
Bedrock refuses credentials that are not the account's) without writing a record.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bedrock_guard.core.pricing import TokenUsage

SCHEMA_TYPE: Final = "ModelInvocationLog"
SCHEMA_VERSION: Final = "1.0"
# The stream Bedrock writes to (modules/aip-tenant/logging.tf grants the role this one only).
LOG_STREAM: Final = "aws/bedrock/modelinvocations"
CONTENT_TYPE: Final = "application/json"
_CREDENTIAL: Final = re.compile(r"\bCredential=(?P<key>[A-Za-z0-9]+)/")
_LOG_CONFIG: Final = Config(
    retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=2, read_timeout=10
)

# An access key id -> the ARN of the identity its credentials stand for, or None if unknown.
IdentityResolver = Callable[[str], str | None]


class InvocationLogError(RuntimeError):
    """A record could not be written to the log group."""


def access_key_id(authorization: str | None) -> str | None:
    """The access key id of a SigV4 ``Authorization`` header; ``None`` when unsigned."""
    if not authorization or not authorization.startswith("AWS4-HMAC-SHA256 "):
        return None
    match = _CREDENTIAL.search(authorization)
    return match["key"] if match else None


class KeyRegistry:
    """Access key ids of the local account's credentials and the identity each stands for."""

    def __init__(self, known: Mapping[str, str] | None = None) -> None:
        self._lock = threading.Lock()
        self._arns: dict[str, str] = dict(known or {})

    def register(self, key_id: str, arn: str) -> None:
        """Credentials with ``key_id`` act as ``arn`` (an IAM user, or an assumed-role session)."""
        if not key_id or not arn.startswith("arn:"):
            raise ValueError(f"need an access key id and an ARN, got {key_id!r}, {arn!r}")
        with self._lock:
            self._arns[key_id] = arn

    def __call__(self, key_id: str) -> str | None:
        with self._lock:
            return self._arns.get(key_id)

    def assume_role(self, sts: Any, role_arn: str, session_name: str) -> dict[str, str]:
        """STS AssumeRole with ``sts``; the session's credentials, registered as its ARN."""
        response = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)
        credentials = response["Credentials"]
        self.register(credentials["AccessKeyId"], response["AssumedRoleUser"]["Arn"])
        return {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        }


def log_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as Bedrock writes ``timestamp``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def invocation_record(
    *,
    request_id: str,
    moment: datetime,
    identity_arn: str,
    region: str,
    model_id: str,
    usage: TokenUsage,
    request_metadata: Mapping[str, str],
    operation: str = "Converse",
) -> dict[str, Any]:
    """The metadata-only record of one invocation. The account is the caller's (the one its
    credentials belong to); the cache counts are written when the call read or wrote the cache."""
    inputs: dict[str, Any] = {
        "inputContentType": CONTENT_TYPE,
        "inputTokenCount": usage.input_tokens,
    }
    if usage.cache_read_tokens or usage.cache_write_tokens:
        inputs["cacheReadInputTokenCount"] = usage.cache_read_tokens
        inputs["cacheWriteInputTokenCount"] = usage.cache_write_tokens
    record: dict[str, Any] = {
        "schemaType": SCHEMA_TYPE,
        "schemaVersion": SCHEMA_VERSION,
        "timestamp": log_timestamp(moment),
        "accountId": identity_arn.split(":")[4],
        "identity": {"arn": identity_arn},
        "region": region,
        "requestId": request_id,
        "operation": operation,
        "modelId": model_id,
        "input": inputs,
        "output": {"outputContentType": CONTENT_TYPE, "outputTokenCount": usage.output_tokens},
    }
    if request_metadata:
        record["requestMetadata"] = dict(request_metadata)
    return record


@dataclass(frozen=True, slots=True)
class WrittenRecord:
    """A record in the group: what it says, and when PutLogEvents returned
    (``time.perf_counter()`` of this process, to measure the pipeline's latency from)."""

    request_id: str
    identity_arn: str
    model_id: str
    tokens: int
    put_at: float
    record: Mapping[str, Any]


class InvocationLog:
    """Writes the stand-in's invocation records to one log group, and remembers them."""

    def __init__(
        self,
        logs: Any,
        log_group_name: str,
        region: str,
        resolver: IdentityResolver,
        *,
        log_stream_name: str = LOG_STREAM,
    ) -> None:
        self.logs = logs
        self.log_group_name = log_group_name
        self.log_stream_name = log_stream_name
        self.region = region
        self.resolver = resolver
        # One writer at a time: timestamps stay in the order the records reach the stream.
        self._lock = threading.Lock()
        self._stream_ready = False
        self._written: list[WrittenRecord] = []

    @classmethod
    def on_local_aws(
        cls,
        endpoint_url: str,
        log_group_name: str,
        region: str,
        resolver: IdentityResolver,
        credentials: Mapping[str, str],
    ) -> InvocationLog:
        """A log writing to moto server at ``endpoint_url`` with ``credentials`` (boto3 keyword
        names): Bedrock writes with the role its logging configuration names, so pass a session
        of that role; its account is the group's."""
        session = boto3.session.Session(region_name=region, **credentials)
        client = session.client("logs", endpoint_url=endpoint_url, config=_LOG_CONFIG)
        return cls(client, log_group_name, region, resolver)

    def identity(self, authorization: str | None) -> str | None:
        """The ARN of the request's signer; ``None`` when unsigned or the key is unknown."""
        key = access_key_id(authorization)
        return self.resolver(key) if key is not None else None

    def write(
        self,
        *,
        identity_arn: str,
        model_id: str,
        request_id: str,
        usage: TokenUsage,
        request_metadata: Mapping[str, str],
    ) -> WrittenRecord:
        """Write one Converse call's record; raises :class:`InvocationLogError` on failure."""
        with self._lock:
            moment = datetime.now(UTC)
            record = invocation_record(
                request_id=request_id,
                moment=moment,
                identity_arn=identity_arn,
                region=self.region,
                model_id=model_id,
                usage=usage,
                request_metadata=request_metadata,
            )
            try:
                self._ensure_stream()
                self.logs.put_log_events(
                    logGroupName=self.log_group_name,
                    logStreamName=self.log_stream_name,
                    logEvents=[
                        {
                            "timestamp": int(moment.timestamp() * 1000),
                            # Compact JSON, one record per log event, as Bedrock writes it.
                            "message": json.dumps(record, separators=(",", ":")),
                        }
                    ],
                )
            except (BotoCoreError, ClientError) as error:
                problem = f"PutLogEvents to {self.log_group_name}: {error}"
                raise InvocationLogError(problem) from error
            written = WrittenRecord(
                request_id, identity_arn, model_id, usage.total, time.perf_counter(), record
            )
            self._written.append(written)
            return written

    def written(self) -> list[WrittenRecord]:
        """Every record written so far, in order."""
        with self._lock:
            return list(self._written)

    def _ensure_stream(self) -> None:
        if self._stream_ready:
            return
        try:
            self.logs.create_log_stream(
                logGroupName=self.log_group_name, logStreamName=self.log_stream_name
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                raise
        self._stream_ready = True
