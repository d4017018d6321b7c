"""The shared table as modules/token-gate creates it, for tests, benchmarks and the demo."""

from __future__ import annotations

from typing import Any

from bedrock_guard.core import keys


def create_guard_table(client: Any, name: str) -> None:
    """``pk``/``sk`` strings, on demand, TTL on ``expires_at``: the one table design."""
    client.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": keys.PK, "KeyType": "HASH"},
            {"AttributeName": keys.SK, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": keys.PK, "AttributeType": "S"},
            {"AttributeName": keys.SK, "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": keys.TTL_ATTRIBUTE},
    )
