"""A CloudWatch Logs subscription filter's delivery to Lambda, played locally.

moto keeps log events but runs no subscription's function without Docker (and
:mod:`.aws_extras` drops its attempt), so the delivery is played, as the demo plays CloudWatch's
and Lambda's part for alarms: :class:`PlayedSubscription` reads the events that reached the
group since its last read (FilterLogEvents), keeps those the filter's pattern matches, and
builds, per log stream, the event Lambda would hand the function: ``{"awslogs": {"data":
base64(gzip(DATA_MESSAGE))}}`` with ``owner``, ``logGroup``, ``logStream``,
``subscriptionFilters`` (the filter's name) and ``logEvents`` (``id``, ``timestamp``,
``message``). No event is delivered twice.

Events are read back over a look-back window behind the newest timestamp seen, and told apart
by event id: a writer may stamp an event a little before a concurrent writer's later one
reaches the group, so reading strictly after the last timestamp could skip it.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

DATA_MESSAGE: Final = "DATA_MESSAGE"
LOOKBACK_MS: Final = 60_000
# { $.field.sub = "value" }: one selector of plain names, one quoted value, nothing else.
_JSON_EQUALITY: Final = re.compile(
    r'\{\s*\$\.(?P<selector>\w+(?:\.\w+)*)\s*=\s*"(?P<value>[^"*]*)"\s*\}'
)


class UnsupportedPattern(ValueError):
    """A filter pattern the played subscription cannot evaluate (it refuses to guess)."""


@dataclass(frozen=True, slots=True)
class SubscriptionFilter:
    """A subscription filter as CloudWatch Logs describes it, and the group's account."""

    name: str
    log_group_name: str
    filter_pattern: str
    destination_arn: str
    owner: str  # the account of the group: DATA_MESSAGE's "owner"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One Lambda event of the subscription: the log events of one stream, and when it was read
    (``time.perf_counter()``)."""

    event: dict[str, Any]
    log_stream: str
    log_events: tuple[Mapping[str, Any], ...]
    read_at: float


def describe_filter(logs: Any, log_group_name: str, destination_arn: str) -> SubscriptionFilter:
    """The group's subscription filter delivering to ``destination_arn`` (DescribeSubscription
    Filters); ``LookupError`` when there is none."""
    found = logs.describe_subscription_filters(logGroupName=log_group_name)["subscriptionFilters"]
    groups = logs.describe_log_groups(logGroupNamePrefix=log_group_name)["logGroups"]
    owner = next(g["arn"].split(":")[4] for g in groups if g["logGroupName"] == log_group_name)
    for item in found:
        if item.get("destinationArn") == destination_arn:
            return SubscriptionFilter(
                name=item["filterName"],
                log_group_name=log_group_name,
                filter_pattern=item.get("filterPattern", ""),
                destination_arn=destination_arn,
                owner=owner,
            )
    raise LookupError(f"no subscription filter of {log_group_name} delivers to {destination_arn}")


def pattern_matches(pattern: str, message: str) -> bool:
    """Whether a log event passes the filter pattern. The empty pattern and JSON equality
    patterns (``{ $.a.b = "value" }``, the one form the modules use) are evaluated; any other
    raises :class:`UnsupportedPattern`, since delivering what CloudWatch would not (or the
    reverse) would make the played delivery lie."""
    if not pattern.strip():
        return True
    match = _JSON_EQUALITY.fullmatch(pattern.strip())
    if match is None:
        raise UnsupportedPattern(f"filter pattern {pattern!r}")
    try:
        value: Any = json.loads(message)
    except ValueError:
        return False  # a JSON pattern never matches a line that is not JSON
    for name in match["selector"].split("."):
        if not isinstance(value, dict) or name not in value:
            return False
        value = value[name]
    return isinstance(value, str) and value == match["value"]


def lambda_event(subscription: SubscriptionFilter, log_stream: str, log_events: list[Any]) -> Any:
    """The event Lambda hands the function for these log events of one stream."""
    message = {
        "messageType": DATA_MESSAGE,
        "owner": subscription.owner,
        "logGroup": subscription.log_group_name,
        "logStream": log_stream,
        "subscriptionFilters": [subscription.name],
        "logEvents": log_events,
    }
    raw = json.dumps(message, separators=(",", ":")).encode("utf-8")
    return {"awslogs": {"data": base64.b64encode(gzip.compress(raw)).decode("ascii")}}


class PlayedSubscription:
    """Reads a group's new events and turns them into the subscription's Lambda events."""

    def __init__(
        self, logs: Any, subscription: SubscriptionFilter, *, lookback_ms: int = LOOKBACK_MS
    ) -> None:
        pattern_matches(subscription.filter_pattern, "{}")  # unsupported patterns fail now
        self.logs = logs
        self.subscription = subscription
        self.lookback_ms = lookback_ms
        self._newest = 0  # the newest event timestamp seen (ms)
        self._seen: dict[tuple[str, str], int] = {}  # (stream, event id) -> timestamp
        self.delivered = 0  # log events handed over
        self.filtered_out = 0  # log events the pattern did not match

    def poll(self) -> list[Delivery]:
        """The events that reached the group since the last poll, one delivery per stream."""
        start = max(0, self._newest - self.lookback_ms)
        by_stream: dict[str, list[dict[str, Any]]] = {}
        for item in self._events_since(start):
            key = (item["logStreamName"], item["eventId"])
            if key in self._seen:
                continue
            self._seen[key] = item["timestamp"]
            self._newest = max(self._newest, item["timestamp"])
            if not pattern_matches(self.subscription.filter_pattern, item["message"]):
                self.filtered_out += 1
                continue
            by_stream.setdefault(item["logStreamName"], []).append(
                {"id": item["eventId"], "timestamp": item["timestamp"], "message": item["message"]}
            )
        self._forget_before(self._newest - self.lookback_ms)
        read_at = time.perf_counter()
        deliveries = []
        for stream, events in by_stream.items():
            self.delivered += len(events)
            deliveries.append(
                Delivery(
                    lambda_event(self.subscription, stream, events), stream, tuple(events), read_at
                )
            )
        return deliveries

    def follow(
        self,
        handle: Callable[[Delivery], None],
        *,
        interval_s: float,
        done: Callable[[], bool],
        timeout_s: float,
    ) -> None:
        """Poll every ``interval_s`` and hand each delivery to ``handle`` (in this thread)
        until ``done()``; ``TimeoutError`` after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            started = time.monotonic()
            for delivery in self.poll():
                handle(delivery)
            if done():
                return
            if started > deadline:
                raise TimeoutError(f"the subscription was still waiting after {timeout_s} s")
            time.sleep(max(0.0, interval_s - (time.monotonic() - started)))

    def _events_since(self, start_ms: int) -> list[dict[str, Any]]:
        pages = self.logs.get_paginator("filter_log_events").paginate(
            logGroupName=self.subscription.log_group_name, startTime=start_ms
        )
        events = [event for page in pages for event in page.get("events", [])]
        # In the order CloudWatch delivers a stream: by time, then as they were ingested.
        return sorted(events, key=lambda e: (e["timestamp"], e.get("ingestionTime", 0)))

    def _forget_before(self, cutoff_ms: int) -> None:
        """Events older than the look-back window are never read again: no need to remember."""
        for key in [k for k, stamp in self._seen.items() if stamp < cutoff_ms]:
            del self._seen[key]
