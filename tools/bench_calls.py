"""AWS API calls per allowed request of the real handler, counted with a botocore event hook.

A ``before-call`` hook on the default boto3 session reaches every client made from it after it
is registered, so it sees the handler's DynamoDB and Bedrock clients and would also see any
CloudWatch client the handler made (metrics should go out as EMF on stdout instead).
"""

from __future__ import annotations

import io
import json
import os
from collections import Counter
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from typing import Any, Final

import boto3
from bench_race import MODEL_ALIAS, MODEL_ID, TABLE, create_table

from bedrock_guard import token_gate
from bedrock_guard.local.bedrock_stub import BedrockStub
from bedrock_guard.local.dynamodb_rules import LocalDynamoDB
from bedrock_guard.local.lambda_events import LocalLambdaContext, api_gateway_event

CALLERS: Final = 10
REPEATS: Final = 3
SERVICES: Final = ("dynamodb", "cloudwatch", "bedrock-runtime")


@dataclass
class CallCounts:
    """Average API calls (and EMF records) per request of one kind."""

    requests: int = 0
    calls: Counter[str] = field(default_factory=Counter)
    emf_records: int = 0

    def per_request(self) -> dict[str, float]:
        figures = {service: self.calls[service] / self.requests for service in SERVICES}
        others = sum(n for service, n in self.calls.items() if service not in SERVICES)
        figures["other AWS"] = others / self.requests
        figures["EMF records"] = self.emf_records / self.requests
        return figures


class ApiCallHook:
    """Counts API calls per service (``before-call`` fires once per call, not per retry)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, model: Any, **_: Any) -> None:
        self.calls[model.service_model.service_name] += 1


def api_calls_per_request(moto: LocalDynamoDB, stub: BedrockStub) -> dict[str, dict[str, float]]:
    """Per allowed request: a caller's first request in a warm container, and its repeats."""
    moto.reset()
    create_table(moto)
    stub.reset()
    os.environ.update(
        {
            "USAGE_TABLE_NAME": TABLE,
            "TIER_LIMITS_JSON": json.dumps({"bench": {"monthly_tokens": 10_000_000}}),
            "DEFAULT_TIER": "bench",
            "MODEL_ALIASES_JSON": json.dumps({MODEL_ALIAS: MODEL_ID}),
            "BEDROCK_ENDPOINT_URL": stub.endpoint_url,
            "BEDROCK_MAX_ATTEMPTS": "1",
            # Short enough for the 30 s the local context reports, as a deployment would be.
            "BEDROCK_READ_TIMEOUT_SECONDS": "10",
        }
    )
    hook = ApiCallHook()
    boto3.setup_default_session()  # a fresh session: every client the handler makes gets the hook
    boto3.DEFAULT_SESSION.events.register("before-call", hook)

    token_gate.set_runtime(None)
    token_gate.get_runtime()  # the container's init phase builds the clients
    first, repeat = CallCounts(), CallCounts()
    try:
        for caller in range(CALLERS):
            for index in range(1 + REPEATS):
                invoke(hook, first if index == 0 else repeat, caller, index)
    finally:
        token_gate.set_runtime(None)
    if not first.calls["dynamodb"]:
        raise RuntimeError("the call counter saw no DynamoDB call: the hook is not attached")
    return {
        "first request of a caller": first.per_request(),
        "repeat request (warm)": repeat.per_request(),
    }


def invoke(hook: ApiCallHook, counts: CallCounts, caller: int, index: int) -> None:
    """One request through the real handler; its API calls and EMF records go to ``counts``."""
    body = {
        "model": MODEL_ALIAS,
        "messages": [{"role": "user", "content": f"Question {index} of caller {caller}."}],
        "parameters": {"max_tokens": 64},
        "tags": {"applicationId": "bench"},
    }
    user_arn = f"arn:aws:sts::123456789012:assumed-role/bench-role-{caller}/session-{index}"
    before = hook.calls.copy()
    stdout = io.StringIO()
    with redirect_stdout(stdout):  # EMF records are printed; keep them off the bench's table
        response = token_gate.handler(
            api_gateway_event(body, user_arn=user_arn), LocalLambdaContext()
        )
    if response["statusCode"] != 200:
        raise RuntimeError(f"the request was not allowed: {response['body']}")
    counts.requests += 1
    counts.calls.update(hook.calls - before)
    counts.emf_records += sum('"_aws"' in line for line in stdout.getvalue().splitlines())
