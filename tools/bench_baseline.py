"""The check-then-add pattern the token gate replaces: read usage, call Bedrock, then add.

It admits a request by the same rule as the gate (used + worst case <= limit) and writes the
same counters, so the only difference the benchmark measures is atomicity: callers that read
the counter at the same time all pass the check, and all of them add afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bedrock_guard.core import keys
from bedrock_guard.core.accounting import Window, period_of


@dataclass(frozen=True)
class CheckThenAdd:
    """One caller's view of the baseline: its own DynamoDB and Bedrock clients."""

    dynamodb: Any
    bedrock: Any
    table_name: str
    principal: str
    limit_tokens: int

    def request(self, converse: dict[str, Any], worst_tokens: int) -> bool:
        """Serve one request the naive way; whether it was admitted."""
        period = period_of(datetime.now(UTC))
        key = keys.attribute_values(keys.usage_key(self.principal, period.month))
        month = period.attribute(Window.MONTHLY_TOKENS)
        day = period.attribute(Window.DAILY_TOKENS)
        item = self.dynamodb.get_item(TableName=self.table_name, Key=key, ConsistentRead=True)
        used = int(item.get("Item", {}).get(month, {}).get("N", "0"))
        if used + worst_tokens > self.limit_tokens:
            return False
        response = self.bedrock.converse(**converse)
        tokens = int(response["usage"]["totalTokens"])
        self.dynamodb.update_item(
            TableName=self.table_name,
            Key=key,
            UpdateExpression="ADD #month :tokens, #day :tokens",
            ExpressionAttributeNames={"#month": month, "#day": day},
            ExpressionAttributeValues={":tokens": {"N": str(tokens)}},
        )
        return True
