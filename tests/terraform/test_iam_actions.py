"""Every IAM action and condition key in the repository's policies is known to policy_sentry.

policy_sentry ships a maintained copy of the Service Authorization Reference, so a misspelt or
invented action (``bedrock:InvokeModelz``) or a condition key the action does not support
(``iam:PolicyARN`` is fine on ``iam:AttachRolePolicy``, ``s3:prefix`` is not) fails the build
instead of silently never matching in AWS. Policies are read from every module: the statements
of ``data "aws_iam_policy_document"`` blocks (dynamic ones included), ``jsonencode({...})`` and
JSON heredoc policies in any argument, and ``aws_lambda_permission`` actions. Values that are
interpolations are resolved through ``local.`` values and variable defaults where possible;
what cannot be resolved is skipped, but a literal action is always checked.

The helpers here are also used by ``test_enforcer_least_privilege.py``.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest
from policy_sentry.querying.actions import get_action_data, get_actions_for_service
from policy_sentry.querying.all import get_all_service_prefixes

from tests.terraform.hcl_blocks import as_list
from tests.terraform.tfload import (
    HCL_OPTIONS,
    REPO,
    TfModule,
    body,
    is_block,
    load_module,
    module_dirs,
)

Statement = dict[str, Any]


ACTION_RE = re.compile(r"^(?P<service>[A-Za-z0-9-]+):(?P<name>[A-Za-z0-9*?]+)$")
_QUOTED_ACTION = re.compile(r'"([a-z0-9-]+:[A-Za-z0-9*?]+)"')
_EXACT_REFERENCE = re.compile(r"^\$\{(?P<root>local|var)\.(?P<name>[A-Za-z_][\w-]*)\}$")
_REFERENCE = re.compile(r"(?<![\w.])(?P<root>local|var)\.(?P<name>[A-Za-z_][\w-]*)")

# Condition operators (IAM JSON policy reference, "Condition operators").
OPERATORS = {
    "stringequals", "stringnotequals", "stringequalsignorecase", "stringnotequalsignorecase",
    "stringlike", "stringnotlike",
    "numericequals", "numericnotequals", "numericlessthan", "numericlessthanequals",
    "numericgreaterthan", "numericgreaterthanequals",
    "dateequals", "datenotequals", "datelessthan", "datelessthanequals",
    "dategreaterthan", "dategreaterthanequals",
    "bool", "binaryequals", "ipaddress", "notipaddress",
    "arnequals", "arnlike", "arnnotequals", "arnnotlike", "null",
}  # fmt: skip

# Global condition keys every action supports (IAM User Guide, "AWS global condition context
# keys"). The tag keys aws:RequestTag/*, aws:ResourceTag/* and aws:TagKeys are left out on
# purpose: they only work where the Service Authorization Reference lists them for the action.
GLOBAL_KEYS = {
    "aws:assumedroot", "aws:calledvia", "aws:calledviafirst", "aws:calledvialast",
    "aws:chatbotsourcearn", "aws:currenttime", "aws:ec2instancesourceprivateipv4",
    "aws:ec2instancesourcevpc", "aws:epochtime", "aws:federatedprovider",
    "aws:multifactorauthage", "aws:multifactorauthpresent", "aws:principalaccount",
    "aws:principalarn", "aws:principalisawsservice", "aws:principalorgid",
    "aws:principalorgpaths", "aws:principalservicename", "aws:principalservicenameslist",
    "aws:principaltype", "aws:referer", "aws:requestedregion", "aws:resourceaccount",
    "aws:resourceorgid", "aws:resourceorgpaths", "aws:securetransport", "aws:sourceaccount",
    "aws:sourcearn", "aws:sourceidentity", "aws:sourceip", "aws:sourceorgid",
    "aws:sourceorgpaths", "aws:sourcevpc", "aws:sourcevpcarn", "aws:sourcevpce",
    "aws:tokenissuetime", "aws:useragent", "aws:userid", "aws:username", "aws:viaawsservice",
    "aws:vpceaccount", "aws:vpceorgid", "aws:vpceorgpaths", "aws:vpcsourceip",
}  # fmt: skip
GLOBAL_KEY_PREFIXES = ("aws:principaltag/",)


# --- the IAM database ---------------------------------------------------------------------------


@cache
def service_prefixes() -> frozenset[str]:
    return frozenset(prefix.lower() for prefix in get_all_service_prefixes())


@cache
def service_actions(service: str) -> dict[str, str]:
    """``{lower-case action name: canonical name}`` of one service (IAM names are case-blind)."""
    names = {}
    for action in get_actions_for_service(service):
        name = action.split(":", 1)[1]
        names[name.lower()] = name
    return names


@cache
def action_condition_keys(service: str, name: str) -> tuple[re.Pattern[str], ...]:
    """Keys one action supports: its own plus those of every resource type it acts on."""
    rows = get_action_data(service, name).get(service, [])
    keys = {key for row in rows for key in row.get("condition_keys", [])}
    # ``aws:ResourceTag/${TagKey}`` -> ``aws:resourcetag/.+``; the database writes templates so.
    return tuple(
        re.compile(re.sub(r"\\\$\\\{\w+\\\}", ".+", re.escape(key.lower())) + "$")
        for key in sorted(keys)
    )


def expand_action(action: str) -> tuple[list[str], str | None]:
    """(``service:Name`` actions an action or wildcard pattern means, problem or None)."""
    if action == "*":
        return [], None
    match = ACTION_RE.match(action)
    if not match:
        return [], f"{action!r} is not a service:Action name"
    service, name = match["service"].lower(), match["name"].lower()
    if service not in service_prefixes():
        return [], f"{action!r}: service prefix {service!r} is unknown to the IAM database"
    known = service_actions(service)
    found = sorted(known[n] for n in known if fnmatch.fnmatchcase(n, name))
    if found:
        return [f"{service}:{n}" for n in found], None
    wildcard = "*" in name or "?" in name
    return [], f"{action!r} " + (
        f"matches no {service} action" if wildcard else f"is not a {service} action"
    )


def is_global_key(key: str) -> bool:
    lowered = key.lower()
    return lowered in GLOBAL_KEYS or lowered.startswith(GLOBAL_KEY_PREFIXES)


def key_supported(key: str, action: str) -> bool:
    service, name = action.split(":", 1)
    lowered = key.lower()
    return is_global_key(key) or any(p.match(lowered) for p in action_condition_keys(service, name))


def operator_problem(operator: str) -> str | None:
    base = re.sub(r"^(ForAllValues|ForAnyValue):", "", operator)
    base = re.sub(r"IfExists$", "", base)
    if base.lower() not in OPERATORS:
        return f"condition operator {operator!r} is not an IAM condition operator"
    return None


def check_statement(where: str, statement: Statement) -> list[str]:
    """Problems with one IAM-JSON-shaped statement whose actions are literal strings.

    Each action must exist (wildcards must match at least one action); each condition operator
    must be an IAM operator; each condition key must be global or supported by every action
    the statement allows or denies (a key an action lacks makes the statement never match it).
    """
    problems = []
    expanded: dict[str, list[str]] = {}
    for field in ("Action", "NotAction"):
        for action in as_list(statement.get(field)):
            actions, problem = expand_action(action)
            if problem:
                problems.append(f"{where}: {field} {problem}")
            elif field == "Action":
                expanded[action] = actions
    for operator, entries in (statement.get("Condition") or {}).items():
        if problem := operator_problem(operator):
            problems.append(f"{where}: {problem}")
        for key in entries or {}:
            if "${" in key or is_global_key(key):
                continue
            for pattern, actions in expanded.items():
                lacking = [action for action in actions if not key_supported(key, action)]
                if lacking:
                    problems.append(
                        f"{where}: condition key {key!r} is not supported by {pattern!r}"
                        + (f" (lacking: {', '.join(lacking)})" if lacking != [pattern] else "")
                    )
    return problems


# --- reading policies out of Terraform ----------------------------------------------------------


@dataclass
class Policy:
    """The statements of one policy, in IAM JSON shape, and where they were found."""

    where: str
    module: TfModule
    statements: list[Statement]
    kind: str  # "document" (aws_iam_policy_document), "json", "permission"
    address: str = ""


def resolve(value: Any, module: TfModule, seen: frozenset[str] = frozenset()) -> list[Any]:
    """A value as a flat list: ``${local.x}`` replaced by the local's value, recursively.

    Anything else that is an expression stays as its ``${...}`` text, for the caller to judge.
    """
    if value is None:
        return []
    if isinstance(value, list):
        return [item for inner in value for item in resolve(inner, module, seen)]
    if isinstance(value, str):
        match = _EXACT_REFERENCE.match(value)
        if match and match["root"] == "local" and match["name"] in module.locals:
            if match["name"] in seen:
                return [value]
            return resolve(module.locals[match["name"]], module, seen | {match["name"]})
    return [value]


def action_candidates(expression: str, module: TfModule, seen: frozenset[str] = frozenset()):
    """Literal actions reachable from an expression: quoted literals, locals, variable defaults."""
    found = list(_QUOTED_ACTION.findall(expression))
    for match in _REFERENCE.finditer(expression):
        key = f"{match['root']}.{match['name']}"
        if key in seen:
            continue
        if match["root"] == "local":
            value = module.locals.get(match["name"])
        else:
            variable = module.variables.get(match["name"])
            value = variable.body.get("default") if variable else None
        if isinstance(value, dict):  # a map of action lists, indexed in the expression
            value = list(value.values())
        for item in resolve(value, module):
            if isinstance(item, str) and "${" in item:
                found += action_candidates(item, module, seen | {key})
            elif isinstance(item, str):
                found.append(item)
    return found


def literal_actions(items: list[Any], module: TfModule) -> tuple[list[str], list[str]]:
    """(actions to check, expressions that gave none) of a resolved Action list."""
    actions, skipped = [], []
    for item in items:
        if not isinstance(item, str):
            skipped.append(repr(item))
        elif "${" not in item:
            actions.append(item)
        else:
            candidates = action_candidates(item, module)
            actions += candidates
            if not candidates:
                skipped.append(item)
    return actions, skipped


def _statement_from_block(block: dict[str, Any], module: TfModule) -> Statement:
    """An ``aws_iam_policy_document`` statement block in IAM JSON shape (values resolved)."""
    statement: Statement = {"Sid": block.get("sid"), "Effect": block.get("effect", "Allow")}
    for hcl_name, json_name in (
        ("actions", "Action"),
        ("not_actions", "NotAction"),
        ("resources", "Resource"),
        ("not_resources", "NotResource"),
    ):
        if hcl_name in block:
            statement[json_name] = resolve(block[hcl_name], module)
    for hcl_name, json_name in (("principals", "Principal"), ("not_principals", "NotPrincipal")):
        principals: dict[str, list[Any]] = {}
        for entry in as_list(block.get(hcl_name)):
            principal = body(entry)
            principals.setdefault(principal.get("type", ""), []).extend(
                resolve(principal.get("identifiers"), module)
            )
        if principals:
            statement[json_name] = principals
    conditions: dict[str, dict[str, list[Any]]] = {}
    for entry in as_list(block.get("condition")):
        condition = body(entry)
        per_key = conditions.setdefault(str(condition.get("test")), {})
        per_key.setdefault(str(condition.get("variable")), []).extend(
            resolve(condition.get("values"), module)
        )
    if conditions:
        statement["Condition"] = conditions
    return statement


def document_statements(document: dict[str, Any], module: TfModule) -> list[Statement]:
    """The statements of one ``aws_iam_policy_document``; dynamic ones carry ``_for_each``."""
    statements = [
        _statement_from_block(body(block), module) for block in as_list(document.get("statement"))
    ]
    for dynamic in as_list(document.get("dynamic")):
        spec = body(dynamic).get("statement")
        if spec is None:
            continue
        spec = body(spec)
        for content in as_list(spec.get("content")):
            statement = _statement_from_block(body(content), module)
            statement["_for_each"] = spec.get("for_each")
            statements.append(statement)
    return statements


def _normalise_json_statement(raw: dict[str, Any], module: TfModule) -> Statement:
    statement: Statement = dict(raw)
    for field in ("Action", "NotAction", "Resource", "NotResource"):
        if field in statement:
            statement[field] = resolve(as_list(statement[field]), module)
    principal = statement.get("Principal")
    if isinstance(principal, dict):
        statement["Principal"] = {k: resolve(v, module) for k, v in principal.items()}
    conditions = statement.get("Condition")
    if isinstance(conditions, dict):
        statement["Condition"] = {
            operator: {key: resolve(value, module) for key, value in (entries or {}).items()}
            for operator, entries in conditions.items()
        }
    return statement


def json_policy_statements(text: str, module: TfModule) -> list[Statement] | None:
    """Statements of a ``${jsonencode({...})}`` or literal JSON policy; None if it is neither.

    A jsonencode argument that cannot be read back as HCL still has its quoted actions checked:
    they come back as one statement with only an Action list.
    """
    stripped = text.strip()
    document: Any = None
    if stripped.startswith("${jsonencode(") and stripped.endswith(")}"):
        inner = stripped[len("${jsonencode(") : -2]
        try:
            document = hcl2.loads(f"x = {inner}\n", serialization_options=HCL_OPTIONS)["x"]
        except Exception:
            actions = _QUOTED_ACTION.findall(inner)
            return [{"Effect": "Allow", "Action": actions}] if actions else None
    elif stripped.startswith("{") and '"Statement"' in stripped:
        try:
            document = json.loads(stripped)
        except ValueError:
            return None
    if not isinstance(document, dict) or "Statement" not in document:
        return None
    return [
        _normalise_json_statement(raw, module)
        for raw in as_list(document["Statement"])
        if isinstance(raw, dict)
    ]


def _walk_json_policies(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(argument path, text) of every string in a block body that may hold a JSON policy."""
    if isinstance(value, str):
        if "jsonencode(" in value or '"Statement"' in value:
            yield path, value
    elif isinstance(value, dict):
        for key, inner in value.items():
            if key != "__is_block__":
                yield from _walk_json_policies(inner, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _walk_json_policies(inner, path if is_block(inner) else f"{path}[{index}]")


def module_policies(module: TfModule) -> list[Policy]:
    """Every policy one folder of ``.tf`` files declares."""
    policies = []
    for (type_name, _), block in module.data.items():
        if type_name == "aws_iam_policy_document":
            where = f"{_relative(block.file)}: {block.address}"
            statements = document_statements(block.body, module)
            policies.append(Policy(where, module, statements, "document", block.address))
    blocks = [*module.resources.values(), *module.data.values(), *module.outputs.values()]
    sources = [(f"{_relative(b.file)}: {b.address}", b.body) for b in blocks]
    sources.append((f"{module.name}: locals", module.locals))
    for where, block_body in sources:
        for path, text in _walk_json_policies(block_body, ""):
            statements = json_policy_statements(text, module)
            if statements is not None:
                policies.append(Policy(f"{where} {path}", module, statements, "json"))
    for (type_name, _), block in module.resources.items():
        if type_name == "aws_lambda_permission" and "action" in block.body:
            where = f"{_relative(block.file)}: {block.address} action"
            statement = {"Effect": "Allow", "Action": resolve(block.body["action"], module)}
            policies.append(Policy(where, module, [statement], "permission", block.address))
    return policies


def _relative(path: Path) -> str:
    """A file's path inside the repository, or as given when it lies elsewhere (test folders)."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def statement_label(policy: Policy, index: int, statement: Statement) -> str:
    sid = statement.get("Sid")
    return f"{policy.where} statement[{index}]" + (f" ({sid})" if sid else "")


def policy_problems(policy: Policy) -> tuple[list[str], list[str]]:
    """(problems, skipped expressions) of one policy, checking every literal action it has."""
    problems, skipped = [], []
    for index, statement in enumerate(policy.statements):
        where = statement_label(policy, index, statement)
        literal = dict(statement)
        for field in ("Action", "NotAction"):
            if field in statement:
                actions, unresolved = literal_actions(as_list(statement[field]), policy.module)
                literal[field] = actions
                skipped += [f"{where}: {field} {expression}" for expression in unresolved]
        problems += check_statement(where, literal)
    return problems, skipped


ALL_POLICIES = [policy for d in module_dirs() for policy in module_policies(load_module(d))]


# --- the checks on the repository ---------------------------------------------------------------


def test_policies_are_found() -> None:
    """The reader sees the policies it must check (a reader that finds nothing checks nothing)."""
    if not (REPO / "modules" / "alarm-enforcer").is_dir():
        pytest.skip("modules/alarm-enforcer is not in this tree")
    actions = {
        action
        for policy in ALL_POLICIES
        for statement in policy.statements
        for action in literal_actions(as_list(statement.get("Action")), policy.module)[0]
    }
    assert {"iam:AttachRolePolicy", "bedrock:InvokeModel", "sts:AssumeRole"} <= actions
    assert "lambda:InvokeFunction" in actions  # from aws_lambda_permission


@pytest.mark.parametrize("policy", ALL_POLICIES, ids=[p.where for p in ALL_POLICIES])
def test_actions_and_condition_keys_exist(policy: Policy) -> None:
    problems, _ = policy_problems(policy)
    assert problems == [], "\n".join(problems)


# --- the checker can fail -----------------------------------------------------------------------


def test_invented_and_misspelt_actions_are_reported() -> None:
    statement = {
        "Effect": "Deny",
        "Action": ["bedrock:InvokeModelz", "bedrockz:InvokeModel", "bedrock:Invokez*", "iam"],
    }
    problems = check_statement("t", statement)
    assert problems == [
        "t: Action 'bedrock:InvokeModelz' is not a bedrock action",
        "t: Action 'bedrockz:InvokeModel': service prefix 'bedrockz' is unknown to the IAM"
        " database",
        "t: Action 'bedrock:Invokez*' matches no bedrock action",
        "t: Action 'iam' is not a service:Action name",
    ]


def test_real_actions_wildcards_and_case_pass() -> None:
    statement = {
        "Action": [
            "bedrock:InvokeModel",
            "bedrock:CallWithBearerToken",
            "bedrock-mantle:CreateInference",
            "logs:Create*",
            "kms:generatedatakey*",
            "*",
        ],
        "NotAction": ["iam:PassRole"],
    }
    assert check_statement("t", statement) == []
    assert expand_action("kms:GenerateDataKey*")[0][:2] == [
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyPair",
    ]


def test_condition_keys_are_checked_per_action() -> None:
    good = {
        "Action": ["iam:AttachRolePolicy", "iam:DetachUserPolicy"],
        "Condition": {
            "ArnEquals": {"iam:PolicyARN": ["arn:aws:iam::123456789012:policy/deny"]},
            "StringEquals": {"aws:SourceAccount": ["123456789012"], "aws:ResourceTag/team": ["x"]},
        },
    }
    assert check_statement("t", good) == []
    wrong_key = {
        "Action": ["iam:AttachRolePolicy"],
        "Condition": {"StringLike": {"s3:prefix": ["a"]}},
    }
    assert check_statement("t", wrong_key) == [
        "t: condition key 's3:prefix' is not supported by 'iam:AttachRolePolicy'"
    ]
    # A key one of the actions lacks: that action would never match the statement.
    mixed = {
        "Action": ["iam:AttachRolePolicy", "iam:GetRole"],
        "Condition": {"ArnEquals": {"iam:PolicyARN": ["arn"]}},
    }
    assert check_statement("t", mixed) == [
        "t: condition key 'iam:PolicyARN' is not supported by 'iam:GetRole'"
    ]
    templated = {
        "Action": ["kms:Decrypt*"],
        "Condition": {
            "ArnEquals": {"kms:EncryptionContext:aws:logs:arn": ["arn"]},
            "StringEquals": {"kms:ViaService": ["sqs.us-east-1.amazonaws.com"]},
        },
    }
    assert check_statement("t", templated) == []


def test_condition_operators_and_tag_keys_are_checked() -> None:
    statement = {
        "Action": ["xray:PutTraceSegments"],
        "Condition": {
            "StringEqual": {"aws:SourceAccount": ["1"]},
            "ForAllValues:StringLikeIfExists": {"aws:TagKeys": ["a"]},
        },
    }
    assert check_statement("t", statement) == [
        "t: condition operator 'StringEqual' is not an IAM condition operator",
        "t: condition key 'aws:TagKeys' is not supported by 'xray:PutTraceSegments'",
    ]


def test_reader_finds_every_policy_form_and_reports_invented_actions(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        """
variable "extra" {
  type    = list(string)
  default = ["bedrock:InvokeAgent"]
}
variable "free" {
  type = list(string)
}
locals {
  core = ["bedrock:InvokeModel", "bedrock:InvokeModelz"]
  kinds = {
    user = ["iam:AttachUserPolicy"]
    role = ["iam:AttachRolePolicyz"]
  }
}
data "aws_iam_policy_document" "d" {
  statement {
    actions   = concat(local.core, var.flag ? ["bedrock-mantle:CreateInferencez"] : [])
    resources = ["*"]
    condition {
      test     = "ArnEquals"
      variable = "iam:PolicyARNz"
      values   = ["x"]
    }
  }
  dynamic "statement" {
    for_each = var.extra
    content {
      actions   = var.extra
      resources = ["*"]
    }
  }
  statement {
    actions   = var.free
    resources = ["*"]
  }
  dynamic "statement" {
    for_each = local.kinds
    content {
      actions   = local.kinds[statement.key]
      resources = ["*"]
    }
  }
}
resource "aws_iam_role_policy" "j" {
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["s3:GetObjectz"], Resource = "*" }]
  })
}
resource "aws_iam_role_policy" "h" {
  policy = <<EOT
{"Version": "2012-10-17",
 "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessagez", "Resource": "*"}]}
EOT
}
resource "aws_lambda_permission" "p" {
  action = "lambda:InvokeFunctionz"
}
"""
    )
    module = load_module(tmp_path)
    policies = module_policies(module)
    assert sorted(p.kind for p in policies) == ["document", "json", "json", "permission"]
    problems, skipped = [], []
    for policy in policies:
        found, unresolved = policy_problems(policy)
        problems += found
        skipped += unresolved
    text = "\n".join(problems)
    for invented in (
        "'bedrock:InvokeModelz' is not a bedrock action",
        "'bedrock-mantle:CreateInferencez' is not a bedrock-mantle action",
        "'s3:GetObjectz' is not a s3 action",
        "'sqs:SendMessagez' is not a sqs action",
        "'lambda:InvokeFunctionz' is not a lambda action",
        "'iam:AttachRolePolicyz' is not a iam action",
    ):
        assert invented in text
    assert "data.aws_iam_policy_document.d statement[0]" in text
    assert "condition key 'iam:PolicyARNz' is not supported by 'bedrock:InvokeModel'" in text
    assert "InvokeAgent" not in text  # a variable default that exists is checked and passes
    assert len(skipped) == 1 and skipped[0].endswith("Action ${var.free}")
