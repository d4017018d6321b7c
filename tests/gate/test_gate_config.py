"""Environment parsing: a complete, checked configuration or an error naming every problem."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import pytest

from bedrock_guard.core.accounting import Limits
from bedrock_guard.gate.config import (
    ENVIRONMENT_VARIABLES,
    REQUIRED_ENVIRONMENT_VARIABLES,
    GateConfigError,
    ModelRoute,
    load_config,
)
from tests.gate.conftest import ALIASES, HAIKU, TIERS, environment


class RecordingEnviron(Mapping[str, str]):
    """An environment that remembers every name looked up."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return self.values.get(key, default)

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the configuration must look names up, not scan the environment")

    def __len__(self) -> int:
        return len(self.values)


def test_every_name_read_is_declared() -> None:
    environ = RecordingEnviron(environment())
    load_config(environ)
    assert environ.read <= set(ENVIRONMENT_VARIABLES)
    # Declared but read elsewhere: Powertools' service name, and the tracer switch, which the
    # handler module reads once at import.
    assert set(ENVIRONMENT_VARIABLES) - environ.read == {
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_TRACE_DISABLED",
    }
    assert set(REQUIRED_ENVIRONMENT_VARIABLES) <= set(ENVIRONMENT_VARIABLES)


def test_complete_configuration() -> None:
    config = load_config(
        environment(
            PRICING_JSON={"acme.unpriced-model-v1:0": {"input": "0.01", "output": "0.02"}},
            MAX_OUTPUT_TOKENS="2048",
            DEFAULT_MAX_TOKENS="300",
            MAX_REQUEST_BYTES="100000",
            METRICS_COMBINED_DIMENSIONS="TRUE",
            CALLER_METRICS="off",
            BEDROCK_ENDPOINT_URL="http://127.0.0.1:4010",
            POWERTOOLS_METRICS_NAMESPACE="Custom",
        )
    )
    assert config.tiers["standard"] == Limits(
        daily_tokens=20000,
        monthly_tokens=100000,
        daily_usd=Decimal("1.00"),
        monthly_usd=Decimal("10.00"),
    )
    assert config.tiers["unlimited"] == Limits()
    assert config.default_tier == "standard"
    assert config.models["claude-3-haiku"] == ModelRoute("claude-3-haiku", HAIKU, HAIKU)
    assert config.models["nova-micro"].pricing_model == "amazon.nova-micro-v1:0"
    assert config.models["sonnet-app"].target.endswith("application-inference-profile/a1b2c3d4e5f6")
    assert config.models["sonnet-app"].pricing_model == "anthropic.claude-3-5-sonnet-20241022-v2:0"
    assert config.unpriced_aliases == ()
    assert (config.rules.max_output_tokens, config.rules.default_max_tokens) == (2048, 300)
    assert config.rules.max_request_bytes == 100000
    assert config.combined_dimensions is True
    assert config.caller_metrics is False
    assert config.bedrock_endpoint_url == "http://127.0.0.1:4010"
    assert config.metrics_namespace == "Custom"


def test_defaults() -> None:
    env = environment()
    del env["DEFAULT_TIER"], env["BEDROCK_READ_TIMEOUT_SECONDS"], env["BEDROCK_MAX_ATTEMPTS"]
    config = load_config(env)
    assert config.default_tier is None  # unregistered callers are refused unless configured
    assert config.unpriced_aliases == ("mystery",)
    assert config.rules.default_max_tokens == 512
    assert config.rules.max_output_tokens == 4096
    assert (config.bedrock_read_timeout, config.bedrock_max_attempts) == (25.0, 2)
    assert config.metrics_namespace == "GenAIRateLimiting"
    assert config.combined_dimensions is False
    assert config.caller_metrics is True


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"USAGE_TABLE_NAME": ""}, "USAGE_TABLE_NAME is required"),
        ({"TIER_LIMITS_JSON": "{not json"}, "TIER_LIMITS_JSON is not valid JSON"),
        ({"TIER_LIMITS_JSON": {}}, "non-empty object"),
        ({"TIER_LIMITS_JSON": {"none": {}}}, "not 'none'"),
        ({"TIER_LIMITS_JSON": {"t": {"daily_token": 5}}}, "unknown keys"),
        ({"TIER_LIMITS_JSON": {"t": {"daily_tokens": 1.5}}}, "whole number"),
        ({"TIER_LIMITS_JSON": {"t": {"daily_usd": -1}}}, ">= 0"),
        ({"TIER_LIMITS_JSON": {"t": {"monthly_usd": True}}}, "number or null"),
        ({"TIER_LIMITS_JSON": {"t": []}}, "object of limits"),
        ({"DEFAULT_TIER": "gold"}, "DEFAULT_TIER 'gold' is not a tier"),
        ({"MODEL_ALIASES_JSON": []}, "non-empty object"),
        ({"MODEL_ALIASES_JSON": {"bad alias": HAIKU}}, "aliases are"),
        ({"MODEL_ALIASES_JSON": {"m": ""}}, "must be a model id"),
        ({"MODEL_ALIASES_JSON": {"m": {"target": HAIKU}}}, "exactly the keys"),
        (
            {
                "MODEL_ALIASES_JSON": {
                    "m": "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/x1"
                }
            },
            "pricing_model",
        ),
        ({"PRICING_JSON": {"m": {"input": 1}}}, "needs both input and output"),
        ({"BEDROCK_READ_TIMEOUT_SECONDS": "nan"}, "BEDROCK_READ_TIMEOUT_SECONDS must be between"),
        ({"BEDROCK_MAX_ATTEMPTS": "ten"}, "BEDROCK_MAX_ATTEMPTS must be an integer"),
        ({"MAX_OUTPUT_TOKENS": "0"}, "MAX_OUTPUT_TOKENS must be between"),
        ({"MAX_OUTPUT_TOKENS": "100", "DEFAULT_MAX_TOKENS": "200"}, "DEFAULT_MAX_TOKENS"),
        ({"MAX_REQUEST_BYTES": "99999999"}, "MAX_REQUEST_BYTES must be between"),
        ({"METRICS_COMBINED_DIMENSIONS": "maybe"}, "METRICS_COMBINED_DIMENSIONS"),
        ({"CALLER_METRICS": "sometimes"}, "CALLER_METRICS"),
        ({"BEDROCK_ENDPOINT_URL": "ftp://x"}, "BEDROCK_ENDPOINT_URL"),
    ],
)
def test_configuration_errors_name_the_variable(overrides: dict[str, Any], fragment: str) -> None:
    with pytest.raises(GateConfigError, match=fragment):
        load_config(environment(**overrides))


def test_every_problem_is_reported_at_once() -> None:
    env = environment(TIER_LIMITS_JSON="[", MODEL_ALIASES_JSON="{}", BEDROCK_MAX_ATTEMPTS="x")
    with pytest.raises(GateConfigError) as caught:
        load_config(env)
    message = str(caught.value)
    for name in ("TIER_LIMITS_JSON", "MODEL_ALIASES_JSON", "BEDROCK_MAX_ATTEMPTS"):
        assert name in message


def test_fixture_json_is_what_the_gate_parses() -> None:
    env = environment()
    assert json.loads(env["TIER_LIMITS_JSON"]) == TIERS
    assert json.loads(env["MODEL_ALIASES_JSON"]) == ALIASES
