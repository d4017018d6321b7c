"""Whom the enforcer must never lock, and messages it must drop: nobody locked, nothing raised.

Principals reach the enforcer only through real alarms, so each refusal below is a real alarm
(in moto) whose metric names the principal, fired as CloudWatch would fire it."""

from __future__ import annotations

import copy
import json
from types import ModuleType
from typing import Any

import pytest

from bedrock_guard.core import keys
from tests.conftest import FakeLambdaContext
from tests.enforcer.conftest import (
    ACCOUNT,
    ADMIN_ROLE,
    ALICE,
    APP_ROLE,
    APP_ROLE_WITH_PATH,
    APP_SESSION,
    BOB,
    BREAKGLASS_ROLE,
    OTHER_ACCOUNT,
    OUTSIDER_ROLE,
    TOPIC_ARN,
    Alarms,
    Loader,
    World,
    alarm,
    has_metric,
    load_event,
    sns_event,
)

EVERYONE = (ALICE, BOB, APP_ROLE, ADMIN_ROLE, BREAKGLASS_ROLE, OUTSIDER_ROLE)


def assert_nobody_locked(world: World) -> None:
    assert [arn for arn in EVERYONE if world.attached(arn)] == []
    assert [item for item in world.table_items() if keys.LOCKED_BY in item] == []


def principal_outcomes(summary: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (p["outcome"], p["detail"])
        for record in summary["records"]
        for p in record.get("principals", [])
    ]


# Protected principals ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("protected", "target"),
    [
        pytest.param([ADMIN_ROLE], ADMIN_ROLE, id="exact"),
        pytest.param([APP_ROLE_WITH_PATH], APP_SESSION, id="entry-with-path-vs-session"),
        pytest.param([APP_ROLE], APP_ROLE_WITH_PATH, id="entry-without-path-vs-path"),
        pytest.param([APP_SESSION], APP_ROLE_WITH_PATH, id="entry-is-a-session"),
        pytest.param([f"arn:aws:iam::{ACCOUNT}:role/ops/*"], BREAKGLASS_ROLE, id="path-pattern"),
        pytest.param(
            [f"arn:aws:iam::{ACCOUNT}:role/ops/*"],
            f"arn:aws:sts::{ACCOUNT}:assumed-role/breakglass/oncall",
            id="path-pattern-vs-session",
        ),
        pytest.param(["arn:aws:iam::*:role/break*"], BREAKGLASS_ROLE, id="name-pattern"),
        pytest.param(
            [f"arn:aws:sts::{ACCOUNT}:assumed-role/app-role/*"],
            APP_ROLE_WITH_PATH,
            id="session-pattern-vs-role",
        ),
        pytest.param([f"arn:aws:iam::{ACCOUNT}:user/ALICE"], ALICE, id="case-insensitive"),
        pytest.param(["*"], ALICE, id="everything"),
    ],
)
def test_protected_principals_are_never_locked(
    load_enforcer: Loader,
    *,
    world: World,
    alarms: Alarms,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
    protected: list[str],
    target: str,
) -> None:
    enforcer = load_enforcer(PROTECTED_PRINCIPALS_JSON=json.dumps(protected))
    alarms.create(principal=target)

    summary = enforcer.handler(alarms.fire_event(), lambda_context)

    assert principal_outcomes(summary) == [("refused", "protected")]
    assert_nobody_locked(world)
    assert has_metric(capsys.readouterr().out, "Refused", Reason="protected")


def test_protection_leaves_everyone_else_lockable(
    load_enforcer: Loader, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    protected = [
        ADMIN_ROLE,
        f"arn:aws:iam::{ACCOUNT}:role/ops/*",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/app-role/*",
    ]
    enforcer = load_enforcer(PROTECTED_PRINCIPALS_JSON=json.dumps(protected))
    alarms.create(principal=BOB)

    summary = enforcer.handler(alarms.fire_event(), lambda_context)

    assert principal_outcomes(summary) == [("locked", "")]
    assert world.attached(BOB)


def test_a_refusal_is_recorded_in_the_history(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    alarms.create(principal=ADMIN_ROLE)
    event = alarms.fire_event()
    enforcer.handler(event, lambda_context)
    enforcer.handler(event, lambda_context)  # replay

    events = world.events(ADMIN_ROLE)
    assert [(event["action"], event["refusal"]) for event in events] == [("refused", "protected")]
    assert keys.LOCKED_BY not in (world.alarm_record(ADMIN_ROLE, alarm()["AlarmArn"]) or {})


# Principals that can never be locked ---------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "refusal"),
    [
        pytest.param(f"arn:aws:iam::{ACCOUNT}:root", "root", id="root"),
        pytest.param(f"arn:aws:iam::{ACCOUNT}:group/developers", "group", id="group"),
        pytest.param(f"arn:aws:iam::{OTHER_ACCOUNT}:user/alice", "other_account", id="other-acct"),
        pytest.param(
            f"arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/app-role/s1",
            "other_account",
            id="other-acct-session",
        ),
        pytest.param(
            "arn:aws-cn:iam::123456789012:user/alice", "other_account", id="other-partition"
        ),
        pytest.param(
            f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/support.amazonaws.com/"
            "AWSServiceRoleForSupport",
            "service_linked_role",
            id="service-linked",
        ),
        pytest.param(
            f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSServiceRoleForSupport/s1",
            "service_linked_role",
            id="service-linked-session",
        ),
        pytest.param(
            f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/"
            "AWSReservedSSO_Admin_0123456789abcdef",
            "reserved_role",
            id="sso-reserved",
        ),
        pytest.param(f"arn:aws:sts::{ACCOUNT}:federated-user/carol", "federated_user", id="fed"),
        pytest.param(f"arn:aws:iam::{ACCOUNT}:user/nobody", "not_found", id="nonexistent-user"),
        pytest.param(f"arn:aws:iam::{ACCOUNT}:role/ghost", "not_found", id="nonexistent-role"),
        pytest.param("alice", "malformed", id="bare-name"),
        pytest.param("apikey:abc123", "api_key", id="api-key-caller"),
        pytest.param(f"arn:aws:iam::{ACCOUNT}:policy/admin", "malformed", id="policy-arn"),
        pytest.param("arn:aws:iam::12345:user/alice", "malformed", id="short-account"),
    ],
)
def test_unlockable_principals_are_refused_with_the_reason(
    enforcer: ModuleType,
    *,
    world: World,
    alarms: Alarms,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
    principal: str,
    refusal: str,
) -> None:
    alarms.create(principal=principal)

    summary = enforcer.handler(alarms.fire_event(), lambda_context)

    assert principal_outcomes(summary) == [("refused", refusal)]
    assert_nobody_locked(world)
    assert has_metric(capsys.readouterr().out, "Refused", Reason=refusal)


@pytest.mark.parametrize(
    "principal",
    [
        pytest.param(OUTSIDER_ROLE, id="role"),
        # The session ARN has no path; GetRole reveals /outside/.
        pytest.param(f"arn:aws:sts::{ACCOUNT}:assumed-role/outsider/s1", id="session"),
        pytest.param(ALICE, id="user-at-root-path"),
    ],
)
def test_principals_outside_the_allowed_paths_are_refused(
    load_enforcer: Loader,
    world: World,
    alarms: Alarms,
    lambda_context: FakeLambdaContext,
    principal: str,
) -> None:
    enforcer = load_enforcer(ALLOWED_PATHS_JSON=json.dumps(["/apps/", "/ops/"]))
    alarms.create("outside", principal=principal)
    alarms.create("inside", principal=APP_SESSION)

    summary = enforcer.handler(alarms.fire_event("outside"), lambda_context)

    assert principal_outcomes(summary) == [("refused", "path_not_allowed")]
    assert_nobody_locked(world)

    allowed = enforcer.handler(alarms.fire_event("inside"), lambda_context)
    assert principal_outcomes(allowed) == [("locked", "")]


# Messages to drop ----------------------------------------------------------------------------


def _without(message: dict[str, Any], *names: str) -> dict[str, Any]:
    message = copy.deepcopy(message)
    for name in names:
        message.pop(name)
    return message


def _with(message: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**copy.deepcopy(message), **fields}


BUDGET_TEXT = json.loads(json.dumps(load_event("sns_budget_notification.json")))["Records"][0][
    "Sns"
]["Message"]
S3_EVENT = {
    "Records": [
        {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "reports"}, "object": {"key": "a.csv", "size": 10}},
        }
    ]
}
EVENTBRIDGE_ALARM = {
    "version": "0",
    "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
    "detail-type": "CloudWatch Alarm State Change",
    "source": "aws.cloudwatch",
    "account": ACCOUNT,
    "resources": [alarm()["AlarmArn"]],
    "detail": {"alarmName": "x", "state": {"value": "ALARM"}},
}


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        pytest.param("hello", "not_json", id="not-json"),
        pytest.param("", "not_json", id="empty"),
        pytest.param(BUDGET_TEXT, "not_json", id="budget-plain-text"),
        pytest.param(
            {"budgetName": "bedrock-monthly", "notificationType": "ACTUAL", "threshold": 80},
            "not_alarm",
            id="budget-json",
        ),
        pytest.param(S3_EVENT, "not_alarm", id="s3-event"),
        pytest.param({"Service": "Amazon S3", "Event": "s3:TestEvent"}, "not_alarm", id="s3-test"),
        pytest.param(EVENTBRIDGE_ALARM, "not_alarm", id="eventbridge-shape"),
        pytest.param("[1, 2, 3]", "not_alarm", id="json-list"),
        pytest.param("null", "not_alarm", id="json-null"),
        pytest.param(_with(alarm(), NewStateValue="PANIC"), "unknown_state", id="unknown-state"),
        pytest.param(_with(alarm(), NewStateValue=None), "unknown_state", id="null-state"),
        pytest.param(_without(alarm(), "AlarmArn"), "bad_alarm_arn", id="no-alarm-arn"),
        pytest.param(
            _with(alarm(), AlarmArn=f"arn:aws:sns:us-east-1:{ACCOUNT}:topic"),
            "bad_alarm_arn",
            id="alarm-arn-not-an-alarm",
        ),
        pytest.param(
            _with(
                alarm(),
                AlarmArn=f"arn:aws:cloudwatch:us-east-1:{OTHER_ACCOUNT}:alarm:x",
                AWSAccountId=OTHER_ACCOUNT,
            ),
            "other_account",
            id="alarm-of-another-account",
        ),
        pytest.param(
            _with(alarm(), AWSAccountId=OTHER_ACCOUNT), "not_alarm", id="account-mismatch"
        ),
        pytest.param(_with(alarm(), StateChangeTime="yesterday"), "bad_time", id="bad-time"),
        pytest.param(
            _with(alarm(), StateChangeTime="2026-11-23T10:00:00"), "bad_time", id="naive-time"
        ),
        pytest.param(_without(alarm(), "StateChangeTime"), "bad_time", id="no-time"),
        pytest.param(_with(alarm(), AlarmName=7), "not_alarm", id="alarm-name-not-string"),
        # Well-formed, but CloudWatch has no such alarm: whatever the Trigger says, nobody.
        pytest.param(alarm(), "unknown_alarm", id="forged-alarm"),
        pytest.param(_without(alarm(), "Trigger"), "unknown_alarm", id="forged-no-trigger"),
        pytest.param(alarm(principal=None), "unknown_alarm", id="forged-no-dimension"),
        pytest.param(
            _with(alarm(), AlarmName="another-name"), "alarm_mismatch", id="name-not-in-arn"
        ),
    ],
)
def test_malformed_and_foreign_messages_are_dropped(
    enforcer: ModuleType,
    *,
    world: World,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
    message: dict[str, Any] | str,
    reason: str,
) -> None:
    text = message if isinstance(message, str) else json.dumps(message)

    summary = enforcer.handler(sns_event(text), lambda_context)

    (record,) = summary["records"]
    assert (record["outcome"], record["reason"]) == ("dropped", reason)
    assert_nobody_locked(world)
    assert has_metric(capsys.readouterr().out, "Dropped", Reason=reason)


@pytest.mark.parametrize(
    ("create", "reason"),
    [
        pytest.param({"principal": None}, "no_principal", id="no-dimension-no-tag"),
        pytest.param(
            {"principal": None, "tags": {"team": "platform"}}, "no_principal", id="other-tags"
        ),
    ],
)
def test_real_alarms_that_name_nobody_are_dropped(
    enforcer: ModuleType,
    *,
    world: World,
    alarms: Alarms,
    lambda_context: FakeLambdaContext,
    create: dict[str, Any],
    reason: str,
) -> None:
    alarms.create(**create)

    summary = enforcer.handler(alarms.fire_event(), lambda_context)

    (record,) = summary["records"]
    assert (record["outcome"], record["reason"]) == ("dropped", reason)
    assert_nobody_locked(world)


def test_a_principal_under_another_dimension_name_is_not_read(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    world.cloudwatch.put_metric_alarm(
        AlarmName="by-user",
        Namespace="GenAIRateLimiting",
        MetricName="CallerBudgetUsedPercent",
        Dimensions=[{"Name": "User", "Value": ALICE}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=100.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmActions=[TOPIC_ARN],
    )

    summary = enforcer.handler(alarms.fire_event("by-user"), lambda_context)

    assert summary["records"][0]["reason"] == "no_principal"
    assert_nobody_locked(world)


def test_recorded_budget_notification_is_dropped(
    enforcer: ModuleType, world: World, lambda_context: FakeLambdaContext
) -> None:
    summary = enforcer.handler(load_event("sns_budget_notification.json"), lambda_context)

    assert summary["records"][0]["outcome"] == "dropped"
    assert_nobody_locked(world)


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({}, id="no-records"),
        pytest.param({"Records": "x"}, id="records-not-a-list"),
        pytest.param({"Records": [{"EventSource": "aws:sqs", "body": "{}"}]}, id="sqs-record"),
        pytest.param({"Records": [{"EventSource": "aws:sns"}]}, id="sns-without-body"),
        pytest.param({"Records": ["text"]}, id="record-not-an-object"),
    ],
)
def test_events_that_are_not_sns_are_dropped(
    enforcer: ModuleType, world: World, lambda_context: FakeLambdaContext, event: dict[str, Any]
) -> None:
    summary = enforcer.handler(event, lambda_context)

    assert all(record["outcome"] == "dropped" for record in summary["records"])
    assert_nobody_locked(world)
