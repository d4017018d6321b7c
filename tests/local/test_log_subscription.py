"""The played CloudWatch Logs subscription: the events new since the last read, as the Lambda
event a subscription delivers, read by the meter's parser; nothing delivered twice."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from bedrock_guard.local.log_subscription import (
    PlayedSubscription,
    SubscriptionFilter,
    UnsupportedPattern,
    describe_filter,
    pattern_matches,
)
from bedrock_guard.local.moto_server import MotoServer
from bedrock_guard.meter.records import parse_subscription_event
from tests.meter.events import FOREIGN_LINE, decode, record

pytestmark = pytest.mark.server

ACCOUNT = "123456789012"
GROUP = "/aws/bedrock/subscription-test/model-invocations"
STREAM = "aws/bedrock/modelinvocations"
PATTERN = '{ $.schemaType = "ModelInvocationLog" }'


@pytest.fixture(scope="module")
def server() -> Iterator[MotoServer]:
    with MotoServer() as moto:
        yield moto


@pytest.fixture
def logs(server: MotoServer) -> Any:
    server.reset()
    client = server.client("logs")
    client.create_log_group(logGroupName=GROUP)
    client.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)
    return client


def meter_function(server: MotoServer) -> str:
    """A function for the filter to name (moto checks it exists; it never runs it)."""
    role = server.client("iam").create_role(RoleName="meter", AssumeRolePolicyDocument="{}")
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("meter.py", "def handler(event, context):\n    raise SystemExit(1)\n")
    created = server.client("lambda").create_function(
        FunctionName="bedrock-guard-dev-meter",
        Runtime="python3.13",
        Role=role["Role"]["Arn"],
        Handler="meter.handler",
        Code={"ZipFile": package.getvalue()},
    )
    return str(created["FunctionArn"])


def subscription(destination: str = "arn:aws:lambda:us-east-1:123456789012:function:m") -> Any:
    return SubscriptionFilter("bedrock-guard-dev-meter", GROUP, PATTERN, destination, ACCOUNT)


def put(logs: Any, *messages: str | dict[str, Any], stream: str = STREAM, at: int = 0) -> None:
    stamp = at or int(time.time() * 1000)
    events = [
        {"timestamp": stamp, "message": m if isinstance(m, str) else json.dumps(m)}
        for m in messages
    ]
    logs.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)


def invocation(request_id: str) -> dict[str, Any]:
    body = record("invoke_model_metadata_only")
    body["requestId"] = request_id
    return body


def request_ids(deliveries: list[Any]) -> list[str]:
    batch_ids = []
    for delivery in deliveries:
        batch = parse_subscription_event(delivery.event, account_id=ACCOUNT, region="us-east-1")
        assert not batch.rejected
        batch_ids += [r.request_id for r in batch.records]
    return batch_ids


def test_a_delivery_is_the_event_a_subscription_hands_lambda(server: MotoServer, logs: Any) -> None:
    destination = meter_function(server)
    logs.put_subscription_filter(
        logGroupName=GROUP,
        filterName="bedrock-guard-dev-meter",
        filterPattern=PATTERN,
        destinationArn=destination,
    )
    spec = describe_filter(logs, GROUP, destination)
    assert spec == subscription(destination)
    started = time.monotonic()
    put(logs, invocation("r-1"), invocation("r-2"))  # moto's own delivery is dropped, not run
    assert time.monotonic() - started < 5
    (delivery,) = PlayedSubscription(logs, spec).poll()
    body = decode(delivery.event)
    assert set(delivery.event) == {"awslogs"} and set(delivery.event["awslogs"]) == {"data"}
    assert body["messageType"] == "DATA_MESSAGE"
    assert (body["owner"], body["logGroup"], body["logStream"]) == (ACCOUNT, GROUP, STREAM)
    assert body["subscriptionFilters"] == ["bedrock-guard-dev-meter"]
    assert [set(e) for e in body["logEvents"]] == [{"id", "timestamp", "message"}] * 2
    assert request_ids([delivery]) == ["r-1", "r-2"]


def test_nothing_is_delivered_twice_and_every_new_event_is(logs: Any) -> None:
    played = PlayedSubscription(logs, subscription())
    assert played.poll() == []
    put(logs, invocation("r-1"))
    first = played.poll()
    assert request_ids(first) == ["r-1"]
    assert played.poll() == []
    put(logs, invocation("r-2"), invocation("r-3"))
    put(logs, invocation("r-4"))
    assert request_ids(played.poll()) == ["r-2", "r-3", "r-4"]
    assert played.poll() == []
    assert played.delivered == 4


def test_an_event_stamped_before_the_last_one_read_is_still_delivered_once(logs: Any) -> None:
    played = PlayedSubscription(logs, subscription())
    now = int(time.time() * 1000)
    put(logs, invocation("late-writer-second"), at=now)
    assert request_ids(played.poll()) == ["late-writer-second"]
    # A concurrent writer stamped its record earlier but reached the group later.
    put(logs, invocation("early-stamp"), at=now - 500)
    assert request_ids(played.poll()) == ["early-stamp"]
    assert played.poll() == []


def test_each_stream_is_its_own_delivery(logs: Any) -> None:
    logs.create_log_stream(logGroupName=GROUP, logStreamName="other")
    played = PlayedSubscription(logs, subscription())
    put(logs, invocation("a-1"))
    put(logs, invocation("b-1"), stream="other")
    deliveries = played.poll()
    assert sorted((d.log_stream, tuple(request_ids([d]))) for d in deliveries) == [
        (STREAM, ("a-1",)),
        ("other", ("b-1",)),
    ]


def test_events_the_pattern_does_not_match_are_not_delivered(logs: Any) -> None:
    played = PlayedSubscription(logs, subscription())
    put(logs, FOREIGN_LINE, {"schemaType": "SomethingElse"}, invocation("r-1"))
    (delivery,) = played.poll()
    assert [json.loads(e["message"])["requestId"] for e in delivery.log_events] == ["r-1"]
    assert (played.delivered, played.filtered_out) == (1, 2)


def test_follow_hands_over_deliveries_until_done(logs: Any) -> None:
    played = PlayedSubscription(logs, subscription())
    put(logs, invocation("r-1"))
    seen: list[str] = []
    played.follow(
        lambda d: seen.extend(request_ids([d])),
        interval_s=0.01,
        done=lambda: bool(seen),
        timeout_s=5,
    )
    assert seen == ["r-1"]
    with pytest.raises(TimeoutError):
        played.follow(lambda d: None, interval_s=0.01, done=lambda: False, timeout_s=0.05)


@pytest.mark.parametrize(
    ("pattern", "message", "matches"),
    [
        ("", "anything at all", True),
        (PATTERN, json.dumps({"schemaType": "ModelInvocationLog"}), True),
        (PATTERN, json.dumps({"schemaType": "ModelInvocationLogs"}), False),
        (PATTERN, json.dumps({"schema": "ModelInvocationLog"}), False),
        (PATTERN, FOREIGN_LINE, False),
        (PATTERN, "[1, 2]", False),
        (
            '{ $.identity.arn = "arn:aws:iam::1:user/a" }',
            '{"identity": {"arn": "arn:aws:iam::1:user/a"}}',
            True,
        ),
        (
            '{ $.identity.arn = "arn:aws:iam::1:user/a" }',
            '{"identity": "arn:aws:iam::1:user/a"}',
            False,
        ),
    ],
)
def test_json_equality_patterns_match_as_cloudwatch_does(
    pattern: str, message: str, matches: bool
) -> None:
    assert pattern_matches(pattern, message) is matches


@pytest.mark.parametrize(
    "pattern",
    ["ERROR", '"Converse"', "{ $.tokens > 5 }", '{ $.a = "x" && $.b = "y" }', '{ $.a[0] = "x" }'],
)
def test_patterns_it_cannot_evaluate_are_refused_not_guessed(pattern: str) -> None:
    with pytest.raises(UnsupportedPattern):
        pattern_matches(pattern, "{}")
    spec = SubscriptionFilter("f", GROUP, pattern, "arn:aws:lambda:us-east-1:1:function:f", "1")
    with pytest.raises(UnsupportedPattern):
        PlayedSubscription(object(), spec)
