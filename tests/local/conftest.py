"""Fixtures of the local stand-ins: moto with DynamoDB's rules in front of it."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bedrock_guard.local.dynamodb_rules import LocalDynamoDB, local_dynamodb
from tests.aws_tables import create_guard_table

RULES_TABLE = "bedrock-cost-guard-rules-test"

# A boto3 DynamoDB client through the rules, by its total attempts (1 = no retries).
DynamoDBClients = Callable[[int], Any]


@pytest.fixture(scope="module")
def rules_stack() -> Iterator[LocalDynamoDB]:
    """moto and the rules proxy, started once a module (starting them costs more than a test)."""
    with local_dynamodb() as stack:
        yield stack


@pytest.fixture(scope="module")
def dynamodb(rules_stack: LocalDynamoDB) -> DynamoDBClients:
    """Clients made once a module: building one costs more than most calls, and a client is
    thread-safe, so concurrent tests share them across threads."""

    @functools.cache
    def client(max_attempts: int = 1) -> Any:
        return rules_stack.client("dynamodb", max_attempts=max_attempts)

    return client


@pytest.fixture
def ddb_rules(rules_stack: LocalDynamoDB, dynamodb: DynamoDBClients) -> LocalDynamoDB:
    """The stack, emptied, with the guard table created and the rules' defaults back."""
    rules_stack.reset()
    service = rules_stack.rules.service
    service.commit_hold_seconds = 0.01
    service.throughput.units_per_second = None
    create_guard_table(dynamodb(1), RULES_TABLE)
    rules_stack.rules.reset_capacity()  # CreateTable's own calls are no test's business
    return rules_stack
