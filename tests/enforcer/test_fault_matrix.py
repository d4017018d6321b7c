"""Every step of lock and release x {fail, lost answer, throttle}: the next delivery converges.

The first delivery meets the fault at one step (for the whole delivery: the ledger's own
retries give up too); the fault is then gone, as a transient one is, and the next delivery
comes: Lambda's retry of the same event, or (for a lock) the alarm's OK arriving first. In
every case IAM, the lock (STATE) and the gate's lock marks on the month usage items agree,
and the history holds what was done. Faults are injected in the clients
(:mod:`tests.enforcer.faults`), so the same matrix runs against any DynamoDB endpoint.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from bedrock_guard.enforcer.alarm_messages import DropReason
from tests.conftest import FakeLambdaContext
from tests.enforcer.conftest import ALICE, Alarms, World
from tests.enforcer.faults import Fault, Faults, faults_during

TAG_KEY = "bedrock-guard:principals"
NAME = "tenant-tokens"

# (service, operation) of every call on the way; the alarm names its principal in a tag, so
# the tag lookup is on the way too.
LOCK_STEPS = [
    ("cloudwatch", "DescribeAlarms"),
    ("cloudwatch", "ListTagsForResource"),
    ("iam", "GetUser"),
    ("dynamodb", "GetItem"),
    ("dynamodb", "TransactWriteItems"),
    ("iam", "AttachUserPolicy"),
    ("dynamodb", "UpdateItem"),
]
RELEASE_STEPS = [
    ("cloudwatch", "DescribeAlarms"),
    ("cloudwatch", "ListTagsForResource"),
    ("dynamodb", "GetItem"),
    ("dynamodb", "TransactWriteItems"),
    ("iam", "DetachUserPolicy"),
]
FAULTS = list(Fault)


def _plans(enforcer: ModuleType) -> dict[str, Faults]:
    service = enforcer.SERVICE
    service.ledger._sleep = lambda _seconds: None  # backoff without waiting
    return {
        "dynamodb": Faults(service.ledger._ddb, "dynamodb"),
        "iam": Faults(service.iam._iam, "iam"),
        "cloudwatch": Faults(service.tags.client, "cloudwatch"),
    }


def _deliver(enforcer: ModuleType, event: dict[str, Any], context: FakeLambdaContext) -> Any:
    try:
        return enforcer.handler(event, context)
    except enforcer.RetryableRecordsError:
        return None


def _with_fault(
    enforcer: ModuleType,
    event: dict[str, Any],
    context: FakeLambdaContext,
    step: tuple[str, str],
    fault: Fault,
) -> int:
    plans = _plans(enforcer)
    service, operation = step
    with faults_during(*plans.values()):
        plans[service].inject(operation, fault, times=None)
        _deliver(enforcer, event, context)
    return plans[service].fired.get(operation, 0)


@pytest.fixture
def tag_alarm(alarms: Alarms) -> str:
    return alarms.create(NAME, principal=None, tags={TAG_KEY: ALICE})


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("step", LOCK_STEPS, ids=[op for _, op in LOCK_STEPS])
def test_lock_converges_on_lambdas_retry(
    enforcer: ModuleType,
    *,
    world: World,
    alarms: Alarms,
    tag_alarm: str,
    lambda_context: FakeLambdaContext,
    step: tuple[str, str],
    fault: Fault,
) -> None:
    event = alarms.fire_event(NAME, "ALARM")

    fired = _with_fault(enforcer, event, lambda_context, step, fault)
    assert fired, f"the fault at {step} never fired"
    world.assert_marks_match(ALICE)  # between deliveries the gate's view is the lock's
    summary = _deliver(enforcer, event, lambda_context)

    assert summary is not None, "the retry must succeed once the fault is gone"
    assert world.assert_agree(ALICE) == {tag_alarm}
    assert "lock" in [item["action"] for item in world.events(ALICE)]


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("step", LOCK_STEPS, ids=[op for _, op in LOCK_STEPS])
def test_lock_converges_when_the_ok_comes_before_the_retry(
    enforcer: ModuleType,
    *,
    world: World,
    alarms: Alarms,
    tag_alarm: str,
    lambda_context: FakeLambdaContext,
    step: tuple[str, str],
    fault: Fault,
) -> None:
    event = alarms.fire_event(NAME, "ALARM")
    _with_fault(enforcer, event, lambda_context, step, fault)

    ok = _deliver(enforcer, alarms.fire_event(NAME, "OK"), lambda_context)
    late_retry = _deliver(enforcer, event, lambda_context)

    assert ok is not None and late_retry is not None
    assert late_retry["records"][0]["reason"] == DropReason.SUPERSEDED
    assert world.assert_agree(ALICE) == set()


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("step", RELEASE_STEPS, ids=[op for _, op in RELEASE_STEPS])
def test_release_converges_on_lambdas_retry(
    enforcer: ModuleType,
    *,
    world: World,
    alarms: Alarms,
    tag_alarm: str,
    lambda_context: FakeLambdaContext,
    step: tuple[str, str],
    fault: Fault,
) -> None:
    assert _deliver(enforcer, alarms.fire_event(NAME, "ALARM"), lambda_context) is not None
    assert world.assert_agree(ALICE) == {tag_alarm}
    event = alarms.fire_event(NAME, "OK")

    fired = _with_fault(enforcer, event, lambda_context, step, fault)
    assert fired, f"the fault at {step} never fired"
    world.assert_marks_match(ALICE)
    summary = _deliver(enforcer, event, lambda_context)

    assert summary is not None
    assert world.assert_agree(ALICE) == set()
    assert [item["action"] for item in world.events(ALICE)] == ["lock", "release"]
