"""Transient AWS errors retry (after the whole batch is handled); bad records never stop others."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from bedrock_guard.core import keys
from tests.conftest import FakeLambdaContext
from tests.enforcer.conftest import (
    ACCOUNT,
    ALARM_ARN,
    ALARM_NAME,
    ALICE,
    APP_ROLE,
    APP_SESSION,
    BOB,
    Alarms,
    World,
    has_metric,
    sns_event,
)


def client_error(code: str, operation: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


def event_alarm_arn(event: dict[str, Any], index: int) -> str:
    return str(json.loads(event["Records"][index]["Sns"]["Message"])["AlarmArn"])


def outcomes(summary: dict[str, Any]) -> list[str]:
    return [record["outcome"] for record in summary["records"]]


def test_transient_iam_error_raises_after_the_other_records_are_handled(
    enforcer: ModuleType,
    world: World,
    alarms: Alarms,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    iam = enforcer.SERVICE.iam._iam
    real_attach = iam.attach_user_policy

    def throttled_for_bob(**kwargs: Any) -> Any:
        if kwargs["UserName"] == "bob":
            raise client_error("Throttling", "AttachUserPolicy")
        return real_attach(**kwargs)

    monkeypatch.setattr(iam, "attach_user_policy", throttled_for_bob)
    for name, principal in (("a", ALICE), ("b", BOB), ("c", APP_SESSION)):
        alarms.create(name, principal=principal)
    event = sns_event(alarms.fire("a"), alarms.fire("b"), alarms.fire("c"))
    bob_message_id = event["Records"][1]["Sns"]["MessageId"]

    with pytest.raises(enforcer.RetryableRecordsError, match=bob_message_id) as raised:
        enforcer.handler(event, lambda_context)

    assert "1 of 3 records" in str(raised.value)
    assert world.attached(ALICE)
    assert world.attached(APP_ROLE)  # the record after the failing one was handled too
    assert not world.attached(BOB)
    # The ledger went first: the gate already refuses bob while IAM waits for the retry.
    assert world.holders(BOB) == {event_alarm_arn(event, 1)}

    # Lambda's retry delivers the whole event again: every record is a replay, and bob's
    # replay brings IAM to what the ledger says.
    monkeypatch.setattr(iam, "attach_user_policy", real_attach)
    summary = enforcer.handler(event, lambda_context)
    assert [r["principals"][0]["outcome"] for r in summary["records"]] == ["replay"] * 3
    assert world.attached(BOB)


def test_dynamodb_error_before_the_attach_retries_into_a_consistent_lock(
    enforcer: ModuleType,
    world: World,
    alarms: Alarms,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ddb = enforcer.SERVICE.ledger._ddb
    real = ddb.transact_write_items
    monkeypatch.setattr(
        ddb,
        "transact_write_items",
        lambda **_: (_ for _ in ()).throw(
            client_error("ProvisionedThroughputExceededException", "TransactWriteItems")
        ),
    )
    alarms.create()
    event = alarms.fire_event()

    with pytest.raises(enforcer.RetryableRecordsError):
        enforcer.handler(event, lambda_context)
    # The ledger goes first: nothing was recorded, so IAM was not touched either.
    assert not world.attached(ALICE)
    assert world.holders(ALICE) == set()

    monkeypatch.setattr(ddb, "transact_write_items", real)
    summary = enforcer.handler(event, lambda_context)
    assert summary["records"][0]["principals"][0]["outcome"] == "locked"
    assert world.holders(ALICE) == {ALARM_ARN}


def _described(world: World, name: str) -> dict[str, Any]:
    """A real DescribeAlarms answer from moto, to replay through a Stubber."""
    response = world.cloudwatch.describe_alarms(
        AlarmNames=[name], AlarmTypes=["MetricAlarm", "CompositeAlarm"]
    )
    response.pop("ResponseMetadata")
    return response


def test_tags_service_unavailable_is_retried(
    enforcer: ModuleType,
    world: World,
    alarms: Alarms,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alarms.create("tagged", principal=None, tags={"bedrock-guard:principals": ALICE})
    alarms.create("bob", principal=BOB)
    event = sns_event(alarms.fire("tagged"), alarms.fire("bob"))
    with Stubber(enforcer.SERVICE.tags.client) as stubber:
        stubber.add_response("describe_alarms", _described(world, "tagged"))
        stubber.add_client_error(
            "list_tags_for_resource", service_error_code="ServiceUnavailable", http_status_code=503
        )
        stubber.add_response("describe_alarms", _described(world, "bob"))
        with pytest.raises(enforcer.RetryableRecordsError):
            enforcer.handler(event, lambda_context)
        stubber.assert_no_pending_responses()

    assert world.attached(BOB)
    assert not world.attached(ALICE)
    assert has_metric(capsys.readouterr().out, "Failures")


@pytest.mark.parametrize(("code", "status"), [("Throttling", 400), ("InternalServiceError", 500)])
def test_describe_alarms_failure_is_retried_and_locks_nobody(
    enforcer: ModuleType,
    *,
    world: World,
    alarms: Alarms,
    lambda_context: FakeLambdaContext,
    code: str,
    status: int,
) -> None:
    alarms.create()
    event = alarms.fire_event()
    with Stubber(enforcer.SERVICE.alarms._cloudwatch) as stubber:
        stubber.add_client_error(
            "describe_alarms", service_error_code=code, http_status_code=status
        )
        with pytest.raises(enforcer.RetryableRecordsError):
            enforcer.handler(event, lambda_context)

    assert not world.attached(ALICE)
    assert world.table_items() == []
    # The retry, with CloudWatch answering again, locks.
    summary = enforcer.handler(event, lambda_context)
    assert summary["records"][0]["principals"][0]["outcome"] == "locked"


def test_access_denied_on_attach_goes_to_retry_and_the_dead_letter_queue(
    enforcer: ModuleType,
    world: World,
    alarms: Alarms,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A misconfigured role is not bad input: the message must survive until it is fixed.
    monkeypatch.setattr(
        enforcer.SERVICE.iam._iam,
        "attach_user_policy",
        lambda **_: (_ for _ in ()).throw(client_error("AccessDenied", "AttachUserPolicy")),
    )

    alarms.create()

    with pytest.raises(enforcer.RetryableRecordsError):
        enforcer.handler(alarms.fire_event(), lambda_context)

    # The ledger lock went first and stands (the gate refuses alice); IAM waits for the retry.
    assert world.holders(ALICE) == {ALARM_ARN}
    assert not world.attached(ALICE)


def test_policy_quota_reached_still_locks_in_the_ledger(
    enforcer: ModuleType,
    *,
    world: World,
    alarms: Alarms,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(
        enforcer.SERVICE.iam._iam,
        "attach_user_policy",
        lambda **_: (_ for _ in ()).throw(client_error("LimitExceeded", "AttachUserPolicy")),
    )

    alarms.create()

    summary = enforcer.handler(alarms.fire_event(), lambda_context)

    assert summary["records"][0]["principals"][0]["outcome"] == "locked_ledger_only"
    assert world.holders(ALICE) == {ALARM_ARN}  # the token gate refuses alice
    assert world.alarm_record(ALICE, ALARM_ARN)["iam_attached"] is False  # type: ignore[index]
    assert has_metric(capsys.readouterr().out, "LockIncomplete")


def test_a_batch_of_good_and_bad_records(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    for name, principal in (
        ("a", ALICE),
        ("b", f"arn:aws:iam::{ACCOUNT}:root"),
        ("c", BOB),
        ("d", BOB),
        ("e", APP_SESSION),
    ):
        alarms.create(name, principal=principal)
    event = sns_event(
        alarms.fire("a"),
        "not json at all",
        alarms.fire("b"),
        {"AlarmName": "x", "NewStateValue": "MAYBE"},
        alarms.fire("c", "INSUFFICIENT_DATA"),
        alarms.fire("d", "OK"),
        alarms.fire("e"),
    )

    summary = enforcer.handler(event, lambda_context)

    assert outcomes(summary) == [
        "handled",
        "dropped",
        "handled",
        "dropped",
        "ignored",
        "handled",
        "handled",
    ]
    principals = [(r.get("principals") or [{}])[0].get("outcome") for r in summary["records"]]
    assert principals == ["locked", None, "refused", None, None, "not_locked", "locked"]
    assert world.attached(ALICE)
    assert world.attached(APP_ROLE)
    assert not world.attached(BOB)
    assert len({record["message_id"] for record in summary["records"]}) == 7


def test_stale_alarm_that_loses_the_race_undoes_its_attach(
    enforcer: ModuleType,
    world: World,
    alarms: Alarms,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alarms.create()
    late = alarms.fire_event()
    confirmed = enforcer.SERVICE.alarms.describe(ALARM_NAME)
    enforcer.handler(late, lambda_context)
    enforcer.handler(alarms.fire_event(state="OK"), lambda_context)
    # A second delivery of the ALARM was confirmed by CloudWatch and read the ledger record
    # before the newer OK was written; only the ledger's conditional write can still see it
    # is stale.
    monkeypatch.setattr(enforcer.SERVICE.alarms, "describe", lambda _name: confirmed)
    monkeypatch.setattr(enforcer.SERVICE.ledger, "alarm_record", lambda *_: None)

    summary = enforcer.handler(late, lambda_context)

    assert summary["records"][0]["principals"][0]["outcome"] == "stale"
    assert not world.attached(ALICE)
    assert world.holders(ALICE) == set()


def test_release_racing_a_new_lock_restores_the_policy(
    enforcer: ModuleType,
    world: World,
    alarms: Alarms,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alarms.create("daily")
    monthly = alarms.create("monthly")
    enforcer.handler(alarms.fire_event("daily"), lambda_context)
    iam = enforcer.SERVICE.iam
    real_detach = iam.detach

    def detach_while_another_alarm_locks(principal: Any) -> bool:
        result = real_detach(principal)
        # Another alarm records its hold right after our holder read.
        world.ddb.update_item(
            TableName=enforcer.CONFIG.ledger_table_name,
            Key=keys.attribute_values(keys.lock_state_key(ALICE)),
            UpdateExpression="ADD locked_by :other",
            ExpressionAttributeValues={":other": {"SS": [monthly]}},
        )
        return bool(result)

    monkeypatch.setattr(iam, "detach", detach_while_another_alarm_locks)

    summary = enforcer.handler(alarms.fire_event("daily", "OK"), lambda_context)

    assert summary["records"][0]["principals"][0]["outcome"] == "still_held"
    assert world.attached(ALICE)
    assert world.holders(ALICE) == {monthly}


def test_replay_heals_iam_when_the_ledger_says_locked(
    enforcer: ModuleType, world: World, alarms: Alarms, lambda_context: FakeLambdaContext
) -> None:
    alarms.create()
    event = alarms.fire_event()
    enforcer.handler(event, lambda_context)
    # As if the function died after the ledger write and before IAM agreed.
    world.iam.detach_user_policy(UserName="alice", PolicyArn=enforcer.CONFIG.deny_policy_arn)

    summary = enforcer.handler(event, lambda_context)

    assert summary["records"][0]["principals"][0]["outcome"] == "replay"
    assert world.attached(ALICE)


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_bad_function_arn_fails_loudly(enforcer: ModuleType, world: World, alarms: Alarms) -> None:
    from tests.conftest import FakeLambdaContext as Context

    alarms.create()
    context = Context(invoked_function_arn="not-an-arn")
    with pytest.raises(ValueError, match="not a Lambda function ARN"):
        enforcer.handler(alarms.fire_event(), context)
    assert not world.attached(ALICE)
