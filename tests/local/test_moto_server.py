"""moto in server mode: real HTTP clients, other processes, faithful under concurrency, stop."""

from __future__ import annotations

import multiprocessing
import os
import socket
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import boto3
import pytest

from bedrock_guard.local.moto_server import MotoServer
from bedrock_guard.local.tables import create_guard_table

pytestmark = pytest.mark.server

TABLE = "bedrock-cost-guard-local-test"


@pytest.fixture
def moto_server() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


def create_table(server: MotoServer) -> None:
    create_guard_table(server.client("dynamodb"), TABLE)


def test_dynamodb_and_cloudwatch_answer_over_http(moto_server: MotoServer) -> None:
    create_table(moto_server)
    dynamodb = moto_server.client("dynamodb")
    dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "a"}, "sk": {"S": "b"}, "n": {"N": "1"}})
    cloudwatch = moto_server.client("cloudwatch")
    cloudwatch.put_metric_data(
        Namespace="GenAIRateLimiting", MetricData=[{"MetricName": "TotalRequests", "Value": 1}]
    )

    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "a"}, "sk": {"S": "b"}})["Item"]
    metrics = cloudwatch.list_metrics(Namespace="GenAIRateLimiting")["Metrics"]
    assert moto_server.endpoint_url.startswith("http://127.0.0.1:")
    assert dynamodb.meta.endpoint_url == moto_server.endpoint_url
    assert item["n"] == {"N": "1"}
    assert [metric["MetricName"] for metric in metrics] == ["TotalRequests"]


def test_reset_drops_every_resource(moto_server: MotoServer) -> None:
    create_table(moto_server)

    moto_server.reset()

    assert moto_server.client("dynamodb").list_tables()["TableNames"] == []


def _tables_seen_with(environment: dict[str, str]) -> list[str]:
    """Runs in a spawned process: a default boto3 client, configured only by the environment."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ.update(environment)
    tables: list[str] = boto3.client("dynamodb").list_tables()["TableNames"]
    return tables


def test_environ_points_another_process_default_clients_here(moto_server: MotoServer) -> None:
    create_table(moto_server)
    context = multiprocessing.get_context("spawn")

    with context.Pool(1) as pool:
        tables = pool.apply(_tables_seen_with, (moto_server.environ(),))

    assert tables == [TABLE]
    assert moto_server.environ()["AWS_ENDPOINT_URL_DYNAMODB"] == moto_server.endpoint_url
    assert "AWS_ENDPOINT_URL_BEDROCK_RUNTIME" not in moto_server.environ()


@contextmanager
def frequent_thread_switches() -> Iterator[None]:
    """Switch threads often, so that a race in the server shows up in a short test."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def test_concurrent_writes_are_not_lost(moto_server: MotoServer) -> None:
    # Unserialised, a failing moto transaction restores the copy of the table it took when it
    # started, losing increments made meanwhile; DynamoDB never loses a write.
    create_table(moto_server)
    counter = {"pk": {"S": "counter"}, "sk": {"S": "n"}}
    failing_checks = [
        {
            "ConditionCheck": {
                "TableName": TABLE,
                "Key": {"pk": {"S": f"absent-{index}"}, "sk": {"S": "x"}},
                "ConditionExpression": "attribute_exists(pk)",
            }
        }
        for index in range(20)
    ]

    clients = [moto_server.client("dynamodb", max_attempts=1) for _ in range(12)]

    def work(worker: int) -> int:
        client = clients[worker]
        increments = 0
        for _ in range(6):
            if worker % 2:
                client.update_item(
                    TableName=TABLE,
                    Key=counter,
                    UpdateExpression="ADD n :one",
                    ExpressionAttributeValues={":one": {"N": "1"}},
                )
                increments += 1
            else:
                with pytest.raises(client.exceptions.TransactionCanceledException):
                    client.transact_write_items(TransactItems=failing_checks)
        return increments

    with frequent_thread_switches(), ThreadPoolExecutor(len(clients)) as pool:
        increments = sum(pool.map(work, range(len(clients))))

    item = moto_server.client("dynamodb").get_item(TableName=TABLE, Key=counter)["Item"]
    assert int(item["n"]["N"]) == increments == 36


def test_stop_frees_the_port() -> None:
    server = MotoServer().start()
    port = server.port
    server.client("dynamodb").list_tables()

    server.stop()
    server.stop()  # a second stop is harmless

    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))


def test_a_stopped_server_has_no_endpoint() -> None:
    server = MotoServer()

    with pytest.raises(RuntimeError, match="not running"):
        _ = server.endpoint_url
