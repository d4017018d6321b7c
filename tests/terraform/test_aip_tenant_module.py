"""Contract tests of modules/aip-tenant, read with python-hcl2 (no Terraform needed).

What the rest of the system relies on: every tenant alarm notifies the alarm enforcer's topic
(ALARM and OK) and names its principals in the enforcer's tag; every profile carries the three
cost allocation tags; ``model_aliases`` has exactly the token gate's ``{target, pricing_model}``
shape; the role Bedrock assumes for invocation logging is protected against the confused deputy.
Each checker is a function returning problems, and each has a case that makes it report one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bedrock_guard.core.pricing import GEO_PREFIXES
from tests.terraform.hcl_blocks import resources_of, statement_blocks
from tests.terraform.tfload import REPO, TfModule, body, load_module

MODULE_DIR = REPO / "modules" / "aip-tenant"
ENFORCER_DIR = REPO / "modules" / "alarm-enforcer"
TOKEN_GATE_DIR = REPO / "modules" / "token-gate"

COST_TAG_KEYS = {"costCenter", "applicationId", "environment"}
TOPIC = "${var.alarm_topic_arn}"
BEDROCK_LOG_STREAM = ":log-stream:aws/bedrock/modelinvocations"
LOG_WRITE_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"]
ALIAS_KEYS = ["pricing_model", "target"]
ACCOUNT = "111122223333"
FM_ARN = "arn:aws:bedrock:us-east-1::foundation-model/"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/"
DOCUMENT_JSON = re.compile(r"\$\{data\.aws_iam_policy_document\.([\w-]+)\.json\}")
REGEX_LITERAL = re.compile(r'regex\("((?:[^"\\]|\\.)*)"')

_KEY = re.compile(r'^\s*(?:"([^"]+)"|\(([^)]*)\)|([A-Za-z_][\w-]*))\s*=(?!=)')


@pytest.fixture(scope="module")
def module() -> TfModule:
    return load_module(MODULE_DIR)


def write_module(directory: Path, text: str) -> TfModule:
    """A throw-away module, to show that a checker reports what it should."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "main.tf").write_text(text, encoding="utf-8")
    return load_module(directory)


# Reading HCL expressions ------------------------------------------------------------------------


def _balanced(text: str, start: int) -> str:
    """The text inside the bracket at ``start`` up to its matching close (quotes respected)."""
    pairs = {"{": "}", "[": "]", "(": ")"}
    stack = [pairs[text[start]]]
    index, quoted = start + 1, False
    while index < len(text) and stack:
        char = text[index]
        if quoted:
            if char == "\\":
                index += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char in pairs:
            stack.append(pairs[char])
        elif char == stack[-1]:
            stack.pop()
        index += 1
    return text[start + 1 : index - 1]


def _top_level_parts(text: str) -> list[str]:
    """``text`` split at commas that are not nested in brackets or quotes."""
    parts, depth, quoted, current = [], 0, False, ""
    for position, char in enumerate(text):
        if quoted:
            current += char
            if char == '"' and text[position - 1] != "\\":
                quoted = False
            continue
        if char == '"':
            quoted = True
        elif char in "{[(":
            depth += 1
        elif char in "}])":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += char
    if current.strip():
        parts.append(current)
    return parts


def object_entries(expression: str) -> dict[str, str]:
    """Keys and values of the object an expression builds.

    For a ``{for ... : k => {a = x, b = y}}`` expression that is the per-item object; for a
    plain ``{a = x}`` the object itself. Keys written ``(var.k)`` come back as ``(var.k)``.
    """
    wrapped = expression.startswith("${") and expression.endswith("}")
    text = expression[2:-1] if wrapped else expression
    arrow = text.find("=>")
    start = text.find("{", arrow if arrow >= 0 else 0)
    if arrow < 0 and text.lstrip().startswith("{for"):
        return {}
    if start < 0:
        return {}
    entries = {}
    for part in _top_level_parts(_balanced(text, start)):
        match = _KEY.match(part)
        if match:
            key = match[1] or (f"({match[2]})" if match[2] else None) or match[3]
            entries[key] = part[match.end() :].strip()
    return entries


def _local_name(expression: str) -> str | None:
    match = re.fullmatch(r"\$\{local\.([\w-]+)(?:\[[^\]]*\])?\}", expression.strip())
    return match[1] if match else None


def _conditions(statement: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    return {
        body(condition)["variable"]: (body(condition)["test"], list(body(condition)["values"]))
        for condition in statement.get("condition", [])
    }


# Checkers ---------------------------------------------------------------------------------------


def alarm_action_problems(module: TfModule, topic: str = TOPIC) -> list[str]:
    """Every metric alarm notifies exactly ``topic`` on ALARM and on OK, and nothing else."""
    alarms = resources_of(module, "aws_cloudwatch_metric_alarm")
    problems = [] if alarms else ["no aws_cloudwatch_metric_alarm in the module"]
    for name, alarm in alarms.items():
        for argument in ("alarm_actions", "ok_actions"):
            if alarm.get(argument) != [topic]:
                problems.append(f"{name}.{argument} is {alarm.get(argument)!r}, not [{topic}]")
        if alarm.get("insufficient_data_actions"):
            problems.append(f"{name} notifies on INSUFFICIENT_DATA, which the enforcer ignores")
        if str(alarm.get("actions_enabled", True)).lower() == "false":
            problems.append(f"{name} has its actions disabled")
    return problems


def profile_cost_tag_problems(module: TfModule) -> list[str]:
    """Every inference profile's tags end with an object holding the three cost tag keys."""
    profiles = resources_of(module, "aws_bedrock_inference_profile")
    problems = [] if profiles else ["no aws_bedrock_inference_profile in the module"]
    for name, profile in profiles.items():
        tags = str(profile.get("tags", ""))
        merged = re.fullmatch(r"\$\{merge\((.*)\)\}", tags, re.S)
        arguments = _top_level_parts(merged[1]) if merged else [tags]
        last = arguments[-1].strip()
        local = _local_name("${" + last + "}") if not last.startswith("${") else _local_name(last)
        source = str(module.locals.get(local, "")) if local else last
        keys = set(object_entries(source))
        if not keys >= COST_TAG_KEYS:
            problems.append(f"{name}: the last tags come without {sorted(COST_TAG_KEYS - keys)}")
    return problems


def model_alias_problems(module: TfModule) -> list[str]:
    """``model_aliases`` maps each alias to exactly {target = profile ARN, pricing_model}."""
    outputs = module.outputs
    if "model_aliases" not in outputs or "model_aliases_json" not in outputs:
        return ["model_aliases and model_aliases_json outputs are both required"]
    value = str(outputs["model_aliases"].body["value"])
    local = _local_name(value)
    expression = str(module.locals.get(local, "")) if local else value
    entries = object_entries(expression)
    problems = []
    if set(entries) != set(ALIAS_KEYS):
        problems.append(f"model_aliases entries have keys {sorted(entries)}, not {ALIAS_KEYS}")
    target = entries.get("target", "")
    if not re.fullmatch(r"aws_bedrock_inference_profile\.this\[[^\]]+\]\.arn", target):
        problems.append(f"model_aliases target is {target!r}, not the profile's arn")
    json_value = str(outputs["model_aliases_json"].body["value"])
    if json_value != "${jsonencode(" + value[2:-1] + ")}":
        problems.append(f"model_aliases_json is {json_value!r}, not jsonencode of model_aliases")
    return problems


def logging_trust_problems(module: TfModule) -> list[str]:
    """The invocation logging role trusts Bedrock only with aws:SourceAccount and aws:SourceArn."""
    roles = resources_of(module, "aws_iam_role")
    problems = [] if roles else ["no aws_iam_role in the module"]
    for name, role in roles.items():
        match = DOCUMENT_JSON.fullmatch(str(role.get("assume_role_policy")))
        if not match or ("aws_iam_policy_document", match[1]) not in module.data:
            problems.append(f"{name}: assume_role_policy is not an aws_iam_policy_document")
            continue
        statements = statement_blocks(module.data[("aws_iam_policy_document", match[1])].body)
        if not statements:
            problems.append(f"{name}: the trust policy has no statement")
        for statement in statements:
            services = [
                identifier
                for principal in statement.get("principals", [])
                for identifier in body(principal).get("identifiers", [])
            ]
            if services != ["bedrock.amazonaws.com"]:
                problems.append(f"{name}: trusted principals are {services}, not Bedrock alone")
            if statement.get("actions") != ["sts:AssumeRole"]:
                problems.append(f"{name}: trust actions are {statement.get('actions')}")
            conditions = _conditions(statement)
            test, values = conditions.get("aws:SourceAccount", ("", []))
            if test != "StringEquals" or values != ["${local.account_id}"]:
                problems.append(f"{name}: no aws:SourceAccount StringEquals this account")
            test, values = conditions.get("aws:SourceArn", ("", []))
            if test not in {"ArnLike", "ArnEquals"} or not all(
                ":bedrock:${local.region}:${local.account_id}:" in value for value in values or [""]
            ):
                problems.append(f"{name}: no aws:SourceArn condition on this account's Bedrock")
    return problems


def logging_permission_problems(module: TfModule) -> list[str]:
    """The logging role may only create and write Bedrock's one log stream."""
    policies = resources_of(module, "aws_iam_role_policy")
    problems = [] if policies else ["no aws_iam_role_policy in the module"]
    for name, policy in policies.items():
        match = DOCUMENT_JSON.fullmatch(str(policy.get("policy")))
        if not match:
            problems.append(f"{name}: policy is not an aws_iam_policy_document")
            continue
        for statement in statement_blocks(module.data[("aws_iam_policy_document", match[1])].body):
            if sorted(statement.get("actions", [])) != LOG_WRITE_ACTIONS:
                problems.append(f"{name}: actions {statement.get('actions')}")
            resources = [
                str(module.locals.get(_local_name(r) or "", r)).removesuffix("}")
                for r in statement.get("resources", [])
            ]
            if not resources or not all(r.endswith(BEDROCK_LOG_STREAM) for r in resources):
                problems.append(f"{name}: resources {resources} are not Bedrock's log stream")
    return problems


def principal_tag_problems(module: TfModule) -> list[str]:
    """Each alarm's tags end with the principal tag, its value the principals joined by commas."""
    problems = []
    alarms = resources_of(module, "aws_cloudwatch_metric_alarm")
    for name, alarm in alarms.items():
        merged = re.fullmatch(r"\$\{merge\((.*)\)\}", str(alarm.get("tags", "")), re.S)
        last = _top_level_parts(merged[1])[-1] if merged else ""
        entries = object_entries(last)
        value = entries.get("(var.principal_tag_key)")
        if value is None:
            problems.append(f"{name}: the last tags are not keyed by (var.principal_tag_key)")
            continue
        local = re.match(r"local\.([\w-]+)", value)
        source = str(module.locals.get(local[1], "")) if local else value
        if 'join(",", ' not in source:
            problems.append(f"{name}: the principal tag value is not a comma-joined list")
    return problems


# The module -------------------------------------------------------------------------------------


def test_every_alarm_notifies_the_enforcer_topic_on_alarm_and_ok(module: TfModule) -> None:
    assert alarm_action_problems(module) == []


def test_alarm_action_checker_can_fail(tmp_path: Path) -> None:
    bad = write_module(
        tmp_path,
        'resource "aws_cloudwatch_metric_alarm" "a" {\n'
        "  alarm_actions             = [var.alarm_topic_arn, var.pager]\n"
        "  insufficient_data_actions = [var.alarm_topic_arn]\n"
        "}\n"
        'resource "aws_cloudwatch_metric_alarm" "b" {\n'
        "  alarm_actions   = [var.alarm_topic_arn]\n"
        "  ok_actions      = [var.alarm_topic_arn]\n"
        "  actions_enabled = false\n"
        "}\n",
    )
    problems = alarm_action_problems(bad)
    assert any(p.startswith("a.alarm_actions") for p in problems)
    assert any(p.startswith("a.ok_actions") for p in problems)
    assert any("INSUFFICIENT_DATA" in p for p in problems)
    assert "b has its actions disabled" in problems
    assert alarm_action_problems(write_module(tmp_path / "none", "")) != []


def test_alarms_watch_the_profile_token_metrics(module: TfModule) -> None:
    alarm = module.resources[("aws_cloudwatch_metric_alarm", "tokens")].body
    assert alarm["namespace"] == "AWS/Bedrock"
    assert alarm["statistic"] == "Sum"
    assert alarm["dimensions"] == {"ModelId": "${local.metric_model_ids[each.value.tenant]}"}
    assert set(module.locals["alarm_metrics"].values()) == {"InputTokenCount", "OutputTokenCount"}


def test_profiles_carry_the_three_cost_tags(module: TfModule) -> None:
    assert profile_cost_tag_problems(module) == []


def test_cost_tag_checker_can_fail(tmp_path: Path) -> None:
    bad = write_module(
        tmp_path,
        "locals {\n"
        "  partial = { for n, t in var.tenants : n => { costCenter = t.c, applicationId = t.a } }\n"
        "}\n"
        'resource "aws_bedrock_inference_profile" "only_module_tags" {\n'
        "  tags = var.tags\n"
        "}\n"
        'resource "aws_bedrock_inference_profile" "missing_environment" {\n'
        "  tags = merge(var.tags, local.partial[each.key])\n"
        "}\n"
        'resource "aws_bedrock_inference_profile" "overridden" {\n'
        "  tags = merge({ costCenter = 1, applicationId = 2, environment = 3 }, var.tags)\n"
        "}\n",
    )
    problems = profile_cost_tag_problems(bad)
    assert {p.split(":")[0] for p in problems} == {
        "only_module_tags",
        "missing_environment",
        "overridden",
    }
    assert "['environment']" in next(p for p in problems if p.startswith("missing_environment"))


def test_model_aliases_have_exactly_target_and_pricing_model(module: TfModule) -> None:
    assert model_alias_problems(module) == []


def test_model_alias_checker_can_fail(tmp_path: Path) -> None:
    bad = write_module(
        tmp_path,
        "locals {\n"
        "  model_aliases = { for n, t in var.tenants : n => {\n"
        "    target        = aws_bedrock_inference_profile.this[n].id\n"
        "    pricing_model = t.p\n"
        "    model_id      = t.m\n"
        "  } }\n"
        "}\n"
        'output "model_aliases" {\n  value = local.model_aliases\n}\n'
        'output "model_aliases_json" {\n  value = jsonencode(var.other)\n}\n',
    )
    problems = model_alias_problems(bad)
    assert len(problems) == 3
    assert "model_id" in problems[0]
    assert "not the profile's arn" in problems[1]
    assert "not jsonencode of model_aliases" in problems[2]
    assert model_alias_problems(write_module(tmp_path / "none", "")) != []


def test_logging_role_trust_has_the_source_conditions(module: TfModule) -> None:
    assert logging_trust_problems(module) == []


def test_logging_trust_checker_can_fail(tmp_path: Path) -> None:
    bad = write_module(
        tmp_path,
        'data "aws_iam_policy_document" "trust" {\n'
        "  statement {\n"
        '    actions = ["sts:AssumeRole", "sts:TagSession"]\n'
        "    principals {\n"
        '      type        = "Service"\n'
        '      identifiers = ["bedrock.amazonaws.com", "lambda.amazonaws.com"]\n'
        "    }\n"
        "    condition {\n"
        '      test     = "StringLike"\n'
        '      variable = "aws:SourceAccount"\n'
        "      values   = [local.account_id]\n"
        "    }\n"
        "  }\n"
        "}\n"
        'resource "aws_iam_role" "r" {\n'
        "  assume_role_policy = data.aws_iam_policy_document.trust.json\n"
        "}\n"
        'resource "aws_iam_role" "inline" {\n'
        "  assume_role_policy = jsonencode({})\n"
        "}\n",
    )
    problems = logging_trust_problems(bad)
    assert any(p.startswith("r: trusted principals are") for p in problems)
    assert "r: no aws:SourceAccount StringEquals this account" in problems
    assert "r: no aws:SourceArn condition on this account's Bedrock" in problems
    assert any(p.startswith("r: trust actions") for p in problems)
    assert "inline: assume_role_policy is not an aws_iam_policy_document" in problems


def test_logging_role_may_only_write_the_bedrock_log_stream(module: TfModule) -> None:
    assert logging_permission_problems(module) == []


def test_logging_permission_checker_can_fail(tmp_path: Path) -> None:
    bad = write_module(
        tmp_path,
        'data "aws_iam_policy_document" "p" {\n'
        "  statement {\n"
        '    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DeleteLogGroup"]\n'
        '    resources = ["*"]\n'
        "  }\n"
        "}\n"
        'resource "aws_iam_role_policy" "p" {\n'
        "  policy = data.aws_iam_policy_document.p.json\n"
        "}\n",
    )
    problems = logging_permission_problems(bad)
    assert any("actions" in p for p in problems)
    assert any("not Bedrock's log stream" in p for p in problems)


def test_alarms_name_their_principals_in_one_comma_separated_tag(module: TfModule) -> None:
    assert principal_tag_problems(module) == []


def test_principal_tag_checker_can_fail(tmp_path: Path) -> None:
    bad = write_module(
        tmp_path,
        'resource "aws_cloudwatch_metric_alarm" "untagged" {\n  tags = var.tags\n}\n'
        'resource "aws_cloudwatch_metric_alarm" "spaced" {\n'
        '  tags = merge(var.tags, { (var.principal_tag_key) = join(" ", var.p) })\n'
        "}\n",
    )
    assert principal_tag_problems(bad) == [
        "untagged: the last tags are not keyed by (var.principal_tag_key)",
        "spaced: the principal tag value is not a comma-joined list",
    ]


# Contracts with the other modules and the Python package ----------------------------------------


def _variable_default(directory: Path, name: str) -> Any:
    return load_module(directory).variables[name].body.get("default")


def test_principal_tag_key_matches_the_alarm_enforcer(module: TfModule) -> None:
    enforcer = load_module(ENFORCER_DIR)
    assert "principal_tag_key" in enforcer.variables, "alarm-enforcer lost principal_tag_key"
    # The enforcer module always sets PRINCIPAL_TAG_KEY from its variable, so its default is the
    # tag key a deployment uses when neither module is given one.
    ours = module.variables["principal_tag_key"].body["default"]
    assert ours == _variable_default(ENFORCER_DIR, "principal_tag_key")


def test_alias_rule_is_the_token_gates(module: TfModule) -> None:
    gate = load_module(TOKEN_GATE_DIR)
    assert "model_aliases" in gate.variables, "modules/token-gate lost model_aliases"
    gate_patterns = set(_regexes(gate.variables["model_aliases"].body))
    alias_rule = "^[A-Za-z0-9][A-Za-z0-9._:-]"
    ours = [p for p in _regexes(module.variables["tenants"].body) if p.startswith(alias_rule)]
    assert ours and set(ours) <= gate_patterns


def test_geography_prefixes_match_the_pricing_module(module: TfModule) -> None:
    assert sorted(module.locals["geo_prefixes"]) == sorted(GEO_PREFIXES)
    text = (MODULE_DIR / "variables.tf").read_text(encoding="utf-8")
    alternations = set(re.findall(r"\((us-gov\|[a-z|-]+)\)", text))
    assert alternations, "no geography alternation found in variables.tf"
    for alternation in alternations:
        assert set(alternation.split("|")) == set(GEO_PREFIXES)


# Validation rules, run with Python's re (the patterns use only RE2-compatible syntax) -----------


def _patterns(text: str) -> list[str]:
    """Regular expressions passed as literals to regex() in an expression, unescaped."""
    return [literal.encode().decode("unicode_escape") for literal in REGEX_LITERAL.findall(text)]


def _regexes(value: Any) -> list[str]:
    """Regular expressions passed as literals to regex() anywhere in a parsed value."""
    found = []
    for validation in value.get("validation", []) if isinstance(value, dict) else []:
        for text in (str(body(validation)["condition"]), str(body(validation)["error_message"])):
            found += _patterns(text)
    return found


def _validation(module: TfModule, variable: str, marker: str) -> dict[str, str]:
    for validation in module.variables[variable].body.get("validation", []):
        if marker in str(body(validation)["condition"]):
            return {key: str(value) for key, value in body(validation).items()}
    raise AssertionError(f"no validation of {variable} mentions {marker!r}")


def message_rule_drift(module: TfModule) -> list[str]:
    """Validation messages that list offenders with a rule their condition does not use."""
    problems = []
    for name, variable in module.variables.items():
        for validation in variable.body.get("validation", []):
            condition = set(REGEX_LITERAL.findall(str(body(validation)["condition"])))
            message = set(REGEX_LITERAL.findall(str(body(validation)["error_message"])))
            problems += [f"{name}: message uses {rule!r}" for rule in sorted(message - condition)]
    return problems


def test_error_messages_list_offenders_with_the_conditions_own_rules(module: TfModule) -> None:
    assert message_rule_drift(module) == []


def test_message_drift_checker_can_fail(tmp_path: Path) -> None:
    bad = write_module(
        tmp_path,
        'variable "v" {\n'
        "  type = list(string)\n"
        "  validation {\n"
        '    condition     = alltrue([for x in var.v : can(regex("^a+$", x))])\n'
        '    error_message = "Bad: ${join(",", [for x in var.v : x if !can(regex("^b+$", x))])}"\n'
        "  }\n"
        "}\n",
    )
    assert message_rule_drift(bad) == ["v: message uses '^b+$'"]


def model_source_accepted(patterns: list[str], source: str) -> bool:
    """The model_source rule: FM ARN, profile ARN, profile id, or an FM id without geography."""
    fm_arn, profile_arn, profile_id, fm_id, geography = patterns
    return bool(
        re.search(fm_arn, source)
        or re.search(profile_arn, source)
        or re.search(profile_id, source)
        or (re.search(fm_id, source) and not re.search(geography, source))
    )


@pytest.mark.parametrize(
    ("source", "accepted"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0", True),
        ("amazon.nova-lite-v1:0", True),
        (f"{FM_ARN}anthropic.claude-3-haiku-20240307-v1:0", True),
        ("arn:aws-us-gov:bedrock:us-gov-west-1::foundation-model/amazon.titan-tg1-large", True),
        ("us.anthropic.claude-3-5-haiku-20241022-v1:0", True),
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", True),
        (
            f"arn:aws:bedrock:eu-central-1:{ACCOUNT}:inference-profile/eu.amazon.nova-lite-v1:0",
            True,
        ),
        (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/82ey7vcct4m3", False),
        ("arn:aws:bedrock:us-east-1::inference-profile/us.amazon.nova-lite-v1:0", False),
        ("us.anthropic", False),
        ("claude-3-haiku", False),
        ("Anthropic.Claude", False),
        ("", False),
    ],
)
def test_model_source_rule(module: TfModule, source: str, accepted: bool) -> None:
    patterns = _patterns(_validation(module, "tenants", "model_source")["condition"])
    assert len(patterns) == 5
    assert model_source_accepted(patterns, source) is accepted


@pytest.mark.parametrize(
    ("principal", "accepted"),
    [
        (f"{ROLE}sales-assistant", True),
        (f"{ROLE}teams/sales/sales-assistant", True),
        (f"arn:aws:iam::{ACCOUNT}:user/alice", True),
        (f"arn:aws-cn:iam::{ACCOUNT}:user/bob", True),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/sales-assistant/session", False),
        (f"{ROLE}aws-service-role/bedrock.amazonaws.com/AWSServiceRoleForBedrock", False),
        (f"{ROLE}aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin", False),
        (f"{ROLE}a,b", False),
        (f"arn:aws:iam::{ACCOUNT}:group/admins", False),
        (f"arn:aws:iam::{ACCOUNT}:root", False),
        ("arn:aws:iam::1111:role/short-account", False),
    ],
)
def test_principal_rule(module: TfModule, principal: str, accepted: bool) -> None:
    allowed, refused = _patterns(_validation(module, "tenants", "tenant.principals")["condition"])
    assert bool(re.search(allowed, principal) and not re.search(refused, principal)) is accepted
