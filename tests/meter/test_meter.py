"""The usage meter end to end on moto: a runaway direct caller is counted and locked through the
enforcer's lock path within one invocation, replays count once, the gate's own calls are never
counted twice, and a window's lock goes when the window resets."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bedrock_guard import usage_meter
from bedrock_guard.core import keys
from bedrock_guard.enforcer.window_locks import release_ended_windows
from bedrock_guard.local.lambda_events import LocalLambdaContext
from bedrock_guard.meter import metrics as meter_metrics
from tests.meter.events import record, subscription_event
from tests.meter.moto_world import (
    ACCOUNT,
    APP,
    GATE_ROLE,
    NOTEBOOK,
    TABLE,
    World,
    day_tokens,
    deliver,
    direct,
)


def test_a_runaway_direct_caller_is_counted_and_locked_in_one_invocation(world: World) -> None:
    summary = deliver(direct("r1", 600, minute=1), direct("r2", 600, minute=2))
    assert summary["verdicts"] == {"counted": 2}
    # The summary names the record that took the caller over (the lock latency's start).
    assert [(lock["outcome"], lock["request_id"]) for lock in summary["locked"]] == [
        ("locked", "r2")
    ]
    assert day_tokens(world, NOTEBOOK) == 1200
    # Locked through the enforcer's path: ledger, the gate's mirror, IAM.
    assert world.holders(NOTEBOOK) == {"window:daily_tokens:2026-11-23"}
    assert world.attached(NOTEBOOK)
    mirror = world.ddb.get_item(
        TableName=TABLE, Key=keys.attribute_values(keys.usage_key(NOTEBOOK, "2026-11"))
    )["Item"]
    assert mirror[keys.LOCKED_BY]["SS"] == ["window:daily_tokens:2026-11-23"]
    actions = {item["action"]["S"] for item in world.event_items(NOTEBOOK)}
    assert "window_lock" in actions


def emf_values(output: str) -> dict[str, float]:
    """Metric name -> value of every EMF record in captured stdout."""
    values = {}
    for line in output.splitlines():
        try:
            blob = json.loads(line)
        except ValueError:
            continue
        if isinstance(blob, dict) and "_aws" in blob:
            for directive in blob["_aws"]["CloudWatchMetrics"]:
                for metric in directive["Metrics"]:
                    value = blob[metric["Name"]]
                    values[metric["Name"]] = sum(value) if isinstance(value, list) else value
    return values


def test_the_delivery_publishes_direct_dollars_and_the_lock_it_placed(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    deliver(direct("r1", 600, minute=1), direct("r2", 600, minute=2))
    values = emf_values(capsys.readouterr().out)
    item = world.ddb.get_item(
        TableName=TABLE, Key=keys.attribute_values(keys.usage_key(NOTEBOOK, "2026-11"))
    )["Item"]
    assert values[meter_metrics.DIRECT_TOKENS] == 1200
    assert values[meter_metrics.DIRECT_COST_USD] == float(item["d23_usd"]["N"]) > 0
    assert values[meter_metrics.WINDOW_LOCKS] == 1  # the second record crossed the limit


def test_a_caller_under_its_limit_is_not_locked(world: World) -> None:
    deliver(direct("r1", 400))
    assert day_tokens(world, NOTEBOOK) == 400
    assert world.holders(NOTEBOOK) == set() and not world.attached(NOTEBOOK)


def test_a_replayed_delivery_counts_once(world: World) -> None:
    event = subscription_event([direct("r1", 300)])
    first = usage_meter.handler(event, LocalLambdaContext())
    again = usage_meter.handler(event, LocalLambdaContext())
    assert first["verdicts"] == {"counted": 1}
    assert again["verdicts"] == {"duplicate": 1}
    assert day_tokens(world, NOTEBOOK) == 300


def test_the_gates_own_calls_are_not_counted_twice(world: World) -> None:
    gate_record = record("converse")  # the gate's role, naming a hold the gate settled
    summary = deliver(gate_record)
    assert summary["verdicts"] == {"gate_settled": 1}
    assert day_tokens(world, APP) == 0 and day_tokens(world, GATE_ROLE) == 0


def test_gate_metadata_from_anyone_else_is_direct_usage(world: World) -> None:
    forged = direct("r9", 500)
    forged["requestMetadata"] = copy.deepcopy(record("converse")["requestMetadata"])
    summary = deliver(forged)
    assert summary["verdicts"] == {"counted": 1}
    assert day_tokens(world, NOTEBOOK) == 500


def test_the_window_lock_goes_when_the_day_resets_and_other_holds_stay(world: World) -> None:
    deliver(direct("r1", 1500))
    assert world.attached(NOTEBOOK)
    service = world.meter.locks
    # Not yet: the day has not ended.
    assert release_ended_windows(service, now=datetime(2026, 11, 23, 23, 59, tzinfo=UTC)) == []
    released = release_ended_windows(service, now=datetime(2026, 11, 24, 0, 5, tzinfo=UTC))
    assert [r.outcome for r in released] == ["released"]
    assert world.holders(NOTEBOOK) == set() and not world.attached(NOTEBOOK)


def test_bad_records_are_counted_by_reason_and_nothing_is_charged(world: World) -> None:
    summary = deliver(direct("ok", 100), {"schemaType": "Other"})
    summary2 = usage_meter.handler({"awslogs": {"data": "not base64"}}, LocalLambdaContext())
    assert summary["rejected"] and summary["verdicts"] == {"counted": 1}
    assert summary2["records"] == 0 and summary2["rejected"]
    assert day_tokens(world, NOTEBOOK) == 100


def test_an_unknown_model_is_counted_in_tokens_and_flagged(world: World) -> None:
    unknown = direct("u1", 200)
    unknown["modelId"] = "acme.mystery-v1:0"
    summary = deliver(unknown)
    assert summary["unpriced"] == 1
    assert day_tokens(world, NOTEBOOK) == 200
    item = world.ddb.get_item(
        TableName=TABLE, Key=keys.attribute_values(keys.usage_key(NOTEBOOK, "2026-11"))
    )["Item"]
    assert Decimal(item["d23_usd"]["N"]) == 0  # no price: never a made-up one


def test_the_root_is_counted_and_never_locked(world: World) -> None:
    root = f"arn:aws:iam::{ACCOUNT}:root"
    record_of_root = direct("root-1", 1500)
    record_of_root["identity"] = {"arn": root}
    summary = deliver(record_of_root)
    assert summary["verdicts"] == {"counted": 1}
    assert day_tokens(world, root) == 1500  # over the default tier's 1,000
    assert [lock["outcome"] for lock in summary["locked"]] == ["refused"]
    assert world.holders(root) == set()
