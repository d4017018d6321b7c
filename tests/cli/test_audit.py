"""``bedrock-guard locks --audit [--fix]``: drift between IAM and the ledger, and its repair."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bedrock_guard.cli.permissions import COMMAND_ACTIONS
from bedrock_guard.core import keys
from bedrock_guard.core.accounting import period_of
from tests.cli.conftest import (
    ALARM_ARN,
    ALICE,
    APP_ROLE,
    BASE,
    BOB,
    MOTO_IDENTITY,
    POLICY_ARN,
    World,
)
from tests.contract.api_recorder import recording

POLICY = ("--deny-policy-arn", POLICY_ARN)


def _drift(world: World) -> None:
    """bob's policy detached by hand, alice's attached by hand, app-role's marks erased."""
    world.iam.detach_user_policy(UserName="bob", PolicyArn=POLICY_ARN)
    world.iam.attach_user_policy(UserName="alice", PolicyArn=POLICY_ARN)
    world.ddb.update_item(
        TableName=world.table,
        Key=keys.attribute_values(keys.usage_key(APP_ROLE, period_of(datetime.now(UTC)).month)),
        UpdateExpression="REMOVE locked_by",
    )


def test_audit_finds_nothing_when_iam_and_the_ledger_agree(world: World, cli: Any) -> None:
    run = cli(*BASE, "--json", "locks", "--audit", *POLICY)

    assert run.code == 0, run.err
    assert run.json()["drift"] == []
    assert "agree" in cli(*BASE, "locks", "--audit", *POLICY).out


def test_audit_lists_each_drift_with_its_fix(world: World, cli: Any) -> None:
    _drift(world)

    run = cli(*BASE, "--json", "locks", "--audit", *POLICY)

    assert run.code == 1
    found = {(d["principal"], d["kind"]): d for d in run.json()["drift"]}
    assert set(found) == {
        (BOB, "holder_without_attachment"),
        (ALICE, "attached_without_holder"),
        (APP_ROLE, "marks_differ"),
    }
    assert found[(BOB, "holder_without_attachment")]["holders"] == [ALARM_ARN]
    assert found[(APP_ROLE, "marks_differ")]["marks"] == []
    text = cli(*BASE, "locks", "--audit", *POLICY).out
    assert "holder_without_attachment" in text and "attach the deny policy" in text


def test_audit_fix_reconciles_and_records_who_asked(world: World, cli: Any) -> None:
    _drift(world)

    run = cli(*BASE, "--json", "locks", "--audit", "--fix", *POLICY)

    assert run.code == 0, run.err
    document = run.json()
    assert document["requested_by"] == MOTO_IDENTITY
    assert {fixed["outcome"] for fixed in document["fixed"]} == {"fixed"}
    assert world.attached(BOB) and not world.attached(ALICE)
    assert world.holders(BOB) == {ALARM_ARN}
    for principal in (BOB, ALICE, APP_ROLE):
        (event,) = world.events(principal, "audit_fix")
        assert event["requested_by"] == {"S": MOTO_IDENTITY}
    assert cli(*BASE, "--json", "locks", "--audit", *POLICY).json()["drift"] == []


def test_audit_with_the_deny_policy_missing(world: World, cli: Any) -> None:
    for user in ("bob",):
        world.iam.detach_user_policy(UserName=user, PolicyArn=POLICY_ARN)
    world.iam.detach_role_policy(RoleName="app-role", PolicyArn=POLICY_ARN)
    world.iam.delete_policy(PolicyArn=POLICY_ARN)

    run = cli(*BASE, "--json", "locks", "--audit", "--fix", *POLICY)

    assert run.code == 1
    assert {(f["kind"], f["outcome"]) for f in run.json()["fixed"]} == {
        ("policy_missing", "not_fixable")
    }


def test_fix_needs_audit(world: World, cli: Any) -> None:
    run = cli(*BASE, "locks", "--fix")

    assert run.code == 2
    assert "--fix needs --audit" in run.err


def test_audit_fix_calls_only_what_its_policy_allows(world: World, cli: Any) -> None:
    _drift(world)
    with recording() as actions:
        run = cli(*BASE, "locks", "--audit", "--fix", *POLICY)

    assert run.code == 0, run.err
    assert {"iam:ListEntitiesForPolicy", "iam:AttachUserPolicy", "iam:DetachUserPolicy"} <= actions
    assert actions <= set(COMMAND_ACTIONS["locks --audit"]), json.dumps(sorted(actions))
