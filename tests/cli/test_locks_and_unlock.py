"""``bedrock-guard locks`` and ``bedrock-guard unlock``: listing, releasing, refusing."""

from __future__ import annotations

from typing import Any

import pytest

from bedrock_guard.core import keys
from bedrock_guard.enforcer.lock_service import Home
from bedrock_guard.enforcer.window_locks import lock_for_window
from tests.cli.conftest import (
    ACCOUNT,
    ALARM_ARN,
    ALARM_NAME,
    ALICE,
    API_KEY_CALLER,
    APP_ROLE,
    APP_SESSION,
    BASE,
    BOB,
    CAROL,
    LOCKED_AT,
    MOTO_IDENTITY,
    OPERATOR,
    POLICY_ARN,
    TABLE,
    World,
)

POLICY = ("--deny-policy-arn", POLICY_ARN)


def test_locks_lists_alarm_and_operator_holders(world: World, cli: Any) -> None:
    run = cli(*BASE, "locks", "--json")

    assert run.code == 0, run.err
    document = run.json()
    assert document["table"] == TABLE
    locks = {lock["principal"]: lock for lock in document["locks"]}
    assert sorted(locks) == [APP_ROLE, BOB]

    (alarm,) = locks[BOB]["holders"]
    assert alarm == {
        "holder": ALARM_ARN,
        "kind": "alarm",
        "name": ALARM_NAME,
        "since": LOCKED_AT,
        "reason": alarm["reason"],
        "requested_by": None,
    }
    assert alarm["reason"].startswith("Threshold Crossed")
    assert locks[BOB]["since"] == LOCKED_AT

    (operator,) = locks[APP_ROLE]["holders"]
    assert (operator["kind"], operator["requested_by"], operator["reason"]) == (
        "operator",
        OPERATOR,
        "runaway batch job",
    )
    assert operator["since"] == locks[APP_ROLE]["since"] is not None


def test_locks_lists_a_usage_meter_window_lock_as_a_window(world: World, cli: Any) -> None:
    holder = "window:daily_tokens:2026-11-23"
    lock_for_window(
        world.service(), CAROL, Home("aws", ACCOUNT), holder=holder, reason="direct use over"
    )

    document = cli(*BASE, "locks", "--json").json()
    (window,) = {lock["principal"]: lock for lock in document["locks"]}[CAROL]["holders"]
    assert (window["holder"], window["kind"], window["reason"]) == (
        holder,
        "window",
        "direct use over",
    )
    assert window["since"] is not None and window["requested_by"] is not None
    assert f"usage meter {holder}" in cli(*BASE, "locks", "--wide").out


def test_locks_human_output(world: World, cli: Any) -> None:
    run = cli(*BASE, "locks")

    assert run.code == 0, run.err
    assert "user/bob" in run.out and "role/app-role" in run.out  # short forms
    assert "arn:aws:iam::" not in run.out
    assert f"alarm {ALARM_NAME}" in run.out
    assert "runaway batch job" in run.out


def test_locks_when_nobody_is_locked(world: World, cli: Any) -> None:
    for principal in (BOB, APP_ROLE):
        assert cli(*BASE, "unlock", principal, "--reason", "r", *POLICY).code == 0

    run = cli(*BASE, "--json", "locks")
    assert run.json() == {"table": TABLE, "locks": []}
    assert "No principal is locked" in cli(*BASE, "locks").out


def test_unlock_detaches_closes_and_records_who_asked(world: World, cli: Any) -> None:
    run = cli(*BASE, "--json", "unlock", BOB, "--reason", "limit raised", *POLICY)

    assert run.code == 0, run.err
    assert run.json() == {
        "principal": BOB,
        "outcome": "released",
        "released_holders": [ALARM_ARN],
        "still_held_by": [],
        "requested_by": MOTO_IDENTITY,
        "reason": "limit raised",
        "policy_arn": POLICY_ARN,
        "table": TABLE,
    }
    assert not world.attached(BOB)
    assert world.holders(BOB) == set()
    (event,) = world.events(BOB, "unlock")
    assert event["requested_by"] == {"S": MOTO_IDENTITY}
    assert event["operator_reason"] == {"S": "limit raised"}
    assert event["released_holders"] == {"SS": [ALARM_ARN]}
    # The other lock is untouched.
    assert world.attached(APP_ROLE)
    assert world.holders(APP_ROLE) == {"operator"}


def test_unlock_by_session_arn_releases_the_role(world: World, cli: Any) -> None:
    run = cli(*BASE, "unlock", APP_SESSION, "--reason", "job fixed", *POLICY)

    assert run.code == 0, run.err
    assert f"{APP_ROLE} unlocked; released operator" in run.out
    assert not world.attached(APP_ROLE)
    assert world.holders(APP_ROLE) == set()


def test_the_requester_cannot_be_chosen_by_a_flag(world: World, cli: Any) -> None:
    run = cli(*BASE, "unlock", BOB, "--reason", "r", "--requested-by", OPERATOR, *POLICY)

    assert run.code == 2
    assert "unrecognized arguments: --requested-by" in run.err
    assert world.attached(BOB)


def test_unlock_of_a_principal_that_is_not_locked_changes_nothing(world: World, cli: Any) -> None:
    run = cli(*BASE, "--json", "unlock", ALICE, "--reason", "r", *POLICY)

    assert run.code == 1
    assert run.json()["outcome"] == "not_locked"
    assert world.events(ALICE, "unlock") == []
    human = cli(*BASE, "unlock", CAROL, "--reason", "r", *POLICY)
    assert human.code == 1
    assert f"{CAROL} is not locked: nothing changed" in human.out


def test_unlock_of_an_unknown_principal(world: World, cli: Any) -> None:
    ghost = "arn:aws:iam::123456789012:user/ghost"
    run = cli(*BASE, "unlock", ghost, "--reason", "r", *POLICY)

    assert run.code == 1
    assert "no such IAM user or role, and no lock recorded" in run.err
    assert world.events(ghost, "unlock") == []


def test_unlock_detaches_a_policy_left_without_a_ledger_lock(world: World, cli: Any) -> None:
    world.iam.attach_user_policy(UserName="alice", PolicyArn=POLICY_ARN)

    run = cli(*BASE, "unlock", ALICE, "--reason", "stray attachment", *POLICY)

    assert run.code == 0, run.err
    assert "without a ledger lock" in run.out
    assert not world.attached(ALICE)
    assert len(world.events(ALICE, "unlock")) == 1


@pytest.mark.parametrize(
    ("principal", "message"),
    [
        ("not-an-arn", "is not a user, role or session ARN"),
        ("arn:aws:iam::123456789012:root", "is the account root"),
        ("arn:aws:iam::123456789012:group/admins", "is a group"),
        (API_KEY_CALLER, "API-key caller, which IAM cannot lock"),
        (
            "arn:aws:iam::123456789012:role/aws-service-role/x/AWSServiceRoleForSupport",
            "service-linked role",
        ),
        ("arn:aws:iam::210987654321:user/bob", "is not in the account of your credentials"),
    ],
)
def test_unlock_refuses_what_it_cannot_unlock(
    world: World, cli: Any, principal: str, message: str
) -> None:
    run = cli(*BASE, "unlock", principal, "--reason", "r", *POLICY)

    assert run.code == 2
    assert message in run.err
    assert run.err.count("\n") == 1  # one line, no traceback
    assert world.attached(BOB)  # nothing changed anywhere


def test_unlock_with_a_deny_policy_that_does_not_exist(world: World, cli: Any) -> None:
    missing = "arn:aws:iam::123456789012:policy/Typo"
    run = cli(*BASE, "unlock", BOB, "--reason", "r", "--deny-policy-arn", missing)

    assert run.code == 4
    assert f"deny policy {missing} does not exist" in run.err
    assert world.holders(BOB) == {ALARM_ARN}  # refused before the ledger was touched
    assert world.attached(BOB)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--reason", "   ", *POLICY), "--reason must not be empty"),
        (("--reason", "x" * 1001, *POLICY), "longer than 1000"),
        (("--reason", "r"), "no deny policy: pass --deny-policy-arn"),
        (("--reason", "r", "--deny-policy-arn", "arn:aws:s3:::bucket"), "DENY_POLICY_ARN"),
        ((*POLICY,), "the following arguments are required: --reason"),
    ],
)
def test_unlock_usage_errors(world: World, cli: Any, args: tuple[str, ...], message: str) -> None:
    run = cli(*BASE, "unlock", BOB, *args)

    assert run.code == 2
    assert message in run.err
    assert world.attached(BOB)
    assert world.holders(BOB) == {ALARM_ARN}


def test_unlock_deny_policy_from_the_environment(world: World, cli: Any) -> None:
    run = cli(*BASE, "unlock", BOB, "--reason", "r", environ={"DENY_POLICY_ARN": POLICY_ARN})

    assert run.code == 0, run.err
    assert not world.attached(BOB)


def test_an_alarm_lock_recorded_during_the_unlock_stands(
    world: World, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The alarm fires again between the ledger clear and the re-check: the lock stands."""
    from bedrock_guard.enforcer.ledger import Ledger

    clear = Ledger.remove_holders

    def clear_then_relock(self: Ledger, principal: str, *args: Any, **kwargs: Any) -> None:
        clear(self, principal, *args, **kwargs)
        self._ddb.update_item(
            TableName=TABLE,
            Key=keys.attribute_values(keys.lock_state_key(principal)),
            UpdateExpression="ADD #by :h",
            ExpressionAttributeNames={"#by": keys.LOCKED_BY},
            ExpressionAttributeValues={":h": {"SS": [ALARM_ARN]}},
        )

    monkeypatch.setattr(Ledger, "remove_holders", clear_then_relock)
    run = cli(*BASE, "--json", "unlock", BOB, "--reason", "r", *POLICY)

    assert run.code == 1
    assert run.json()["outcome"] == "still_held"
    assert run.json()["still_held_by"] == [ALARM_ARN]
    assert world.attached(BOB)
