"""End to end on one table: the token gate serves a caller, the enforcer locks it (the gate
answers 403 without calling Bedrock), the alarm clears, and the gate serves it again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from botocore.stub import Stubber

from bedrock_guard import token_gate
from bedrock_guard.enforcer import operator_actions
from tests.conftest import FakeLambdaContext
from tests.enforcer.conftest import ALICE, BOB, TABLE, Alarms, Loader, World, load_event, sns_event

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
GATE_ENV = {
    "USAGE_TABLE_NAME": TABLE,  # the enforcer's ledger: the same table, as in the environments
    "TIER_LIMITS_JSON": json.dumps(
        {"standard": {"daily_tokens": 100000, "monthly_tokens": 1000000, "monthly_usd": "50.00"}}
    ),
    "DEFAULT_TIER": "standard",
    "MODEL_ALIASES_JSON": json.dumps({"claude-3-haiku": HAIKU}),
    "BEDROCK_READ_TIMEOUT_SECONDS": "5",
    "BEDROCK_MAX_ATTEMPTS": "1",
}
CONVERSE_REPLY = {
    "output": {"message": {"role": "assistant", "content": [{"text": "Spend rose 4%."}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 12, "outputTokens": 6, "totalTokens": 18},
    "metrics": {"latencyMs": 420},
}


class GateDriver:
    """The real gate handler on the moto table, Bedrock under botocore's Stubber."""

    def __init__(self, context: FakeLambdaContext) -> None:
        self.context = context
        self.runtime = token_gate.build_runtime(GATE_ENV)
        # One stubbed client serves every request (the real runtime keeps one per timeout).
        self.runtime.bedrock = self.runtime.bedrock.client_for(100)
        self.stubber = Stubber(self.runtime.bedrock)
        self.stubber.activate()
        self.bedrock_calls = 0
        self.runtime.bedrock.meta.events.register(
            "provide-client-params.bedrock-runtime.Converse", self._count
        )
        token_gate.set_runtime(self.runtime)

    def _count(self, **_: Any) -> None:
        self.bedrock_calls += 1

    def ask(self, principal: str) -> tuple[int, dict[str, Any]]:
        event = load_event("apigw_iam_user.json")
        event["requestContext"]["identity"]["userArn"] = principal
        event["body"] = json.dumps(
            {
                "model": "claude-3-haiku",
                "messages": [{"role": "user", "content": "Summarise our Q3 cloud spend."}],
                "parameters": {"max_tokens": 100},
                "tags": {"applicationId": "spend-reports"},
            }
        )
        self.stubber.add_response("converse", CONVERSE_REPLY)
        response = token_gate.handler(event, self.context)
        body = json.loads(response["body"])
        if response["statusCode"] != 200:
            # The queued reply was not used: drop it so the next call starts clean.
            self.stubber.deactivate()
            self.stubber = Stubber(self.runtime.bedrock)
            self.stubber.activate()
        return int(response["statusCode"]), body


@pytest.fixture
def gate(world: World, lambda_context: FakeLambdaContext) -> Iterator[GateDriver]:
    token_gate.metrics.clear_metrics()
    driver = GateDriver(lambda_context)
    yield driver
    token_gate.set_runtime(None)
    token_gate.metrics.clear_metrics()


def test_the_gate_refuses_a_locked_caller_with_403_and_serves_it_again_after_release(
    enforcer: ModuleType,
    world: World,
    alarms: Alarms,
    gate: GateDriver,
    lambda_context: FakeLambdaContext,
) -> None:
    alarms.create(principal=ALICE)
    status, body = gate.ask(ALICE)
    assert status == 200, body
    assert gate.bedrock_calls == 1

    enforcer.handler(alarms.fire_event(state="ALARM"), lambda_context)
    assert world.attached(ALICE)

    status, body = gate.ask(ALICE)
    assert status == 403
    assert body["error"]["code"] == "Locked"
    assert gate.bedrock_calls == 1  # refused before Bedrock
    status, _ = gate.ask(BOB)  # other callers are unaffected
    assert status == 200
    assert gate.bedrock_calls == 2

    enforcer.handler(alarms.fire_event(state="OK"), lambda_context)
    assert not world.attached(ALICE)

    status, body = gate.ask(ALICE)
    assert status == 200, body
    assert gate.bedrock_calls == 3


def test_the_gate_refuses_a_dry_run_lock_never(
    load_enforcer: Loader,
    world: World,
    alarms: Alarms,
    gate: GateDriver,
    lambda_context: FakeLambdaContext,
) -> None:
    dry = load_enforcer(DRY_RUN="true")
    alarms.create(principal=ALICE)
    summary = dry.handler(alarms.fire_event(), lambda_context)
    assert summary["records"][0]["principals"][0]["outcome"] == "dry_run_lock"

    status, body = gate.ask(ALICE)

    assert status == 200, body


def test_the_gate_keeps_serving_a_caller_named_by_a_forged_alarm(
    enforcer: ModuleType,
    world: World,
    alarms: Alarms,
    gate: GateDriver,
    lambda_context: FakeLambdaContext,
) -> None:
    alarms.create(principal=BOB)
    forged = alarms.fire()
    forged["Trigger"]["Dimensions"] = [{"value": ALICE, "name": "Principal"}]

    enforcer.handler(sns_event(forged), lambda_context)

    assert gate.ask(ALICE)[0] == 200
    assert gate.ask(BOB)[0] == 403  # the alarm that really fired names bob


def test_operator_unlock_serves_the_caller_again(
    enforcer: ModuleType,
    world: World,
    alarms: Alarms,
    gate: GateDriver,
    lambda_context: FakeLambdaContext,
) -> None:
    alarms.create(principal=ALICE)
    enforcer.handler(alarms.fire_event(), lambda_context)
    assert gate.ask(ALICE)[0] == 403

    operator_actions.unlock(enforcer.SERVICE, ALICE, reason="raised", requested_by="ops")

    assert gate.ask(ALICE)[0] == 200
