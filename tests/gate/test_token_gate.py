"""The handler end to end against moto DynamoDB and a stubbed Bedrock."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError

from bedrock_guard import token_gate
from bedrock_guard.core import keys
from bedrock_guard.core.invocation_metadata import CALLER_KEY, HOLD_ID_KEY
from bedrock_guard.core.usage_item import HOLDS
from bedrock_guard.gate.usage_store import REGISTRY_TTL_SECONDS, RegistryCache
from tests.gate.conftest import (
    API_KEY,
    HAIKU,
    ROLE,
    TABLE,
    USER,
    Gate,
    load_event,
    request_body,
)

HAIKU_INPUT, HAIKU_OUTPUT = Decimal("0.00025"), Decimal("0.00125")
# Worst case of request_body(): input bound 64 + 16 + 4 + 29 bytes of text, plus max_tokens 100.
WORST = 213


def haiku_cost(input_tokens: int, output_tokens: int) -> Decimal:
    return (input_tokens * HAIKU_INPUT + output_tokens * HAIKU_OUTPUT) / 1000


def markers(item: dict[str, Any]) -> list[str]:
    """The ids of the holds in flight in a (deserialized) month item."""
    return sorted(item.get(HOLDS, {}))


# Allowed requests ------------------------------------------------------------------------------


def test_allowed_request_reports_usage_cost_and_remaining(gate: Gate) -> None:
    gate.bedrock.reply(text="Spend rose 4%.", input_tokens=12, output_tokens=6)
    status, body, headers = gate.invoke(request_body())

    assert status == 200
    assert headers["Content-Type"] == "application/json"
    cost = haiku_cost(12, 6)
    assert body["output"] == "Spend rose 4%."
    assert body["usage"] == {"inputTokens": 12, "outputTokens": 6, "totalTokens": 18}
    assert Decimal(str(body["costUsd"])) == cost
    assert body["requestId"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    assert body["remaining"] == {
        "monthlyTokens": 100000 - 18,
        "monthlyUsd": float(Decimal("10.00") - cost),
        "dailyTokens": 20000 - 18,
        "dailyUsd": float(Decimal("1.00") - cost),
    }

    item = gate.usage(ROLE)
    assert (item["month_tokens"], item["d23_tokens"]) == (18, 18)
    assert item["month_usd"] == item["d23_usd"] == cost
    assert markers(item) == []
    # The call Bedrock received: the allowlisted id and the validated, Converse-shaped request.
    (call,) = gate.bedrock.calls
    metadata = call.pop("requestMetadata")
    assert call == {
        "modelId": HAIKU,
        "messages": [{"role": "user", "content": [{"text": "Summarise our Q3 cloud spend."}]}],
        "inferenceConfig": {"maxTokens": 100},
    }
    # Bedrock logs which hold and caller the call was made for (the usage meter reads it).
    assert set(metadata) == {HOLD_ID_KEY, CALLER_KEY}
    assert metadata[CALLER_KEY] == ROLE
    assert re.fullmatch(r"[0-9a-f]{16}", metadata[HOLD_ID_KEY])


def test_remaining_lists_only_limited_windows(make_gate: Callable[..., Gate]) -> None:
    gate = make_gate(TIER_LIMITS_JSON={"standard": {"monthly_usd": "2"}, "unlimited": {}})
    gate.bedrock.reply(input_tokens=50, output_tokens=50)
    status, body, _ = gate.invoke(request_body())
    assert status == 200
    assert body["remaining"] == {"monthlyUsd": 1.999925}


def test_unlimited_tier_has_no_remaining(make_gate: Callable[..., Gate]) -> None:
    gate = make_gate(DEFAULT_TIER="unlimited")
    gate.bedrock.reply()
    status, body, _ = gate.invoke(request_body())
    assert (status, body["remaining"]) == (200, {})
    assert gate.usage(ROLE)["month_tokens"] == 18  # still counted


def test_cache_tokens_are_charged_at_cache_prices(gate: Gate) -> None:
    gate.bedrock.reply(input_tokens=10, output_tokens=20, cache_read=3000, cache_write=500)
    body = request_body(
        messages=[
            {
                "role": "user",
                "content": [{"text": "context " * 500}, {"cachePoint": {"type": "default"}}],
            }
        ]
    )
    status, answer, _ = gate.invoke(body)
    assert status == 200
    assert answer["usage"] == {
        "inputTokens": 10,
        "outputTokens": 20,
        "totalTokens": 3530,
        "cacheReadInputTokens": 3000,
        "cacheWriteInputTokens": 500,
    }
    expected = (
        10 * HAIKU_INPUT
        + 20 * HAIKU_OUTPUT
        + 3000 * HAIKU_INPUT * Decimal("0.1")
        + 500 * HAIKU_INPUT * Decimal("1.25")
    ) / 1000
    assert Decimal(str(answer["costUsd"])) == expected
    assert gate.usage(ROLE)["month_tokens"] == 3530
    assert gate.usage(ROLE)["month_usd"] == expected
    assert gate.bedrock.calls[0]["messages"][0]["content"][1] == {"cachePoint": {"type": "default"}}


def test_all_parameters_and_system_reach_converse(gate: Gate) -> None:
    gate.bedrock.reply()
    body = request_body(
        system="You are terse.",
        parameters={"max_tokens": 64, "temperature": 0.5, "top_p": 0.9, "stop_sequences": ["##"]},
    )
    assert gate.invoke(body)[0] == 200
    call = gate.bedrock.calls[0]
    assert call["system"] == [{"text": "You are terse."}]
    assert call["inferenceConfig"] == {
        "maxTokens": 64,
        "temperature": 0.5,
        "topP": 0.9,
        "stopSequences": ["##"],
    }


def test_warm_allowed_request_costs_two_dynamodb_calls(gate: Gate) -> None:
    gate.bedrock.reply()
    gate.bedrock.reply()
    assert gate.invoke(request_body())[0] == 200
    # The caller's first request of the month reads the registry and opens the month item
    # (a consistent read of the lock state, then the write that opens it) before it reserves.
    assert gate.dynamo_calls.operations == [
        "GetItem",
        "UpdateItem",
        "GetItem",
        "UpdateItem",
        "UpdateItem",
        "UpdateItem",
    ]
    gate.dynamo_calls.reset()
    assert gate.invoke(request_body())[0] == 200
    assert gate.dynamo_calls.operations == ["UpdateItem", "UpdateItem"]


def test_application_profile_is_called_and_priced_as_its_source_model(gate: Gate) -> None:
    gate.bedrock.reply(input_tokens=100, output_tokens=100)
    status, body, _ = gate.invoke(request_body(model="sonnet-app"))
    assert status == 200
    assert gate.bedrock.calls[0]["modelId"].endswith(":application-inference-profile/a1b2c3d4e5f6")
    assert Decimal(str(body["costUsd"])) == Decimal("0.0018")  # (0.3 + 1.5) / 1000


def test_cross_region_profile_prices_as_base_model(gate: Gate) -> None:
    gate.bedrock.reply(input_tokens=100, output_tokens=100)
    status, body, _ = gate.invoke(request_body(model="nova-micro"))
    assert status == 200
    assert gate.bedrock.calls[0]["modelId"] == "us.amazon.nova-micro-v1:0"
    assert Decimal(str(body["costUsd"])) == Decimal("0.0000175")


def test_base64_event_body(gate: Gate) -> None:
    gate.bedrock.reply()
    payload = load_event("assumed_role_base64")
    response = token_gate.handler(payload, gate.lambda_context)
    assert response["statusCode"] == 200


# Refusals ---------------------------------------------------------------------------------------


def assert_nothing_changed(gate: Gate, before: dict[str, Any]) -> None:
    assert gate.usage(ROLE) == before
    assert gate.bedrock.calls == []


def test_exhausted_daily_budget_is_429_and_never_reaches_bedrock(gate: Gate) -> None:
    gate.fill(ROLE, d23_tokens=19990, month_tokens=19990)
    before = gate.usage(ROLE)
    status, body, headers = gate.invoke(request_body())

    assert status == 429
    error = body["error"]
    assert error["code"] == "BudgetExceeded"
    assert error["limit"] == "daily_tokens"
    assert (error["used"], error["limitValue"]) == (19990, 20000)
    assert error["resetsAt"] == "2026-11-24T00:00:00Z"
    assert headers["Retry-After"] == str(9 * 3600)
    assert error["requested"] == WORST
    assert_nothing_changed(gate, before)


def test_monthly_window_refuses_until_the_next_month(gate: Gate) -> None:
    gate.fill(ROLE, month_tokens=99990, d01_tokens=99990)
    status, body, headers = gate.invoke(request_body())
    assert status == 429
    assert body["error"]["limit"] == "monthly_tokens"
    assert body["error"]["resetsAt"] == "2026-12-01T00:00:00Z"
    assert headers["Retry-After"] == str(int(timedelta(days=7, hours=9).total_seconds()))
    assert gate.bedrock.calls == []


def test_daily_window_resets_at_utc_midnight(make_gate: Callable[..., Gate]) -> None:
    # Each request reserves WORST tokens and uses 200.
    gate = make_gate(TIER_LIMITS_JSON={"standard": {"daily_tokens": 450, "monthly_tokens": 800}})
    for _ in range(3):
        gate.bedrock.reply(input_tokens=100, output_tokens=100)
    assert gate.invoke(request_body())[0] == 200  # 0 + WORST fits 450
    assert gate.invoke(request_body())[0] == 200  # 200 + WORST fits 450
    status, body, _ = gate.invoke(request_body())  # 400 + WORST does not
    assert (status, body["error"]["limit"], body["error"]["requested"]) == (
        429,
        "daily_tokens",
        WORST,
    )
    gate.now[0] = datetime(2026, 11, 24, 0, 0, 1, tzinfo=UTC)
    status, body, _ = gate.invoke(request_body())
    assert status == 200
    assert body["remaining"] == {"monthlyTokens": 200, "dailyTokens": 250}
    item = gate.usage(ROLE)
    assert (item["d23_tokens"], item["d24_tokens"], item["month_tokens"]) == (400, 200, 600)
    # The monthly limit still binds across days: 600 + WORST > 800.
    status, body, _ = gate.invoke(request_body())
    assert (status, body["error"]["limit"]) == (429, "monthly_tokens")


def test_new_month_starts_from_zero(gate: Gate) -> None:
    gate.fill(ROLE, month_tokens=99990, d23_tokens=19990)
    gate.now[0] = datetime(2026, 12, 1, 0, 0, 0, tzinfo=UTC)
    gate.bedrock.reply()
    assert gate.invoke(request_body())[0] == 200
    assert gate.usage(ROLE, "2026-12")["month_tokens"] == 18
    assert gate.usage(ROLE)["month_tokens"] == 99990


def test_usd_limits_refuse_on_dollars(make_gate: Callable[..., Gate]) -> None:
    # Worst case on the Sonnet profile: 113 input tokens at the cache-write rate 0.00375
    # plus 500 output tokens at 0.015, per 1K: 0.00792375 USD. Actual: 0.0063 USD.
    gate = make_gate(TIER_LIMITS_JSON={"standard": {"daily_usd": "0.012"}})
    gate.bedrock.reply(input_tokens=100, output_tokens=400)
    body = request_body(model="sonnet-app", parameters={"max_tokens": 500})
    assert gate.invoke(body)[0] == 200
    status, answer, _ = gate.invoke(body)  # 0.0063 + 0.00792375 > 0.012
    assert status == 429
    assert answer["error"]["limit"] == "daily_usd"
    assert Decimal(str(answer["error"]["used"])) == Decimal("0.0063")
    assert Decimal(str(answer["error"]["requested"])) == Decimal("0.00792375")
    assert answer["error"]["limitValue"] == 0.012
    assert len(gate.bedrock.calls) == 1


def test_request_larger_than_a_whole_limit_is_refused_without_a_write(
    make_gate: Callable[..., Gate],
) -> None:
    gate = make_gate(TIER_LIMITS_JSON={"standard": {"daily_tokens": 500}})
    status, body, headers = gate.invoke(request_body(parameters={"max_tokens": 600}))
    assert status == 400
    assert body["error"]["code"] == "RequestExceedsLimit"
    assert body["error"]["limit"] == "daily_tokens"
    assert "Retry-After" not in headers  # waiting would not help
    assert gate.dynamo_calls.operations == ["GetItem"]
    assert gate.bedrock.calls == []


def test_locked_caller_gets_403(gate: Gate) -> None:
    gate.lock(ROLE, "arn:aws:cloudwatch:us-east-1:123456789012:alarm:analytics-app-budget")
    status, body, _ = gate.invoke(request_body())
    assert (status, body["error"]["code"]) == (403, "Locked")
    assert "arn:" not in body["error"]["message"]  # lock holders are not disclosed
    # Nothing was charged or held: the month item holds only the ledger's lock mirror.
    assert set(gate.usage(ROLE)) == {"pk", "sk", keys.LOCKED_BY}
    assert gate.bedrock.calls == []


@pytest.mark.parametrize(
    ("holders", "says"),
    [
        (["arn:aws:cloudwatch:us-east-1:123456789012:alarm:a"], "(a budget alarm fired)"),
        (["window:daily_tokens:2026-11-23"], "(its direct Bedrock use went over a budget)"),
        (["operator"], "(an operator locked it)"),
        (
            ["operator", "window:monthly_usd:2026-11"],
            "(its direct Bedrock use went over a budget; an operator locked it)",
        ),
    ],
    ids=["alarm", "meter", "operator", "meter-and-operator"],
)
def test_the_403_says_which_kind_of_lock_holds_the_caller(
    gate: Gate, holders: list[str], says: str
) -> None:
    gate.lock(ROLE, *holders)
    status, body, _ = gate.invoke(request_body())
    assert (status, body["error"]["code"]) == (403, "Locked")
    assert says in body["error"]["message"]
    assert "alarm:" not in body["error"]["message"]


def test_lock_recorded_before_the_month_began_refuses_in_the_new_month(gate: Gate) -> None:
    """The ledger mirrors a lock into three months only; an older lock is found in its state
    item when the gate opens a new month, and the month stays unopened."""
    gate.dynamodb.put_item(
        TableName=TABLE,
        Item={
            **keys.attribute_values(keys.lock_state_key(ROLE)),
            keys.LOCKED_BY: {"SS": ["operator"]},
        },
    )
    status, body, _ = gate.invoke(request_body())
    assert (status, body["error"]["code"]) == (403, "Locked")
    assert gate.usage(ROLE) == {}
    assert gate.bedrock.calls == []


def test_lock_released_lets_the_caller_back(gate: Gate) -> None:
    gate.lock(ROLE, "operator")
    assert gate.invoke(request_body())[0] == 403
    gate.unlock(ROLE)
    gate.bedrock.reply()
    assert gate.invoke(request_body())[0] == 200


# Identity ---------------------------------------------------------------------------------------


def test_assumed_role_sessions_share_the_roles_budget(
    make_gate: Callable[..., Gate], lambda_context: Any
) -> None:
    gate = make_gate(TIER_LIMITS_JSON={"standard": {"daily_tokens": 450}})
    gate.bedrock.reply(input_tokens=100, output_tokens=100)
    gate.bedrock.reply(input_tokens=100, output_tokens=100)
    for session in ("batch-1", "interactive-2"):
        event = load_event("assumed_role")
        identity = event["requestContext"]["identity"]
        identity["userArn"] = f"arn:aws:sts::123456789012:assumed-role/analytics-app/{session}"
        event["body"] = json.dumps(request_body())
        assert token_gate.handler(event, lambda_context)["statusCode"] == 200
    assert gate.usage(ROLE)["d23_tokens"] == 400
    event["requestContext"]["identity"]["userArn"] = (
        "arn:aws:sts::123456789012:assumed-role/analytics-app/third-session"
    )
    refused = token_gate.handler(event, lambda_context)
    assert refused["statusCode"] == 429
    assert json.loads(refused["body"])["error"]["used"] == 400


def test_iam_users_and_api_keys_have_budgets_of_their_own(gate: Gate) -> None:
    gate.bedrock.reply()
    gate.bedrock.reply()
    assert gate.invoke(request_body(), event="iam_user")[0] == 200
    assert gate.invoke(request_body(), event="api_key")[0] == 200
    assert gate.usage(USER)["month_tokens"] == 18
    assert gate.usage(API_KEY)["month_tokens"] == 18
    assert gate.usage(ROLE) == {}


def test_no_identity_is_403(gate: Gate) -> None:
    status, body, _ = gate.invoke(request_body(), event="no_identity")
    assert (status, body["error"]["code"]) == (403, "NoIdentity")
    assert gate.dynamo_calls.operations == []
    assert gate.bedrock.calls == []


@pytest.mark.parametrize(
    "claim",
    [
        {"requestContext": {"identity": {"userArn": USER}}},
        {"userArn": USER},
        {"apiKeyId": "k9x8w7v6u5"},
        {"principal": USER},
        {"identity": {"userArn": USER}},
    ],
)
def test_identity_fields_in_the_body_are_never_used(gate: Gate, claim: dict[str, Any]) -> None:
    # With a real identity, the claim is an unknown field: refused, nobody charged.
    status, body, _ = gate.invoke({**request_body(), **claim})
    assert (status, body["error"]["code"]) == (400, "InvalidRequest")
    # Without one, the claim does not create an identity.
    status, body, _ = gate.invoke({**request_body(), **claim}, event="no_identity")
    assert (status, body["error"]["code"]) == (403, "NoIdentity")
    assert gate.usage(USER) == {}
    assert gate.usage(ROLE) == {}
    assert gate.bedrock.calls == []


def test_tags_naming_someone_else_charge_the_real_caller(gate: Gate) -> None:
    gate.register(USER, tier="standard", cost_center="cc-alice", application="alice-app")
    gate.bedrock.reply()
    tags = {"applicationId": "alice-app", "costCenter": "cc-alice"}
    assert gate.invoke(request_body(tags=tags))[0] == 200
    assert gate.usage(ROLE)["month_tokens"] == 18
    assert gate.usage(USER) == {}


# Registry ---------------------------------------------------------------------------------------


def test_unregistered_callers_are_refused_when_default_tier_is_none(
    make_gate: Callable[..., Gate],
) -> None:
    gate = make_gate(DEFAULT_TIER="none")
    status, body, _ = gate.invoke(request_body())
    assert (status, body["error"]["code"]) == (403, "UnknownCaller")
    # Registering the caller takes effect on the next request, despite the cache.
    gate.register(ROLE, tier="standard")
    gate.bedrock.reply()
    gate.dynamo_calls.reset()
    assert gate.invoke(request_body())[0] == 200
    assert gate.dynamo_calls.operations[0] == "GetItem"  # read again: a refusal is never cached


def test_unknown_tier_fails_closed(gate: Gate) -> None:
    gate.register(ROLE, tier="platinum")
    status, body, _ = gate.invoke(request_body())
    assert (status, body["error"]["code"]) == (403, "TierNotConfigured")
    assert "platinum" in body["error"]["message"]
    assert gate.bedrock.calls == []
    assert gate.usage(ROLE) == {}


def test_registry_change_takes_effect_within_the_cache_ttl(make_gate: Callable[..., Gate]) -> None:
    gate = make_gate(
        TIER_LIMITS_JSON={"standard": {"daily_tokens": 20000}, "small": {"daily_tokens": 300}}
    )
    elapsed = [0.0]
    gate.runtime.store.cache = RegistryCache(monotonic=lambda: elapsed[0])
    gate.register(ROLE, tier="standard")
    gate.bedrock.reply(input_tokens=100, output_tokens=100)
    gate.bedrock.reply(input_tokens=100, output_tokens=100)
    assert gate.invoke(request_body())[0] == 200  # profile now cached as "standard"

    gate.register(ROLE, tier="small")
    elapsed[0] = REGISTRY_TTL_SECONDS - 1
    assert gate.invoke(request_body())[0] == 200  # within the stated bound: still "standard"

    elapsed[0] = REGISTRY_TTL_SECONDS
    gate.dynamo_calls.reset()
    status, body, _ = gate.invoke(request_body())
    assert (status, body["error"]["limit"], body["error"]["limitValue"]) == (
        429,
        "daily_tokens",
        300,
    )
    assert gate.dynamo_calls.operations == ["GetItem", "UpdateItem"]
    assert gate.runtime.store.cache.get(ROLE).tier == "small"  # type: ignore[union-attr]


def test_price_less_model_is_refused_before_any_call(gate: Gate) -> None:
    status, body, _ = gate.invoke(request_body(model="mystery"))
    assert (status, body["error"]["code"]) == (403, "ModelNotPriced")
    assert gate.dynamo_calls.operations == []
    assert gate.bedrock.calls == []


def test_alias_outside_the_allowlist_is_invalid(gate: Gate) -> None:
    status, body, _ = gate.invoke(request_body(model=HAIKU))  # a raw model id is not an alias
    assert (status, body["error"]["code"]) == (400, "InvalidRequest")
    assert body["error"]["message"].startswith("model: ")
    assert gate.bedrock.calls == []


# Bedrock failures -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "http", "status", "answer"),
    [
        ("ThrottlingException", 429, 429, "BedrockThrottled"),
        ("ServiceQuotaExceededException", 400, 429, "BedrockThrottled"),
        ("ValidationException", 400, 400, "BedrockValidationError"),
        ("AccessDeniedException", 403, 502, "BedrockError"),
        ("ModelTimeoutException", 408, 502, "BedrockError"),
        ("InternalServerException", 500, 502, "BedrockError"),
        ("ServiceUnavailableException", 503, 502, "BedrockError"),
    ],
)
def test_bedrock_errors_release_the_reservation(
    gate: Gate, code: str, http: int, status: int, answer: str
) -> None:
    gate.bedrock.fail(code, http, "input is too long")
    got, body, headers = gate.invoke(request_body())
    assert (got, body["error"]["code"]) == (status, answer)
    assert body["error"]["code"] != "BudgetExceeded"
    item = gate.usage(ROLE)
    assert item["month_tokens"] == item["d23_tokens"] == 0
    assert item["month_usd"] == item["d23_usd"] == 0
    assert markers(item) == []
    assert ("Retry-After" in headers) is (status == 429)
    if code == "ValidationException":
        assert "input is too long" in body["error"]["message"]


class FailingBedrock:
    """A bedrock-runtime stand-in whose transport fails."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def converse(self, **_: Any) -> Any:
        self.calls += 1
        raise self.error


def test_read_timeout_keeps_the_worst_case_charged(gate: Gate) -> None:
    fake = FailingBedrock(ReadTimeoutError(endpoint_url="https://bedrock-runtime"))
    gate.runtime.bedrock = fake
    status, body, _ = gate.invoke(request_body())
    assert (status, body["error"]["code"]) == (504, "BedrockTimeout")
    item = gate.usage(ROLE)
    assert item["month_tokens"] > 100  # the reservation: input bound + max_tokens
    assert markers(item) == []  # settled at the worst case, no longer in flight


def test_connect_failure_releases(gate: Gate) -> None:
    gate.runtime.bedrock = FailingBedrock(ConnectTimeoutError(endpoint_url="https://x"))
    status, body, _ = gate.invoke(request_body())
    assert (status, body["error"]["code"]) == (502, "BedrockError")
    assert gate.usage(ROLE)["month_tokens"] == 0


class BrokenUpdates:
    """Delegates to a DynamoDB client but fails every settle and release (an UpdateItem that
    removes a hold), after the store's own retries too."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def update_item(self, **params: Any) -> Any:
        if "REMOVE #holds.#h" not in params["UpdateExpression"]:
            return self._client.update_item(**params)
        raise ClientError(
            {"Error": {"Code": "InternalServerError", "Message": "boom"}}, "UpdateItem"
        )


def test_failed_release_still_answers_and_stays_charged(
    gate: Gate, caplog: pytest.LogCaptureFixture
) -> None:
    gate.runtime.store.client = BrokenUpdates(gate.runtime.store.client)
    gate.bedrock.fail("InternalServerException", 500)
    status, body, _ = gate.invoke(request_body())
    assert (status, body["error"]["code"]) == (502, "BedrockError")
    item = gate.usage(ROLE)
    assert item["month_tokens"] > 100
    assert len(markers(item)) == 1  # visible to operators as a hold never finished
    assert "could not release the hold" in caplog.text


def test_failed_settle_still_answers_200(gate: Gate, caplog: pytest.LogCaptureFixture) -> None:
    gate.runtime.store.client = BrokenUpdates(gate.runtime.store.client)
    gate.bedrock.reply()
    status, body, _ = gate.invoke(request_body())
    assert status == 200
    assert body["remaining"] == {}
    assert gate.usage(ROLE)["month_tokens"] > 18  # the worst case, not the actual 18
    assert "could not settle" in caplog.text


def test_dynamodb_failure_before_bedrock_is_5xx_and_never_calls_bedrock(gate: Gate) -> None:
    gate.runtime.store.table_name = "missing-table"
    status, body, _ = gate.invoke(request_body())
    assert (status, body["error"]["code"]) == (500, "InternalError")
    assert gate.bedrock.calls == []


def test_unreadable_bedrock_answer_keeps_the_worst_case(gate: Gate) -> None:
    class Garbled:
        def converse(self, **_: Any) -> dict[str, Any]:
            return {"output": {}, "usage": {"inputTokens": "many"}}

    gate.runtime.bedrock = Garbled()
    status, body, _ = gate.invoke(request_body())
    assert (status, body["error"]["code"]) == (502, "BedrockError")
    assert gate.usage(ROLE)["month_tokens"] > 100


def test_usage_beyond_the_reservation_is_charged_truthfully_and_logged(
    gate: Gate, caplog: pytest.LogCaptureFixture
) -> None:
    gate.bedrock.reply(input_tokens=5000, output_tokens=100)
    assert gate.invoke(request_body())[0] == 200
    assert gate.usage(ROLE)["month_tokens"] == 5100
    assert "actual usage exceeded the reservation" in caplog.text


def test_allowed_requests_stay_within_their_reservation(
    gate: Gate, caplog: pytest.LogCaptureFixture
) -> None:
    gate.bedrock.reply(input_tokens=113, output_tokens=100)  # exactly the worst case
    assert gate.invoke(request_body())[0] == 200
    assert gate.usage(ROLE)["month_tokens"] == WORST
    assert "exceeded the reservation" not in caplog.text


@pytest.mark.parametrize("name", ["alice", "alice2", "mallory-1", "mallory-2", "mallory-3"])
def test_federated_users_get_no_default_budget(gate: Gate, name: str) -> None:
    """sts:GetFederationToken mints a new identity per name at no cost: each would otherwise
    get a fresh default budget. Refused unless registered, and nothing is written."""
    payload = load_event("assumed_role")
    federated = f"arn:aws:sts::123456789012:federated-user/{name}"
    payload["requestContext"]["identity"]["userArn"] = federated
    payload["body"] = json.dumps(request_body())
    response = token_gate.handler(payload, gate.lambda_context)
    body = json.loads(response["body"])
    assert (response["statusCode"], body["error"]["code"]) == (403, "UnknownCaller")
    assert "register" in body["error"]["message"]
    assert gate.usage(federated) == {}
    assert gate.bedrock.calls == []


def test_a_registered_federated_user_is_served(gate: Gate) -> None:
    federated = "arn:aws:sts::123456789012:federated-user/contractor"
    gate.register(federated, tier="standard")
    payload = load_event("assumed_role")
    payload["requestContext"]["identity"]["userArn"] = federated
    payload["body"] = json.dumps(request_body())
    gate.bedrock.reply()
    assert token_gate.handler(payload, gate.lambda_context)["statusCode"] == 200
