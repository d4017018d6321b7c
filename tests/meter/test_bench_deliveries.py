"""The meter bench's deliveries are what it says they are: the recorded record formats, every
record readable by the meter except the throttled calls, no request id twice, no direct call
passing for the gate's; and its moto switch leaves moto as it found it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from moto.dynamodb import models as moto_dynamodb_models
from moto.dynamodb.models.table import Table

from bedrock_guard.core.invocation_metadata import gate_call_of
from bedrock_guard.local.lambda_events import DEFAULT_ACCOUNT
from bedrock_guard.meter.records import FAILED_INVOCATION, parse_subscription_event

TOOLS = Path(__file__).resolve().parents[2] / "tools"


@pytest.fixture(scope="module")
def bench_meter() -> Iterator[ModuleType]:
    sys.path.insert(0, str(TOOLS))
    try:
        import bench_meter

        yield bench_meter
    finally:
        sys.path.remove(str(TOOLS))


def test_a_delivery_mixes_direct_gate_and_throttled_calls_the_meter_can_read(
    bench_meter: ModuleType,
) -> None:
    deliveries = bench_meter.Deliveries()
    delivery = deliveries.next(100)
    batch = parse_subscription_event(delivery.event, account_id=DEFAULT_ACCOUNT, region="us-east-1")
    assert delivery.kinds == {"direct": 65, "gate": 30, "throttled": 5}
    assert batch.rejected == {FAILED_INVOCATION: 5}
    gate_role = "assumed-role/bedrock-cost-guard-dev-gate/"
    gate = [r for r in batch.records if gate_call_of(r.request_metadata) is not None]
    direct = [r for r in batch.records if gate_call_of(r.request_metadata) is None]
    assert len(gate) == 30 and all(gate_role in r.identity_arn for r in gate)
    assert len(direct) == 65 and not any(gate_role in r.identity_arn for r in direct)
    assert len({r.model_id for r in direct}) == len(bench_meter.DIRECT_SHAPES)
    assert len({r.identity_arn.split("/")[1] for r in direct}) == bench_meter.PRINCIPALS
    again = parse_subscription_event(
        deliveries.next(100).event, account_id=DEFAULT_ACCOUNT, region="us-east-1"
    )
    ids = [r.request_id for r in (*batch.records, *again.records)]
    assert len(set(ids)) == len(ids) == 190


def test_moto_table_backups_off_only_while_it_lasts(bench_meter: ModuleType) -> None:
    table = object.__new__(Table)
    with bench_meter.moto_table_backups_off():
        assert moto_dynamodb_models.copy.deepcopy(table) is table
        assert moto_dynamodb_models.copy.deepcopy({"a": [1]}) == {"a": [1]}
    assert moto_dynamodb_models.copy.deepcopy is not None
    assert moto_dynamodb_models.copy.__name__ == "copy"
