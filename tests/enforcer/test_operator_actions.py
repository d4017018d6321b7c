"""Operator commands: unlock whatever holds a lock, lock by hand, list locks."""

from __future__ import annotations

from types import ModuleType

import pytest

from bedrock_guard.core import keys
from bedrock_guard.core.principals import PrincipalError
from bedrock_guard.enforcer import operator_actions
from bedrock_guard.enforcer.lock_service import Home
from tests.conftest import FakeLambdaContext
from tests.enforcer.conftest import (
    ACCOUNT,
    ADMIN_ROLE,
    ALICE,
    APP_ROLE,
    APP_SESSION,
    BOB,
    Alarms,
    World,
    sns_event,
)

HOME = Home("aws", ACCOUNT)


def test_unlock_clears_every_holder_and_detaches(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    daily = alarms.create("daily")
    monthly = alarms.create("monthly")
    enforcer.handler(sns_event(alarms.fire("daily"), alarms.fire("monthly")), lambda_context)
    assert len(world.holders(ALICE)) == 2

    result = operator_actions.unlock(
        enforcer.SERVICE, ALICE, reason="budget raised", requested_by="ops@example.com"
    )

    assert result.outcome == "released"
    assert not world.attached(ALICE)
    assert world.holders(ALICE) == set()
    unlock_event = [event for event in world.events(ALICE) if event["action"] == "unlock"]
    assert len(unlock_event) == 1
    assert unlock_event[0]["requested_by"] == "ops@example.com"
    assert unlock_event[0]["operator_reason"] == "budget raised"
    assert unlock_event[0]["released_holders"] == sorted([daily, monthly])


def test_a_replay_after_unlock_does_not_lock_again_but_a_new_alarm_does(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    alarms.create()
    locking = alarms.fire_event()
    enforcer.handler(locking, lambda_context)
    operator_actions.unlock(enforcer.SERVICE, ALICE, reason="r", requested_by="ops")

    # The alarm is still in ALARM, so the replay is confirmed by CloudWatch: the ledger knows
    # it has been applied, and the operator's unlock stands.
    summary = enforcer.handler(locking, lambda_context)
    assert summary["records"][0]["principals"][0]["outcome"] == "replay"
    assert not world.attached(ALICE)
    assert world.holders(ALICE) == set()

    enforcer.handler(alarms.fire_event(state="OK"), lambda_context)
    enforcer.handler(alarms.fire_event(state="ALARM"), lambda_context)
    assert world.attached(ALICE)


def test_unlock_by_session_arn_and_of_a_principal_that_is_not_locked(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    alarms.create(principal=APP_SESSION)
    enforcer.handler(alarms.fire_event(), lambda_context)

    result = operator_actions.unlock(enforcer.SERVICE, APP_SESSION, reason="r", requested_by="o")
    assert (result.principal, result.outcome) == (APP_ROLE, "released")
    assert not world.attached(APP_ROLE)

    again = operator_actions.unlock(enforcer.SERVICE, BOB, reason="r", requested_by="o")
    assert again.outcome == "released"
    assert not world.attached(BOB)


def test_unlock_refuses_a_malformed_principal(enforcer: ModuleType, world: World) -> None:
    with pytest.raises(PrincipalError):
        operator_actions.unlock(enforcer.SERVICE, "alice", reason="r", requested_by="o")
    assert world.table_items() == []


def test_operator_lock_holds_until_unlocked(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    result = operator_actions.lock(
        enforcer.SERVICE, BOB, HOME, reason="incident 42", requested_by="ops"
    )

    assert result.outcome == "locked"
    assert world.attached(BOB)
    assert world.holders(BOB) == {keys.OPERATOR_LOCK}
    # An alarm cycle on bob leaves the operator's lock in place.
    alarms.create("bob", principal=BOB)
    enforcer.handler(alarms.fire_event("bob"), lambda_context)
    enforcer.handler(alarms.fire_event("bob", "OK"), lambda_context)
    assert world.attached(BOB)

    operator_actions.unlock(enforcer.SERVICE, BOB, reason="resolved", requested_by="ops")
    assert not world.attached(BOB)


def test_operator_lock_refuses_protected_principals(enforcer: ModuleType, world: World) -> None:
    result = operator_actions.lock(enforcer.SERVICE, ADMIN_ROLE, HOME, reason="r", requested_by="o")

    assert (result.outcome, result.detail) == ("refused", "protected")
    assert not world.attached(ADMIN_ROLE)
    assert world.holders(ADMIN_ROLE) == set()


def test_list_locks(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    assert operator_actions.list_locks(enforcer.SERVICE) == []
    alarms.create(principal=ALICE)
    app = alarms.create("app", principal=APP_SESSION)
    enforcer.handler(sns_event(alarms.fire(), alarms.fire("app")), lambda_context)
    operator_actions.lock(enforcer.SERVICE, BOB, HOME, reason="r", requested_by="o")
    enforcer.handler(alarms.fire_event(state="OK"), lambda_context)

    locks = operator_actions.list_locks(enforcer.SERVICE)

    assert world.holders(ALICE) == set()  # its alarm is OK again
    assert [(lock.principal, lock.holders) for lock in locks] == [
        (APP_ROLE, (app,)),
        (BOB, (keys.OPERATOR_LOCK,)),
    ]
    assert all(lock.updated_at for lock in locks)
