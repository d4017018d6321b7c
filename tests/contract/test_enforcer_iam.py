"""The alarm enforcer's role allows exactly the AWS calls the enforcer makes, and no more."""

from __future__ import annotations

from types import ModuleType

from tests.conftest import FakeLambdaContext
from tests.contract.api_recorder import recording
from tests.contract.hcl_policies import allowed_actions, grants
from tests.enforcer.conftest import (  # fixtures are used by name
    ALARM_NAME,
    ALICE,
    APP_ROLE_WITH_PATH,
    Alarms,
    World,
    alarms,
    enforcer,
    load_enforcer,
    load_event,
    reset_metrics,
    world,
)
from tests.terraform.tfload import REPO, load_module

MODULE = load_module(REPO / "modules" / "alarm-enforcer")
FIXTURES = (alarms, enforcer, load_enforcer, reset_metrics, world)
# Granted for the Lambda platform (logs, traces, the dead-letter queue, its own key), which the
# enforcer's own code never calls.
PLATFORM = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "sqs:SendMessage",
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:DescribeKey",
}


def enforcer_actions(
    enforcer: ModuleType, world: World, alarms: Alarms, context: FakeLambdaContext
) -> set[str]:
    """Every IAM action over lock and release, by dimension and by alarm tag."""
    alarms.create(ALARM_NAME, principal=ALICE)
    alarms.create(
        "tenant-tokens", principal=None, tags={"bedrock-guard:principals": APP_ROLE_WITH_PATH}
    )
    with recording() as actions:
        for name in (ALARM_NAME, "tenant-tokens"):
            enforcer.handler(alarms.fire_event(name, "ALARM"), context)
            enforcer.handler(alarms.fire_event(name, "OK"), context)
        enforcer.handler(load_event("eventbridge_scheduled.json"), context)  # the daily audit
    assert not world.attached(ALICE)
    return actions


def test_the_role_allows_every_call_the_enforcer_makes(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    needed = enforcer_actions(enforcer, world, alarms, lambda_context)
    assert {
        "cloudwatch:DescribeAlarms",
        "cloudwatch:ListTagsForResource",
        "iam:AttachUserPolicy",
        "iam:DetachUserPolicy",
        "iam:AttachRolePolicy",
        "iam:DetachRolePolicy",
        "iam:GetUser",
        "iam:GetRole",
        "iam:GetPolicy",
        "iam:ListEntitiesForPolicy",
        "dynamodb:Scan",
    } <= needed
    allowed = allowed_actions(MODULE, "enforcer")
    assert [action for action in sorted(needed) if not grants(allowed, action)] == []


def test_the_role_allows_nothing_the_enforcer_does_not_call(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    needed = enforcer_actions(enforcer, world, alarms, lambda_context)
    assert allowed_actions(MODULE, "enforcer") - needed - PLATFORM == set()
