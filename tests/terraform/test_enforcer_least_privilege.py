"""modules/alarm-enforcer cannot be turned into a privilege-escalation tool: proved from its HCL.

The enforcer's role may attach and detach exactly one policy (the deny policy, by an
``iam:PolicyARN`` condition) on users and roles under the allowed paths, read what it needs, and
write its own ledger, queue and logs. The deny policy denies exactly the inference actions. Only
CloudWatch alarms of this account publish to the topic and use the key. Each checker below takes
IAM-JSON-shaped statements, so each is also shown failing on a deliberately bad policy.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from bedrock_guard.enforcer.config import ENVIRONMENT_VARIABLES
from tests.terraform.hcl_blocks import as_list, resources_of
from tests.terraform.test_iam_actions import Statement, document_statements, resolve
from tests.terraform.tfload import REPO, TfModule, body, load_module

MODULE_PATH = REPO / "modules" / "alarm-enforcer"
pytestmark = pytest.mark.skipif(not MODULE_PATH.is_dir(), reason="modules/alarm-enforcer absent")

DENY_POLICY_ARN = "${aws_iam_policy.deny.arn}"
ACCOUNT_ID = "${data.aws_caller_identity.current.account_id}"

# Everything the role may be allowed to do (what bedrock_guard's enforcer calls). IAM: only
# these six, never a wildcard.
IAM_WRITE = {
    "user": {"iam:AttachUserPolicy", "iam:DetachUserPolicy"},
    "role": {"iam:AttachRolePolicy", "iam:DetachRolePolicy"},
}
IAM_READ = {"user": {"iam:GetUser"}, "role": {"iam:GetRole"}}
# The daily audit: who has the deny policy (and whether it still exists), on that policy only.
IAM_POLICY_READ = {"iam:GetPolicy", "iam:ListEntitiesForPolicy"}
# On the gate's usage items the enforcer writes only the lock mark and the month's TTL.
LOCK_MARK_ATTRIBUTES = {"pk", "sk", "locked_by", "expires_at"}
ALLOWED_ACTIONS = {
    *IAM_WRITE["user"], *IAM_WRITE["role"], *IAM_READ["user"], *IAM_READ["role"],
    *IAM_POLICY_READ,
    "cloudwatch:ListTagsForResource", "cloudwatch:DescribeAlarms",
    "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Scan",
    "sqs:SendMessage",
    "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey",
    "logs:CreateLogStream", "logs:PutLogEvents",
    "xray:PutTelemetryRecords", "xray:PutTraceSegments",
}  # fmt: skip
FORBIDDEN_IAM = re.compile(
    r"^iam:(Put\w*Policy|PassRole|CreatePolicyVersion|SetDefaultPolicyVersion|\*)$", re.I
)
# Trace APIs have no resource-level permissions, and DescribeAlarms returns composite alarms only
# when allowed on "*" (CloudWatch API reference); nothing else may be allowed on "*".
STAR_RESOURCE_ACTIONS = {
    "xray:PutTelemetryRecords",
    "xray:PutTraceSegments",
    "cloudwatch:DescribeAlarms",
}
# Lookups may read any user or role of the account: the real path is what GetUser/GetRole return.
ACCOUNT_WIDE_ARN = re.compile(
    r"^arn:\$\{local\.partition\}:iam::\$\{local\.account_id\}:(?P<kind>user|role)/\*$"
)
# Attach and detach: one ARN per allowed path, "<kind><path>*".
PATH_SCOPED_ARNS = re.compile(
    r"^\$\{\[for (?P<var>\w+) in var\.allowed_principal_paths : "
    r'"arn:\$\{local\.partition\}:iam::\$\{local\.account_id\}:(?P<kind>user|role)\$\{(?P=var)\}\*"\]\}$'
)

INFERENCE_ACTIONS = {
    "bedrock:InvokeModel",
    "bedrock:InvokeModelWithResponseStream",
    "bedrock:CallWithBearerToken",
}
OPT_OUT_ACTIONS = {"bedrock-mantle:CreateInference", "bedrock-mantle:CallWithBearerToken"}
OPT_IN_ACTIONS = "${var.additional_deny_actions}"


def _lower(values: list[Any]) -> set[str]:
    return {str(value).lower() for value in values}


def _conditions(statement: Statement, key: str) -> list[tuple[str, list[Any]]]:
    """(operator, values) of every condition on ``key`` (keys compared case-blind, like IAM)."""
    return [
        (operator, as_list(values))
        for operator, entries in (statement.get("Condition") or {}).items()
        for name, values in (entries or {}).items()
        if name.lower() == key.lower()
    ]


def _kind_of(action: str) -> str | None:
    return next((k for k in ("user", "role") if action in IAM_WRITE[k] | IAM_READ[k]), None)


# --- the checkers -------------------------------------------------------------------------------


def _statement_action_problems(where: str, statement: Statement) -> list[str]:
    problems = []
    for field in ("NotAction", "NotResource"):
        if field in statement:
            problems.append(f"{where}: an Allow with {field} grants everything it does not list")
    for action in as_list(statement.get("Action")):
        if action == "*" or FORBIDDEN_IAM.match(action):
            problems.append(f"{where}: allows {action!r}")
        elif action.lower().startswith("iam:") and re.search(r"[*?]", action):
            problems.append(f"{where}: allows the wildcard IAM action {action!r}")
        elif action not in ALLOWED_ACTIONS:
            problems.append(f"{where}: allows {action!r}, which the enforcer does not need")
    return problems


def _iam_problems(where: str, statement: Statement, actions: list[str]) -> list[str]:
    problems = []
    kinds = {_kind_of(action) for action in actions}
    writes = set(actions) & (IAM_WRITE["user"] | IAM_WRITE["role"])
    if len(kinds) != 1:
        problems.append(f"{where}: mixes user and role actions; each kind has its own resources")
    for resource in as_list(statement.get("Resource")):
        scoped = PATH_SCOPED_ARNS.match(str(resource))
        wide = None if writes else ACCOUNT_WIDE_ARN.match(str(resource))
        match = scoped or wide
        if not match or match["kind"] not in kinds:
            problems.append(
                f"{where}: IAM resource {resource!r} is not the {'/'.join(sorted(map(str, kinds)))}"
                " ARNs under var.allowed_principal_paths"
                + ("" if writes else " or of this account")
            )
    if writes:
        policy_arn = _conditions(statement, "iam:PolicyARN")
        exact = [
            values for operator, values in policy_arn if operator in ("ArnEquals", "StringEquals")
        ]
        if not exact or any(values != [DENY_POLICY_ARN] for values in exact):
            problems.append(
                f"{where}: attaches or detaches without an ArnEquals/StringEquals iam:PolicyARN"
                f" condition naming only the deny policy ({DENY_POLICY_ARN})"
            )
    return problems


def enforcer_role_problems(statements: list[Statement]) -> list[str]:
    """Why a role policy is more than the enforcer needs (an empty list means least privilege)."""
    problems = []
    for index, statement in enumerate(statements):
        if statement.get("Effect", "Allow") != "Allow":
            continue  # denies only take away
        where = f"statement[{index}] ({statement.get('Sid')})"
        problems += _statement_action_problems(where, statement)
        actions = [str(action) for action in as_list(statement.get("Action"))]
        iam = [action for action in actions if action.lower().startswith("iam:")]
        if iam and len(iam) != len(actions):
            problems.append(f"{where}: mixes IAM and other actions")
        elif iam and all(_kind_of(action) for action in iam):
            problems += _iam_problems(where, statement, iam)
        if "*" in as_list(statement.get("Resource")) and not set(actions) <= STAR_RESOURCE_ACTIONS:
            problems.append(f"{where}: allows {actions} on every resource")
        reads_policy = bool(iam) and set(iam) <= IAM_POLICY_READ
        if reads_policy and as_list(statement.get("Resource")) != [DENY_POLICY_ARN]:
            problems.append(f"{where}: reads policies other than the deny policy")
        if any(action.startswith("dynamodb:") for action in actions):
            problems += _ledger_problems(where, statement, actions)
    return problems


def _leading_keys(statement: Statement, prefix: str) -> bool:
    return any(
        op == "ForAllValues:StringLike" and values and all(v.startswith(prefix) for v in values)
        for op, values in _conditions(statement, "dynamodb:LeadingKeys")
    )


def _ledger_problems(where: str, statement: Statement, actions: list[str]) -> list[str]:
    """LOCK# items only; on USAGE# items only UpdateItem of the lock mark; Scan reads only."""
    if actions == ["dynamodb:Scan"]:
        return []  # read-only; Scan cannot be limited by partition key
    if actions == ["dynamodb:UpdateItem"] and _leading_keys(statement, "USAGE#"):
        attributes = [
            values
            for op, values in _conditions(statement, "dynamodb:Attributes")
            if op == "ForAllValues:StringEquals"
        ]
        if not attributes or any(not set(values) <= LOCK_MARK_ATTRIBUTES for values in attributes):
            return [f"{where}: may write more of the gate's usage items than the lock mark"]
        return []
    if not _leading_keys(statement, "LOCK#"):
        return [f"{where}: ledger access is not limited to LOCK# items"]
    return []


def deny_policy_problems(statements: list[Statement]) -> list[str]:
    """Why a deny policy is not exactly the inference lockout (plus its opt-in/opt-out extras)."""
    problems = []
    always: set[str] = set()
    for index, statement in enumerate(statements):
        where = f"statement[{index}] ({statement.get('Sid')})"
        actions = [str(action) for action in as_list(statement.get("Action"))]
        if statement.get("Effect") != "Deny":
            problems.append(f"{where}: the deny policy may only deny")
        for field in ("NotAction", "NotResource", "Condition"):
            if field in statement:
                problems.append(f"{where}: {field} would narrow or bend the lockout")
        if statement.get("_for_each") is None:
            always |= set(actions)
        elif not (set(actions) <= OPT_OUT_ACTIONS or actions == [OPT_IN_ACTIONS]):
            problems.append(f"{where}: optional statement denies {actions}")
        if "bedrock:CallWithBearerToken" in actions and as_list(statement.get("Resource")) != ["*"]:
            problems.append(f"{where}: CallWithBearerToken has no resource type; deny it on '*'")
    if always != INFERENCE_ACTIONS:
        missing, extra = sorted(INFERENCE_ACTIONS - always), sorted(always - INFERENCE_ACTIONS)
        problems.append(f"always-denied actions differ: missing {missing}, extra {extra}")
    return problems


def _is_account(values: list[Any], account: str) -> bool:
    return values == [account]


def topic_policy_problems(statements: list[Statement], account: str = ACCOUNT_ID) -> list[str]:
    """Why a topic policy lets anyone but this account's CloudWatch alarms publish."""
    problems = []
    allows = [s for s in statements if s.get("Effect", "Allow") == "Allow"]
    if not allows:
        problems.append("no statement lets CloudWatch alarms publish")
    for index, statement in enumerate(allows):
        where = f"allow statement[{index}] ({statement.get('Sid')})"
        if statement.get("Principal") != {"Service": ["cloudwatch.amazonaws.com"]}:
            problems.append(f"{where}: principal {statement.get('Principal')} is not CloudWatch")
        if as_list(statement.get("Action")) != ["sns:Publish"]:
            problems.append(f"{where}: allows {statement.get('Action')}, not only sns:Publish")
        source_account = _conditions(statement, "aws:SourceAccount")
        if not any(op == "StringEquals" and _is_account(v, account) for op, v in source_account):
            problems.append(f"{where}: no StringEquals aws:SourceAccount = this account")
        for operator, values in _conditions(statement, "aws:SourceArn"):
            if operator not in ("ArnLike", "ArnEquals") or not all(
                ":cloudwatch:" in str(v) and ":alarm:" in str(v) for v in values
            ):
                problems.append(f"{where}: aws:SourceArn {values} is not CloudWatch alarms")
    return problems


def key_policy_problems(statements: list[Statement], account: str = ACCOUNT_ID) -> list[str]:
    """Why a key policy does not let CloudWatch alarms use the key, or lets in anyone else."""
    problems = []
    cloudwatch_ok = False
    for index, statement in enumerate(statements):
        if statement.get("Effect", "Allow") != "Allow":
            continue
        where = f"statement[{index}] ({statement.get('Sid')})"
        principal = statement.get("Principal") or {}
        if not isinstance(principal, dict) or "*" in principal or "*" in principal.get("AWS", []):
            problems.append(f"{where}: open to every principal")
            continue
        if "Service" in principal and not statement.get("Condition"):
            problems.append(f"{where}: a service principal without a condition (confused deputy)")
        if principal.get("Service") == ["cloudwatch.amazonaws.com"]:
            actions = set(as_list(statement.get("Action")))
            source_account = _conditions(statement, "aws:SourceAccount")
            cloudwatch_ok = cloudwatch_ok or (
                "kms:Decrypt" in actions
                and bool(actions & {"kms:GenerateDataKey", "kms:GenerateDataKey*"})
                and any(
                    op == "StringEquals" and _is_account(v, account) for op, v in source_account
                )
            )
    if not cloudwatch_ok:
        problems.append(
            "no statement lets cloudwatch.amazonaws.com use kms:Decrypt and kms:GenerateDataKey*"
            " for this account's alarms"
        )
    return problems


# --- reading the module -------------------------------------------------------------------------


def _document(module: TfModule, reference: Any) -> list[Statement]:
    """Statements of the ``data.aws_iam_policy_document.<name>.json`` a policy argument names."""
    match = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.(\w+)\.json\}", str(reference))
    assert match, f"{reference!r} is not an aws_iam_policy_document's json"
    return document_statements(module.data[("aws_iam_policy_document", match[1])].body, module)


def _only(module: TfModule, type_name: str) -> dict[str, Any]:
    found = list(resources_of(module, type_name).values())
    assert len(found) == 1, f"expected one {type_name}, found {len(found)}"
    return found[0]


def _expand(value: Any, module: TfModule) -> Any:
    """``${local.x}`` inside a template replaced by the local's text, where that is a string."""
    for _ in range(10):  # locals built from locals; ten levels is plenty, and ends cycles
        if not isinstance(value, str):
            return value
        expanded = re.sub(
            r"\$\{local\.(\w+)\}",
            lambda m: module.locals[m[1]] if isinstance(module.locals.get(m[1]), str) else m[0],
            value,
        )
        if expanded == value:
            return value
        value = expanded
    return value


def _resolved(module: TfModule, statements: list[Statement]) -> list[Statement]:
    """Condition values with this module's locals resolved (``local.account_id`` -> data...)."""
    for statement in statements:
        for entries in (statement.get("Condition") or {}).values():
            for key, values in entries.items():
                entries[key] = [_expand(value, module) for value in resolve(values, module)]
    return statements


@pytest.fixture(scope="module")
def enforcer() -> TfModule:
    return load_module(MODULE_PATH)


def test_role_has_one_inline_policy_and_a_boundary(enforcer: TfModule) -> None:
    role = _only(enforcer, "aws_iam_role")
    assert role.get("permissions_boundary") == "${var.permissions_boundary}"
    assert "managed_policy_arns" not in role and "inline_policy" not in role
    types = {t for t, _ in enforcer.resources}
    assert not types & {
        "aws_iam_role_policy_attachment",
        "aws_iam_policy_attachment",
        "aws_iam_role_policies_exclusive",
        "aws_iam_role_policy_attachments_exclusive",
    }
    policy = _only(enforcer, "aws_iam_role_policy")
    assert policy["role"] == "${aws_iam_role.this.id}"


def test_enforcer_role_is_least_privilege(enforcer: TfModule) -> None:
    statements = _document(enforcer, _only(enforcer, "aws_iam_role_policy")["policy"])
    assert enforcer_role_problems(statements) == []
    allowed = {a for s in statements if s.get("Effect") == "Allow" for a in as_list(s["Action"])}
    assert IAM_WRITE["user"] | IAM_WRITE["role"] <= allowed  # it can still do its job


def test_iam_resources_are_built_from_the_partition_and_account(enforcer: TfModule) -> None:
    assert enforcer.locals["partition"] == "${data.aws_partition.current.partition}"
    assert enforcer.locals["account_id"] == "${data.aws_caller_identity.current.account_id}"


def test_allowed_paths_validation_rejects_what_would_widen_the_arns(enforcer: TfModule) -> None:
    """The path variable's regex (RE2 and Python agree on it) and its wildcard bans, applied."""
    variable = enforcer.variables["allowed_principal_paths"].body
    assert variable["default"] == ["/"]
    conditions = " ".join(str(body(v)["condition"]) for v in variable["validation"])
    pattern = re.search(r'regex\(\\?"(\^/[^"\\]*(?:\\.[^"\\]*)*)\\?", path\)', conditions)
    assert pattern, conditions
    regex = re.compile(pattern[1].replace("\\\\", "\\"))
    for good in ("/", "/teams/", "/teams/genai/"):
        assert regex.fullmatch(good), good
    for bad in ("", "teams/", "/teams", "/a b/"):
        assert not regex.fullmatch(bad), bad
    for ban in ('strcontains(path, "*")', 'strcontains(path, "?")', "/aws-service-role/"):
        assert ban in conditions.replace('\\"', '"'), ban


def test_deny_policy_denies_exactly_the_inference_actions(enforcer: TfModule) -> None:
    statements = _document(enforcer, enforcer.resources[("aws_iam_policy", "deny")].body["policy"])
    assert deny_policy_problems(statements) == []


def test_extra_deny_actions_are_limited_to_bedrock(enforcer: TfModule) -> None:
    variable = enforcer.variables["additional_deny_actions"].body
    assert variable["default"] == []
    condition = str(body(variable["validation"][0])["condition"])
    pattern = re.search(r'regex\(\\?"(\^[^"]*?)\\?", action\)', condition)
    assert pattern, condition
    regex = re.compile(pattern[1].replace("\\\\", "\\"))
    assert regex.fullmatch("bedrock:InvokeAgent") and regex.fullmatch("bedrock-agentcore:Invoke*")
    for bad in ("iam:*", "*", "s3:GetObject", "bedrock"):
        assert not regex.fullmatch(bad), bad


def test_topic_accepts_only_this_accounts_cloudwatch_alarms(enforcer: TfModule) -> None:
    policy = _only(enforcer, "aws_sns_topic_policy")
    assert policy["arn"] == "${aws_sns_topic.this.arn}"
    statements = _resolved(enforcer, _document(enforcer, policy["policy"]))
    assert topic_policy_problems(statements) == []
    assert _only(enforcer, "aws_sns_topic")["kms_master_key_id"] == "${local.kms_key_arn}"


def test_key_lets_cloudwatch_alarms_use_it(enforcer: TfModule) -> None:
    key = enforcer.resources[("aws_kms_key", "this")].body
    statements = _resolved(enforcer, _document(enforcer, key["policy"]))
    assert key_policy_problems(statements) == []
    assert key["enable_key_rotation"] is True


def test_function_receives_the_policy_it_may_attach(enforcer: TfModule) -> None:
    """The ARN in DENY_POLICY_ARN is the one the role's iam:PolicyARN condition names."""
    function = enforcer.resources[("aws_lambda_function", "this")].body
    variables = body(function["environment"][0])["variables"]
    assert variables["DENY_POLICY_ARN"] == DENY_POLICY_ARN
    assert variables["ALLOWED_PATHS_JSON"] == "${jsonencode(var.allowed_principal_paths)}"
    assert variables["PROTECTED_PRINCIPALS_JSON"] == "${jsonencode(var.protected_principals)}"
    assert function["handler"] == "bedrock_guard.alarm_enforcer.handler"
    assert function["reserved_concurrent_executions"] == "${var.reserved_concurrent_executions}"
    permission = enforcer.resources[("aws_lambda_permission", "sns")].body
    assert permission["principal"] == "sns.amazonaws.com"
    assert permission["source_arn"] == "${aws_sns_topic.this.arn}"
    # The only other invoker is the lock audit's schedule.
    permissions = [r for (t, _), r in enforcer.resources.items() if t == "aws_lambda_permission"]
    assert len(permissions) == 2
    schedule = enforcer.resources[("aws_lambda_permission", "audit")].body
    assert schedule["principal"] == "events.amazonaws.com"
    assert schedule["source_arn"] == "${aws_cloudwatch_event_rule.audit.arn}"


def test_function_confirms_notifications_against_its_own_topic_and_prefix(
    enforcer: TfModule,
) -> None:
    """Alarms count only if they notify this module's topic and carry the name prefix that
    the topic policy, the key and the tag permission are scoped to."""
    function = enforcer.resources[("aws_lambda_function", "this")].body
    variables = body(function["environment"][0])["variables"]
    assert variables["ALARM_TOPIC_ARN"] == "${aws_sns_topic.this.arn}"
    assert variables["ALARM_NAME_PREFIX"] == "${var.alarm_name_prefix}"
    own = {name for name in variables if not name.startswith("POWERTOOLS_")}
    assert own == set(ENVIRONMENT_VARIABLES)


def test_the_role_can_confirm_notifications_with_cloudwatch(enforcer: TfModule) -> None:
    statements = _document(enforcer, _only(enforcer, "aws_iam_role_policy")["policy"])
    describe = [s for s in statements if "cloudwatch:DescribeAlarms" in as_list(s.get("Action"))]
    assert len(describe) == 1
    assert describe[0].get("Effect", "Allow") == "Allow"
    assert as_list(describe[0]["Action"]) == ["cloudwatch:DescribeAlarms"]


# --- each checker fails on a bad policy ---------------------------------------------------------

USERS = (
    '${[for p in var.allowed_principal_paths : "arn:${local.partition}:iam::${local.account_id}'
    ':user${p}*"]}'
)
ROLES = USERS.replace(":user$", ":role$")
GOOD_ATTACH = {
    "Sid": "Attach",
    "Effect": "Allow",
    "Action": ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
    "Resource": [ROLES],
    "Condition": {"ArnEquals": {"iam:PolicyARN": [DENY_POLICY_ARN]}},
}


def _with(base: Statement, **changes: Any) -> Statement:
    statement = {**base, **changes}
    return {k: v for k, v in statement.items() if v is not None}


def test_role_checker_accepts_a_minimal_policy() -> None:
    reads = {"Effect": "Allow", "Action": ["iam:GetUser"], "Resource": [USERS]}
    lookups = {
        "Effect": "Allow",
        "Action": ["iam:GetRole"],
        "Resource": ["arn:${local.partition}:iam::${local.account_id}:role/*"],
    }
    traces = {"Effect": "Allow", "Action": ["xray:PutTraceSegments"], "Resource": ["*"]}
    assert enforcer_role_problems([GOOD_ATTACH, reads, lookups, traces]) == []


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (_with(GOOD_ATTACH, Condition=None), "without an ArnEquals/StringEquals iam:PolicyARN"),
        (
            _with(
                GOOD_ATTACH, Condition={"ArnLike": {"iam:PolicyARN": ["arn:aws:iam::*:policy/*"]}}
            ),
            "without an ArnEquals/StringEquals iam:PolicyARN",
        ),
        (
            _with(GOOD_ATTACH, Condition={"ArnEquals": {"iam:PolicyARN": ["${var.any_policy}"]}}),
            "naming only the deny policy",
        ),
        (
            _with(GOOD_ATTACH, Resource=["*"]),
            "is not the role ARNs under var.allowed_principal_paths",
        ),
        (_with(GOOD_ATTACH, Resource=[USERS]), "is not the role ARNs"),
        (
            _with(GOOD_ATTACH, Resource=["arn:aws:iam::123456789012:role/*"]),
            "is not the role ARNs",
        ),
        (
            _with(GOOD_ATTACH, Resource=["arn:${local.partition}:iam::${local.account_id}:role/*"]),
            "is not the role ARNs under var.allowed_principal_paths",
        ),
        (
            {"Effect": "Allow", "Action": ["iam:GetRole"], "Resource": ["*"]},
            "is not the role ARNs under var.allowed_principal_paths or of this account",
        ),
        (
            {"Effect": "Allow", "Action": ["iam:GetRole"], "Resource": [USERS]},
            "is not the role ARNs",
        ),
        (_with(GOOD_ATTACH, Action=["iam:AttachRolePolicy", "iam:AttachUserPolicy"]), "mixes user"),
        (_with(GOOD_ATTACH, Action=["iam:PutRolePolicy"]), "allows 'iam:PutRolePolicy'"),
        (_with(GOOD_ATTACH, Action=["iam:PassRole"]), "allows 'iam:PassRole'"),
        (
            _with(GOOD_ATTACH, Action=["iam:CreatePolicyVersion"]),
            "allows 'iam:CreatePolicyVersion'",
        ),
        (_with(GOOD_ATTACH, Action=["iam:SetDefaultPolicyVersion"]), "SetDefaultPolicyVersion"),
        (_with(GOOD_ATTACH, Action=["iam:*"]), "allows 'iam:*'"),
        (_with(GOOD_ATTACH, Action=["iam:Attach*"]), "the wildcard IAM action 'iam:Attach*'"),
        (_with(GOOD_ATTACH, Action=["*"]), "allows '*'"),
        (_with(GOOD_ATTACH, Action=["iam:CreateUser"]), "which the enforcer does not need"),
        (
            {"Effect": "Allow", "Action": ["iam:ListAttachedRolePolicies"], "Resource": [ROLES]},
            "which the enforcer does not need",
        ),
        (_with(GOOD_ATTACH, Action=None, NotAction=["iam:PassRole"]), "grants everything"),
        (
            {"Effect": "Allow", "Action": ["iam:GetRole", "sqs:SendMessage"], "Resource": [ROLES]},
            "mixes IAM and other actions",
        ),
        (
            {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": ["*"]},
            "on every resource",
        ),
        (
            {"Effect": "Allow", "Action": ["cloudwatch:ListTagsForResource"], "Resource": ["*"]},
            "on every resource",
        ),
        (
            {
                "Effect": "Allow",
                "Action": ["cloudwatch:DescribeAlarms", "cloudwatch:PutMetricAlarm"],
                "Resource": ["*"],
            },
            "'cloudwatch:PutMetricAlarm', which the enforcer does not need",
        ),
        (
            {"Effect": "Allow", "Action": ["dynamodb:PutItem"], "Resource": ["${local.t}"]},
            "not limited to LOCK# items",
        ),
        (
            {
                "Effect": "Allow",
                "Action": ["dynamodb:PutItem"],
                "Resource": ["${local.t}"],
                "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["USAGE#*"]}},
            },
            "not limited to LOCK# items",
        ),
        (
            {
                "Effect": "Allow",
                "Action": ["dynamodb:UpdateItem"],
                "Resource": ["${local.t}"],
                "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["USAGE#*"]}},
            },
            "more of the gate's usage items than the lock mark",
        ),
        (
            {
                "Effect": "Allow",
                "Action": ["dynamodb:UpdateItem"],
                "Resource": ["${local.t}"],
                "Condition": {
                    "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["USAGE#*"]},
                    "ForAllValues:StringEquals": {"dynamodb:Attributes": ["month_usd"]},
                },
            },
            "more of the gate's usage items than the lock mark",
        ),
        (
            {"Effect": "Allow", "Action": ["iam:ListEntitiesForPolicy"], "Resource": ["*"]},
            "reads policies other than the deny policy",
        ),
        (
            {
                "Effect": "Allow",
                "Action": ["dynamodb:PutItem"],
                "Resource": ["${local.t}"],
                "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["*"]}},
            },
            "not limited to LOCK# items",
        ),
    ],
)
def test_role_checker_rejects(statement: Statement, expected: str) -> None:
    problems = enforcer_role_problems([statement])
    assert any(expected in problem for problem in problems), problems


def test_role_checker_ignores_denies() -> None:
    deny = {"Effect": "Deny", "Action": ["iam:AttachRolePolicy"], "Resource": ["*"]}
    assert enforcer_role_problems([GOOD_ATTACH, deny]) == []


GOOD_DENY = [
    {"Effect": "Deny", "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]},
    {"Effect": "Deny", "Action": ["bedrock:CallWithBearerToken"], "Resource": ["*"]},
    {"Effect": "Deny", "Action": sorted(OPT_OUT_ACTIONS), "Resource": ["*"], "_for_each": "x"},
    {"Effect": "Deny", "Action": [OPT_IN_ACTIONS], "Resource": ["*"], "_for_each": "y"},
]


def test_deny_checker_accepts_the_lockout() -> None:
    assert deny_policy_problems(GOOD_DENY) == []


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        (GOOD_DENY[:1] + GOOD_DENY[2:], "missing ['bedrock:CallWithBearerToken']"),
        (
            [*GOOD_DENY, {"Effect": "Deny", "Action": ["bedrock:InvokeAgent"]}],
            "extra ['bedrock:InvokeAgent']",
        ),
        ([_with(GOOD_DENY[0], Effect="Allow"), *GOOD_DENY[1:]], "may only deny"),
        (
            [
                _with(GOOD_DENY[0], Condition={"Bool": {"aws:ViaAWSService": ["false"]}}),
                *GOOD_DENY[1:],
            ],
            "Condition would narrow",
        ),
        (
            [GOOD_DENY[0], _with(GOOD_DENY[1], Resource=["arn:aws:bedrock:*"]), *GOOD_DENY[2:]],
            "deny it on '*'",
        ),
        ([*GOOD_DENY, {"Effect": "Deny", "Action": ["iam:*"], "_for_each": "z"}], "optional"),
    ],
)
def test_deny_checker_rejects(statements: list[Statement], expected: str) -> None:
    problems = deny_policy_problems(statements)
    assert any(expected in problem for problem in problems), problems


GOOD_TOPIC = {
    "Effect": "Allow",
    "Action": ["sns:Publish"],
    "Principal": {"Service": ["cloudwatch.amazonaws.com"]},
    "Condition": {
        "StringEquals": {"aws:SourceAccount": [ACCOUNT_ID]},
        "ArnLike": {"aws:SourceArn": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"]},
    },
}
TLS_DENY = {"Effect": "Deny", "Action": ["sns:Publish"], "Principal": {"*": ["*"]}}


def test_topic_checker_accepts_cloudwatch_of_this_account() -> None:
    assert topic_policy_problems([GOOD_TOPIC, TLS_DENY]) == []


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (_with(GOOD_TOPIC, Principal={"AWS": ["*"]}), "is not CloudWatch"),
        (_with(GOOD_TOPIC, Principal={"Service": ["events.amazonaws.com"]}), "is not CloudWatch"),
        (_with(GOOD_TOPIC, Condition=None), "no StringEquals aws:SourceAccount"),
        (
            _with(GOOD_TOPIC, Condition={"StringEquals": {"aws:SourceAccount": ["210987654321"]}}),
            "no StringEquals aws:SourceAccount",
        ),
        (
            _with(GOOD_TOPIC, Condition={"StringLike": {"aws:SourceAccount": [ACCOUNT_ID]}}),
            "no StringEquals aws:SourceAccount",
        ),
        (_with(GOOD_TOPIC, Action=["sns:Publish", "sns:Subscribe"]), "not only sns:Publish"),
        (
            _with(
                GOOD_TOPIC,
                Condition={
                    "StringEquals": {"aws:SourceAccount": [ACCOUNT_ID]},
                    "ArnLike": {"aws:SourceArn": ["arn:aws:events:*"]},
                },
            ),
            "is not CloudWatch alarms",
        ),
    ],
)
def test_topic_checker_rejects(statement: Statement, expected: str) -> None:
    problems = topic_policy_problems([statement, TLS_DENY])
    assert any(expected in problem for problem in problems), problems
    assert topic_policy_problems([TLS_DENY]) == ["no statement lets CloudWatch alarms publish"]


GOOD_KEY = [
    {
        "Effect": "Allow",
        "Action": ["kms:*"],
        "Principal": {"AWS": ["arn:aws:iam::123456789012:root"]},
        "Resource": ["*"],
    },
    {
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Principal": {"Service": ["cloudwatch.amazonaws.com"]},
        "Condition": {"StringEquals": {"aws:SourceAccount": [ACCOUNT_ID]}},
    },
]


def test_key_checker_accepts_cloudwatch_with_a_condition() -> None:
    assert key_policy_problems(GOOD_KEY) == []


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        (GOOD_KEY[:1], "no statement lets cloudwatch.amazonaws.com use"),
        ([GOOD_KEY[0], _with(GOOD_KEY[1], Action=["kms:Decrypt"])], "no statement lets"),
        ([GOOD_KEY[0], _with(GOOD_KEY[1], Condition=None)], "confused deputy"),
        ([_with(GOOD_KEY[0], Principal={"AWS": ["*"]}), GOOD_KEY[1]], "open to every principal"),
        ([_with(GOOD_KEY[0], Principal="*"), GOOD_KEY[1]], "open to every principal"),
    ],
)
def test_key_checker_rejects(statements: list[Statement], expected: str) -> None:
    problems = key_policy_problems(statements)
    assert any(expected in problem for problem in problems), problems
