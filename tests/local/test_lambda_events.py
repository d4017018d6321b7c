"""Locally built API Gateway events have the shape of the recorded ones and carry identity."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from bedrock_guard.local.lambda_events import LocalLambdaContext, api_gateway_event

EVENTS = Path(__file__).resolve().parent.parent / "events"
ROLE_SESSION = "arn:aws:sts::123456789012:assumed-role/analytics-app/batch-1"


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Every key path of a JSON document, e.g. ``requestContext.identity.userArn``."""
    if not isinstance(value, dict):
        return set()
    paths = set()
    for name, item in value.items():
        path = f"{prefix}{name}"
        paths.add(path)
        if name not in {"headers", "multiValueHeaders"}:  # header sets vary by client
            paths |= key_paths(item, f"{path}.")
    return paths


@pytest.mark.parametrize(
    ("sample", "identity"),
    [("apigw_assumed_role", {"user_arn": ROLE_SESSION}), ("apigw_api_key", {"api_key_id": "k9"})],
)
def test_event_has_the_fields_of_a_recorded_event(sample: str, identity: dict[str, str]) -> None:
    recorded = json.loads((EVENTS / f"{sample}.json").read_text())

    built = api_gateway_event({"model": "m"}, **identity)

    assert key_paths(built) == key_paths(recorded)


def test_powertools_reads_the_identity_and_body() -> None:
    event = APIGatewayProxyEvent(
        api_gateway_event({"model": "claude-3-haiku"}, user_arn=ROLE_SESSION, request_id="r-1")
    )

    assert event.request_context.identity.user_arn == ROLE_SESSION
    assert event.request_context.identity.api_key_id is None
    assert event.request_context.request_id == "r-1"
    assert json.loads(event.body or "") == {"model": "claude-3-haiku"}


def test_api_key_events_carry_no_iam_identity() -> None:
    event = APIGatewayProxyEvent(api_gateway_event("{}", api_key_id="k9x8w7v6u5"))

    assert event.request_context.identity.user_arn is None
    assert event.request_context.identity.api_key_id == "k9x8w7v6u5"
    assert event.body == "{}"


def test_context_gives_each_invocation_its_own_request_id() -> None:
    first, second = LocalLambdaContext(), LocalLambdaContext()

    assert first.aws_request_id != second.aws_request_id
    assert first.get_remaining_time_in_millis() == 30_000
