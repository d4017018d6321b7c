"""The faults reproduced in the lockout issue, each end to end: IAM and the ledger never
disagree for long, no lock is lost or stuck, and a lock holds at the gate even when IAM
cannot take it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from bedrock_guard import token_gate
from bedrock_guard.enforcer.alarm_messages import DropReason
from bedrock_guard.enforcer.ledger import EventAction
from tests.conftest import FakeLambdaContext
from tests.enforcer.conftest import (
    ALARM_ARN,
    ALICE,
    Alarms,
    Loader,
    World,
    has_metric,
    sns_event,
)
from tests.enforcer.faults import Fault, Faults, faults_during
from tests.enforcer.test_gate_lockout import GateDriver


@pytest.fixture
def gate(world: World, lambda_context: FakeLambdaContext) -> Iterator[GateDriver]:
    token_gate.metrics.clear_metrics()
    driver = GateDriver(lambda_context)
    yield driver
    token_gate.set_runtime(None)
    token_gate.metrics.clear_metrics()


def _deliver(enforcer: ModuleType, event: dict[str, Any], context: FakeLambdaContext) -> Any:
    try:
        return enforcer.handler(event, context)
    except enforcer.RetryableRecordsError:
        return None


def test_a_failed_ledger_write_leaves_no_stuck_invisible_lock(
    enforcer: ModuleType, *, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    """Issue case 1: the ledger write fails (a conflict with the gate's reservation), the alarm
    returns to OK, Lambda's retry of the ALARM is dropped as superseded. Nothing may stay
    attached without a ledger record."""
    enforcer.SERVICE.ledger._sleep = lambda _seconds: None
    ddb = Faults(enforcer.SERVICE.ledger._ddb, "dynamodb")
    alarms.create(principal=ALICE)
    alarm = alarms.fire_event(state="ALARM")
    with faults_during(ddb):
        ddb.inject("TransactWriteItems", Fault.FAIL, times=None)
        assert _deliver(enforcer, alarm, lambda_context) is None

    ok = enforcer.handler(alarms.fire_event(state="OK"), lambda_context)
    retry = enforcer.handler(alarm, lambda_context)

    assert ok["records"][0]["outcome"] == "handled"
    assert retry["records"][0]["reason"] == DropReason.SUPERSEDED
    assert not world.attached(ALICE)
    assert world.assert_agree(ALICE) == set()


def test_a_missing_deny_policy_still_locks_the_caller_at_the_gate(
    enforcer: ModuleType,
    *,
    world: World,
    alarms: Alarms,
    gate: GateDriver,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue case 2: with the deny policy deleted the attach fails; the ledger lock is still
    recorded (the gate answers 403), the message is not retried, and the failure is loud."""
    world.iam.delete_policy(PolicyArn=world.policy_arn)
    alarms.create(principal=ALICE)

    summary = enforcer.handler(alarms.fire_event(state="ALARM"), lambda_context)

    assert summary["records"][0]["outcome"] == "handled"  # no retry, no dead-letter queue
    assert summary["records"][0]["principals"][0]["outcome"] == "locked_ledger_only"
    assert world.holders(ALICE) == {ALARM_ARN}
    assert all(marks == {ALARM_ARN} for marks in world.marks(ALICE).values())
    assert world.alarm_record(ALICE, ALARM_ARN)["iam_attached"] is False  # type: ignore[index]
    output = capsys.readouterr().out
    assert has_metric(output, "LockIncomplete")
    assert "deny policy missing" in caplog.text
    assert "bedrock-guard locks --audit --fix" in caplog.text
    status, body = gate.ask(ALICE)
    assert status == 403, body
    assert gate.bedrock_calls == 0


def test_a_detached_deny_policy_is_put_back_by_the_next_message(
    enforcer: ModuleType, *, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    """Someone detaches the policy by hand: any later message about the principal (here a
    redelivery) reconciles IAM with the ledger."""
    alarms.create(principal=ALICE)
    event = alarms.fire_event(state="ALARM")
    enforcer.handler(event, lambda_context)
    world.iam.detach_user_policy(UserName="alice", PolicyArn=world.policy_arn)

    summary = enforcer.handler(event, lambda_context)

    assert summary["records"][0]["principals"][0]["outcome"] == "replay"
    assert world.assert_agree(ALICE) == {ALARM_ARN}


def test_an_alarms_ok_removes_only_its_own_hold(
    enforcer: ModuleType, *, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    """Issue case 3 (enforcer side): holders are kept apart; an OK removes only its alarm's.
    (The environments give the budget action a policy of its own: tests/terraform.)"""
    from bedrock_guard.enforcer import operator_actions

    alarms.create(principal=ALICE)
    enforcer.handler(alarms.fire_event(state="ALARM"), lambda_context)
    operator_actions.lock(
        enforcer.SERVICE,
        ALICE,
        enforcer.Home.from_function_arn(lambda_context.invoked_function_arn),
        reason="hold",
        requested_by="ops",
    )

    summary = enforcer.handler(alarms.fire_event(state="OK"), lambda_context)

    assert summary["records"][0]["principals"][0]["outcome"] == "still_held"
    assert world.assert_agree(ALICE) == {"operator"}


def test_dry_run_rehearses_lock_and_release(
    load_enforcer: Loader, *, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    """Issue case 4: ALARM then OK under DRY_RUN gives dry_run_lock, then dry_run_release."""
    dry = load_enforcer(DRY_RUN="true")
    alarms.create(principal=ALICE)

    locked = dry.handler(alarms.fire_event(state="ALARM"), lambda_context)
    released = dry.handler(alarms.fire_event(state="OK"), lambda_context)

    assert locked["records"][0]["principals"][0]["outcome"] == "dry_run_lock"
    assert released["records"][0]["principals"][0]["outcome"] == "dry_run_release"
    events = world.events(ALICE)
    assert [(e["action"], e.get("dry_run")) for e in events] == [
        (EventAction.LOCK, True),
        (EventAction.RELEASE, True),
    ]
    assert world.assert_agree(ALICE) == set()


BAD_MESSAGES: list[Any] = [None, 0, 7.5, True, [], ["ALARM"], {}, {"AlarmName": "x"}, "", "null"]


@pytest.mark.parametrize("message", BAD_MESSAGES, ids=[repr(m)[:20] for m in BAD_MESSAGES])
def test_a_message_of_any_type_is_dropped_not_retried(
    enforcer: ModuleType, *, world: World, lambda_context: FakeLambdaContext, message: Any
) -> None:
    """Issue case 5: a ``Message`` of null, a number, a list or an object is permanent bad
    input: dropped (not raised, so never retried into the dead-letter queue)."""
    event = sns_event("placeholder")
    event["Records"][0]["Sns"]["Message"] = message

    summary = enforcer.handler(event, lambda_context)

    (record,) = summary["records"]
    assert record["outcome"] == "dropped"
    assert record["reason"] in {DropReason.NOT_JSON, DropReason.NOT_ALARM}


def _shapes() -> list[Any]:
    good = sns_event("{}")["Records"][0]
    no_sns = {k: v for k, v in good.items() if k != "Sns"}
    return [
        None,
        42,
        "record",
        [],
        {},
        no_sns,
        {**good, "Sns": None},
        {**good, "Sns": []},
        {**good, "Sns": "text"},
        {**good, "EventSource": None},
        {**good, "Sns": {**good["Sns"], "MessageId": {"x": 1}}},
        {**good, "Sns": {**good["Sns"], "TopicArn": 5}},
        {**good, "Sns": {k: v for k, v in good["Sns"].items() if k != "Message"}},
    ]


@pytest.mark.parametrize("record", _shapes(), ids=lambda r: json.dumps(r, default=str)[:30])
def test_a_record_of_any_shape_is_dropped_not_retried(
    enforcer: ModuleType, *, world: World, lambda_context: FakeLambdaContext, record: Any
) -> None:
    summary = enforcer.handler({"Records": [record]}, lambda_context)

    assert [r["outcome"] for r in summary["records"]] == ["dropped"]


@pytest.mark.parametrize("event", [None, [], "x", 3, {"Records": None}, {"Records": {}}])
def test_an_event_of_any_shape_is_dropped(
    enforcer: ModuleType, *, world: World, lambda_context: FakeLambdaContext, event: Any
) -> None:
    summary = enforcer.handler(event, lambda_context)

    assert summary["records"] == []


def test_conflicts_with_the_gate_are_absorbed_within_the_delivery(
    enforcer: ModuleType, *, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    """The month items are the gate's hot items: a few cancelled transactions (conflicts,
    throttles, a transaction still in progress) are retried in place, with backoff."""
    waits: list[float] = []
    enforcer.SERVICE.ledger._sleep = waits.append
    ddb = Faults(enforcer.SERVICE.ledger._ddb, "dynamodb")
    in_progress = {
        "Error": {
            "Code": "TransactionInProgressException",
            "Message": "The transaction with the given request token is already in progress.",
        },
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
    alarms.create(principal=ALICE)
    with faults_during(ddb):
        ddb.inject("TransactWriteItems", Fault.FAIL, times=2)
        enforcer.handler(alarms.fire_event(state="ALARM"), lambda_context)
        ddb.inject("TransactWriteItems", Fault.THROTTLE, times=1)
        enforcer.handler(alarms.fire_event(state="OK"), lambda_context)
        ddb.inject("TransactWriteItems", Fault.FAIL, times=1, body=in_progress)
        summary = enforcer.handler(alarms.fire_event(state="ALARM"), lambda_context)

    assert summary["records"][0]["principals"][0]["outcome"] == "locked"
    assert len(waits) == 4 and all(0 <= wait <= 1.0 for wait in waits)
    assert world.assert_agree(ALICE) == {ALARM_ARN}
    assert [e["action"] for e in world.events(ALICE)] == ["lock", "release", "lock"]
