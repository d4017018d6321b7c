"""The Terraform that deploys each Lambda and the Python it runs agree on names.

Handler strings resolve to callables; the environment the module sets is exactly what the
configuration code reads, and every variable the code requires is set.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from bedrock_guard.enforcer import config as enforcer_config
from bedrock_guard.gate import config as gate_config
from bedrock_guard.meter import config as meter_config
from tests.contract.hcl_policies import environment_keys
from tests.terraform.tfload import REPO, body, load_module

# Read by Powertools itself, not by the package's configuration code.
POWERTOOLS_ONLY = {
    "POWERTOOLS_LOG_LEVEL",
    "POWERTOOLS_TRACER_CAPTURE_RESPONSE",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
}

LAMBDAS = {
    "token-gate": {
        "handler": "bedrock_guard.token_gate.handler",
        "reads": set(gate_config.ENVIRONMENT_VARIABLES),
        "required": set(gate_config.REQUIRED_ENVIRONMENT_VARIABLES),
    },
    "alarm-enforcer": {
        "handler": "bedrock_guard.alarm_enforcer.handler",
        "reads": set(enforcer_config.ENVIRONMENT_VARIABLES),
        "required": {enforcer_config.DENY_POLICY_ARN, enforcer_config.LEDGER_TABLE_NAME},
    },
    "usage-meter": {
        "handler": "bedrock_guard.usage_meter.handler",
        "reads": set(meter_config.ENVIRONMENT_VARIABLES),
        # PRICING_JSON and GATE_ROLE_ARN are optional; the rest is always set.
        "required": set(meter_config.ENVIRONMENT_VARIABLES)
        - {"PRICING_JSON", "GATE_ROLE_ARN"}
        - {"POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_SERVICE_NAME"},
    },
}  # fmt: skip


def functions() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path in sorted((REPO / "modules").iterdir()):
        for (kind, name), block in load_module(path).resources.items():
            if kind == "aws_lambda_function":
                yield path.name, name, block.body


FUNCTIONS = list(functions())


def test_every_lambda_of_the_modules_is_under_contract() -> None:
    assert {module for module, _, _ in FUNCTIONS} == set(LAMBDAS)


@pytest.mark.parametrize(("module", "name", "function"), FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_handler_string_resolves_to_the_handler(
    module: str, name: str, function: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The enforcer validates its environment at import, as Lambda's init phase would.
    monkeypatch.setenv("DENY_POLICY_ARN", "arn:aws:iam::123456789012:policy/bedrock-guard-deny")
    monkeypatch.setenv("LEDGER_TABLE_NAME", "usage")
    assert function["handler"] == LAMBDAS[module]["handler"]
    assert function["runtime"] == "python3.13"
    assert function["architectures"] == ["arm64"]
    module_path, _, attribute = function["handler"].rpartition(".")
    assert callable(getattr(importlib.import_module(module_path), attribute))


@pytest.mark.parametrize(("module", "name", "function"), FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_environment_is_what_the_code_reads(module: str, name: str, function: dict) -> None:
    contract = LAMBDAS[module]
    set_by_module = environment_keys(function)
    assert set_by_module - POWERTOOLS_ONLY <= contract["reads"], "set but never read"
    assert contract["required"] <= set_by_module, "required by the code, not set"


class RecordingEnvironment(Mapping[str, str]):
    """An environment that remembers every name the configuration code looks up."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return self.values.get(key, default)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.asked.add(key)
        return key in self.values

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("configuration code must look variables up by name")

    def __len__(self) -> int:
        return len(self.values)


def test_gate_configuration_reads_only_declared_variables() -> None:
    environ = RecordingEnvironment(
        {
            "USAGE_TABLE_NAME": "usage",
            "TIER_LIMITS_JSON": '{"basic": {"daily_tokens": 10}}',
            "MODEL_ALIASES_JSON": '{"haiku": "anthropic.claude-3-haiku-20240307-v1:0"}',
        }
    )
    gate_config.load_config(environ)
    assert environ.asked <= set(gate_config.ENVIRONMENT_VARIABLES)
    assert set(gate_config.REQUIRED_ENVIRONMENT_VARIABLES) <= environ.asked


def test_enforcer_configuration_reads_only_declared_variables() -> None:
    environ = RecordingEnvironment(
        {
            "DENY_POLICY_ARN": "arn:aws:iam::123456789012:policy/bedrock-guard-deny",
            "LEDGER_TABLE_NAME": "usage",
        }
    )
    enforcer_config.load_config(environ)
    assert environ.asked <= set(enforcer_config.ENVIRONMENT_VARIABLES)


def test_environment_keys_reads_literal_and_merged_maps() -> None:
    literal = {"environment": [{"variables": {"A_B": "x"}, "__is_block__": True}]}
    merged = {
        "environment": [
            {
                "variables": '${merge({TABLE_NAME = "t"}, {for n, v in {PRICING_JSON = '
                "var.p} : n => v if v != null})}",
                "__is_block__": True,
            }
        ]
    }
    assert environment_keys(literal) == {"A_B"}
    assert environment_keys(merged) == {"TABLE_NAME", "PRICING_JSON"}
    assert environment_keys({}) == set()
    assert body({"x": 1, "__is_block__": True}) == {"x": 1}
