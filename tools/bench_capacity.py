"""What an allowed request costs in DynamoDB, and whether bursts of one caller charge exactly.

Measured through the rules proxy, which bills write and read units by DynamoDB's item-size
rules: (1) units per allowed request of a warm caller whose month item holds 1, 10 or 31 days
of counters, and dollars per million requests at on-demand prices; (2) charged minus used after
16- and 64-way bursts of one caller (every request its own container).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from bedrock_guard.core import keys
from bedrock_guard.core.usage_item import HOLDS
from bedrock_guard.gate.bedrock_client import build_client
from bedrock_guard.gate.config import load_config
from bedrock_guard.gate.metrics import RequestFacts
from bedrock_guard.gate.service import serve
from bedrock_guard.gate.usage_store import deserialize
from bedrock_guard.local.bedrock_stub import BedrockStub
from bedrock_guard.local.dynamodb_rules import LocalDynamoDB
from bedrock_guard.local.gate_burst import Containers, burst, request_call
from bedrock_guard.local.tables import create_guard_table

TABLE: Final = "bench-capacity"
PRINCIPAL: Final = "arn:aws:iam::123456789012:role/hot-app"
NOW: Final = datetime(2026, 11, 23, 15, tzinfo=UTC)
HAIKU: Final = "anthropic.claude-3-haiku-20240307-v1:0"
MAX_TOKENS: Final = 200
REQUESTS: Final = 20
# DynamoDB on-demand in us-east-1 (price list of November 2024): per million request units.
USD_PER_MILLION_WRITE_UNITS: Final = Decimal("0.625")
USD_PER_MILLION_READ_UNITS: Final = Decimal("0.125")


def _containers(dynamodb: LocalDynamoDB, bedrock: BedrockStub) -> Containers:
    environment = {
        "USAGE_TABLE_NAME": TABLE,
        "TIER_LIMITS_JSON": json.dumps({"hot": {"daily_tokens": 10**9, "monthly_usd": "1000"}}),
        "DEFAULT_TIER": "hot",
        "MODEL_ALIASES_JSON": json.dumps({"claude-3-haiku": HAIKU}),
        "BEDROCK_ENDPOINT_URL": bedrock.endpoint_url,
    }
    return Containers(
        environment,
        dynamodb=dynamodb.client("dynamodb", max_pool_connections=100),
        bedrock=build_client(load_config(environment)),
        now=NOW,
    )


def _fresh_table(dynamodb: LocalDynamoDB) -> Any:
    client = dynamodb.client("dynamodb")
    if TABLE in client.list_tables()["TableNames"]:
        client.delete_table(TableName=TABLE)
    create_guard_table(client, TABLE)
    return client


def units_per_request(dynamodb: LocalDynamoDB, bedrock: BedrockStub) -> list[dict[str, Any]]:
    """Write and read units per allowed request of a warm caller, by days of counters."""
    rows = []
    for days in (1, 10, 31):
        client = _fresh_table(dynamodb)
        item = keys.attribute_values(keys.usage_key(PRINCIPAL, "2026-11")) | {HOLDS: {"M": {}}}
        for day in range(1, days + 1):
            item[f"d{day:02d}_tokens"] = {"N": "123456"}
            item[f"d{day:02d}_usd"] = {"N": "1.234567"}
        client.put_item(TableName=TABLE, Item=item)
        runtime = _containers(dynamodb, bedrock).runtime()
        runtime.store.refresh(PRINCIPAL)  # warm: the registry read is cached
        dynamodb.rules.reset_capacity()
        for index in range(REQUESTS):
            call = request_call(PRINCIPAL, index, model="claude-3-haiku", max_tokens=MAX_TOKENS)
            assert serve(runtime, call, RequestFacts())["statusCode"] == 200
        total = dynamodb.capacity()["total"]
        write = Decimal(str(total["write"])) / REQUESTS
        read = Decimal(str(total["read"])) / REQUESTS
        cost = write * USD_PER_MILLION_WRITE_UNITS + read * USD_PER_MILLION_READ_UNITS
        rows.append(
            {
                "days_of_counters": days,
                "write_units": float(write),
                "read_units": float(read),
                "usd_per_million_requests": float(cost.quantize(Decimal("0.01"))),
            }
        )
    return rows


def burst_exactness(dynamodb: LocalDynamoDB, bedrock: BedrockStub) -> list[dict[str, Any]]:
    """Charged minus used after bursts of one caller, and how each request was answered."""
    rows = []
    for size in (16, 64):
        client = _fresh_table(dynamodb)
        before = bedrock.stats().tokens("totalTokens")
        calls = [
            request_call(PRINCIPAL, index, model="claude-3-haiku", max_tokens=MAX_TOKENS)
            for index in range(size)
        ]
        answers = burst(_containers(dynamodb, bedrock), calls)
        item = deserialize(
            client.get_item(
                TableName=TABLE,
                Key=keys.attribute_values(keys.usage_key(PRINCIPAL, "2026-11")),
                ConsistentRead=True,
            )["Item"]
        )
        statuses: dict[int, int] = {}
        for answer in answers:
            statuses[answer.status] = statuses.get(answer.status, 0) + 1
        rows.append(
            {
                "burst": size,
                "answers": {str(status): n for status, n in sorted(statuses.items())},
                "charged_tokens": int(item["month_tokens"]),
                "used_tokens": sum(answer.tokens for answer in answers),
                "bedrock_tokens": bedrock.stats().tokens("totalTokens") - before,
                "holds_left": len(item[HOLDS]),
            }
        )
    return rows
