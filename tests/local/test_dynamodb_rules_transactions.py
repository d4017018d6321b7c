"""Transactions through the rules proxy with real boto3 clients: conflicts, tokens, 400 KB."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bedrock_guard.local.dynamodb_rules import LocalDynamoDB
from tests.local.conftest import RULES_TABLE as TABLE
from tests.local.conftest import DynamoDBClients

pytestmark = pytest.mark.server

COUNTER = {"pk": {"S": "USAGE#alice"}, "sk": {"S": "2026-12"}}
OTHER = {"pk": {"S": "BUDGET#alice"}, "sk": {"S": "2026-12"}}
HOLD = 0.15  # long enough for another thread to meet the transaction while it commits


def add_one(key: dict[str, Any] = COUNTER) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": TABLE,
            "Key": key,
            "UpdateExpression": "ADD n :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }


def counter(client: Any, key: dict[str, Any] = COUNTER) -> int | None:
    item = client.get_item(TableName=TABLE, Key=key, ConsistentRead=True)
    return int(item["Item"]["n"]["N"]) if "Item" in item else None


@contextmanager
def committing(ddb: LocalDynamoDB, call: Callable[[], Any]) -> Iterator[list[Any]]:
    """Run ``call`` in a thread with a long commit hold; yield once its items are held."""
    ddb.rules.service.commit_hold_seconds = HOLD
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except ClientError as error:
            outcome.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 5
    while not ddb.rules.service.holds.held_count() and time.monotonic() < deadline:
        time.sleep(0.002)
    assert ddb.rules.service.holds.held_count(), "the transaction never held its items"
    try:
        yield outcome
    finally:
        thread.join(5)


def error_code(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


def test_a_transaction_on_a_held_item_is_cancelled_at_the_conflicting_index(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    first = dynamodb(1)
    second = dynamodb(1)

    with (
        committing(ddb_rules, lambda: first.transact_write_items(TransactItems=[add_one()])),
        pytest.raises(second.exceptions.TransactionCanceledException) as cancelled,
    ):
        second.transact_write_items(TransactItems=[add_one(OTHER), add_one()])

    reasons = cancelled.value.response["CancellationReasons"]
    assert reasons == [
        {"Code": "None"},
        {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"},
    ]
    assert counter(dynamodb(1)) == 1  # the first committed
    assert counter(dynamodb(1), OTHER) is None  # the cancelled one changed nothing


def test_a_standard_write_on_a_held_item_conflicts_and_botocore_does_not_retry_it(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    transaction = dynamodb(1)
    standard = dynamodb(5)  # botocore standard retry mode
    assert standard.meta.config.retries["mode"] == "standard"
    update = add_one()["Update"]

    with committing(ddb_rules, lambda: transaction.transact_write_items(TransactItems=[add_one()])):
        with pytest.raises(standard.exceptions.TransactionConflictException) as conflict:
            standard.update_item(**update)
        read = standard.get_item(TableName=TABLE, Key=COUNTER)  # reads are not blocked

    assert conflict.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert conflict.value.response["ResponseMetadata"]["RetryAttempts"] == 0
    assert "Item" not in read  # the transaction had not committed yet
    assert counter(dynamodb(1)) == 1


def test_every_standard_write_kind_conflicts_with_a_held_item(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    transaction = dynamodb(1)
    client = dynamodb(1)
    writes: list[Callable[[], Any]] = [
        lambda: client.put_item(TableName=TABLE, Item=COUNTER),
        lambda: client.delete_item(TableName=TABLE, Key=COUNTER),
        lambda: client.batch_write_item(
            RequestItems={
                TABLE: [{"PutRequest": {"Item": OTHER}}, {"PutRequest": {"Item": COUNTER}}]
            }
        ),
    ]

    with committing(ddb_rules, lambda: transaction.transact_write_items(TransactItems=[add_one()])):
        codes = []
        for write in writes:
            with pytest.raises(ClientError) as conflict:
                write()
            codes.append(error_code(conflict.value))

    assert codes == ["TransactionConflictException"] * 3
    assert counter(dynamodb(1), OTHER) is None  # the batch applied none of its items


def test_a_transactional_read_of_a_held_item_is_cancelled(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    transaction = dynamodb(1)
    reader = dynamodb(1)
    gets = [{"Get": {"TableName": TABLE, "Key": key}} for key in (OTHER, COUNTER)]

    with (
        committing(ddb_rules, lambda: transaction.transact_write_items(TransactItems=[add_one()])),
        pytest.raises(reader.exceptions.TransactionCanceledException) as cancelled,
    ):
        reader.transact_get_items(TransactItems=gets)

    codes = [reason["Code"] for reason in cancelled.value.response["CancellationReasons"]]
    assert codes == ["None", "TransactionConflict"]
    assert reader.transact_get_items(TransactItems=gets)["Responses"][1]["Item"]["n"] == {"N": "1"}


def test_concurrent_transactions_never_lose_or_invent_an_increment(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    ddb_rules.rules.service.commit_hold_seconds = 0.005
    clients = [dynamodb(1)] * 8  # one thread-safe client, eight threads

    def work(client: Any) -> tuple[int, int]:
        committed = conflicts = 0
        for _ in range(5):
            try:
                client.transact_write_items(TransactItems=[add_one()])
                committed += 1
            except client.exceptions.TransactionCanceledException:
                conflicts += 1
        return committed, conflicts

    with ThreadPoolExecutor(len(clients)) as pool:
        results = list(pool.map(work, clients))

    committed = sum(done for done, _ in results)
    assert counter(dynamodb(1)) == committed
    assert sum(conflicts for _, conflicts in results) > 0  # the threads did meet


def test_a_repeated_token_succeeds_without_applying_again(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    client = dynamodb(1)
    request = {"TransactItems": [add_one()], "ClientRequestToken": "charge-1"}

    client.transact_write_items(**request)
    replay = client.transact_write_items(**request, ReturnConsumedCapacity="TOTAL")

    assert counter(dynamodb(1)) == 1
    # The repeat reads the item it already wrote: billed as a transactional read.
    assert replay["ConsumedCapacity"] == [
        {"TableName": TABLE, "CapacityUnits": 2.0, "ReadCapacityUnits": 2.0}
    ]


def test_a_repeated_token_while_the_first_commits_is_in_progress(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    first = dynamodb(1)
    second = dynamodb(1)
    request = {"TransactItems": [add_one()], "ClientRequestToken": "charge-2"}

    with (
        committing(ddb_rules, lambda: first.transact_write_items(**request)) as outcome,
        pytest.raises(second.exceptions.TransactionInProgressException),
    ):
        second.transact_write_items(**request)

    assert not isinstance(outcome[0], ClientError)
    assert counter(dynamodb(1)) == 1


def test_a_token_reused_for_another_request_is_a_mismatch(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    client = dynamodb(1)
    client.transact_write_items(TransactItems=[add_one()], ClientRequestToken="charge-3")

    with pytest.raises(client.exceptions.IdempotentParameterMismatchException):
        client.transact_write_items(TransactItems=[add_one(OTHER)], ClientRequestToken="charge-3")

    assert counter(dynamodb(1), OTHER) is None


def test_a_cancelled_transaction_can_be_retried_with_its_token(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    client = dynamodb(1)
    guarded = add_one()
    guarded["Update"]["ConditionExpression"] = "attribute_exists(pk)"
    request = {"TransactItems": [guarded], "ClientRequestToken": "charge-4"}
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(**request)
    client.put_item(TableName=TABLE, Item={**COUNTER, "n": {"N": "10"}})

    client.transact_write_items(**request)

    assert counter(dynamodb(1)) == 11


def padded(key: dict[str, Any], total: int, name: str = "blob") -> dict[str, Any]:
    """``key`` plus a string attribute making the item exactly ``total`` bytes."""
    base = sum(len(k) + len(v["S"]) for k, v in key.items())
    return {**key, name: {"S": "x" * (total - base - len(name))}}


def test_put_item_over_400_kb_is_refused_and_changes_nothing(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    client = dynamodb(1)
    client.put_item(TableName=TABLE, Item={**COUNTER, "n": {"N": "1"}})

    with pytest.raises(client.exceptions.ClientError) as refused:
        client.put_item(TableName=TABLE, Item=padded(COUNTER, 409_601))

    assert error_code(refused.value) == "ValidationException"
    assert "Item size has exceeded the maximum allowed size" in str(refused.value)
    assert counter(dynamodb(1)) == 1


def test_put_item_of_exactly_400_kb_is_stored(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    # By moto's own measure this item is over its limit; DynamoDB stores it.
    client = dynamodb(1)
    item = {**padded(COUNTER, 409_600 - 6), "n": {"N": "12345678"}}  # 1 + 5 bytes

    client.put_item(TableName=TABLE, Item=item)

    stored = client.get_item(TableName=TABLE, Key=COUNTER, ConsistentRead=True)["Item"]
    assert stored == item


def test_update_item_growing_past_400_kb_is_refused_and_changes_nothing(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    client = dynamodb(1)
    before = {**padded(COUNTER, 300_000), "n": {"N": "1"}}
    client.put_item(TableName=TABLE, Item=before)

    with pytest.raises(client.exceptions.ClientError) as refused:
        client.update_item(
            TableName=TABLE,
            Key=COUNTER,
            UpdateExpression="SET more = :more ADD n :one",
            ExpressionAttributeValues={":more": {"S": "y" * 110_000}, ":one": {"N": "1"}},
        )

    assert error_code(refused.value) == "ValidationException"
    assert "exceeded the maximum allowed size" in str(refused.value)
    assert client.get_item(TableName=TABLE, Key=COUNTER, ConsistentRead=True)["Item"] == before


def test_a_transaction_growing_an_item_past_400_kb_is_cancelled_and_changes_nothing(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    client = dynamodb(1)
    before = padded(COUNTER, 300_000)
    client.put_item(TableName=TABLE, Item=before)
    grow = {
        "Update": {
            "TableName": TABLE,
            "Key": COUNTER,
            "UpdateExpression": "SET more = :more",
            "ExpressionAttributeValues": {":more": {"S": "y" * 110_000}},
        }
    }

    with pytest.raises(client.exceptions.TransactionCanceledException) as cancelled:
        client.transact_write_items(TransactItems=[add_one(OTHER), grow])

    reasons = cancelled.value.response["CancellationReasons"]
    assert [reason["Code"] for reason in reasons] == ["None", "ValidationError"]
    assert "exceeded the maximum allowed size" in reasons[1]["Message"]
    assert client.get_item(TableName=TABLE, Key=COUNTER, ConsistentRead=True)["Item"] == before
    assert counter(dynamodb(1), OTHER) is None  # all or nothing


def test_a_transaction_putting_an_item_over_400_kb_is_cancelled(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    client = dynamodb(1)
    put = {"Put": {"TableName": TABLE, "Item": padded(COUNTER, 409_601)}}

    with pytest.raises(client.exceptions.TransactionCanceledException) as cancelled:
        client.transact_write_items(TransactItems=[put, add_one(OTHER)])

    codes = [reason["Code"] for reason in cancelled.value.response["CancellationReasons"]]
    assert codes == ["ValidationError", "None"]
    assert counter(dynamodb(1), OTHER) is None
