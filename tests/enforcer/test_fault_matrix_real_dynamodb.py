"""The DynamoDB rows of the fault matrix against DynamoDB's real rules (the rules proxy in
front of a moto server), with the faults injected by the proxy itself, and the lock written
while gate-like transactions hold the caller's month item.

The enforcer runs as deployed: its clients take the endpoints from the environment, IAM and
CloudWatch are the moto server's, DynamoDB is the proxy's. Its clients make one attempt per
call here (botocore's own retries would only slow the persistent faults down), so what is
tested is the ledger's own retry and the next delivery.
"""

from __future__ import annotations

import importlib
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from bedrock_guard.core import keys
from bedrock_guard.core.lock_marks import mirrored_months
from bedrock_guard.local.dynamodb_rules import LocalDynamoDB, local_dynamodb
from tests.conftest import FakeLambdaContext
from tests.enforcer.conftest import ALICE, BASE_ENV, Alarms, World, seed_world

# Starts a moto server and the rules proxy on 127.0.0.1.
pytestmark = pytest.mark.server

NAME = "bedrock-guard-caller-alice-monthly"

LOCK_STEPS = ["GetItem", "TransactWriteItems", "UpdateItem"]
RELEASE_STEPS = ["GetItem", "TransactWriteItems"]
KINDS = ["fail_before", "lost_answer", "throttle"]


def _cases(steps: list[str]) -> list[tuple[str, str]]:
    cases = [(step, kind) for step in steps for kind in KINDS]
    return [*cases, ("TransactWriteItems", "transaction_in_progress")]


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalDynamoDB]:
    with local_dynamodb(commit_hold_seconds=0.02) as running:
        yield running


@pytest.fixture
def real_world(stack: LocalDynamoDB, monkeypatch: pytest.MonkeyPatch) -> World:
    stack.reset()
    for name, value in stack.environ().items():
        monkeypatch.setenv(name, value)
    return seed_world(stack.client("iam"), stack.client("dynamodb"), stack.client("cloudwatch"))


@pytest.fixture
def real_enforcer(real_world: World, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    from bedrock_guard.enforcer import lock_service

    monkeypatch.setattr(
        lock_service, "BOTO_CONFIG", Config(retries={"mode": "standard", "max_attempts": 1})
    )
    for name, value in BASE_ENV.items():
        monkeypatch.setenv(name, value)
    sys.modules.pop("bedrock_guard.alarm_enforcer", None)
    module = importlib.import_module("bedrock_guard.alarm_enforcer")
    module.SERVICE.ledger._sleep = lambda _seconds: None
    return module


@pytest.fixture
def real_alarms(real_world: World) -> Alarms:
    return Alarms(real_world.cloudwatch)


def _deliver(enforcer: ModuleType, event: dict[str, Any], context: FakeLambdaContext) -> Any:
    try:
        return enforcer.handler(event, context)
    except enforcer.RetryableRecordsError:
        return None


def _faulty_delivery(
    stack: LocalDynamoDB,
    enforcer: ModuleType,
    event: dict[str, Any],
    context: FakeLambdaContext,
    *,
    step: str,
    kind: str,
) -> None:
    stack.rules.add_fault(kind=kind, operation=step)
    try:
        _deliver(enforcer, event, context)
    finally:
        stack.rules.clear_faults()


@pytest.mark.parametrize(("step", "kind"), _cases(LOCK_STEPS))
def test_lock_converges_through_the_rules(
    stack: LocalDynamoDB,
    real_enforcer: ModuleType,
    *,
    real_world: World,
    real_alarms: Alarms,
    lambda_context: FakeLambdaContext,
    step: str,
    kind: str,
) -> None:
    arn = real_alarms.create(NAME, principal=ALICE)
    event = real_alarms.fire_event(NAME, "ALARM")

    _faulty_delivery(stack, real_enforcer, event, lambda_context, step=step, kind=kind)
    real_world.assert_marks_match(ALICE)
    summary = _deliver(real_enforcer, event, lambda_context)

    assert summary is not None
    assert real_world.assert_agree(ALICE) == {arn}
    assert "lock" in [item["action"] for item in real_world.events(ALICE)]


@pytest.mark.parametrize(("step", "kind"), _cases(LOCK_STEPS))
def test_lock_converges_through_the_rules_when_the_ok_comes_first(
    stack: LocalDynamoDB,
    real_enforcer: ModuleType,
    *,
    real_world: World,
    real_alarms: Alarms,
    lambda_context: FakeLambdaContext,
    step: str,
    kind: str,
) -> None:
    real_alarms.create(NAME, principal=ALICE)
    event = real_alarms.fire_event(NAME, "ALARM")
    _faulty_delivery(stack, real_enforcer, event, lambda_context, step=step, kind=kind)

    assert _deliver(real_enforcer, real_alarms.fire_event(NAME, "OK"), lambda_context)
    assert _deliver(real_enforcer, event, lambda_context)  # the late retry: superseded

    assert real_world.assert_agree(ALICE) == set()


@pytest.mark.parametrize(("step", "kind"), _cases(RELEASE_STEPS))
def test_release_converges_through_the_rules(
    stack: LocalDynamoDB,
    real_enforcer: ModuleType,
    *,
    real_world: World,
    real_alarms: Alarms,
    lambda_context: FakeLambdaContext,
    step: str,
    kind: str,
) -> None:
    real_alarms.create(NAME, principal=ALICE)
    assert _deliver(real_enforcer, real_alarms.fire_event(NAME, "ALARM"), lambda_context)
    event = real_alarms.fire_event(NAME, "OK")

    _faulty_delivery(stack, real_enforcer, event, lambda_context, step=step, kind=kind)
    real_world.assert_marks_match(ALICE)
    summary = _deliver(real_enforcer, event, lambda_context)

    assert summary is not None
    assert real_world.assert_agree(ALICE) == set()
    assert [item["action"] for item in real_world.events(ALICE)] == ["lock", "release"]


def test_locks_land_while_gate_transactions_hold_the_month_item(
    stack: LocalDynamoDB,
    real_enforcer: ModuleType,
    *,
    real_world: World,
    real_alarms: Alarms,
    lambda_context: FakeLambdaContext,
) -> None:
    """The month items are the gate's hot items: while transactions on them commit (held by
    the rules for a while), the enforcer's are cancelled with TransactionConflict and retried."""
    # A busy caller: a gate transaction on its month item every ~0.1 s, each held while it
    # commits (the rules' commit hold, plus the time moto takes).
    stack.rules.service.commit_hold_seconds = 0.02
    real_enforcer.SERVICE.ledger._sleep = time.sleep  # real backoff against real holds
    month = mirrored_months(datetime.now(UTC))[1]
    key = keys.attribute_values(keys.usage_key(ALICE, month))
    gate = stack.client("dynamodb", max_attempts=1)
    stop = threading.Event()
    applied = [0]

    def hammer() -> None:
        while not stop.is_set():
            try:
                gate.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": real_world.table,
                                "Key": key,
                                "UpdateExpression": "ADD month_tokens :one",
                                "ExpressionAttributeValues": {":one": {"N": "1"}},
                            }
                        }
                    ]
                )
                applied[0] += 1
            except ClientError:  # the gate's own conflicts are not under test
                pass
            time.sleep(0.1)

    arn = real_alarms.create(NAME, principal=ALICE)
    thread = threading.Thread(target=hammer, daemon=True)
    thread.start()
    try:
        for state in ("ALARM", "OK", "ALARM"):
            assert _deliver(real_enforcer, real_alarms.fire_event(NAME, state), lambda_context)
    finally:
        stop.set()
        thread.join(timeout=10)

    assert real_world.assert_agree(ALICE) == {arn}
    item = real_world.ddb.get_item(TableName=real_world.table, Key=key, ConsistentRead=True)
    assert int(item["Item"]["month_tokens"]["N"]) == applied[0]  # the gate's counts untouched
