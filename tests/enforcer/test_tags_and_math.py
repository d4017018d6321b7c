"""Principals named by alarm tags (metrics without a principal, composite alarms) and by
metric-math alarms: always read from the alarm CloudWatch describes, never from the message."""

from __future__ import annotations

from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from botocore.stub import ANY, Stubber

from tests.conftest import FakeLambdaContext
from tests.enforcer.conftest import (
    ACCOUNT,
    ADMIN_ROLE,
    ALICE,
    APP_ROLE,
    APP_SESSION,
    BOB,
    TOPIC_ARN,
    Alarms,
    Loader,
    World,
    load_event,
    notification,
    recorded_event,
    sns_event,
)

TAGGED_ALARM = "bedrock-guard-tenant-acme-input-tokens"
MATH_ALARM = "bedrock-guard-app-role-tokens"
TAG_KEY = "bedrock-guard:principals"


def create_tagged_alarm(
    world: World, tags: dict[str, str], name: str = TAGGED_ALARM, *, principal: str | None = None
) -> str:
    """A Bedrock-metric alarm (no principal dimension unless given) carrying ``tags``."""
    dimensions = [
        {
            "Name": "ModelId",
            "Value": f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/a1b2c3",
        }
    ]
    if principal:
        dimensions.append({"Name": "Principal", "Value": principal})
    world.cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/Bedrock",
        MetricName="InputTokenCount",
        Dimensions=dimensions,
        Statistic="Sum",
        Period=86400,
        EvaluationPeriods=1,
        Threshold=2_000_000,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[TOPIC_ARN],
        OKActions=[TOPIC_ARN],
        Tags=[{"Key": key, "Value": value} for key, value in tags.items()],
    )
    alarms = world.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return str(alarms[0]["AlarmArn"])


def outcomes(summary: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (p["principal"], p["outcome"])
        for record in summary["records"]
        for p in record.get("principals", [])
    ]


def test_recorded_tagged_event_locks_the_principals_of_the_alarm_tag(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    arn = create_tagged_alarm(world, {TAG_KEY: f"{ALICE}, {APP_SESSION}"})
    fired = alarms.fire(TAGGED_ALARM, "ALARM")

    summary = enforcer.handler(
        recorded_event("sns_alarm_bedrock_tagged.json", fired), lambda_context
    )

    assert outcomes(summary) == [(ALICE, "locked"), (APP_ROLE, "locked")]
    assert world.attached(ALICE)
    assert world.attached(APP_ROLE)
    assert world.holders(ALICE) == world.holders(APP_ROLE) == {arn}

    released = enforcer.handler(alarms.fire_event(TAGGED_ALARM, "OK"), lambda_context)
    assert outcomes(released) == [(ALICE, "released"), (APP_ROLE, "released")]
    assert not world.attached(ALICE)
    assert not world.attached(APP_ROLE)


def test_alarm_without_the_tag_names_nobody(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    create_tagged_alarm(world, {"team": "platform"})

    summary = enforcer.handler(alarms.fire_event(TAGGED_ALARM), lambda_context)

    assert summary["records"][0]["reason"] == "no_principal"
    assert not world.attached(ALICE)


def test_tag_key_comes_from_the_environment(
    load_enforcer: Loader, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    create_tagged_alarm(world, {TAG_KEY: ALICE, "lockout": BOB})
    enforcer = load_enforcer(PRINCIPAL_TAG_KEY="lockout")

    summary = enforcer.handler(alarms.fire_event(TAGGED_ALARM), lambda_context)

    assert outcomes(summary) == [(BOB, "locked")]
    assert not world.attached(ALICE)


def test_each_tagged_principal_is_judged_on_its_own(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    create_tagged_alarm(world, {TAG_KEY: f"{ADMIN_ROLE},{BOB},,"})

    summary = enforcer.handler(alarms.fire_event(TAGGED_ALARM), lambda_context)

    assert outcomes(summary) == [(ADMIN_ROLE, "refused"), (BOB, "locked")]
    assert not world.attached(ADMIN_ROLE)
    assert world.attached(BOB)


def test_a_principal_dimension_wins_over_the_tag(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    create_tagged_alarm(world, {TAG_KEY: BOB}, principal=ALICE)

    summary = enforcer.handler(alarms.fire_event(TAGGED_ALARM), lambda_context)

    assert outcomes(summary) == [(ALICE, "locked")]
    assert not world.attached(BOB)


def test_a_tag_added_to_a_forged_message_is_not_read_from_the_message(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    """Tags live on the alarm; a message cannot bring its own (or point at another alarm's)."""
    create_tagged_alarm(world, {TAG_KEY: ALICE})
    message = alarms.fire(TAGGED_ALARM)
    message["Tags"] = [{"Key": TAG_KEY, "Value": BOB}]

    summary = enforcer.handler(sns_event(message), lambda_context)

    assert outcomes(summary) == [(ALICE, "locked")]
    assert not world.attached(BOB)


def test_recorded_metric_math_event_locks_the_role_once(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    # Its two metrics name app-role and a session of app-role: one principal.
    alarms.create_math(MATH_ALARM, [APP_ROLE, APP_SESSION])
    fired = alarms.fire(MATH_ALARM, "ALARM")

    summary = enforcer.handler(recorded_event("sns_alarm_metric_math.json", fired), lambda_context)

    assert outcomes(summary) == [(APP_ROLE, "locked")]
    assert world.attached(APP_ROLE)
    assert [event["action"] for event in world.events(APP_ROLE)] == ["lock"]


def test_metric_math_over_two_callers_locks_both_and_releases_both(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    alarms.create_math(
        MATH_ALARM, [ALICE, BOB], other_dimensions=[{"Name": "Model", "Value": "claude-3-haiku"}]
    )

    summary = enforcer.handler(alarms.fire_event(MATH_ALARM, "ALARM"), lambda_context)
    assert outcomes(summary) == [(ALICE, "locked"), (BOB, "locked")]

    released = enforcer.handler(alarms.fire_event(MATH_ALARM, "OK"), lambda_context)
    assert outcomes(released) == [(ALICE, "released"), (BOB, "released")]
    assert not world.attached(ALICE)
    assert not world.attached(BOB)


def test_metric_math_principals_come_from_the_alarm_not_the_trigger(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    alarms.create_math(MATH_ALARM, [APP_ROLE])
    message = alarms.fire(MATH_ALARM, "ALARM")
    message["Trigger"]["Metrics"][1]["MetricStat"]["Metric"]["Dimensions"] = [
        {"name": "Principal", "value": BOB}
    ]

    summary = enforcer.handler(sns_event(message), lambda_context)

    assert outcomes(summary) == [(APP_ROLE, "locked")]
    assert not world.attached(BOB)


def test_tag_of_an_alarm_in_another_account_is_never_read(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    create_tagged_alarm(world, {TAG_KEY: ALICE})
    message = alarms.fire(TAGGED_ALARM)
    message["AlarmArn"] = f"arn:aws:cloudwatch:us-east-1:210987654321:alarm:{TAGGED_ALARM}"
    message["AWSAccountId"] = "210987654321"
    calls = []
    enforcer.SERVICE.tags.principals = lambda *args: calls.append(args) or (ALICE,)
    enforcer.SERVICE.alarms.describe = lambda *args: calls.append(args) or ()

    summary = enforcer.handler(sns_event(message), lambda_context)

    assert summary["records"][0]["reason"] == "other_account"
    assert calls == []
    assert not world.attached(ALICE)


# Composite alarms: moto 5.2.5 has no PutCompositeAlarm, so CloudWatch is stubbed ---------------

COMPOSITE = "bedrock-guard-tenant-acme-any"
COMPOSITE_ARN = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{COMPOSITE}"


def composite(state: str, changed: datetime, updated: datetime | None = None) -> dict[str, Any]:
    """A composite alarm as DescribeAlarms returns it (the API reference's CompositeAlarm)."""
    return {
        "AlarmName": COMPOSITE,
        "AlarmArn": COMPOSITE_ARN,
        "AlarmDescription": "acme over any of its budgets",
        "AlarmRule": f'ALARM("{TAGGED_ALARM}") OR ALARM("{MATH_ALARM}")',
        "AlarmConfigurationUpdatedTimestamp": datetime(2026, 11, 1, 9, tzinfo=UTC),
        "ActionsEnabled": True,
        "AlarmActions": [TOPIC_ARN],
        "OKActions": [TOPIC_ARN],
        "InsufficientDataActions": [],
        "StateValue": state,
        "StateReason": f"arn:...:{TAGGED_ALARM} transitioned to {state}",
        "StateUpdatedTimestamp": updated or changed,
        "StateTransitionedTimestamp": changed,
    }


def stub_composite(stubber: Stubber, described: dict[str, Any], principals: str) -> None:
    stubber.add_response(
        "describe_alarms",
        {"CompositeAlarms": [described], "MetricAlarms": []},
        {"AlarmNames": [COMPOSITE], "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]},
    )
    stubber.add_response(
        "list_tags_for_resource",
        {"Tags": [{"Key": TAG_KEY, "Value": principals}]},
        {"ResourceARN": ANY},
    )


def test_composite_alarm_locks_and_releases_the_principals_of_its_tag(
    enforcer: ModuleType, world: World, lambda_context: FakeLambdaContext
) -> None:
    locked_at = datetime(2026, 11, 23, 10, 0, 0, 123000, tzinfo=UTC)
    cleared_at = datetime(2026, 11, 23, 11, 0, 0, 456000, tzinfo=UTC)
    alarm_now = composite("ALARM", locked_at)
    ok_now = composite("OK", cleared_at)

    with Stubber(enforcer.SERVICE.alarms._cloudwatch) as stubber:
        stub_composite(stubber, alarm_now, f"{BOB},{APP_SESSION}")
        locked = enforcer.handler(
            sns_event(notification(alarm_now, old_state="OK")), lambda_context
        )
        stub_composite(stubber, ok_now, f"{BOB},{APP_SESSION}")
        released = enforcer.handler(
            sns_event(notification(ok_now, old_state="ALARM")), lambda_context
        )
        stubber.assert_no_pending_responses()

    assert outcomes(locked) == [(BOB, "locked"), (APP_ROLE, "locked")]
    assert outcomes(released) == [(BOB, "released"), (APP_ROLE, "released")]
    assert not world.attached(BOB)
    assert [event["action"] for event in world.events(BOB)] == ["lock", "release"]


def test_a_composite_update_that_keeps_its_state_does_not_supersede_the_message(
    enforcer: ModuleType, world: World, lambda_context: FakeLambdaContext
) -> None:
    """StateUpdatedTimestamp moves when a child alarm changes but the composite stays in ALARM;
    only StateTransitionedTimestamp says whether the state changed since the message."""
    changed = datetime(2026, 11, 23, 10, 0, 0, 123000, tzinfo=UTC)
    later_update = datetime(2026, 11, 23, 10, 5, 0, tzinfo=UTC)
    described = composite("ALARM", changed, updated=later_update)
    message = notification(composite("ALARM", changed), old_state="OK")

    with Stubber(enforcer.SERVICE.alarms._cloudwatch) as stubber:
        stub_composite(stubber, described, BOB)
        summary = enforcer.handler(sns_event(message), lambda_context)

    assert outcomes(summary) == [(BOB, "locked")]
    assert world.attached(BOB)


def test_the_recorded_tagged_event_as_is_names_an_alarm_that_does_not_exist(
    enforcer: ModuleType, world: World, lambda_context: FakeLambdaContext
) -> None:
    summary = enforcer.handler(load_event("sns_alarm_bedrock_tagged.json"), lambda_context)

    assert summary["records"][0]["reason"] == "unknown_alarm"
    assert not world.attached(ALICE)
