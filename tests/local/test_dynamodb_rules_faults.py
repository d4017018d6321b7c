"""Injected faults through real boto3 clients: what the caller sees, and what was applied."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError

from bedrock_guard.local.clients import local_http
from bedrock_guard.local.dynamodb_rules import DynamoDBRules, FaultRule, LocalDynamoDB, RulesControl
from tests.local.conftest import RULES_TABLE as TABLE
from tests.local.conftest import DynamoDBClients

pytestmark = pytest.mark.server

USAGE = {"pk": {"S": "USAGE#alice"}, "sk": {"S": "2026-12"}}
BUDGET = {"pk": {"S": "BUDGET#alice"}, "sk": {"S": "2026-12"}}


def increment(client: Any, key: dict[str, Any] = USAGE) -> dict[str, Any]:
    result: dict[str, Any] = client.update_item(
        TableName=TABLE,
        Key=key,
        UpdateExpression="ADD n :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    return result


def count(client: Any, key: dict[str, Any] = USAGE) -> int:
    item = client.get_item(TableName=TABLE, Key=key, ConsistentRead=True).get("Item")
    return int(item["n"]["N"]) if item else 0


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_a_throttle_applies_nothing_and_botocore_retries_it(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients, code: str
) -> None:
    ddb_rules.rules.add_fault(kind="throttle", code=code, operation="UpdateItem", times=2)

    with pytest.raises(ClientError) as throttled:
        increment(dynamodb(1))
    retried = increment(dynamodb(2))  # one throttle left: the retry goes through

    assert throttled.value.response["Error"]["Code"] == code
    assert throttled.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert retried["ResponseMetadata"]["RetryAttempts"] == 1
    assert count(dynamodb(1)) == 1


def test_fail_before_answers_500_without_applying(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    ddb_rules.rules.add_fault(kind="fail_before", operation="UpdateItem", times=1)

    with pytest.raises(ClientError) as failed:
        increment(dynamodb(1))

    assert failed.value.response["Error"]["Code"] == "InternalServerError"
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert count(dynamodb(1)) == 0


def test_a_lost_answer_applies_the_write_and_a_retry_applies_it_again(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    ddb_rules.rules.add_fault(kind="lost_answer", operation="UpdateItem", times=2)

    with pytest.raises(ClientError) as lost:
        increment(dynamodb(1))
    increment(dynamodb(2))  # the 500 is retried: an UpdateItem ADD is not idempotent

    assert lost.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert count(dynamodb(1)) == 3


def test_a_lost_answer_can_close_the_connection_without_a_word(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    ddb_rules.rules.add_fault(kind="lost_answer", mode="close", operation="UpdateItem", times=1)

    with pytest.raises(ConnectionClosedError):
        increment(dynamodb(1))

    assert count(dynamodb(1)) == 1


def test_a_transaction_whose_answer_was_lost_is_retried_idempotently(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    # botocore fills ClientRequestToken itself and keeps it across retries.
    ddb_rules.rules.add_fault(kind="lost_answer", operation="TransactWriteItems", times=1)
    update = {
        "Update": {
            "TableName": TABLE,
            "Key": USAGE,
            "UpdateExpression": "ADD n :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }

    response = dynamodb(2).transact_write_items(TransactItems=[update])

    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert count(dynamodb(1)) == 1


def test_transaction_in_progress_applies_nothing(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    ddb_rules.rules.add_fault(kind="transaction_in_progress", operation="TransactWriteItems")
    client = dynamodb(1)

    with pytest.raises(client.exceptions.TransactionInProgressException):
        client.transact_write_items(TransactItems=[{"Put": {"TableName": TABLE, "Item": USAGE}}])

    assert "Item" not in client.get_item(TableName=TABLE, Key=USAGE)


def test_a_fault_can_target_a_table_and_a_key_prefix(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    ddb_rules.rules.add_fault(kind="fail_before", table=TABLE, key_prefix="USAGE#")
    ddb_rules.rules.add_fault(kind="fail_before", table="another-table")

    increment(dynamodb(1), BUDGET)
    with pytest.raises(ClientError):
        increment(dynamodb(1), USAGE)

    assert count(dynamodb(1), BUDGET) == 1


def test_probabilistic_faults_over_http_replay_with_their_seed(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    control = RulesControl(ddb_rules.endpoint_url)
    client = dynamodb(1)

    def failures() -> list[bool]:
        outcome = []
        for _ in range(20):
            try:
                client.get_item(TableName=TABLE, Key=USAGE)
                outcome.append(False)
            except ClientError:
                outcome.append(True)
        return outcome

    control.add_fault(FaultRule("throttle", operation="GetItem", probability=0.5), replace=True)
    first = failures()
    control.reset()  # drops the rule and reseeds
    assert control.faults() == []
    control.add_fault(FaultRule("throttle", operation="GetItem", probability=0.5))
    second = failures()

    assert first == second
    assert 0 < sum(first) < 20


def test_the_partition_write_limit_throttles_a_hot_partition_only(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    ddb_rules.rules.service.throughput.units_per_second = 3
    client = dynamodb(1)
    outcomes = []

    for _ in range(6):
        try:
            increment(client, USAGE)
            outcomes.append("ok")
        except client.exceptions.ProvisionedThroughputExceededException:
            outcomes.append("throttled")
    increment(client, BUDGET)  # another partition key: its own budget

    assert outcomes[:3] == ["ok"] * 3
    assert "throttled" in outcomes
    assert count(client, USAGE) == outcomes.count("ok")


def test_bad_control_requests_are_refused(ddb_rules: LocalDynamoDB) -> None:
    control = RulesControl(ddb_rules.endpoint_url)

    request = urllib.request.Request(
        f"{ddb_rules.endpoint_url}/__rules/faults",
        data=json.dumps({"rules": [{"kind": "explode"}]}).encode(),
        method="POST",
    )

    with pytest.raises(urllib.error.HTTPError, match="400"):
        local_http(request)

    assert control.faults() == []


def test_an_unreachable_upstream_is_an_answer_not_a_hang() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with DynamoDBRules(upstream=closed) as rules:
        client = rules.client(max_attempts=1)
        with pytest.raises(ClientError) as failed:
            client.list_tables()
        sns = rules.client("sns", max_attempts=1)
        with pytest.raises(ClientError) as relayed:
            sns.list_topics()

    assert failed.value.response["Error"]["Code"] == "InternalServerError"
    assert relayed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 502
