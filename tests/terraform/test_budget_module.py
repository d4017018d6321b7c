"""modules/budget: the two classic reasons budget alerts never arrive are ruled out, and the
budget action's role can touch exactly one policy.

Budgets publishes to a topic only when the topic policy lets budgets.amazonaws.com sns:Publish,
and to an encrypted topic only when the key policy lets it use the key. Each checker below is a
pure function over the parsed HCL, and each has a negative case proving it can fail.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from tests.terraform.hcl_blocks import blocks, statement_blocks
from tests.terraform.tfload import REPO, TfModule, body, load_module

MODULE = load_module(REPO / "modules" / "budget")
BUDGETS = "budgets.amazonaws.com"
IAM_POLICY_ACTIONS = {
    f"iam:{verb}{kind}Policy" for verb in ("Attach", "Detach") for kind in ("User", "Role", "Group")
}
DEFAULT_NOTIFICATIONS = {
    ("ACTUAL", "PERCENTAGE", "GREATER_THAN", 50),
    ("ACTUAL", "PERCENTAGE", "GREATER_THAN", 80),
    ("ACTUAL", "PERCENTAGE", "GREATER_THAN", 90),
    ("ACTUAL", "PERCENTAGE", "GREATER_THAN", 100),
    ("FORECASTED", "PERCENTAGE", "GREATER_THAN", 100),
}


# Reading policy documents ----------------------------------------------------------------------


def principals(statement: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (block.get("type", ""), identifier)
        for block in blocks(statement.get("principals"))
        for identifier in block.get("identifiers", [])
    }


def actions(statement: dict[str, Any], locals_: dict[str, Any] | None = None) -> set[str]:
    """Actions of a statement; ``local.x[statement.key]`` resolves to every list in ``local.x``."""
    value = statement.get("actions", [])
    if isinstance(value, list):
        return set(value)
    match = re.fullmatch(r"\$\{local\.(\w+)\[statement\.key\]\}", str(value))
    if match and locals_ is not None and isinstance(locals_.get(match[1]), dict):
        return {action for listed in locals_[match[1]].values() for action in listed}
    return {f"<unresolved {value}>"}


def conditions(statement: dict[str, Any]) -> dict[str, tuple[str, list[Any]]]:
    """condition variable (lower case) => (test, values)."""
    return {
        block.get("variable", "").lower(): (block.get("test", ""), list(block.get("values", [])))
        for block in blocks(statement.get("condition"))
    }


def _allows(statement: dict[str, Any]) -> bool:
    return statement.get("effect", "Allow") == "Allow"


def _source_account_problems(where: str, statement: dict[str, Any]) -> list[str]:
    test, values = conditions(statement).get("aws:sourceaccount", ("", []))
    if test != "StringEquals" or not values or any("*" in str(v) for v in values):
        return [f"{where}: no StringEquals aws:SourceAccount condition naming the account"]
    return []


# Checkers --------------------------------------------------------------------------------------


def topic_policy_problems(document: dict[str, Any]) -> list[str]:
    """budgets.amazonaws.com may sns:Publish, scoped by account; nobody else is allowed blindly."""
    problems: list[str] = []
    granting = [
        s
        for s in statement_blocks(document)
        if _allows(s)
        and ("Service", BUDGETS) in principals(s)
        and {a.lower() for a in actions(s)} & {"sns:publish", "sns:*"}
    ]
    if not granting:
        return [f"no statement allows {BUDGETS} sns:Publish"]
    for statement in granting:
        problems += _source_account_problems(f"statement {statement.get('sid')}", statement)
    for statement in statement_blocks(document):
        if _allows(statement) and {("*", "*"), ("AWS", "*")} & principals(statement):
            problems.append(f"statement {statement.get('sid')} allows any principal")
    return problems


def key_policy_problems(document: dict[str, Any]) -> list[str]:
    """budgets.amazonaws.com may kms:GenerateDataKey* and kms:Decrypt, scoped by account."""
    needed = {"kms:generatedatakey*", "kms:decrypt"}
    granting = [
        s
        for s in statement_blocks(document)
        if _allows(s) and ("Service", BUDGETS) in principals(s)
    ]
    granted = {a.lower() for s in granting for a in actions(s)}
    if "kms:*" not in granted and not needed <= granted:
        return [f"{BUDGETS} lacks {sorted(needed - granted)} in the key policy"]
    problems: list[str] = []
    for statement in granting:
        problems += _source_account_problems(f"statement {statement.get('sid')}", statement)
    return problems


def topic_encryption_problems(module: TfModule) -> list[str]:
    """The topic uses the module's key, whose policy is the checked document, with rotation on."""
    problems: list[str] = []
    topic = module.resources.get(("aws_sns_topic", "this"))
    key = module.resources.get(("aws_kms_key", "this"))
    if topic is None or key is None:
        return ["aws_sns_topic.this or aws_kms_key.this is missing"]
    if not re.fullmatch(
        r"\$\{aws_kms_key\.this\[0\]\.(arn|id|key_id)\}", str(topic.body.get("kms_master_key_id"))
    ):
        problems.append("aws_sns_topic.this is not encrypted with aws_kms_key.this")
    if key.body.get("policy") != "${data.aws_iam_policy_document.kms.json}":
        problems.append("aws_kms_key.this does not use data.aws_iam_policy_document.kms")
    if key.body.get("enable_key_rotation") is not True:
        problems.append("aws_kms_key.this has key rotation off")
    policy = module.resources.get(("aws_sns_topic_policy", "this"))
    if (
        policy is None
        or policy.body.get("policy") != "${data.aws_iam_policy_document.sns_topic.json}"
    ):
        problems.append(
            "aws_sns_topic_policy.this does not apply data.aws_iam_policy_document.sns_topic"
        )
    elif policy.body.get("arn") != "${aws_sns_topic.this[0].arn}":
        problems.append("aws_sns_topic_policy.this is not attached to aws_sns_topic.this")
    return problems


def default_notifications(module: TfModule) -> set[tuple[str, str, str, float]]:
    """(notification_type, threshold_type, comparison_operator, threshold) of the default,
    with the optional() defaults of the variable's type filled in."""
    variable = module.variables["notifications"].body
    type_defaults = dict(
        re.findall(r'(\w+)\s*=\s*optional\(string,\s*"([A-Z_]+)"\)', variable["type"])
    )
    found = set()
    for item in variable.get("default", []):
        merged = {**type_defaults, **item}
        found.add(
            (
                merged.get("notification_type", "?"),
                merged.get("threshold_type", "?"),
                merged.get("comparison_operator", "?"),
                merged.get("threshold"),
            )
        )
    return found


def notification_wiring_problems(module: TfModule) -> list[str]:
    """Every budget sends each notification of its list to the topic and the email addresses."""
    problems: list[str] = []
    expected_for_each = {"this": "${var.notifications}", "tag": "${each.value.notifications}"}
    for name, for_each in expected_for_each.items():
        budget = module.resources[("aws_budgets_budget", name)].body
        specs = [
            spec
            for dynamic in blocks(budget.get("dynamic"))
            for spec in blocks(dynamic.get("notification"))
        ]
        if [spec.get("for_each") for spec in specs] != [for_each]:
            problems.append(f"aws_budgets_budget.{name}: notifications do not iterate {for_each}")
            continue
        content = blocks(specs[0].get("content"))[0]
        if content.get("subscriber_sns_topic_arns") != "${local.notify_topic_arns}":
            problems.append(f"aws_budgets_budget.{name}: notifications skip the topic")
        if content.get("subscriber_email_addresses") != "${var.subscriber_email_addresses}":
            problems.append(f"aws_budgets_budget.{name}: notifications skip the email addresses")
    if "var.notifications" not in str(module.locals.get("tag_budgets")):
        problems.append("tag budgets do not fall back to var.notifications")
    return problems


def _role_policy_problems(module: TfModule, policy_arn: Any) -> list[str]:
    """Each Allow of the role's policy: attach/detach only, named resources, iam:PolicyARN."""
    problems: list[str] = []
    document = module.data[("aws_iam_policy_document", "budget_action")].body
    granted = statement_blocks(document)
    if not granted:
        problems.append("the role's policy has no statement")
    for statement in filter(_allows, granted):
        sid = statement.get("sid")
        extra = actions(statement, module.locals) - IAM_POLICY_ACTIONS
        if extra:
            problems.append(f"statement {sid} grants more than attach/detach: {sorted(extra)}")
        resources = statement.get("resources")
        if resources == "*" or (isinstance(resources, list) and "*" in resources):
            problems.append(f"statement {sid} applies to every resource")
        test, values = conditions(statement).get("iam:policyarn", ("", []))
        if test not in ("ArnEquals", "StringEquals") or values != [policy_arn]:
            problems.append(f"statement {sid} is not limited by iam:PolicyARN to {policy_arn}")
    principal_arns = str(module.locals.get("action_principal_arns", ""))
    if ":iam::" not in principal_arns or '"*"' in principal_arns:
        problems.append("local.action_principal_arns does not build principal ARNs")
    problems += [
        f"local.action_principal_arns ignores budget_action.{kind}"
        for kind in ("users", "roles", "groups")
        if f"var.budget_action.{kind}" not in principal_arns
    ]
    return problems


def _role_problems(module: TfModule) -> list[str]:
    """The role carries the checked policy and nothing else, under a permissions boundary."""
    problems: list[str] = []
    role = module.resources[("aws_iam_role", "budget_action")].body
    if {"managed_policy_arns", "inline_policy"} & set(role):
        problems.append("aws_iam_role.budget_action carries other policies")
    if not role.get("permissions_boundary"):
        problems.append("aws_iam_role.budget_action has no permissions_boundary")
    attached = [
        f"{kind}.{name}"
        for (kind, name), block in module.resources.items()
        if kind in ("aws_iam_role_policy", "aws_iam_role_policy_attachment")
        and "aws_iam_role.budget_action" in str(block.body.get("role"))
        and block.body.get("policy") != "${data.aws_iam_policy_document.budget_action.json}"
    ]
    if attached:
        problems.append(f"other policies on the role: {attached}")
    return problems


def _trust_problems(module: TfModule) -> list[str]:
    """Only budgets.amazonaws.com may assume the role, for this account."""
    problems: list[str] = []
    trust = module.data[("aws_iam_policy_document", "budget_action_assume")].body
    assumers = [
        s
        for s in statement_blocks(trust)
        if _allows(s) and "sts:AssumeRole" in actions(s) and ("Service", BUDGETS) in principals(s)
    ]
    if not assumers:
        problems.append(f"{BUDGETS} cannot assume the role")
    for statement in filter(_allows, statement_blocks(trust)):
        others = sorted(principals(statement) - {("Service", BUDGETS)})
        if others:
            problems.append(f"statement {statement.get('sid')} also trusts {others}")
    for statement in assumers:
        problems += _source_account_problems("trust policy", statement)
    return problems


def action_role_problems(module: TfModule) -> list[str]:
    """The execution role is trusted by Budgets of this account and can only attach and detach
    the action's policy, on principals named by the caller."""
    action = module.resources[("aws_budgets_budget_action", "this")].body
    definition = blocks(blocks(action.get("definition"))[0].get("iam_action_definition"))[0]
    problems = _role_policy_problems(module, definition.get("policy_arn"))
    problems += _role_problems(module)
    if action.get("execution_role_arn") != "${aws_iam_role.budget_action[0].arn}":
        problems.append("the action does not run as aws_iam_role.budget_action")
    return problems + _trust_problems(module)


# The module ------------------------------------------------------------------------------------


def test_topic_policy_lets_budgets_publish_scoped_to_the_account() -> None:
    document = MODULE.data[("aws_iam_policy_document", "sns_topic")].body
    assert topic_policy_problems(document) == []
    # The account in the condition is the budgets' account, and aws:SourceArn is Budgets'.
    statement = next(s for s in statement_blocks(document) if ("Service", BUDGETS) in principals(s))
    assert conditions(statement)["aws:sourceaccount"][1] == ["${local.account_id}"]
    assert conditions(statement)["aws:sourcearn"] == ("ArnLike", ["${local.budgets_arn_all}"])
    assert MODULE.locals["budgets_arn_all"] == (
        "arn:${local.partition}:budgets::${local.account_id}:*"
    )


def test_key_policy_lets_budgets_use_the_key() -> None:
    document = MODULE.data[("aws_iam_policy_document", "kms")].body
    assert key_policy_problems(document) == []


def test_topic_is_encrypted_with_that_key_and_has_that_policy() -> None:
    assert topic_encryption_problems(MODULE) == []


def test_notifications_default_to_the_five_thresholds() -> None:
    assert default_notifications(MODULE) == DEFAULT_NOTIFICATIONS
    assert notification_wiring_problems(MODULE) == []


def test_action_role_can_only_touch_the_given_policy() -> None:
    assert action_role_problems(MODULE) == []
    # The role's policy ARN condition and the action's policy are one value: the given ARN or
    # the module's copy of the given document.
    assert MODULE.locals["action_policy_arn"] == (
        "${(local.create_action_policy ? one(aws_iam_policy.budget_action[*].arn)"
        " : try(var.budget_action.policy_arn, null))}"
    )


def test_service_budget_covers_first_party_and_marketplace_bedrock() -> None:
    budget = MODULE.resources[("aws_budgets_budget", "this")].body
    (service_filter,) = blocks(budget["cost_filter"])
    assert service_filter == {"name": "Service", "values": "${local.bedrock_service_names}"}
    assert "var.service_names" in MODULE.locals["bedrock_service_names"]
    assert "var.marketplace_service_names" in MODULE.locals["bedrock_service_names"]
    assert MODULE.variables["service_names"].body["default"] == ["Amazon Bedrock"]
    marketplace = MODULE.variables["marketplace_service_names"].body["default"]
    assert marketplace and all(n.endswith(" (Amazon Bedrock Edition)") for n in marketplace)
    assert (budget["budget_type"], budget["time_unit"], budget["limit_unit"]) == (
        "COST",
        "MONTHLY",
        "USD",
    )


def test_tag_budgets_use_the_tag_key_value_filter_format() -> None:
    budget = MODULE.resources[("aws_budgets_budget", "tag")].body
    (tag_filter,) = blocks(budget["cost_filter"])
    assert tag_filter == {"name": "TagKeyValue", "values": ["${each.value.filter_value}"]}
    # "user:<key>$<value>" for user-defined cost allocation tags.
    assert 'format("user:%s$%s", budget.tag_key, budget.tag_value)' in MODULE.locals["tag_budgets"]


# The checkers can fail -------------------------------------------------------------------------


def _document(name: str) -> dict[str, Any]:
    return copy.deepcopy(MODULE.data[("aws_iam_policy_document", name)].body)


def _budgets_statement(document: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in document["statement"] if ("Service", BUDGETS) in principals(body(s)))


def test_topic_policy_checker_fails_without_grant_or_condition() -> None:
    missing = _document("sns_topic")
    _budgets_statement(missing)["principals"][0]["identifiers"] = ["cloudwatch.amazonaws.com"]
    assert topic_policy_problems(missing) == [f"no statement allows {BUDGETS} sns:Publish"]

    unscoped = _document("sns_topic")
    del _budgets_statement(unscoped)["condition"]
    assert topic_policy_problems(unscoped) == [
        "statement BudgetsOfThisAccountPublish: no StringEquals aws:SourceAccount condition"
        " naming the account"
    ]

    open_to_all = _document("sns_topic")
    open_to_all["statement"][1]["effect"] = "Allow"
    assert topic_policy_problems(open_to_all) == [
        "statement DenyInsecureTransport allows any principal"
    ]


def test_key_policy_checker_fails_without_generate_data_key_or_condition() -> None:
    decrypt_only = _document("kms")
    _budgets_statement(decrypt_only)["actions"] = ["kms:Decrypt"]
    assert key_policy_problems(decrypt_only) == [
        f"{BUDGETS} lacks ['kms:generatedatakey*'] in the key policy"
    ]

    absent = _document("kms")
    absent["statement"] = [
        s for s in absent["statement"] if s.get("sid") != "BudgetsPublishToEncryptedTopic"
    ]
    assert "lacks" in key_policy_problems(absent)[0]

    unscoped = _document("kms")
    _budgets_statement(unscoped)["condition"] = [
        {
            "test": "StringEquals",
            "variable": "aws:SourceAccount",
            "values": ["*"],
            "__is_block__": True,
        }
    ]
    assert key_policy_problems(unscoped) == [
        "statement BudgetsPublishToEncryptedTopic: no StringEquals aws:SourceAccount condition"
        " naming the account"
    ]


def _module_with(**changes: dict[str, Any]) -> TfModule:
    """A copy of the module with some resource bodies changed (``type__name`` => new keys)."""
    clone = copy.deepcopy(MODULE)
    for address, update in changes.items():
        type_name, name = address.split("__")
        clone.resources[(type_name, name)].body.update(update)
    return clone


def test_encryption_checker_fails_on_the_aws_managed_key_or_no_rotation() -> None:
    managed = _module_with(aws_sns_topic__this={"kms_master_key_id": "alias/aws/sns"})
    assert topic_encryption_problems(managed) == [
        "aws_sns_topic.this is not encrypted with aws_kms_key.this"
    ]
    unrotated = _module_with(aws_kms_key__this={"enable_key_rotation": False})
    assert topic_encryption_problems(unrotated) == ["aws_kms_key.this has key rotation off"]
    other_policy = _module_with(aws_sns_topic_policy__this={"policy": '{"Statement": []}'})
    assert topic_encryption_problems(other_policy) == [
        "aws_sns_topic_policy.this does not apply data.aws_iam_policy_document.sns_topic"
    ]


def test_notification_checkers_fail_on_other_defaults_or_wiring() -> None:
    clone = copy.deepcopy(MODULE)
    clone.variables["notifications"].body["default"] = [
        {"notification_type": "ACTUAL", "threshold": 100},
        {"notification_type": "FORECASTED", "threshold": 100, "threshold_type": "ABSOLUTE_VALUE"},
    ]
    assert default_notifications(clone) == {
        ("ACTUAL", "PERCENTAGE", "GREATER_THAN", 100),
        ("FORECASTED", "ABSOLUTE_VALUE", "GREATER_THAN", 100),
    }
    assert default_notifications(clone) != DEFAULT_NOTIFICATIONS

    budget = clone.resources[("aws_budgets_budget", "this")].body
    content = budget["dynamic"][0]["notification"]["content"][0]
    content["subscriber_sns_topic_arns"] = []
    assert notification_wiring_problems(clone) == [
        "aws_budgets_budget.this: notifications skip the topic"
    ]


def _action_statement(module: TfModule) -> dict[str, Any]:
    document = module.data[("aws_iam_policy_document", "budget_action")].body
    spec: dict[str, Any] = document["dynamic"][0]["statement"]
    content: dict[str, Any] = spec["content"][0]
    return content


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"actions": ["iam:AttachRolePolicy", "iam:PutRolePolicy"]},
            "grants more than attach/detach: ['iam:PutRolePolicy']",
        ),
        ({"actions": ["iam:*"]}, "grants more than attach/detach: ['iam:*']"),
        ({"resources": ["*"]}, "applies to every resource"),
        ({"condition": []}, "is not limited by iam:PolicyARN"),
        (
            {
                "condition": [
                    {
                        "test": "ArnLike",
                        "variable": "iam:PolicyARN",
                        "values": ["arn:aws:iam::*:policy/*"],
                        "__is_block__": True,
                    }
                ]
            },
            "is not limited by iam:PolicyARN",
        ),
    ],
)
def test_action_role_checker_fails_on_wider_grants(change: dict[str, Any], expected: str) -> None:
    clone = copy.deepcopy(MODULE)
    _action_statement(clone).update(change)
    problems = action_role_problems(clone)
    assert len(problems) == 1 and expected in problems[0], problems


def test_action_role_checker_fails_on_extra_policies_or_trust() -> None:
    managed = _module_with(
        aws_iam_role__budget_action={
            "managed_policy_arns": ["arn:aws:iam::aws:policy/IAMFullAccess"]
        }
    )
    assert action_role_problems(managed) == ["aws_iam_role.budget_action carries other policies"]

    clone = copy.deepcopy(MODULE)
    trust = clone.data[("aws_iam_policy_document", "budget_action_assume")].body
    trust["statement"][0]["principals"][0]["identifiers"].append("lambda.amazonaws.com")
    assert action_role_problems(clone) == [
        "statement BudgetsOfThisAccountAssume also trusts [('Service', 'lambda.amazonaws.com')]"
    ]
