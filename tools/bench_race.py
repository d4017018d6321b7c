"""Overshoot under concurrency: the token gate's accounting against check-then-add.

N callers (threads, each with its own boto3 clients, as N Lambda containers would have) race
one caller budget: all of them are sessions of one role. Each gate caller runs the gate's own
request path (``gate_service.serve`` with a runtime built like a container's); each baseline
caller runs :class:`bench_baseline.CheckThenAdd`. Both use the same moto server (DynamoDB over
HTTP) and the same Bedrock stand-in, with the same admission rule and the same replies.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Final

from bench_baseline import CheckThenAdd

from bedrock_guard.core import keys
from bedrock_guard.core.accounting import input_token_bound
from bedrock_guard.core.principals import caller_identity
from bedrock_guard.gate.metrics import RequestFacts
from bedrock_guard.gate.service import GateCall, serve
from bedrock_guard.local.bedrock_stub import BedrockStub
from bedrock_guard.local.converse_replies import Reply
from bedrock_guard.local.dynamodb_rules import LocalDynamoDB
from bedrock_guard.local.tables import create_guard_table
from bedrock_guard.token_gate import build_runtime

TABLE: Final = "bedrock-guard-bench"
ROLE: Final = "arn:aws:iam::123456789012:role/bench-app"
MODEL_ALIAS: Final = "claude-3-haiku"
MODEL_ID: Final = "anthropic.claude-3-haiku-20240307-v1:0"
LIMIT_TOKENS: Final = 4000
REQUESTS_PER_CALLER: Final = 3
MAX_TOKENS: Final = 256
OUTPUT_TOKENS: Final = 200  # every reply; Bedrock's usage of a long answer
BEDROCK_LATENCY_MS: Final = 50
START_TIMEOUT_S: Final = 120.0

# A request outcome: True granted, False refused for the budget, None anything else.
Outcome = bool | None


@dataclass(frozen=True)
class RaceResult:
    """What one race charged against one budget."""

    accounting: str
    callers: int
    requests: int
    limit: int
    charged: int
    granted: int
    refused: int
    errors: int
    bedrock_calls: int

    @property
    def overshoot_pct(self) -> float:
        """How far the charged total went past the limit, in percent of the limit."""
        return max(0, self.charged - self.limit) * 100 / self.limit

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "overshoot_pct": round(self.overshoot_pct, 1)}


def prompt(caller: int, index: int) -> str:
    return f"Summarise the incident report of ticket {caller:02d}-{index} in two sentences."


def session_arn(caller: int, index: int) -> str:
    """A session of ROLE; every session shares the role's one budget."""
    return f"arn:aws:sts::123456789012:assumed-role/bench-app/caller-{caller}-{index}"


def create_table(moto: LocalDynamoDB | LocalDynamoDB) -> None:
    create_guard_table(moto.client("dynamodb"), TABLE)


def prepare(moto: LocalDynamoDB, stub: BedrockStub) -> None:
    """An empty table and a stand-in that answers every call alike, after a short delay."""
    moto.reset()
    create_table(moto)
    stub.reset()
    stub.set_reply(Reply(latency_ms=BEDROCK_LATENCY_MS, output_tokens=OUTPUT_TOKENS))


def charged_tokens(moto: LocalDynamoDB, principal: str) -> int:
    """Tokens charged to a caller over all its month items."""
    response = moto.client("dynamodb").query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.usage_key(principal, "")[keys.PK]}},
        ConsistentRead=True,
    )
    return sum(int(item.get("month_tokens", {}).get("N", "0")) for item in response["Items"])


def run_callers(callers: int, serve_one: Callable[[int, int], Outcome]) -> list[Outcome]:
    """Start every caller at once; each sends its requests one after another."""
    start = threading.Barrier(callers)
    outcomes: list[list[Outcome]] = [[] for _ in range(callers)]

    def caller(index: int) -> None:
        start.wait(START_TIMEOUT_S)
        for request in range(REQUESTS_PER_CALLER):
            try:
                outcomes[index].append(serve_one(index, request))
            except Exception:
                outcomes[index].append(None)

    threads = [threading.Thread(target=caller, args=(i,), daemon=True) for i in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [outcome for results in outcomes for outcome in results]


def result(
    accounting: str, moto: LocalDynamoDB, stub: BedrockStub, callers: int, outcomes: list[Outcome]
) -> RaceResult:
    return RaceResult(
        accounting=accounting,
        callers=callers,
        requests=len(outcomes),
        limit=LIMIT_TOKENS,
        charged=charged_tokens(moto, ROLE),
        granted=outcomes.count(True),
        refused=outcomes.count(False),
        errors=outcomes.count(None),
        bedrock_calls=stub.stats().total_calls,
    )


def gate_environment(stub: BedrockStub) -> dict[str, str]:
    """The gate's configuration: one tier whose monthly token limit every caller shares."""
    return {
        **os.environ,
        "USAGE_TABLE_NAME": TABLE,
        "TIER_LIMITS_JSON": json.dumps({"bench": {"monthly_tokens": LIMIT_TOKENS}}),
        "DEFAULT_TIER": "bench",
        "MODEL_ALIASES_JSON": json.dumps({MODEL_ALIAS: MODEL_ID}),
        "BEDROCK_ENDPOINT_URL": stub.endpoint_url,
        "BEDROCK_MAX_ATTEMPTS": "1",
        "BEDROCK_READ_TIMEOUT_SECONDS": "10",
    }


def gate_race(moto: LocalDynamoDB, stub: BedrockStub, callers: int) -> RaceResult:
    """The token gate: reserve the worst case atomically, call, settle."""
    prepare(moto, stub)
    environment = gate_environment(stub)
    runtimes = [build_runtime(environment) for _ in range(callers)]  # one per container

    def serve_one(caller: int, index: int) -> Outcome:
        body = {
            "model": MODEL_ALIAS,
            "messages": [{"role": "user", "content": prompt(caller, index)}],
            "parameters": {"max_tokens": MAX_TOKENS},
            "tags": {"applicationId": "bench"},
        }
        call = GateCall(
            principal=caller_identity(session_arn(caller, index), None),
            body=json.dumps(body),
            is_base64=False,
            request_id=f"bench-{caller}-{index}",
        )
        response = serve(runtimes[caller], call, RequestFacts())
        status = response["statusCode"]
        code = json.loads(response["body"]).get("error", {}).get("code")
        return True if status == 200 else False if code == "BudgetExceeded" else None

    return result("token gate", moto, stub, callers, run_callers(callers, serve_one))


def baseline_race(moto: LocalDynamoDB, stub: BedrockStub, callers: int) -> RaceResult:
    """Check-then-add: read the counter, call, then add the actual usage."""
    prepare(moto, stub)
    baselines = [
        CheckThenAdd(
            dynamodb=moto.client("dynamodb"),
            bedrock=stub.client(max_attempts=1),
            table_name=TABLE,
            principal=ROLE,
            limit_tokens=LIMIT_TOKENS,
        )
        for _ in range(callers)
    ]

    def serve_one(caller: int, index: int) -> Outcome:
        text = prompt(caller, index)
        converse = {
            "modelId": MODEL_ID,
            "messages": [{"role": "user", "content": [{"text": text}]}],
            "inferenceConfig": {"maxTokens": MAX_TOKENS},
        }
        # The gate's own worst case, so that both admit by the same rule.
        return baselines[caller].request(converse, input_token_bound([[text]]) + MAX_TOKENS)

    return result("check-then-add", moto, stub, callers, run_callers(callers, serve_one))
