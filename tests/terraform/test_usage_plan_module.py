"""modules/usage-plan: the issue's tiers, an API key on every call, a narrow Lambda permission,
redeployment on every API change, useful access logs, secret key values, tags everywhere.

Each property is a small function over the parsed Terraform, and each has a negative case
below it, so a broken module (or a checker that accepts anything) fails.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import pytest

from tests.terraform.hcl_blocks import blocks, resources_of
from tests.terraform.schema_check import REGENERATE, Schema, load_schema
from tests.terraform.tfload import (
    REPO,
    TfModule,
    expressions,
    load_module,
    references,
    resource_references,
    strings,
)

MODULE_DIR = REPO / "modules" / "usage-plan"
MODULE = load_module(MODULE_DIR)
README = (MODULE_DIR / "README.md").read_text(encoding="utf-8")


class Tier(NamedTuple):
    limit: int
    period: str
    offset: int
    rate: float
    burst: int


# The seed's tiers as the issue states them: requests per day and requests per second.
ISSUE_TIERS = {
    "basic": {"limit": 1_000, "period": "DAY", "rate": 5, "burst": 10},
    "professional": {"limit": 10_000, "period": "DAY", "rate": 20},
    "enterprise": {"limit": 100_000, "period": "DAY", "rate": 100},
}

# What makes up the API definition a deployment snapshots.
API_DEFINITION_TYPES = {
    "aws_api_gateway_resource",
    "aws_api_gateway_method",
    "aws_api_gateway_integration",
    "aws_api_gateway_gateway_response",
    "aws_api_gateway_rest_api_policy",
}
# Method and integration settings that change in place, keeping the resource's id.
IN_PLACE_SETTINGS = {
    "aws_api_gateway_method": {"authorization", "api_key_required"},
    "aws_api_gateway_integration": {"uri", "timeout_milliseconds"},
}
ACCESS_LOG_VARIABLES = (
    "$context.requestId",
    "$context.identity.caller",
    "$context.identity.userArn",
    "$context.identity.apiKeyId",
    "$context.status",
    "$context.responseLatency",
    "$context.integrationLatency",
)


# --- default tiers -----------------------------------------------------------------------


def tiers_from_variable(default: dict[str, Any]) -> dict[str, Tier]:
    """The tiers a ``tiers`` default declares, with the variable's optional() defaults applied."""
    tiers = {}
    for name, spec in default.items():
        quota, throttle = spec["quota"], spec["throttle"]
        tiers[name] = Tier(
            limit=quota["limit"],
            period=quota.get("period", "DAY"),
            offset=quota.get("offset", 0),
            rate=throttle["rate_limit"],
            burst=throttle["burst_limit"],
        )
    return tiers


def issue_mismatches(tiers: dict[str, Tier]) -> list[str]:
    """Where the tiers differ from the issue's numbers (names, quotas, rates, basic's burst)."""
    problems = []
    if set(tiers) != set(ISSUE_TIERS):
        problems.append(f"tiers are {sorted(tiers)}, the issue's are {sorted(ISSUE_TIERS)}")
    for name, expected in ISSUE_TIERS.items():
        tier = tiers.get(name)
        if tier is None:
            continue
        for field, value in expected.items():
            if getattr(tier, field) != value:
                problems.append(f"{name}.{field} is {getattr(tier, field)!r}, not {value!r}")
        if tier.offset != 0:
            problems.append(f"{name}.offset is {tier.offset}, not 0")
        if tier.burst < tier.rate:
            problems.append(f"{name}.burst {tier.burst} is below its rate {tier.rate}")
    return problems


_README_TIER_ROW = re.compile(
    r"^\|\s*`(?P<name>[a-z0-9_-]+)`\s*\|"
    r"\s*(?P<limit>[\d,]+) requests per (?P<period>day|week|month)\s*\|"
    r"\s*(?P<rate>[\d.]+)\s*\|\s*(?P<burst>\d+)\s*\|",
    re.M,
)


def tiers_from_readme(readme: str) -> dict[str, Tier]:
    """The README's "Default tiers" table."""
    section = re.search(r"^## Default tiers\s*$(.*?)(?=^## )", readme, re.M | re.S)
    rows = _README_TIER_ROW.finditer(section[1] if section else "")
    return {
        row["name"]: Tier(
            limit=int(row["limit"].replace(",", "")),
            period=row["period"].upper(),
            offset=0,
            rate=float(row["rate"]),
            burst=int(row["burst"]),
        )
        for row in rows
    }


def test_default_tiers_are_the_issues_numbers() -> None:
    tiers = tiers_from_variable(MODULE.variables["tiers"].body["default"])
    assert issue_mismatches(tiers) == []


def test_readme_tier_table_matches_the_defaults() -> None:
    assert tiers_from_readme(README) == tiers_from_variable(
        MODULE.variables["tiers"].body["default"]
    )


def test_tier_checks_can_fail() -> None:
    good = {
        "basic": Tier(1_000, "DAY", 0, 5, 10),
        "professional": Tier(10_000, "DAY", 0, 20, 40),
        "enterprise": Tier(100_000, "DAY", 0, 100, 200),
    }
    assert issue_mismatches(good) == []
    assert issue_mismatches({**good, "professional": good["professional"]._replace(limit=1)}) == [
        "professional.limit is 1, not 10000"
    ]
    assert issue_mismatches({**good, "basic": good["basic"]._replace(period="MONTH")}) == [
        "basic.period is 'MONTH', not 'DAY'"
    ]
    assert issue_mismatches({**good, "basic": good["basic"]._replace(burst=4)}) == [
        "basic.burst is 4, not 10",
        "basic.burst 4 is below its rate 5",
    ]
    assert issue_mismatches({name: good[name] for name in ("basic", "enterprise")})
    readme = "## Default tiers\n| `basic` | 1,000 requests per day | 5 | 10 |\n## Next\n"
    assert tiers_from_readme(readme) == {"basic": Tier(1000, "DAY", 0, 5.0, 10)}
    assert tiers_from_readme("## Default tiers\nno table\n## Next\n") == {}


# --- the method --------------------------------------------------------------------------


def methods_without_api_key(methods: dict[str, dict[str, Any]]) -> list[str]:
    """Methods that let a caller in without an API key (so without a usage plan)."""
    return sorted(
        name for name, spec in methods.items() if spec.get("api_key_required") is not True
    )


def test_every_method_requires_an_api_key() -> None:
    methods = resources_of(MODULE, "aws_api_gateway_method")
    assert methods, "the module declares no aws_api_gateway_method"
    assert methods_without_api_key(methods) == []


def test_iam_authorization_is_a_switch_between_aws_iam_and_none() -> None:
    method = resources_of(MODULE, "aws_api_gateway_method")["invoke"]
    assert method["http_method"] == "POST"
    assert method["authorization"] == "${local.authorization}"
    assert MODULE.locals["authorization"] == '${var.iam_authorization ? "AWS_IAM" : "NONE"}'
    assert MODULE.variables["iam_authorization"].body["default"] is False


def test_api_key_check_can_fail() -> None:
    methods = {
        "open": {"http_method": "POST"},
        "string": {"api_key_required": "true"},
        "off": {"api_key_required": False},
        "on": {"api_key_required": True},
    }
    assert methods_without_api_key(methods) == ["off", "open", "string"]


# --- the Lambda permission ---------------------------------------------------------------


def permission_problems(permission: dict[str, Any]) -> list[str]:
    """Why a Lambda permission is wider than POST /invoke on one stage of this API."""
    problems = []
    source_arn = permission.get("source_arn", "")
    if permission.get("principal") != "apigateway.amazonaws.com":
        problems.append("principal is not apigateway.amazonaws.com")
    if permission.get("action") != "lambda:InvokeFunction":
        problems.append("action is not lambda:InvokeFunction")
    if permission.get("function_name") != "${var.function_name}":
        problems.append("function_name is not var.function_name")
    if not source_arn.startswith("${aws_api_gateway_rest_api.this.execution_arn}/"):
        problems.append("source_arn does not start with this API's execution ARN")
    if not source_arn.endswith("/POST/invoke"):
        problems.append("source_arn does not end with /POST/invoke")
    if "*" in source_arn:
        problems.append("source_arn has a wildcard")
    return problems


def test_lambda_permission_is_scoped_to_this_apis_post_invoke() -> None:
    permissions = resources_of(MODULE, "aws_lambda_permission")
    assert list(permissions) == ["invoke"]
    assert permission_problems(permissions["invoke"]) == []
    # The path in the ARN is the resource's path: the permission matches the method it serves.
    assert resources_of(MODULE, "aws_api_gateway_resource")["invoke"]["path_part"] == "invoke"


def test_permission_check_can_fail() -> None:
    good = {
        "action": "lambda:InvokeFunction",
        "function_name": "${var.function_name}",
        "principal": "apigateway.amazonaws.com",
        "source_arn": "${aws_api_gateway_rest_api.this.execution_arn}/v1/POST/invoke",
    }
    assert permission_problems(good) == []
    assert permission_problems(
        {**good, "source_arn": "${aws_api_gateway_rest_api.this.execution_arn}/*/*"}
    ) == ["source_arn does not end with /POST/invoke", "source_arn has a wildcard"]
    assert permission_problems(
        {**good, "source_arn": "arn:aws:execute-api:us-east-1:123456789012:*/v1/POST/invoke"}
    ) == ["source_arn does not start with this API's execution ARN", "source_arn has a wildcard"]
    assert permission_problems({**good, "principal": "*"}) == [
        "principal is not apigateway.amazonaws.com"
    ]


# --- the deployment ----------------------------------------------------------------------


def trigger_gaps(declared: set[tuple[str, str]], deployment: dict[str, Any]) -> list[str]:
    """Parts of the API definition a change to which would not redeploy."""
    referenced: dict[tuple[str, str], set[str | None]] = {}
    for type_name, name, attribute in resource_references(deployment.get("triggers", {}), set()):
        referenced.setdefault((type_name, name), set()).add(attribute)
    gaps = [
        f"{type_name}.{name} is not in triggers"
        for type_name, name in sorted(declared)
        if type_name in API_DEFINITION_TYPES and (type_name, name) not in referenced
    ]
    for (type_name, name), attributes in sorted(referenced.items()):
        for setting in sorted(IN_PLACE_SETTINGS.get(type_name, set()) - attributes):
            gaps.append(f"{type_name}.{name}.{setting} is not in triggers")
    lifecycle = blocks(deployment.get("lifecycle"))
    if not any(block.get("create_before_destroy") is True for block in lifecycle):
        gaps.append("lifecycle.create_before_destroy is not true")
    return gaps


def test_deployment_redeploys_on_every_api_change() -> None:
    deployments = resources_of(MODULE, "aws_api_gateway_deployment")
    assert list(deployments) == ["this"]
    declared = set(MODULE.resources)
    assert ("aws_api_gateway_method", "invoke") in declared
    assert ("aws_api_gateway_integration", "invoke") in declared
    assert trigger_gaps(declared, deployments["this"]) == []


def test_stage_serves_the_deployment() -> None:
    stage = resources_of(MODULE, "aws_api_gateway_stage")["this"]
    assert stage["deployment_id"] == "${aws_api_gateway_deployment.this.id}"


def test_trigger_check_can_fail() -> None:
    declared = {
        ("aws_api_gateway_method", "invoke"),
        ("aws_api_gateway_integration", "invoke"),
        ("aws_api_gateway_stage", "this"),
    }
    ids_only = {
        "triggers": {
            "redeployment": "${sha1(jsonencode([aws_api_gateway_method.invoke.id,"
            " aws_api_gateway_integration.invoke.id]))}"
        },
        "lifecycle": [{"create_before_destroy": True, "__is_block__": True}],
    }
    assert trigger_gaps(declared, ids_only) == [
        "aws_api_gateway_integration.invoke.timeout_milliseconds is not in triggers",
        "aws_api_gateway_integration.invoke.uri is not in triggers",
        "aws_api_gateway_method.invoke.api_key_required is not in triggers",
        "aws_api_gateway_method.invoke.authorization is not in triggers",
    ]
    assert trigger_gaps(declared, {"triggers": {}}) == [
        "aws_api_gateway_integration.invoke is not in triggers",
        "aws_api_gateway_method.invoke is not in triggers",
        "lifecycle.create_before_destroy is not true",
    ]


# --- stage logging and settings ----------------------------------------------------------


def access_log_problems(log_format: str) -> list[str]:
    """What an access log format misses, or leaks (the API key's value)."""
    problems = [f"{name} missing" for name in ACCESS_LOG_VARIABLES if name not in log_format]
    if re.search(r"\$context\.identity\.apiKey(?!Id)", log_format):
        problems.append("$context.identity.apiKey logs the key's value")
    return problems


def test_access_log_names_the_caller_the_key_id_the_status_and_latency() -> None:
    stage = resources_of(MODULE, "aws_api_gateway_stage")["this"]
    (settings,) = blocks(stage["access_log_settings"])
    assert settings["destination_arn"] == "${aws_cloudwatch_log_group.access.arn}"
    assert access_log_problems(settings["format"]) == []


def test_access_log_check_can_fail() -> None:
    assert access_log_problems('{"requestId":"$context.requestId"}') == [
        f"{name} missing" for name in ACCESS_LOG_VARIABLES[1:]
    ]
    leaky = " ".join(ACCESS_LOG_VARIABLES) + ' "key":"$context.identity.apiKey"'
    assert access_log_problems(leaky) == ["$context.identity.apiKey logs the key's value"]


def test_method_settings_never_log_bodies_or_cache() -> None:
    (settings,) = blocks(resources_of(MODULE, "aws_api_gateway_method_settings")["all"]["settings"])
    assert settings["data_trace_enabled"] is False
    assert settings["caching_enabled"] is False
    assert settings["throttling_rate_limit"] == "${var.throttling_rate_limit}"
    assert settings["throttling_burst_limit"] == "${var.throttling_burst_limit}"


def test_account_cloudwatch_role_is_off_by_default() -> None:
    assert MODULE.variables["manage_account_cloudwatch_role"].body["default"] is False
    for type_name in ("aws_api_gateway_account", "aws_iam_role", "aws_iam_role_policy"):
        for name, spec in resources_of(MODULE, type_name).items():
            assert spec.get("count") == "${var.manage_account_cloudwatch_role ? 1 : 0}", name
    role = resources_of(MODULE, "aws_iam_role")["apigateway_cloudwatch"]
    assert role["permissions_boundary"] == "${var.permissions_boundary}"


# --- usage plans and keys ----------------------------------------------------------------


def test_a_usage_plan_per_tier_on_this_stage() -> None:
    plan = resources_of(MODULE, "aws_api_gateway_usage_plan")["this"]
    assert plan["for_each"] == "${var.tiers}"
    (stage,) = blocks(plan["api_stages"])
    assert stage == {
        "api_id": "${aws_api_gateway_rest_api.this.id}",
        "stage": "${aws_api_gateway_stage.this.stage_name}",
    }
    key = resources_of(MODULE, "aws_api_gateway_usage_plan_key")["this"]
    assert key["usage_plan_id"] == "${aws_api_gateway_usage_plan.this[each.value.tier].id}"
    assert key["key_type"] == "API_KEY"


def tier_precondition_missing(resources: dict[str, dict[str, Any]]) -> list[str]:
    """Resources keyed by user whose tier is not checked against var.tiers before use."""
    missing = []
    for name, spec in sorted(resources.items()):
        conditions = [
            precondition.get("condition", "")
            for lifecycle in blocks(spec.get("lifecycle"))
            for precondition in blocks(lifecycle.get("precondition"))
        ]
        if "${contains(keys(var.tiers), each.value.tier)}" not in conditions:
            missing.append(name)
    return missing


def test_each_users_tier_must_exist() -> None:
    keyed = {
        f"{type_name}.{name}": spec
        for type_name in ("aws_api_gateway_api_key", "aws_api_gateway_usage_plan_key")
        for name, spec in resources_of(MODULE, type_name).items()
    }
    assert len(keyed) == 2
    assert tier_precondition_missing(keyed) == []


def test_tier_precondition_check_can_fail() -> None:
    unchecked = {"for_each": "${var.api_keys}"}
    wrong = {
        "lifecycle": [
            {
                "precondition": [{"condition": "${true}", "__is_block__": True}],
                "__is_block__": True,
            }
        ]
    }
    assert tier_precondition_missing({"a": unchecked, "b": wrong}) == ["a", "b"]


def unprotected_key_values(outputs: dict[str, dict[str, Any]]) -> list[str]:
    """Outputs that read an API key's value without being marked sensitive."""
    exposed = []
    for name, spec in sorted(outputs.items()):
        value = spec.get("value", "")
        reads_keys = any(
            type_name == "aws_api_gateway_api_key"
            for type_name, _, _ in resource_references(value, set())
        )
        reads_value = any(
            re.search(r"\.value\b", expression)
            for text in strings(value)
            for expression in expressions(text)
        )
        if reads_keys and reads_value and spec.get("sensitive") is not True:
            exposed.append(name)
    return exposed


def test_only_a_sensitive_output_carries_key_values() -> None:
    outputs = {name: out.body for name, out in MODULE.outputs.items()}
    assert unprotected_key_values(outputs) == []
    assert outputs["api_key_values"]["sensitive"] is True
    assert not any(
        spec.get("sensitive") for name, spec in outputs.items() if name != "api_key_values"
    )


def test_key_ids_and_gate_principals_are_outputs() -> None:
    outputs = {name: out.body for name, out in MODULE.outputs.items()}
    assert outputs["api_key_ids"]["value"] == (
        "${{for user, key in aws_api_gateway_api_key.this : user => key.id}}"
    )
    # The token gate keys API-key callers as apikey:<id> (bedrock_guard.core.principals).
    assert outputs["api_key_principals"]["value"] == (
        '${{for user, key in aws_api_gateway_api_key.this : user => "apikey:${key.id}"}}'
    )
    assert outputs["invoke_url"]["value"] == "${aws_api_gateway_stage.this.invoke_url}/invoke"


def test_key_value_check_can_fail() -> None:
    outputs = {
        "leak": {"value": "${{for u, k in aws_api_gateway_api_key.this : u => k.value}}"},
        "one": {"value": '${aws_api_gateway_api_key.this["alice"].value}'},
        "ids": {"value": "${{for u, k in aws_api_gateway_api_key.this : u => k.id}}"},
        "kept": {"value": "${aws_api_gateway_api_key.this}", "sensitive": True},
    }
    assert unprotected_key_values(outputs) == ["leak", "one"]


# --- tags --------------------------------------------------------------------------------


def untagged(module: TfModule, schema: Schema) -> list[str]:
    """Taggable resources (per the provider schema) that do not merge in var.tags."""
    problems = []
    for (type_name, name), block in sorted(module.resources.items()):
        spec = schema.types.get(type_name)
        if spec is None:
            problems.append(f"{type_name} is not in the schema subset; {REGENERATE}")
        elif "tags" in spec["arguments"] and not any(
            root == "var" and names[0] == "tags"
            for root, names in references(block.body.get("tags", ""))
        ):
            problems.append(f"{type_name}.{name}")
    return problems


def test_every_taggable_resource_is_tagged() -> None:
    assert untagged(MODULE, load_schema()) == []


def test_tag_check_can_fail(tmp_path) -> None:
    (tmp_path / "main.tf").write_text(
        'resource "aws_api_gateway_rest_api" "this" {\n  name = "x"\n}\n'
        'resource "aws_api_gateway_stage" "this" {\n  tags = var.tags\n}\n'
        'resource "aws_api_gateway_deployment" "this" {\n}\n'
    )
    schema = Schema(
        provider="test",
        types={
            "aws_api_gateway_rest_api": {"arguments": {"tags": {"required": False}}},
            "aws_api_gateway_stage": {"arguments": {"tags": {"required": False}}},
            "aws_api_gateway_deployment": {"arguments": {}},
        },
    )
    assert untagged(load_module(tmp_path), schema) == ["aws_api_gateway_rest_api.this"]
    assert untagged(load_module(tmp_path), Schema("test", {})) == [
        f"{type_name} is not in the schema subset; {REGENERATE}"
        for type_name in (
            "aws_api_gateway_deployment",
            "aws_api_gateway_rest_api",
            "aws_api_gateway_stage",
        )
    ]


# Booleans need no rule beyond their type, and free-form tags have none to give.
FORMATTED_INPUTS = sorted(
    name
    for name, variable in MODULE.variables.items()
    if variable.body["type"] not in ("bool", "${bool}") and name != "tags"
)


@pytest.mark.parametrize("variable", FORMATTED_INPUTS)
def test_inputs_with_a_format_are_validated(variable: str) -> None:
    assert blocks(MODULE.variables[variable].body.get("validation")), f"{variable} is not validated"
