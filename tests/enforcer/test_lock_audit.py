"""The lock audit: drift between IAM, the ledger and the gate's marks; the daily scheduled run
publishes ``LockDrift``."""

from __future__ import annotations

from datetime import UTC, datetime
from types import ModuleType

import pytest

from bedrock_guard.core import keys
from bedrock_guard.core.accounting import period_of
from bedrock_guard.enforcer import drift
from bedrock_guard.enforcer.drift import Drift, DriftKind, find_drift
from tests.conftest import FakeLambdaContext
from tests.enforcer.conftest import (
    ALARM_ARN,
    ALICE,
    APP_ROLE,
    BOB,
    Alarms,
    World,
    has_metric,
    load_event,
)

A = "arn:aws:iam::123456789012:user/a"
B = "arn:aws:iam::123456789012:user/b"
C = "arn:aws:iam::123456789012:role/c"
X = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:x"


def test_find_drift_names_every_kind_of_disagreement() -> None:
    held = {A: {X}, B: {"operator"}}
    marks = {A: {X}, B: set(), C: {X}}

    found = find_drift(held, attached={A, C}, marks=marks)

    assert found == [
        Drift(C, DriftKind.ATTACHED_WITHOUT_HOLDER),
        Drift(C, DriftKind.MARKS_DIFFER, (), (X,)),
        Drift(B, DriftKind.HOLDER_WITHOUT_ATTACHMENT, ("operator",)),
        Drift(B, DriftKind.MARKS_DIFFER, ("operator",), ()),
    ]


def test_find_drift_with_the_policy_missing() -> None:
    assert find_drift({A: {X}}, attached=None, marks={}) == [
        Drift(A, DriftKind.POLICY_MISSING, (X,))
    ]
    assert find_drift({}, attached=None, marks={}) == []


def test_agreement_is_no_drift() -> None:
    assert find_drift({A: {X}}, attached={A}, marks={A: {X}, B: set()}) == []


def _current_month() -> str:
    return period_of(datetime.now(UTC)).month


def test_the_scheduled_run_reports_drift_without_changing_anything(
    enforcer: ModuleType,
    *,
    world: World,
    alarms: Alarms,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    alarms.create(principal=ALICE)
    enforcer.handler(alarms.fire_event(state="ALARM"), lambda_context)
    world.iam.detach_user_policy(UserName="alice", PolicyArn=world.policy_arn)
    world.iam.attach_user_policy(UserName="bob", PolicyArn=world.policy_arn)
    world.ddb.update_item(
        TableName=world.table,
        Key=keys.attribute_values(keys.usage_key(APP_ROLE, _current_month())),
        UpdateExpression="ADD locked_by :h",
        ExpressionAttributeValues={":h": {"SS": ["operator"]}},
    )
    capsys.readouterr()

    summary = enforcer.handler(load_event("eventbridge_scheduled.json"), lambda_context)

    kinds = {(item["principal"], item["kind"]) for item in summary["audit"]}
    assert kinds == {
        (ALICE, "holder_without_attachment"),
        (BOB, "attached_without_holder"),
        (APP_ROLE, "marks_differ"),
    }
    output = capsys.readouterr().out
    assert has_metric(output, "LockDrift")
    assert '"LockDrift":[3.0]' in output.replace(" ", "")
    assert "lock drift: holder_without_attachment" in caplog.text
    assert not world.attached(ALICE) and world.attached(BOB)  # reported, not fixed


def test_the_scheduled_run_publishes_zero_when_all_agree(
    enforcer: ModuleType,
    *,
    world: World,
    alarms: Alarms,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alarms.create(principal=ALICE)
    enforcer.handler(alarms.fire_event(state="ALARM"), lambda_context)
    capsys.readouterr()

    summary = enforcer.handler(load_event("eventbridge_scheduled.json"), lambda_context)

    assert summary == {"audit": []}
    assert '"LockDrift":[0.0]' in capsys.readouterr().out.replace(" ", "")


def test_fix_reconciles_each_kind_and_records_who_asked(
    enforcer: ModuleType, *, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    service = enforcer.SERVICE
    home = enforcer.Home.from_function_arn(lambda_context.invoked_function_arn)
    alarms.create(principal=ALICE)
    enforcer.handler(alarms.fire_event(state="ALARM"), lambda_context)
    world.iam.detach_user_policy(UserName="alice", PolicyArn=world.policy_arn)
    world.iam.attach_user_policy(UserName="bob", PolicyArn=world.policy_arn)
    world.ddb.update_item(
        TableName=world.table,
        Key=keys.attribute_values(keys.usage_key(ALICE, _current_month())),
        UpdateExpression="DELETE locked_by :h",
        ExpressionAttributeValues={":h": {"SS": [ALARM_ARN]}},
    )

    results = [drift.fix(service, d, home, requested_by="ops") for d in drift.audit(service)]

    assert {r.outcome for r in results} == {"fixed"}
    assert drift.audit(service) == []
    assert world.assert_agree(ALICE) == {ALARM_ARN}
    assert world.assert_agree(BOB) == set()
    fixes = [e for e in world.events(ALICE) + world.events(BOB) if e["action"] == "audit_fix"]
    assert len(fixes) == 3 and {e["requested_by"] for e in fixes} == {"ops"}


def test_fix_of_a_missing_policy_says_what_to_do(
    enforcer: ModuleType, *, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    alarms.create(principal=ALICE)
    enforcer.handler(alarms.fire_event(state="ALARM"), lambda_context)
    world.iam.detach_user_policy(UserName="alice", PolicyArn=world.policy_arn)
    world.iam.delete_policy(PolicyArn=world.policy_arn)
    home = enforcer.Home.from_function_arn(lambda_context.invoked_function_arn)

    (found,) = drift.audit(enforcer.SERVICE)
    result = drift.fix(enforcer.SERVICE, found, home, requested_by="ops")

    assert found.kind is DriftKind.POLICY_MISSING
    assert result.outcome == "not_fixable"
    assert "terraform apply" in result.detail
    assert world.holders(ALICE) == {ALARM_ARN}  # the gate still refuses alice
