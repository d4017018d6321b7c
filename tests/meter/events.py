"""CloudWatch Logs subscription events of the model invocation log group, built from readable
invocation records (``tests/events/invocation_records/*.json``).

The committed ``tests/events/cwlogs_*.json`` are built by this module; regenerate them with
``.venv/bin/python -m tests.meter.events`` after changing a record (a test checks they agree).
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parents[1] / "events"
RECORDS = EVENTS / "invocation_records"

ACCOUNT = "123456789012"
REGION = "us-east-1"
LOG_GROUP = "/aws/bedrock/model-invocations"
LOG_STREAM = "aws/bedrock/modelinvocations"
FILTER = "bedrock-cost-guard-dev-usage-meter"
FIRST_TIMESTAMP_MS = 1_795_425_243_000  # 2026-11-23T09:14:03Z


def record(name: str) -> dict[str, Any]:
    """A readable invocation record by file stem."""
    loaded: dict[str, Any] = json.loads((RECORDS / f"{name}.json").read_text(encoding="utf-8"))
    return loaded


def encode(payload: Mapping[str, Any] | str | bytes) -> dict[str, Any]:
    """``{"awslogs": {"data": base64(gzip(payload))}}``; a mapping is JSON-encoded first."""
    if isinstance(payload, Mapping):
        payload = json.dumps(payload, separators=(",", ":"))
    raw = payload.encode("utf-8") if isinstance(payload, str) else payload
    data = base64.b64encode(gzip.compress(raw, mtime=0)).decode("ascii")
    return {"awslogs": {"data": data}}


def data_message(messages: Iterable[Mapping[str, Any] | str]) -> dict[str, Any]:
    """The decoded body of a subscription delivery: one log event per message (a mapping is
    written as compact JSON, as Bedrock writes its records)."""
    log_events = []
    for index, message in enumerate(messages):
        text = message if isinstance(message, str) else json.dumps(message, separators=(",", ":"))
        log_events.append(
            {
                "id": f"{38_000_000_000_000_000_000_000_000_000_000_000_000_000_000 + index}",
                "timestamp": FIRST_TIMESTAMP_MS + index * 1000,
                "message": text,
            }
        )
    return {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": LOG_GROUP,
        "logStream": LOG_STREAM,
        "subscriptionFilters": [FILTER],
        "logEvents": log_events,
    }


def subscription_event(messages: Iterable[Mapping[str, Any] | str]) -> dict[str, Any]:
    """A Lambda event of the subscription delivering these messages."""
    return encode(data_message(messages))


CONTROL_MESSAGE = {
    "messageType": "CONTROL_MESSAGE",
    "owner": "CloudwatchLogs",
    "logGroup": "",
    "logStream": "",
    "subscriptionFilters": [],
    "logEvents": [
        {
            "id": "",
            "timestamp": FIRST_TIMESTAMP_MS,
            "message": "CWL CONTROL MESSAGE: Checking health of destination Lambda function.",
        }
    ],
}

MIXED = (
    "converse",
    "converse_stream_cache_global",
    "invoke_model_metadata_only",
    "invoke_stream_application_profile",
    "converse_priority_tier",
    "converse_throttled",
)
FOREIGN_LINE = "START RequestId: 6c1f0c0e-4f0a-4d2b-9c43-2f7d4f9b0a11 Version: $LATEST"


def committed_events() -> dict[str, dict[str, Any]]:
    """File name -> the subscription event the file holds."""
    return {
        "cwlogs_invocation_converse.json": subscription_event([record("converse")]),
        "cwlogs_invocation_mixed.json": subscription_event(
            [*(record(name) for name in MIXED), FOREIGN_LINE]
        ),
        "cwlogs_control_message.json": encode(CONTROL_MESSAGE),
    }


def load_event(name: str) -> dict[str, Any]:
    """A committed subscription event by file name."""
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return loaded


def decode(event: Mapping[str, Any]) -> Any:
    """The decoded body of a subscription event (for comparing, not for the code under test)."""
    return json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))


if __name__ == "__main__":
    for file_name, event in committed_events().items():
        (EVENTS / file_name).write_text(json.dumps(event, indent=2) + "\n", encoding="utf-8")
        print(f"wrote tests/events/{file_name}")
