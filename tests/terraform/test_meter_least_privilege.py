"""modules/usage-meter can lock callers out of Bedrock and write their usage, and nothing else.

Proved from the HCL, like the enforcer's role: in IAM the meter may attach and detach exactly one
policy (the enforcer's deny policy, by an ``iam:PolicyARN`` condition) on users and roles under
the allowed paths; in DynamoDB it reads the one table and writes only ``USAGE#`` and ``LOCK#``
items (``dynamodb:LeadingKeys``). The subscription filter feeds it the invocation log only, the
schedule runs the window release, and the validations refuse input that would widen anything.
Each checker is also shown failing on a deliberately bad policy.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.terraform.hcl_blocks import as_list, blocks, resources_of
from tests.terraform.test_iam_actions import Statement, document_statements
from tests.terraform.tfload import REPO, TfModule, body, load_module

MODULE_PATH = REPO / "modules" / "usage-meter"
pytestmark = pytest.mark.skipif(not MODULE_PATH.is_dir(), reason="modules/usage-meter absent")

DENY_POLICY_ARN = "${var.deny_policy_arn}"
ACCOUNT_ID = "${local.account_id}"
IAM_WRITE = {
    "user": {"iam:AttachUserPolicy", "iam:DetachUserPolicy"},
    "role": {"iam:AttachRolePolicy", "iam:DetachRolePolicy"},
}
IAM_READ = {"user": {"iam:GetUser"}, "role": {"iam:GetRole"}}
DYNAMODB_READS = {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"}
# What the meter may write, by partition: everything of the caller's usage, and the lock ledger
# as the enforcer writes it (no deletes).
WRITES_BY_PARTITION = {
    "USAGE#": {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"},
    "LOCK#": {"dynamodb:PutItem", "dynamodb:UpdateItem"},
}
DYNAMODB_WRITES = set().union(*WRITES_BY_PARTITION.values())
ALLOWED_ACTIONS = {
    *IAM_WRITE["user"], *IAM_WRITE["role"], *IAM_READ["user"], *IAM_READ["role"],
    *DYNAMODB_READS, *DYNAMODB_WRITES,
    "sqs:SendMessage",
    "kms:Decrypt", "kms:GenerateDataKey",
    "logs:CreateLogStream", "logs:PutLogEvents",
    "xray:PutTelemetryRecords", "xray:PutTraceSegments",
}  # fmt: skip
FORBIDDEN_IAM = re.compile(
    r"^iam:(Put\w*Policy|PassRole|CreatePolicyVersion|SetDefaultPolicyVersion|\*)$", re.I
)
# Trace APIs have no resource-level permissions; nothing else may be allowed on "*".
STAR_RESOURCE_ACTIONS = {"xray:PutTelemetryRecords", "xray:PutTraceSegments"}
ACCOUNT_WIDE_ARN = re.compile(
    r"^arn:\$\{local\.partition\}:iam::\$\{local\.account_id\}:(?P<kind>user|role)/\*$"
)
# Attach and detach: one ARN per allowed path, "<kind><path>*" (as the enforcer builds them).
PATH_SCOPED_ARNS = re.compile(
    r"^\$\{\[for (?P<var>\w+) in var\.allowed_principal_paths : "
    r'"arn:\$\{local\.partition\}:iam::\$\{local\.account_id\}:(?P<kind>user|role)\$\{(?P=var)\}\*"\]\}$'
)
USERS = (
    '${[for path in var.allowed_principal_paths : "arn:${local.partition}:iam::${local.account_id}'
    ':user${path}*"]}'
)
ROLES = USERS.replace(":user$", ":role$")


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


def leading_key_prefixes(statement: Statement) -> set[str] | None:
    """Partition prefixes a ``ForAllValues:StringLike dynamodb:LeadingKeys`` condition allows
    (``USAGE#*`` -> ``USAGE#``); None without such a condition or with a wider pattern."""
    found = [
        values
        for operator, values in _conditions(statement, "dynamodb:LeadingKeys")
        if operator == "ForAllValues:StringLike"
    ]
    if len(found) != 1 or not found[0]:
        return None
    prefixes = set()
    for value in found[0]:
        match = re.fullmatch(r"([A-Z]+#)\*", str(value))
        if not match:
            return None
        prefixes.add(match[1])
    return prefixes


# --- the checker --------------------------------------------------------------------------------


def _iam_problems(where: str, statement: Statement, actions: list[str]) -> list[str]:
    problems = []
    kinds = {_kind_of(action) for action in actions}
    writes = set(actions) & (IAM_WRITE["user"] | IAM_WRITE["role"])
    if len(kinds) != 1 or None in kinds:
        problems.append(f"{where}: mixes user and role actions; each kind has its own resources")
    for resource in as_list(statement.get("Resource")):
        match = PATH_SCOPED_ARNS.match(str(resource)) or (
            None if writes else ACCOUNT_WIDE_ARN.match(str(resource))
        )
        if not match or match["kind"] not in kinds:
            problems.append(
                f"{where}: IAM resource {resource!r} is not the lockable"
                f" {'/'.join(sorted(map(str, kinds)))} ARNs"
                + ("" if writes else " or of this account")
            )
    if writes:
        exact = [
            values
            for operator, values in _conditions(statement, "iam:PolicyARN")
            if operator in ("ArnEquals", "StringEquals")
        ]
        if not exact or any(values != [DENY_POLICY_ARN] for values in exact):
            problems.append(
                f"{where}: attaches or detaches without an ArnEquals/StringEquals iam:PolicyARN"
                f" condition naming only the deny policy ({DENY_POLICY_ARN})"
            )
    return problems


def _dynamodb_problems(where: str, statement: Statement, actions: list[str]) -> list[str]:
    writes = set(actions) & DYNAMODB_WRITES
    if not writes:
        return []  # reads of the one table need no partition condition
    if set(actions) & DYNAMODB_READS:
        return [f"{where}: mixes reads and writes; writes need their own partition condition"]
    prefixes = leading_key_prefixes(statement)
    if not prefixes:
        return [f"{where}: writes {sorted(writes)} without a USAGE#/LOCK# dynamodb:LeadingKeys"]
    return [
        f"{where}: may {action} items under {prefix}"
        for prefix in sorted(prefixes)
        for action in sorted(writes)
        if action not in WRITES_BY_PARTITION.get(prefix, set())
    ]


def meter_role_problems(statements: list[Statement]) -> list[str]:
    """Why a role policy is more than the meter needs (an empty list means least privilege)."""
    problems = []
    for index, statement in enumerate(statements):
        if statement.get("Effect", "Allow") != "Allow":
            continue  # denies only take away
        where = f"statement[{index}] ({statement.get('Sid')})"
        for field in ("NotAction", "NotResource"):
            if field in statement:
                problems.append(
                    f"{where}: an Allow with {field} grants everything it does not list"
                )
        actions = [str(action) for action in as_list(statement.get("Action"))]
        for action in actions:
            if action == "*" or FORBIDDEN_IAM.match(action):
                problems.append(f"{where}: allows {action!r}")
            elif re.search(r"[*?]", action):
                problems.append(f"{where}: allows the wildcard action {action!r}")
            elif action not in ALLOWED_ACTIONS:
                problems.append(f"{where}: allows {action!r}, which the meter does not need")
        iam = [action for action in actions if action.lower().startswith("iam:")]
        if iam and len(iam) != len(actions):
            problems.append(f"{where}: mixes IAM and other actions")
        elif iam:
            problems += _iam_problems(where, statement, iam)
        if "*" in as_list(statement.get("Resource")) and not set(actions) <= STAR_RESOURCE_ACTIONS:
            problems.append(f"{where}: allows {actions} on every resource")
        if any(action.startswith("dynamodb:") for action in actions):
            problems += _dynamodb_problems(where, statement, actions)
    return problems


# --- reading the module -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def meter() -> TfModule:
    return load_module(MODULE_PATH)


def _only(module: TfModule, type_name: str) -> dict[str, Any]:
    found = list(resources_of(module, type_name).values())
    assert len(found) == 1, f"expected one {type_name}, found {len(found)}"
    return found[0]


def _role_statements(module: TfModule) -> list[Statement]:
    policy = _only(module, "aws_iam_role_policy")["policy"]
    match = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.(\w+)\.json\}", str(policy))
    assert match, policy
    return document_statements(module.data[("aws_iam_policy_document", match[1])].body, module)


def _allows(statements: list[Statement]) -> list[Statement]:
    return [s for s in statements if s.get("Effect", "Allow") == "Allow"]


def test_role_has_one_inline_policy_and_a_boundary(meter: TfModule) -> None:
    role = _only(meter, "aws_iam_role")
    assert role.get("permissions_boundary") == "${var.permissions_boundary}"
    assert "managed_policy_arns" not in role and "inline_policy" not in role
    types = {t for t, _ in meter.resources}
    assert not types & {
        "aws_iam_role_policy_attachment",
        "aws_iam_policy_attachment",
        "aws_iam_role_policies_exclusive",
        "aws_iam_role_policy_attachments_exclusive",
        "aws_iam_policy",
    }
    assert _only(meter, "aws_iam_role_policy")["role"] == "${aws_iam_role.this.id}"


def test_meter_role_is_least_privilege(meter: TfModule) -> None:
    statements = _role_statements(meter)
    assert meter_role_problems(statements) == []
    allowed = {a for s in _allows(statements) for a in as_list(s["Action"])}
    assert IAM_WRITE["user"] | IAM_WRITE["role"] | IAM_READ["user"] | IAM_READ["role"] <= allowed
    assert not {a for a in allowed if a.startswith("cloudwatch:")}, "metrics are EMF log records"
    assert "dynamodb:ConditionCheckItem" not in allowed


def test_the_only_policy_it_can_attach_or_detach_is_the_deny_policy(meter: TfModule) -> None:
    writes = [
        s
        for s in _allows(_role_statements(meter))
        if set(as_list(s["Action"])) & IAM_WRITE["user"]
        or set(as_list(s["Action"])) & IAM_WRITE["role"]
    ]
    assert {a for s in writes for a in s["Action"]} == IAM_WRITE["user"] | IAM_WRITE["role"]
    for statement in writes:
        assert statement["Condition"] == {"ArnEquals": {"iam:PolicyARN": [DENY_POLICY_ARN]}}
        assert statement["Resource"] in ([USERS], [ROLES])
    # The lockable ARNs are the enforcer's: one per allowed path, "<kind><path>*".
    enforcer = load_module(REPO / "modules" / "alarm-enforcer")
    for kind in ("user", "role"):
        name = f"lockable_{kind}_arns"
        assert meter.locals[name] == enforcer.locals[name], name


def test_it_writes_only_usage_and_lock_items(meter: TfModule) -> None:
    """Every write action is granted per partition prefix, and the pairs are exactly these."""
    granted: set[tuple[str, str]] = set()
    for statement in _allows(_role_statements(meter)):
        writes = set(as_list(statement["Action"])) & DYNAMODB_WRITES
        if writes:
            prefixes = leading_key_prefixes(statement)
            assert prefixes, statement
            granted |= {(prefix, action) for prefix in prefixes for action in writes}
            assert statement["Resource"] == [meter.locals["table_arn"]]
    expected = {(p, a) for p, actions in WRITES_BY_PARTITION.items() for a in actions}
    assert granted == expected


def test_denies_mirror_the_enforcers(meter: TfModule) -> None:
    """Service-linked, reserved and protected principals can never get the deny policy."""
    denies = {
        s["Sid"]: s for s in _role_statements(meter) if s.get("Effect") == "Deny"
    }  # fmt: skip
    assert (
        denies["NeverLockServiceLinkedOrReservedRoles"]["Resource"]
        == (meter.locals["never_lockable_role_arns"])
    )
    assert denies["NeverLockProtectedPrincipals"]["Action"] == [
        "iam:AttachUserPolicy",
        "iam:AttachRolePolicy",
    ]
    enforcer = load_module(REPO / "modules" / "alarm-enforcer")
    for name in ("never_lockable_role_arns", "protected_principal_arns", "protected_iam_arns"):
        assert meter.locals[name] == enforcer.locals[name], name


def test_table_and_log_group_arns_are_built_from_data_sources(meter: TfModule) -> None:
    assert meter.locals["partition"] == "${data.aws_partition.current.partition}"
    assert meter.locals["account_id"] == "${data.aws_caller_identity.current.account_id}"
    assert meter.locals["region"] == "${data.aws_region.current.region}"
    prefix = "arn:${local.partition}:"
    assert meter.locals["table_arn"].startswith(prefix + "dynamodb:${local.region}:")
    assert meter.locals["invocation_log_group_arn"] == (
        prefix + "logs:${local.region}:${local.account_id}:log-group:"
        "${var.invocation_log_group_name}"
    )


# --- the function, its feed and its schedule ------------------------------------------------------


def test_function_is_the_meter_with_the_contract_environment(meter: TfModule) -> None:
    from tests.contract.hcl_policies import environment_keys

    function = _only(meter, "aws_lambda_function")
    assert function["handler"] == "bedrock_guard.usage_meter.handler"
    assert environment_keys(function) == {
        "USAGE_TABLE_NAME", "TIER_LIMITS_JSON", "DEFAULT_TIER", "MODEL_ALIASES_JSON",
        "PRICING_JSON", "DENY_POLICY_ARN", "LEDGER_TABLE_NAME", "PROTECTED_PRINCIPALS_JSON",
        "ALLOWED_PATHS_JSON", "DRY_RUN", "GATE_ROLE_ARN", "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL",
    }  # fmt: skip
    variables = str(body(function["environment"][0])["variables"])
    # The policy it is told to attach is the one its role may attach; one table for both roles.
    assert "DENY_POLICY_ARN = var.deny_policy_arn" in variables
    assert "USAGE_TABLE_NAME = var.table_name" in variables
    assert "LEDGER_TABLE_NAME = var.table_name" in variables
    # Optional ones are left out when null, not set to an empty string.
    assert "PRICING_JSON = var.pricing_json, GATE_ROLE_ARN = var.gate_role_arn}" in variables
    assert "if value != null" in variables
    assert body(function["tracing_config"][0])["mode"] == "Active"
    assert function["dead_letter_config"][0]["target_arn"] == "${aws_sqs_queue.dlq.arn}"


def test_the_invocation_log_feeds_the_function_and_only_invocation_records(meter: TfModule) -> None:
    subscription = _only(meter, "aws_cloudwatch_log_subscription_filter")
    assert subscription["log_group_name"] == "${var.invocation_log_group_name}"
    assert subscription["destination_arn"] == "${aws_lambda_function.this.arn}"
    assert subscription["filter_pattern"] == "${local.filter_pattern}"
    assert meter.locals["filter_pattern"] == '{ $.schemaType = "ModelInvocationLog" }'
    assert "role_arn" not in subscription  # a Lambda destination is authorised by its policy
    # PutSubscriptionFilter test-invokes the function: the permission must exist first.
    assert subscription["depends_on"] == ["${aws_lambda_permission.logs}"]
    permission = meter.resources[("aws_lambda_permission", "logs")].body
    assert permission["principal"] == "logs.amazonaws.com"
    assert permission["action"] == "lambda:InvokeFunction"
    assert permission["function_name"] == "${aws_lambda_function.this.function_name}"
    assert permission["source_arn"] == "${local.invocation_log_group_arn}:*"
    assert permission["source_account"] == ACCOUNT_ID


def test_the_schedule_invokes_the_function_daily_after_midnight_utc(meter: TfModule) -> None:
    rule = _only(meter, "aws_cloudwatch_event_rule")
    assert rule["schedule_expression"] == "${var.release_schedule}"
    assert meter.variables["release_schedule"].body["default"] == "cron(5 0 * * ? *)"
    target = _only(meter, "aws_cloudwatch_event_target")
    assert target["rule"] == "${aws_cloudwatch_event_rule.release.name}"
    assert target["arn"] == "${aws_lambda_function.this.arn}"
    permission = meter.resources[("aws_lambda_permission", "release")].body
    assert permission["principal"] == "events.amazonaws.com"
    assert permission["source_arn"] == "${aws_cloudwatch_event_rule.release.arn}"
    assert permission["source_account"] == ACCOUNT_ID
    # Nothing else may invoke the function.
    assert len(resources_of(meter, "aws_lambda_permission")) == 2


# --- validations --------------------------------------------------------------------------------


def _validation_regexes(module: TfModule, name: str) -> list[list[re.Pattern[str]]]:
    """Per validation block of ``var.<name>``, the regexes its condition applies (RE2 and
    Python agree on these); a block accepts a value when any of its regexes matches."""
    found = []
    for validation in blocks(module.variables[name].body.get("validation")):
        condition = str(validation["condition"])
        patterns = re.findall(
            r'regex\("((?:[^"\\]|\\.)*)", (?:var\.\w+|path|arn|coalesce)', condition
        )
        if patterns:
            found.append([re.compile(p.replace("\\\\", "\\")) for p in patterns])
    return found


def accepts(module: TfModule, name: str, value: str) -> bool:
    return all(
        any(regex.search(value) for regex in block) for block in _validation_regexes(module, name)
    )


CASES = {
    "release_schedule": (
        ["cron(5 0 * * ? *)", "cron(0 1 1 * ? *)", "rate(1 day)", "rate(12 hours)"],
        ["cron(5 0 * * *)", "cron(5 0 * * ? * *)", "rate(1 days)", "rate(0 days)", "daily", ""],
    ),
    "name": (
        ["bedrock-guard-dev-meter", "m", "a" * 48],
        ["a" * 49, "has space", "slash/name", ""],
    ),
    "deny_policy_arn": (
        ["arn:aws:iam::123456789012:policy/bedrock-guard-dev-enforcer-deny-bedrock-inference"],
        [
            "arn:aws:iam::aws:policy/AdministratorAccess",
            "arn:aws:iam::123456789012:role/x",
            "*",
            "arn:aws:iam::123456789012:policy/*x",
        ],
    ),
    "table_name": (["bedrock-guard-dev-gate-usage"], ["t", "a b", "x" * 256]),
    "gate_role_arn": (
        ["arn:aws:iam::123456789012:role/bedrock-guard-dev-gate-role"],
        ["arn:aws:iam::123456789012:user/x", "arn:aws:sts::123456789012:assumed-role/r/s"],
    ),
    "invocation_log_group_name": (
        ["/aws/bedrock/bedrock-guard-dev-tenants/model-invocations"],
        ["has space", "a:b", "x" * 513],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_validations_reject_bad_input(meter: TfModule, name: str) -> None:
    good, bad = CASES[name]
    assert _validation_regexes(meter, name), f"var.{name} has no regex validation"
    for value in good:
        assert accepts(meter, name, value), value
    for value in bad:
        assert not accepts(meter, name, value), value


def test_the_policy_arn_condition_compares_literally(meter: TfModule) -> None:
    """ArnEquals, never ArnLike: a deny_policy_arn can only ever name one policy."""
    statements = _role_statements(meter)
    operators = {op for s in statements for op, _ in _conditions(s, "iam:PolicyARN")}
    assert operators == {"ArnEquals"}


def test_meter_needs_invocation_logging(meter: TfModule) -> None:
    """Null (aip-tenant's output with logging off) is refused with a message saying why."""
    variable = meter.variables["invocation_log_group_name"].body
    assert "default" not in variable
    first = blocks(variable["validation"])[0]
    assert first["condition"] == "${var.invocation_log_group_name != null}"
    assert "invocation logging is off" in first["error_message"]


def test_json_inputs_must_be_objects(meter: TfModule) -> None:
    for name in ("tier_limits_json", "model_aliases_json"):
        conditions = [str(v["condition"]) for v in blocks(meter.variables[name].body["validation"])]
        assert f"${{can(keys(jsondecode(var.{name})))}}" in conditions, name
    pricing = str(blocks(meter.variables["pricing_json"].body["validation"])[0]["condition"])
    assert "var.pricing_json == null" in pricing and "keys(jsondecode(" in pricing


def test_default_tier_is_checked_against_the_tiers(meter: TfModule) -> None:
    function = _only(meter, "aws_lambda_function")
    conditions = [
        str(p["condition"]) for p in blocks(body(function["lifecycle"][0])["precondition"])
    ]
    assert (
        '${var.default_tier == "none" || '
        "contains(keys(jsondecode(var.tier_limits_json)), var.default_tier)}"
    ) in conditions


def test_allowed_paths_and_protected_principals_are_validated_like_the_enforcers(
    meter: TfModule,
) -> None:
    enforcer = load_module(REPO / "modules" / "alarm-enforcer")
    for name in ("allowed_principal_paths", "protected_principals"):
        ours, theirs = meter.variables[name].body, enforcer.variables[name].body
        assert ours["default"] == theirs["default"], name
        assert [v["condition"] for v in blocks(ours["validation"])] == [
            v["condition"] for v in blocks(theirs["validation"])
        ], name


FORMATTED_INPUTS = ("dry_run", "tags")


def test_every_input_with_a_format_is_validated(meter: TfModule) -> None:
    unvalidated = [
        name
        for name, variable in meter.variables.items()
        if name not in FORMATTED_INPUTS and not blocks(variable.body.get("validation"))
    ]
    assert unvalidated == []


# --- the checker can fail -----------------------------------------------------------------------

GOOD_ATTACH = {
    "Sid": "Attach",
    "Effect": "Allow",
    "Action": ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
    "Resource": [ROLES],
    "Condition": {"ArnEquals": {"iam:PolicyARN": [DENY_POLICY_ARN]}},
}
GOOD_USAGE = {
    "Effect": "Allow",
    "Action": ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
    "Resource": ["${local.table_arn}"],
    "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["USAGE#*"]}},
}


def _with(base: Statement, **changes: Any) -> Statement:
    statement = {**base, **changes}
    return {k: v for k, v in statement.items() if v is not None}


def test_checker_accepts_a_minimal_policy() -> None:
    reads = {"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": ["${local.table_arn}"]}
    assert meter_role_problems([GOOD_ATTACH, GOOD_USAGE, reads]) == []


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
            _with(GOOD_ATTACH, Condition={"ArnEquals": {"iam:PolicyARN": ["${var.other}"]}}),
            "naming only the deny policy",
        ),
        (_with(GOOD_ATTACH, Resource=["*"]), "is not the lockable role ARNs"),
        (_with(GOOD_ATTACH, Resource=[USERS]), "is not the lockable"),
        (
            _with(GOOD_ATTACH, Resource=["arn:${local.partition}:iam::${local.account_id}:role/*"]),
            "is not the lockable role ARNs",
        ),
        (_with(GOOD_ATTACH, Action=["iam:PutRolePolicy"]), "allows 'iam:PutRolePolicy'"),
        (_with(GOOD_ATTACH, Action=["iam:PassRole"]), "allows 'iam:PassRole'"),
        (_with(GOOD_ATTACH, Action=["iam:Attach*"]), "wildcard action 'iam:Attach*'"),
        (_with(GOOD_ATTACH, Action=["iam:ListAttachedRolePolicies"]), "does not need"),
        (_with(GOOD_ATTACH, Action=None, NotAction=["iam:PassRole"]), "grants everything"),
        (
            {"Effect": "Allow", "Action": ["cloudwatch:DescribeAlarms"], "Resource": ["*"]},
            "which the meter does not need",
        ),
        (
            {"Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": ["*"]},
            "which the meter does not need",
        ),
        (_with(GOOD_USAGE, Condition=None), "without a USAGE#/LOCK# dynamodb:LeadingKeys"),
        (
            _with(
                GOOD_USAGE,
                Condition={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["*"]}},
            ),
            "without a USAGE#/LOCK# dynamodb:LeadingKeys",
        ),
        (
            _with(
                GOOD_USAGE,
                Condition={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["CALLER#*"]}},
            ),
            "may dynamodb:PutItem items under CALLER#",
        ),
        (
            _with(
                GOOD_USAGE,
                Condition={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["LOCK#*"]}},
            ),
            "may dynamodb:DeleteItem items under LOCK#",
        ),
        (
            _with(GOOD_USAGE, Action=["dynamodb:PutItem", "dynamodb:GetItem"]),
            "mixes reads and writes",
        ),
        (_with(GOOD_USAGE, Action=["dynamodb:ConditionCheckItem"]), "does not need"),
        (_with(GOOD_USAGE, Action=["dynamodb:BatchWriteItem"]), "does not need"),
        ({"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": ["*"]}, "every resource"),
    ],
)
def test_checker_rejects(statement: Statement, expected: str) -> None:
    problems = meter_role_problems([statement])
    assert any(expected in problem for problem in problems), problems


def test_checker_ignores_denies() -> None:
    deny = {"Effect": "Deny", "Action": ["iam:AttachRolePolicy"], "Resource": ["*"]}
    assert meter_role_problems([GOOD_ATTACH, deny]) == []
