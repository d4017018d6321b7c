"""Many gate requests at once in one process: a thread per Lambda container.

Each container gets its own runtime (configuration, store, registry cache) and calls the gate's
``serve`` directly, so a burst of 64 requests costs 64 threads, not 64 interpreters; the
botocore clients are shared (they are thread-safe and slow to build). DynamoDB is whatever the
caller points the client at: the rules proxy for anything that claims real behaviour.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from bedrock_guard.gate.config import load_config
from bedrock_guard.gate.metrics import RequestFacts
from bedrock_guard.gate.service import GateCall, GateRuntime, serve
from bedrock_guard.gate.usage_store import UsageStore

ANSWER_TIMEOUT_S: Final = 120.0


@dataclass(frozen=True)
class Answer:
    """One answer: status and parsed body (numbers as Decimal)."""

    status: int
    body: dict[str, Any]

    @property
    def tokens(self) -> int:
        return int(self.body["usage"]["totalTokens"]) if self.status == 200 else 0


@dataclass
class Containers:
    """Builds container runtimes over shared clients, all at one pinned clock."""

    environment: Mapping[str, str]
    dynamodb: Any
    bedrock: Any
    now: datetime

    def runtime(self) -> GateRuntime:
        config = load_config(self.environment)
        runtime = GateRuntime(
            config=config, store=UsageStore(self.dynamodb, config.table_name), bedrock=self.bedrock
        )
        runtime.clock = lambda: self.now
        return runtime


def request_call(principal: str, index: int, *, model: str, max_tokens: int) -> GateCall:
    """A gate call of ``principal`` (identity as requestContext would give it)."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": f"Summarise ticket {index}."}],
        "parameters": {"max_tokens": max_tokens},
        "tags": {"applicationId": "burst"},
    }
    return GateCall(
        principal=principal,
        body=json.dumps(body),
        is_base64=False,
        request_id=f"req-{index:05d}",
        time_left_seconds=30,
    )


def answer_of(response: Mapping[str, Any]) -> Answer:
    return Answer(int(response["statusCode"]), json.loads(response["body"], parse_float=Decimal))


def burst(
    containers: Containers,
    calls: list[GateCall],
    *,
    during: Callable[[], None] | None = None,
) -> list[Answer]:
    """Serve every call at once, one container each; ``during`` runs once half of them have
    started (for a lock or a fault in the middle of the burst)."""
    count = len(calls)
    runtimes = [containers.runtime() for _ in calls]
    start = threading.Barrier(count)
    half = threading.Barrier(count // 2 + (1 if during else 0))

    def one(index: int) -> Answer:
        start.wait()
        if index < count // 2:
            half.wait()
        return answer_of(serve(runtimes[index], calls[index], RequestFacts()))

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(one, index) for index in range(count)]
        if during is not None:
            half.wait()
            during()
        return [future.result(timeout=ANSWER_TIMEOUT_S) for future in futures]
