"""What ``terraform apply`` created is what the handlers read; requests run through it; re-plan
is empty; destroy leaves the account empty. The tests run in file order: destroy is last."""

from __future__ import annotations

import json
import time
import urllib.parse
from datetime import UTC, datetime
from typing import Any, Final

import pytest
from aws_lambda_powertools.shared import constants as powertools_constants

from bedrock_guard.core import keys
from bedrock_guard.core.principals import caller_identity
from bedrock_guard.enforcer import config as enforcer_config
from bedrock_guard.gate import config as gate_config
from bedrock_guard.local.invoke import function_spec, invoke
from bedrock_guard.local.lambda_events import api_gateway_event
from bedrock_guard.local.tf_deploy import local_environ, run_all
from bedrock_guard.meter import config as meter_config
from tests.e2e.conftest import Deployed
from tests.e2e.variables import ACCOUNT, API_KEY_USER, DANA, SUPPORT_BOT, TENANT

pytestmark = pytest.mark.server

GATE_HANDLER: Final = "bedrock_guard.token_gate.handler"
ENFORCER_HANDLER: Final = "bedrock_guard.alarm_enforcer.handler"
METER_HANDLER: Final = "bedrock_guard.usage_meter.handler"
# What Powertools reads from the environment (the handlers' own variables are listed by their
# configuration modules).
POWERTOOLS_VARIABLES: Final = frozenset(
    value
    for value in vars(powertools_constants).values()
    if isinstance(value, str) and value.startswith("POWERTOOLS_")
)
# Changes a re-plan right after apply may show, and why: differences of the local AWS from AWS
# (address -> reason). None today: the stand-ins return what the provider wrote.
LOCAL_AWS_REPLAN_CHANGES: Final[dict[str, str]] = {}
# What destroy may leave in the local account, and why.
LEFT_BY_DESTROY: Final = {
    "aws_api_gateway_account": "account-wide setting: destroy removes it from state only",
    "kms keys": "AWS deletes keys after a waiting period: they stay PendingDeletion",
    "aws/dynamodb key": "the AWS managed key DynamoDB creates for the account on first use",
    "cost allocation tags": "stay listed, Inactive (AWS keeps tag keys it has seen)",
}


def _functions(env: Deployed) -> dict[str, dict[str, Any]]:
    client = env.client("lambda")
    return {
        "gate": function_spec(client, env.outputs["gate_function_name"]),
        "enforcer": function_spec(client, env.outputs["enforcer_function_name"]),
        "meter": function_spec(client, env.outputs["usage_meter_function_name"]),
    }


def _local(env: Deployed) -> dict[str, str]:
    return {**local_environ(env.endpoint), "BEDROCK_ENDPOINT_URL": env.bedrock_endpoint}


def _converse(model: str, text: str = "Say hello.") -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": text}],
        "parameters": {"max_tokens": 64},
        "tags": {"applicationId": "e2e"},
    }


# apply -----------------------------------------------------------------------------------


def test_plan_creates_and_apply_creates_the_same(env: Deployed) -> None:
    planned = env.plan.summary
    assert planned.startswith("Plan: ") and "0 to change, 0 to destroy" in planned
    added = int(planned.split()[1])
    assert added > 50
    assert env.apply.summary == f"Apply complete! Resources: {added} added, 0 changed, 0 destroyed."
    assert not [line for line in env.apply.diagnostics if line.startswith("warning")]


def test_functions_run_the_contract_handlers(env: Deployed) -> None:
    functions = _functions(env)
    assert functions["gate"]["handler"] == GATE_HANDLER
    assert functions["enforcer"]["handler"] == ENFORCER_HANDLER
    assert functions["meter"]["handler"] == METER_HANDLER
    layers = env.client("lambda").get_function(FunctionName=env.outputs["gate_function_name"])
    arns = [layer["Arn"] for layer in layers["Configuration"].get("Layers", [])]
    assert any(":layer:AWSLambdaPowertoolsPythonV3-" in arn for arn in arns)


def test_function_environments_are_what_the_config_loaders_read(env: Deployed) -> None:
    functions = _functions(env)
    gate_env = functions["gate"]["environment"]
    unknown = set(gate_env) - set(gate_config.ENVIRONMENT_VARIABLES) - POWERTOOLS_VARIABLES
    assert not unknown, f"the gate's function sets variables the gate never reads: {unknown}"
    config = gate_config.load_config(gate_env)
    assert config.table_name == env.outputs["table_name"]
    assert set(config.models) >= {"claude-3-haiku", TENANT}

    enforcer_env = functions["enforcer"]["environment"]
    known = set(enforcer_config.ENVIRONMENT_VARIABLES) | POWERTOOLS_VARIABLES
    assert not set(enforcer_env) - known, set(enforcer_env) - known
    loaded = enforcer_config.load_config(enforcer_env)
    assert loaded.deny_policy_arn == env.outputs["deny_policy_arn"]
    assert loaded.ledger_table_name == env.outputs["table_name"]
    assert loaded.alarm_topic_arn == env.outputs["enforcer_topic_arn"]

    meter_env = functions["meter"]["environment"]
    known = set(meter_config.ENVIRONMENT_VARIABLES) | POWERTOOLS_VARIABLES
    assert not set(meter_env) - known, set(meter_env) - known
    meter = meter_config.load_config(meter_env)
    assert meter.accounting.table_name == env.outputs["table_name"]
    assert meter.locking.deny_policy_arn == env.outputs["deny_policy_arn"]
    # The meter prices and limits exactly as the gate does.
    assert meter.accounting.tiers == config.tiers
    assert meter.accounting.default_tier == config.default_tier


def test_the_invocation_log_is_delivered_to_the_meter(env: Deployed) -> None:
    meter = _functions(env)["meter"]
    logs = env.client("logs")
    filters = [
        f
        for group in logs.describe_log_groups()["logGroups"]
        for f in logs.describe_subscription_filters(logGroupName=group["logGroupName"])[
            "subscriptionFilters"
        ]
        if f["destinationArn"] == meter["function_arn"]
    ]
    assert len(filters) == 1, filters
    assert "ModelInvocationLog" in filters[0]["filterPattern"]


def test_table_has_the_key_schema_and_ttl_of_the_contract(env: Deployed) -> None:
    dynamodb = env.client("dynamodb")
    table = dynamodb.describe_table(TableName=env.outputs["table_name"])["Table"]
    assert {(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]} == {
        (keys.PK, "HASH"),
        (keys.SK, "RANGE"),
    }
    types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    assert types[keys.PK] == types[keys.SK] == "S"
    ttl = dynamodb.describe_time_to_live(TableName=env.outputs["table_name"])
    assert ttl["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expires_at",
    }


def test_registry_holds_every_caller_under_the_principal_the_gate_looks_up(
    env: Deployed,
) -> None:
    dynamodb = env.client("dynamodb")
    expected = {
        caller_identity(arn, None): spec["tier"] for arn, spec in env.variables["callers"].items()
    }
    for user, spec in env.variables["api_key_users"].items():
        expected[caller_identity(None, env.outputs["api_key_ids"][user])] = spec["tier"]
    for principal, tier in expected.items():
        assert principal is not None
        item = dynamodb.get_item(
            TableName=env.outputs["table_name"],
            Key=keys.attribute_values(keys.caller_key(principal)),
        ).get("Item")
        assert item is not None, f"no registry item for {principal}"
        assert item["tier"] == {"S": tier}
        assert set(item) - {keys.PK, keys.SK} <= set(keys.PROFILE_ATTRIBUTES)


def test_enforcer_topic_delivers_to_the_enforcer_and_the_operators(env: Deployed) -> None:
    sns = env.client("sns")
    topic = env.outputs["enforcer_topic_arn"]
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    enforcer_arn = _functions(env)["enforcer"]["function_arn"]
    assert {(s["Protocol"], s["Endpoint"]) for s in subscriptions} == {
        ("lambda", enforcer_arn),
        *(("email", address) for address in env.variables["operator_emails"]),
    }


def test_bedrock_budget_notifies_its_topic_and_the_addresses(env: Deployed) -> None:
    budgets = env.client("budgets")
    name = f"bedrock-guard-{env.name}-spend-bedrock"
    notifications = budgets.describe_notifications_for_budget(AccountId=ACCOUNT, BudgetName=name)
    assert notifications["Notifications"]
    for notification in notifications["Notifications"]:
        subscribers = budgets.describe_subscribers_for_notification(
            AccountId=ACCOUNT, BudgetName=name, Notification=notification
        )["Subscribers"]
        assert {(s["SubscriptionType"], s["Address"]) for s in subscribers} == {
            ("SNS", env.outputs["budget_topic_arn"]),
            *(("EMAIL", address) for address in env.variables["budget_emails"]),
        }
    actions = budgets.describe_budget_actions_for_budget(AccountId=ACCOUNT, BudgetName=name)
    (action,) = actions["Actions"]
    definition = action["Definition"]["IamActionDefinition"]
    # Its own copy of the deny policy: an alarm's OK or an operator's unlock detaches the
    # enforcer's policy and can never undo what Budgets applied.
    assert definition["PolicyArn"] != env.outputs["deny_policy_arn"]
    assert _policy_document(env, definition["PolicyArn"]) == _policy_document(
        env, env.outputs["deny_policy_arn"]
    )
    assert definition["Roles"] == env.variables["budget_action"]["roles"]


def _policy_document(env: Deployed, arn: str) -> Any:
    iam = env.client("iam")
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]
    text = document["Document"]
    return json.loads(urllib.parse.unquote(text)) if isinstance(text, str) else text


def test_every_lockout_alarm_notifies_the_enforcer(env: Deployed) -> None:
    cloudwatch = env.client("cloudwatch")
    prefix = f"bedrock-guard-{env.name}-"
    every = cloudwatch.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]
    # The enforcer's and the meter's own health alarms (lock drift, locks IAM could not apply)
    # go to operators (health_alarm_actions, none configured here), never to the enforcer.
    health = {
        f"{prefix}enforcer-lock-drift",
        f"{prefix}enforcer-lock-incomplete",
        f"{prefix}meter-lock-incomplete",
    }
    assert {a["AlarmName"] for a in every} >= health
    assert all(a["AlarmActions"] == [] for a in every if a["AlarmName"] in health)
    alarms = [a for a in every if a["AlarmName"] not in health]
    # One per caller with alarms (API-key users have none by default), one per tenant limit.
    assert len(alarms) == len(env.variables["callers"]) + 1
    for alarm in alarms:
        assert alarm["AlarmActions"] == [env.outputs["enforcer_topic_arn"]], alarm["AlarmName"]
        assert alarm["ActionsEnabled"]


def test_enforcer_may_attach_only_the_deny_policy(env: Deployed) -> None:
    iam = env.client("iam")
    role = _functions(env)["enforcer"]
    role_name = (
        env.client("lambda")
        .get_function_configuration(FunctionName=role["function_name"])["Role"]
        .rsplit("/", 1)[-1]
    )
    statements = []
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        statements += document["Statement"]
    attaching = [
        s
        for s in statements
        if s["Effect"] == "Allow"
        and {"iam:AttachRolePolicy", "iam:AttachUserPolicy"} & set(_listed(s["Action"]))
    ]
    assert attaching
    for statement in attaching:
        condition = statement["Condition"]
        arns = [v for test in condition.values() for v in _listed(test.get("iam:PolicyARN", []))]
        assert arns == [env.outputs["deny_policy_arn"]]
    assert not iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]


def test_tenant_profile_is_tagged_for_cost_allocation(env: Deployed) -> None:
    bedrock = env.client("bedrock")
    arn = env.outputs["tenant_profile_arns"][TENANT]
    profile = bedrock.get_inference_profile(inferenceProfileIdentifier=arn)
    assert profile["type"] == "APPLICATION" and profile["status"] == "ACTIVE"
    tags = {t["key"]: t["value"] for t in bedrock.list_tags_for_resource(resourceARN=arn)["tags"]}
    assert {"costCenter", "applicationId", "environment"} <= set(tags)
    ce = env.client("ce")
    active = ce.list_cost_allocation_tags(Status="Active")["CostAllocationTags"]
    assert {"costCenter", "applicationId", "environment"} <= {t["TagKey"] for t in active}


# requests through the deployed configuration ---------------------------------------------


def test_gate_answers_with_the_deployed_configuration(env: Deployed) -> None:
    gate = _functions(env)["gate"]
    events = [
        api_gateway_event(_converse("claude-3-haiku"), user_arn=DANA),
        api_gateway_event(_converse(TENANT), user_arn=SUPPORT_BOT),
        api_gateway_event(
            _converse("nova-micro"), api_key_id=env.outputs["api_key_ids"][API_KEY_USER]
        ),
        api_gateway_event(_converse("no-such-model"), user_arn=SUPPORT_BOT),
        api_gateway_event(_converse("nova-micro"), user_arn=f"arn:aws:iam::{ACCOUNT}:user/who"),
    ]
    answers = invoke(gate, events, _local(env), env.workdir / "gate")
    statuses = [answer["statusCode"] for answer in answers]
    unregistered = 403 if _default_tier(env) == "none" else 200
    assert statuses == [200, 200, 200, 400, unregistered], [a["body"] for a in answers]
    first = json.loads(answers[0]["body"])
    assert first["usage"]["totalTokens"] > 0 and first["costUsd"] > 0
    usage = env.client("dynamodb").get_item(
        TableName=env.outputs["table_name"],
        Key=keys.attribute_values(
            keys.usage_key(caller_identity(SUPPORT_BOT, None) or "", _month())
        ),
    )
    assert "Item" in usage, "the gate recorded no usage for the tenant's caller"


def test_enforcer_locks_a_caller_when_its_deployed_alarm_fires(env: Deployed) -> None:
    iam, cloudwatch, sns, sqs = (env.client(s) for s in ("iam", "cloudwatch", "sns", "sqs"))
    role_name = SUPPORT_BOT.rsplit("/", 1)[-1]
    iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=_trust())
    topic = env.outputs["enforcer_topic_arn"]
    queue_url = sqs.create_queue(QueueName=f"e2e-{env.name}-delivery")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    try:
        alarm_name = next(
            a["AlarmName"]
            for a in cloudwatch.describe_alarms(
                AlarmNamePrefix=f"bedrock-guard-{env.name}-gate-budget-"
            )["MetricAlarms"]
            if a["AlarmName"].endswith("role-support-bot")
        )
        cloudwatch.set_alarm_state(
            AlarmName=alarm_name, StateValue="ALARM", StateReason="Threshold Crossed: e2e"
        )
        alarm = cloudwatch.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"][0]
        sns.publish(TopicArn=topic, Subject="ALARM", Message=json.dumps(_alarm_message(alarm)))
        event = _delivered(sqs, queue_url, subscription["SubscriptionArn"])
        enforcer = _functions(env)["enforcer"]
        invoke(enforcer, [event], _local(env), env.workdir / "enforcer")
        attached = iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
        assert [p["PolicyArn"] for p in attached] == [env.outputs["deny_policy_arn"]]

        gate = _functions(env)["gate"]
        answer = invoke(
            gate,
            [api_gateway_event(_converse("claude-3-haiku"), user_arn=SUPPORT_BOT)],
            _local(env),
            env.workdir / "gate-locked",
        )[0]
        assert answer["statusCode"] == 403, answer["body"]
    finally:
        sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
        sqs.delete_queue(QueueUrl=queue_url)
        for policy in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=role_name, PolicyArn=policy["PolicyArn"])
        iam.delete_role(RoleName=role_name)


# re-plan and destroy (last) --------------------------------------------------------------


def test_replan_right_after_apply_changes_nothing(stack: dict[str, Deployed]) -> None:
    def replan(deployed: Deployed) -> tuple[str, list[dict[str, Any]]]:
        deployed.deployment.plan(out="replan")
        return deployed.name, deployed.deployment.changes("replan")

    deployments = [env.deployment for env in stack.values()]
    for name, changes in run_all(deployments, _by_env(replan, stack)):
        unexpected = {
            change["address"]: change["change"]["actions"]
            for change in changes
            if change["address"] not in LOCAL_AWS_REPLAN_CHANGES
        }
        assert not unexpected, f"{name}: re-plan after apply wants changes: {unexpected}"


def test_destroy_leaves_an_empty_account(stack: dict[str, Deployed]) -> None:
    def destroy(deployed: Deployed) -> str:
        deployed.deployment.destroy(refresh=False)
        return deployed.name

    run_all([env.deployment for env in stack.values()], _by_env(destroy, stack))
    for env in stack.values():
        assert _left_in(env) == {}, f"{env.name}: destroy left {_left_in(env)} ({LEFT_BY_DESTROY})"


def _left_in(env: Deployed) -> dict[str, list[str]]:
    c = env.client
    found = {
        "tables": c("dynamodb").list_tables()["TableNames"],
        "functions": [f["FunctionName"] for f in c("lambda").list_functions()["Functions"]],
        "roles": [r["RoleName"] for r in c("iam").list_roles()["Roles"]],
        "policies": [p["Arn"] for p in c("iam").list_policies(Scope="Local")["Policies"]],
        "topics": [t["TopicArn"] for t in c("sns").list_topics()["Topics"]],
        "queues": c("sqs").list_queues().get("QueueUrls", []),
        "alarms": [a["AlarmName"] for a in c("cloudwatch").describe_alarms()["MetricAlarms"]],
        "dashboards": [
            d["DashboardName"] for d in c("cloudwatch").list_dashboards()["DashboardEntries"]
        ],
        "log groups": [g["logGroupName"] for g in c("logs").describe_log_groups()["logGroups"]],
        "query definitions": [
            q["name"] for q in c("logs").describe_query_definitions()["queryDefinitions"]
        ],
        "apis": [a["id"] for a in c("apigateway").get_rest_apis()["items"]],
        "api keys": [k["id"] for k in c("apigateway").get_api_keys()["items"]],
        "usage plans": [p["id"] for p in c("apigateway").get_usage_plans()["items"]],
        "budgets": [
            b["BudgetName"] for b in c("budgets").describe_budgets(AccountId=ACCOUNT)["Budgets"]
        ],
        "profiles": [
            p["inferenceProfileArn"]
            for p in c("bedrock").list_inference_profiles(typeEquals="APPLICATION")[
                "inferenceProfileSummaries"
            ]
        ],
        "kms aliases": [
            a["AliasName"]
            for a in c("kms").list_aliases()["Aliases"]
            if not a["AliasName"].startswith("alias/aws/")
        ],
        "kms keys": _customer_keys_in_use(c("kms")),
    }
    logging = c("bedrock").get_model_invocation_logging_configuration()
    if logging.get("loggingConfig"):
        found["invocation logging"] = [json.dumps(logging["loggingConfig"])]
    return {kind: names for kind, names in found.items() if names}


# helpers -----------------------------------------------------------------------------------


def _customer_keys_in_use(kms: Any) -> list[str]:
    """Customer managed keys not scheduled for deletion (AWS managed keys such as
    aws/dynamodb, which DynamoDB creates on first use, belong to the account, not the stack)."""
    managed = {
        a.get("TargetKeyId")
        for a in kms.list_aliases()["Aliases"]
        if a["AliasName"].startswith("alias/aws/")
    }
    return [
        key["KeyId"]
        for key in kms.list_keys()["Keys"]
        if key["KeyId"] not in managed
        and kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] != "PendingDeletion"
    ]


def _by_env(step: Any, stack: dict[str, Deployed]) -> Any:
    by_deployment = {id(env.deployment): env for env in stack.values()}
    return lambda deployment: step(by_deployment[id(deployment)])


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _default_tier(env: Deployed) -> str:
    return str(env.outputs["default_tier"])


def _month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def _trust() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def _cloudwatch_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def _alarm_message(alarm: dict[str, Any]) -> dict[str, Any]:
    """The notification CloudWatch publishes for a metric alarm's state change."""
    return {
        "AlarmName": alarm["AlarmName"],
        "AlarmDescription": alarm.get("AlarmDescription"),
        "AWSAccountId": ACCOUNT,
        "AlarmConfigurationUpdatedTimestamp": _cloudwatch_time(
            alarm["AlarmConfigurationUpdatedTimestamp"]
        ),
        "NewStateValue": alarm["StateValue"],
        "NewStateReason": alarm["StateReason"],
        "StateChangeTime": _cloudwatch_time(alarm["StateUpdatedTimestamp"]),
        "Region": "US East (N. Virginia)",
        "AlarmArn": alarm["AlarmArn"],
        "OldStateValue": "OK",
        "OKActions": alarm.get("OKActions", []),
        "AlarmActions": alarm.get("AlarmActions", []),
        "InsufficientDataActions": alarm.get("InsufficientDataActions", []),
        "Trigger": {
            "MetricName": alarm.get("MetricName"),
            "Namespace": alarm.get("Namespace"),
            "StatisticType": "Statistic",
            "Statistic": str(alarm.get("Statistic", "")).upper(),
            "Unit": alarm.get("Unit"),
            "Dimensions": [
                {"value": d["Value"], "name": d["Name"]} for d in alarm.get("Dimensions", [])
            ],
            "Period": alarm.get("Period"),
            "EvaluationPeriods": alarm["EvaluationPeriods"],
            "ComparisonOperator": alarm["ComparisonOperator"],
            "Threshold": alarm["Threshold"],
            "TreatMissingData": alarm.get("TreatMissingData", "missing"),
            "EvaluateLowSampleCountPercentile": "",
        },
    }


def _delivered(sqs: Any, queue_url: str, subscription_arn: str) -> dict[str, Any]:
    """The Lambda SNS event for what the topic delivered (SQS spells two fields differently)."""
    deadline = time.monotonic() + 10
    messages: list[dict[str, Any]] = []
    while not messages and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
    assert messages, "the enforcer's topic delivered nothing"
    records = []
    for message in messages:
        envelope = json.loads(message["Body"])
        records.append(
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": {
                    "Type": envelope["Type"],
                    "MessageId": envelope["MessageId"],
                    "TopicArn": envelope["TopicArn"],
                    "Subject": envelope.get("Subject"),
                    "Message": envelope["Message"],
                    "Timestamp": envelope["Timestamp"],
                    "SignatureVersion": envelope.get("SignatureVersion", "1"),
                    "Signature": envelope.get("Signature", ""),
                    "SigningCertUrl": envelope.get("SigningCertURL", ""),
                    "UnsubscribeUrl": envelope.get("UnsubscribeURL", ""),
                    "MessageAttributes": envelope.get("MessageAttributes", {}),
                },
            }
        )
    return {"Records": records}
