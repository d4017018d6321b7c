"""CPU the gate adds on top of its AWS calls, and its cold start against bare boto3.

(1) Warm: the real handler (parsing, accounting, logging, the EMF record) serves allowed
requests against in-memory stand-ins of DynamoDB and Bedrock that answer at once, so the
process CPU time per request is the gate's own. (2) Cold: fresh interpreters in a Lambda-like
environment (``LAMBDA_TASK_ROOT`` set, as Lambda sets it, so X-Ray's local sampler is not
started) import the handler and build its clients, against ones that import boto3 and build the
same two clients; the ratio is the gate's overhead.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from typing import Any, Final

from bedrock_guard import token_gate
from bedrock_guard.gate.config import load_config
from bedrock_guard.gate.service import GateRuntime
from bedrock_guard.gate.usage_store import UsageStore
from bedrock_guard.local.lambda_events import LocalLambdaContext, api_gateway_event

WARM_REQUESTS: Final = 2000
COLD_RUNS: Final = 7
HAIKU: Final = "anthropic.claude-3-haiku-20240307-v1:0"
GATE_ENVIRONMENT: Final = {
    "USAGE_TABLE_NAME": "bench-cpu",
    "TIER_LIMITS_JSON": json.dumps({"hot": {"daily_tokens": 10**12, "monthly_usd": "1000000"}}),
    "DEFAULT_TIER": "hot",
    "MODEL_ALIASES_JSON": json.dumps({"claude-3-haiku": HAIKU}),
}


class InstantDynamoDB:
    """Answers the gate's calls as DynamoDB would for a warm, opened month, at once."""

    def get_item(self, **_: Any) -> dict[str, Any]:
        return {}

    def update_item(self, **params: Any) -> dict[str, Any]:
        if params.get("ReturnValues") == "ALL_NEW":
            return {"Attributes": {"holds": {"M": {}}, "month_tokens": {"N": "100"}}}
        return {"Attributes": {"month_tokens": {"N": "118"}, "d23_tokens": {"N": "118"}}}


class InstantBedrock:
    def converse(self, **_: Any) -> dict[str, Any]:
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": "Done."}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 12, "outputTokens": 6, "totalTokens": 18},
        }


def warm_cpu_ms_per_request() -> dict[str, Any]:
    """Process CPU ms per allowed request of the real handler over instant stand-ins."""
    config = load_config(GATE_ENVIRONMENT)
    runtime = GateRuntime(
        config=config, store=UsageStore(InstantDynamoDB(), "bench-cpu"), bedrock=InstantBedrock()
    )
    token_gate.set_runtime(runtime)
    body = json.dumps(
        {
            "model": "claude-3-haiku",
            "messages": [{"role": "user", "content": "Summarise our Q3 cloud spend."}],
            "parameters": {"max_tokens": 100},
            "tags": {"applicationId": "bench"},
        }
    )
    event = api_gateway_event(body, user_arn="arn:aws:iam::123456789012:user/bench")
    context = LocalLambdaContext(remaining_millis=900_000)
    try:
        with contextlib.redirect_stdout(io.StringIO()) as sink:
            for _ in range(100):  # warm every cache first
                token_gate.handler(event, context)
            sink.seek(0)
            sink.truncate()
            started = time.process_time()
            for _ in range(WARM_REQUESTS):
                response = token_gate.handler(event, context)
                sink.seek(0)
                sink.truncate()
            spent = time.process_time() - started
    finally:
        token_gate.set_runtime(None)
    assert response["statusCode"] == 200, response
    return {
        "requests": WARM_REQUESTS,
        "cpu_ms_per_request": round(1000 * spent / WARM_REQUESTS, 3),
    }


_BARE: Final = (
    "import time; t = time.perf_counter(); import boto3; "
    "boto3.client('dynamodb'); boto3.client('bedrock-runtime'); print(time.perf_counter() - t)"
)
_GATE: Final = (
    "import time; t = time.perf_counter(); from bedrock_guard import token_gate; "
    "r = token_gate.get_runtime(); r.bedrock.client_for(512); print(time.perf_counter() - t)"
)


def _lambda_like_environment() -> dict[str, str]:
    env = dict(os.environ) | GATE_ENVIRONMENT
    env |= {"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"}
    env.pop("AWS_LAMBDA_FUNCTION_NAME", None)  # the snippet builds the runtime itself
    return env


def _sample_ms(code: str, env: dict[str, str]) -> float:
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    )
    return 1000 * float(run.stdout)


def cold_start_ratio() -> dict[str, Any]:
    """Median cold import + clients of the gate against bare boto3 with the same clients,
    measured alternately in the same run so that the machine's load hits both alike."""
    env = _lambda_like_environment()
    for code in (_BARE, _GATE):  # the first runs write the bytecode caches
        _sample_ms(code, env)
    bare: list[float] = []
    gate: list[float] = []
    for _ in range(COLD_RUNS):
        bare.append(_sample_ms(_BARE, env))
        gate.append(_sample_ms(_GATE, env))
    bare_ms, gate_ms = statistics.median(bare), statistics.median(gate)
    return {
        "runs": COLD_RUNS,
        "bare_boto3_ms": round(bare_ms, 1),
        "gate_ms": round(gate_ms, 1),
        "ratio": float(round(Decimal(gate_ms) / Decimal(bare_ms), 2)),
    }
