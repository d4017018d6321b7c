"""Tenant profiles reach the gate as MODEL_ALIASES_JSON objects the gate's parser accepts.

The chain: modules/aip-tenant's model_aliases output ({target, pricing_model} per alias) is
merged into modules/token-gate's model_aliases, whose local renders a target as exactly those
two keys, and gate_config parses that into a route that calls the profile and prices it as
its base model.
"""

from __future__ import annotations

import json
import re

import pytest

from bedrock_guard.gate.config import GateConfigError, load_config
from tests.terraform.tfload import REPO, load_module

AIP = load_module(REPO / "modules" / "aip-tenant")
GATE = load_module(REPO / "modules" / "token-gate")
PROFILE = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


def object_keys(expression: str) -> set[str]:
    """Keys of the ``{ k = ..., k2 = ... }`` object literals in an HCL expression."""
    return set(re.findall(r"[{,\s](\w+)\s*=\s*(?!=)", expression))


def config_with(aliases: object) -> object:
    return load_config(
        {
            "USAGE_TABLE_NAME": "usage",
            "TIER_LIMITS_JSON": json.dumps({"basic": {"daily_tokens": 1000}}),
            "MODEL_ALIASES_JSON": json.dumps(aliases),
        }
    )


def test_aip_tenant_aliases_are_target_and_pricing_model_objects() -> None:
    rendered = AIP.locals["model_aliases"]
    assert object_keys(rendered) >= {"target", "pricing_model"}
    assert "aws_bedrock_inference_profile.this[name].arn" in rendered
    assert AIP.outputs["model_aliases"].body["value"] == "${local.model_aliases}"


def test_the_gate_module_renders_targets_with_the_same_keys() -> None:
    rendered = GATE.locals["model_aliases_json"]
    target_branch = next(part for part in rendered.split("for alias") if "model.target !=" in part)
    assert object_keys(target_branch) >= {"target", "pricing_model"}
    assert {"model_id", "target", "pricing_model"} <= set(
        re.findall(r"(\w+)\s*=\s*optional", GATE.variables["model_aliases"].body["type"])
    )


def test_the_gate_parses_that_shape_into_a_priced_route() -> None:
    config = config_with({"support": {"target": PROFILE, "pricing_model": HAIKU}})
    route = config.models["support"]  # type: ignore[attr-defined]
    assert (route.target, route.pricing_model) == (PROFILE, HAIKU)
    assert config.prices.lookup(HAIKU) is not None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "aliases",
    [
        {"support": {"target": PROFILE}},
        {"support": {"pricing_model": HAIKU}},
        {"support": {"target": PROFILE, "pricing_model": HAIKU, "extra": 1}},
        {"support": PROFILE},  # an application profile must say what it is priced as
    ],
    ids=["no-pricing-model", "no-target", "unknown-key", "bare-profile-arn"],
)
def test_the_gate_refuses_other_shapes(aliases: object) -> None:
    with pytest.raises(GateConfigError):
        config_with(aliases)
