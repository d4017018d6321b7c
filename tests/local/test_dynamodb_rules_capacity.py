"""Capacity figures for items of known size, and everything without a rule passing unchanged."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from bedrock_guard.local.clients import local_client
from bedrock_guard.local.dynamodb_rules import LocalDynamoDB, RulesControl, item_size
from tests.local.conftest import RULES_TABLE as TABLE
from tests.local.conftest import DynamoDBClients

pytestmark = pytest.mark.server

COUNTER = {"pk": {"S": "USAGE#alice"}, "sk": {"S": "2026-12"}}  # 2 + 11, 2 + 7: 22 bytes
OTHER = {"pk": {"S": "BUDGET#alice"}, "sk": {"S": "2026-12"}}  # 2 + 12, 2 + 7: 23 bytes
NOTE = {"note": {"S": "x" * 996}}  # 4 + 996: 1000 bytes
ITEM = {**COUNTER, **NOTE}  # 1022 bytes: one write unit
TOKENS = {"tokens": {"N": "1500"}}  # 6 + (2 significant digits: 1 + 1) = 8 bytes
GROWN = {**ITEM, **TOKENS}  # 1030 bytes: two write units
COUNTER_REF = f'{TABLE}|{{"pk":{{"S":"USAGE#alice"}},"sk":{{"S":"2026-12"}}}}'


def test_the_known_items_are_the_sizes_computed_by_hand() -> None:
    assert (item_size(ITEM), item_size(GROWN), item_size({**OTHER, **NOTE})) == (1022, 1030, 1023)


def units(response: dict[str, Any]) -> Any:
    return response["ConsumedCapacity"]


def test_put_and_an_update_growing_the_item_past_1_kb(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    client = dynamodb(1)

    put = client.put_item(TableName=TABLE, Item=ITEM, ReturnConsumedCapacity="TOTAL")
    grow = client.update_item(
        TableName=TABLE,
        Key=COUNTER,
        UpdateExpression="SET tokens = :t",
        ExpressionAttributeValues={":t": TOKENS["tokens"]},
        ReturnConsumedCapacity="TOTAL",
    )
    shrink = client.update_item(  # billed by the larger image: the one before
        TableName=TABLE,
        Key=COUNTER,
        UpdateExpression="REMOVE tokens",
        ReturnConsumedCapacity="TOTAL",
    )

    assert units(put) == {"TableName": TABLE, "CapacityUnits": 1.0, "WriteCapacityUnits": 1.0}
    assert units(grow)["CapacityUnits"] == 2.0
    assert units(shrink)["CapacityUnits"] == 2.0
    assert ddb_rules.capacity()["operations"] == {
        "PutItem": {"read": 0.0, "write": 1.0},
        "UpdateItem": {"read": 0.0, "write": 4.0},
    }
    assert ddb_rules.capacity()["items"] == {COUNTER_REF: {"read": 0.0, "write": 5.0}}


def test_indexes_adds_the_table_figure_and_none_leaves_the_answer_alone(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    client = dynamodb(1)

    indexes = client.put_item(TableName=TABLE, Item=GROWN, ReturnConsumedCapacity="INDEXES")
    plain = client.put_item(TableName=TABLE, Item=GROWN)

    assert units(indexes)["Table"] == {"CapacityUnits": 2.0, "WriteCapacityUnits": 2.0}
    assert "ConsumedCapacity" not in plain
    assert ddb_rules.capacity()["total"] == {"read": 0.0, "write": 4.0}  # billed either way


def test_failed_conditional_writes_are_billed_by_the_existing_item(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    client = dynamodb(1)
    client.put_item(TableName=TABLE, Item=GROWN)
    ddb_rules.rules.reset_capacity()

    with pytest.raises(client.exceptions.ConditionalCheckFailedException):
        client.put_item(TableName=TABLE, Item=ITEM, ConditionExpression="attribute_not_exists(pk)")
    with pytest.raises(client.exceptions.ConditionalCheckFailedException):
        client.update_item(  # no item at all: still one unit
            TableName=TABLE,
            Key=OTHER,
            UpdateExpression="SET tokens = :t",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":t": TOKENS["tokens"]},
        )

    assert ddb_rules.capacity()["operations"] == {
        "PutItem": {"read": 0.0, "write": 2.0},
        "UpdateItem": {"read": 0.0, "write": 1.0},
    }


def test_transactions_cost_twice_and_a_condition_check_is_billed_as_a_write(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    client = dynamodb(1)
    client.put_item(TableName=TABLE, Item=GROWN)
    ddb_rules.rules.reset_capacity()
    check = {
        "ConditionCheck": {
            "TableName": TABLE,
            "Key": COUNTER,
            "ConditionExpression": "attribute_exists(pk)",
        }
    }

    response = client.transact_write_items(
        TransactItems=[{"Put": {"TableName": TABLE, "Item": {**OTHER, **NOTE}}}, check],
        ReturnConsumedCapacity="TOTAL",
    )

    # Put: 1023 bytes, 1 unit, x2. ConditionCheck: the 1030-byte item, 2 units, x2.
    assert units(response) == [
        {"TableName": TABLE, "CapacityUnits": 6.0, "WriteCapacityUnits": 6.0}
    ]
    assert ddb_rules.capacity()["items"][COUNTER_REF] == {"read": 0.0, "write": 4.0}


def test_a_transaction_cancelled_by_its_condition_is_billed(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    client = dynamodb(1)
    client.put_item(TableName=TABLE, Item=GROWN)
    ddb_rules.rules.reset_capacity()
    put = {
        "Put": {
            "TableName": TABLE,
            "Item": ITEM,
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }

    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(TransactItems=[put])

    assert ddb_rules.capacity()["operations"]["TransactWriteItems"] == {"read": 0.0, "write": 4.0}


def test_reads_by_4_kb_and_consistency(ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients) -> None:
    client = dynamodb(1)
    client.put_item(TableName=TABLE, Item=GROWN)
    client.put_item(TableName=TABLE, Item={**OTHER, "big": {"S": "y" * 5000}})  # over 4 KB
    ddb_rules.rules.reset_capacity()

    eventual = client.get_item(TableName=TABLE, Key=COUNTER, ReturnConsumedCapacity="TOTAL")
    strong = client.get_item(
        TableName=TABLE,
        Key=OTHER,
        ConsistentRead=True,
        ProjectionExpression="pk",  # a projection does not make the read cheaper
        ReturnConsumedCapacity="TOTAL",
    )
    query = client.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": COUNTER["pk"]},
        ReturnConsumedCapacity="TOTAL",
    )
    transactional = client.transact_get_items(
        TransactItems=[{"Get": {"TableName": TABLE, "Key": key}} for key in (COUNTER, OTHER)],
        ReturnConsumedCapacity="TOTAL",
    )

    assert units(eventual) == {"TableName": TABLE, "CapacityUnits": 0.5, "ReadCapacityUnits": 0.5}
    assert units(strong)["CapacityUnits"] == 2.0
    assert strong["Item"] == {"pk": OTHER["pk"]}
    assert units(query)["CapacityUnits"] == 0.5
    assert units(transactional) == [
        {"TableName": TABLE, "CapacityUnits": 6.0, "ReadCapacityUnits": 6.0}
    ]
    assert ddb_rules.capacity()["total"] == {"read": 9.0, "write": 0.0}


def test_batches_are_billed_item_by_item(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    client = dynamodb(1)

    written = client.batch_write_item(
        RequestItems={
            TABLE: [{"PutRequest": {"Item": GROWN}}, {"PutRequest": {"Item": {**OTHER, **NOTE}}}]
        },
        ReturnConsumedCapacity="TOTAL",
    )
    read = client.batch_get_item(
        RequestItems={TABLE: {"Keys": [COUNTER, OTHER], "ConsistentRead": True}},
        ReturnConsumedCapacity="TOTAL",
    )

    # Writes: 2 units (1030 bytes) + 1 unit (1023 bytes). Reads: one unit an item, not summed.
    assert written["ConsumedCapacity"] == [
        {"TableName": TABLE, "CapacityUnits": 3.0, "WriteCapacityUnits": 3.0}
    ]
    assert read["ConsumedCapacity"] == [
        {"TableName": TABLE, "CapacityUnits": 2.0, "ReadCapacityUnits": 2.0}
    ]


def without_metadata(response: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}


def test_reads_and_table_calls_pass_through_unchanged(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    proxied = dynamodb(1)
    direct = ddb_rules.moto.client("dynamodb", max_attempts=1)
    proxied.put_item(TableName=TABLE, Item=GROWN)
    proxied.put_item(TableName=TABLE, Item={**OTHER, **NOTE})
    calls = [
        ("get_item", {"TableName": TABLE, "Key": COUNTER}),
        (
            "query",
            {
                "TableName": TABLE,
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": OTHER["pk"]},
            },
        ),
        ("scan", {"TableName": TABLE}),
        ("describe_table", {"TableName": TABLE}),
        ("list_tables", {}),
        ("describe_time_to_live", {"TableName": TABLE}),
    ]

    for name, kwargs in calls:
        assert without_metadata(getattr(proxied, name)(**kwargs)) == without_metadata(
            getattr(direct, name)(**kwargs)
        ), name
    proxied.create_table(
        TableName="created-through-the-proxy",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert "created-through-the-proxy" in direct.list_tables()["TableNames"]


def test_errors_without_a_rule_pass_through_unchanged(
    ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients
) -> None:
    proxied = dynamodb(1)
    direct = ddb_rules.moto.client("dynamodb", max_attempts=1)
    errors = []

    bad_calls: list[tuple[str, dict[str, Any]]] = [
        ("put_item", {"TableName": "no-such-table", "Item": ITEM}),
        (
            "update_item",
            {
                "TableName": "no-such-table",
                "Key": COUNTER,
                "UpdateExpression": "SET a = :a",
                "ExpressionAttributeValues": {":a": {"N": "1"}},
            },
        ),
        (
            "transact_write_items",
            {"TransactItems": [{"Delete": {"TableName": "no-such-table", "Key": COUNTER}}]},
        ),
        ("put_item", {"TableName": TABLE, "Item": {"pk": {"S": "only the hash key"}}}),
        ("delete_item", {"TableName": TABLE, "Key": {"pk": {"S": "no sort key"}}}),
    ]

    for name, kwargs in bad_calls:
        for client in (proxied, direct):
            with pytest.raises(ClientError) as refused:
                getattr(client, name)(**kwargs)
            errors.append(refused.value.response["Error"])
        assert errors[-2] == errors[-1], name
    assert {error["Code"] for error in errors} == {
        "ResourceNotFoundException",
        "TransactionCanceledException",
        "ValidationException",
    }


def test_other_services_pass_through_the_same_endpoint(ddb_rules: LocalDynamoDB) -> None:
    sns = local_client("sns", ddb_rules.endpoint_url, max_attempts=1)
    cloudwatch = local_client("cloudwatch", ddb_rules.endpoint_url, max_attempts=1)

    arn = sns.create_topic(Name="budget-alarms")["TopicArn"]
    cloudwatch.put_metric_data(
        Namespace="GenAIRateLimiting", MetricData=[{"MetricName": "TotalRequests", "Value": 1}]
    )

    topics = ddb_rules.moto.client("sns", max_attempts=1).list_topics()["Topics"]
    metrics = ddb_rules.client("cloudwatch").list_metrics(Namespace="GenAIRateLimiting")
    assert topics == [{"TopicArn": arn}]
    assert [metric["MetricName"] for metric in metrics["Metrics"]] == ["TotalRequests"]
    assert ddb_rules.capacity()["total"] == {"read": 0.0, "write": 0.0}


def test_environ_sends_default_dynamodb_clients_through_the_rules(
    ddb_rules: LocalDynamoDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = ddb_rules.environ()
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)

    session = boto3.session.Session()
    session.client("dynamodb").put_item(TableName=TABLE, Item=ITEM)

    assert environment["AWS_ENDPOINT_URL_DYNAMODB"] == ddb_rules.rules.endpoint_url
    assert environment["AWS_ENDPOINT_URL_SNS"] == ddb_rules.moto.endpoint_url
    assert session.client("sns").meta.endpoint_url == ddb_rules.moto.endpoint_url
    assert ddb_rules.capacity()["operations"]["PutItem"] == {"read": 0.0, "write": 1.0}


def test_capacity_and_reset_over_http(ddb_rules: LocalDynamoDB, dynamodb: DynamoDBClients) -> None:
    control = RulesControl(ddb_rules.endpoint_url)
    dynamodb(1).put_item(TableName=TABLE, Item=GROWN)

    seen = control.capacity()
    control.reset(capacity_only=True)

    assert seen["tables"] == {TABLE: {"read": 0.0, "write": 2.0}}
    assert control.capacity()["total"] == {"read": 0.0, "write": 0.0}
