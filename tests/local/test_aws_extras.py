"""The stand-ins for what moto lacks, called the way the AWS provider calls them (real boto3
clients over HTTP: the same wire protocol and shapes as the provider's Go SDK)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from bedrock_guard.local.moto_server import MotoServer

pytestmark = pytest.mark.server

ACCOUNT = "123456789012"
MODEL_ARN = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"
POWERTOOLS = (
    "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:37"
)


@pytest.fixture(scope="module")
def server() -> Iterator[MotoServer]:
    with MotoServer() as running:
        yield running


def _error_code(call: Any) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call()
    return str(caught.value.response["Error"]["Code"])


def test_inference_profile_lifecycle_and_tags(server: MotoServer) -> None:
    bedrock = server.client("bedrock")
    created = bedrock.create_inference_profile(
        inferenceProfileName="tenant-a",
        description="tenant a",
        modelSource={"copyFrom": MODEL_ARN},
        tags=[{"key": "costCenter", "value": "cc-1"}],
    )
    arn = created["inferenceProfileArn"]
    assert created["status"] == "ACTIVE"
    assert arn.startswith(f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/")

    profile = bedrock.get_inference_profile(inferenceProfileIdentifier=arn)  # ARN with a "/"
    assert profile["inferenceProfileName"] == "tenant-a"
    assert profile["models"] == [{"modelArn": MODEL_ARN}]
    assert profile["type"] == "APPLICATION"
    assert profile["createdAt"].year >= 2024  # a timestamp the SDKs parse

    bedrock.tag_resource(resourceARN=arn, tags=[{"key": "environment", "value": "dev"}])
    bedrock.untag_resource(resourceARN=arn, tagKeys=["costCenter"])
    tags = bedrock.list_tags_for_resource(resourceARN=arn)["tags"]
    assert tags == [{"key": "environment", "value": "dev"}]
    listed = bedrock.list_inference_profiles(typeEquals="APPLICATION")
    assert [p["inferenceProfileArn"] for p in listed["inferenceProfileSummaries"]] == [arn]

    bedrock.delete_inference_profile(inferenceProfileIdentifier=arn)
    get = bedrock.get_inference_profile
    assert _error_code(lambda: get(inferenceProfileIdentifier=arn)) == "ResourceNotFoundException"


def test_budget_subscribers_actions_and_tags(server: MotoServer) -> None:
    budgets = server.client("budgets")
    name = "spend"
    budgets.create_budget(
        AccountId=ACCOUNT,
        Budget={
            "BudgetName": name,
            "BudgetLimit": {"Amount": "100", "Unit": "USD"},
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
        },
        ResourceTags=[{"Key": "Project", "Value": "guard"}],
    )
    notification = {
        "NotificationType": "ACTUAL",
        "ComparisonOperator": "GREATER_THAN",
        "Threshold": 80.0,
        "ThresholdType": "PERCENTAGE",
    }
    subscribers = [{"SubscriptionType": "EMAIL", "Address": "finops@example.com"}]
    budgets.create_notification(
        AccountId=ACCOUNT, BudgetName=name, Notification=notification, Subscribers=subscribers
    )
    found = budgets.describe_subscribers_for_notification(
        AccountId=ACCOUNT, BudgetName=name, Notification=notification
    )
    assert found["Subscribers"] == subscribers

    budget_arn = f"arn:aws:budgets::{ACCOUNT}:budget/{name}"
    tags = budgets.list_tags_for_resource(ResourceARN=budget_arn)["ResourceTags"]
    assert tags == [{"Key": "Project", "Value": "guard"}]

    action_id = budgets.create_budget_action(
        AccountId=ACCOUNT,
        BudgetName=name,
        NotificationType="ACTUAL",
        ActionType="APPLY_IAM_POLICY",
        ActionThreshold={"ActionThresholdValue": 100.0, "ActionThresholdType": "PERCENTAGE"},
        Definition={
            "IamActionDefinition": {
                "PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/deny",
                "Roles": ["bot"],
            }
        },
        ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/budget-action",
        ApprovalModel="AUTOMATIC",
        Subscribers=subscribers,
    )["ActionId"]
    described = budgets.describe_budget_action(
        AccountId=ACCOUNT, BudgetName=name, ActionId=action_id
    )["Action"]
    assert described["Status"] == "STANDBY"
    assert described["Definition"]["IamActionDefinition"]["Roles"] == ["bot"]
    budgets.update_budget_action(
        AccountId=ACCOUNT, BudgetName=name, ActionId=action_id, ApprovalModel="MANUAL"
    )
    listed = budgets.describe_budget_actions_for_budget(AccountId=ACCOUNT, BudgetName=name)
    assert [a["ApprovalModel"] for a in listed["Actions"]] == ["MANUAL"]
    budgets.delete_budget_action(AccountId=ACCOUNT, BudgetName=name, ActionId=action_id)
    assert (
        _error_code(
            lambda: budgets.describe_budget_action(
                AccountId=ACCOUNT, BudgetName=name, ActionId=action_id
            )
        )
        == "NotFoundException"
    )


def test_cost_allocation_tags_activate_and_deactivate(server: MotoServer) -> None:
    ce = server.client("ce")
    answer = ce.update_cost_allocation_tags_status(
        CostAllocationTagsStatus=[{"TagKey": "costCenter", "Status": "Active"}]
    )
    assert answer["Errors"] == []
    active = ce.list_cost_allocation_tags(TagKeys=["costCenter"])["CostAllocationTags"]
    assert [(t["TagKey"], t["Status"], t["Type"]) for t in active] == [
        ("costCenter", "Active", "UserDefined")
    ]
    ce.update_cost_allocation_tags_status(
        CostAllocationTagsStatus=[{"TagKey": "costCenter", "Status": "Inactive"}]
    )
    assert ce.list_cost_allocation_tags(Status="Active")["CostAllocationTags"] == []


def test_query_definitions_put_describe_update_delete(server: MotoServer) -> None:
    logs = server.client("logs")
    query_id = logs.put_query_definition(
        name="guard/top-callers", queryString="fields @message", logGroupNames=["/aws/x"]
    )["queryDefinitionId"]
    logs.put_query_definition(
        name="guard/top-callers", queryDefinitionId=query_id, queryString="stats count(*)"
    )
    (found,) = logs.describe_query_definitions(queryDefinitionNamePrefix="guard/")[
        "queryDefinitions"
    ]
    assert (found["queryDefinitionId"], found["queryString"]) == (query_id, "stats count(*)")
    assert logs.delete_query_definition(queryDefinitionId=query_id)["success"] is True
    assert logs.describe_query_definitions()["queryDefinitions"] == []


def test_lambda_accepts_the_public_layer_and_keeps_dlq_and_logging(server: MotoServer) -> None:
    iam, sqs, lambda_ = server.client("iam"), server.client("sqs"), server.client("lambda")
    role = iam.create_role(
        RoleName="fn",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    queue = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dlq = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("app.py", "def handler(event, context):\n    return event\n")
    lambda_.create_function(
        FunctionName="fn",
        Runtime="python3.13",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": buffer.getvalue()},
        Layers=[POWERTOOLS],
        DeadLetterConfig={"TargetArn": dlq},
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "INFO"},
    )
    config = lambda_.get_function_configuration(FunctionName="fn")
    assert [layer["Arn"] for layer in config["Layers"]] == [POWERTOOLS]
    assert config["DeadLetterConfig"] == {"TargetArn": dlq}
    assert config["LoggingConfig"]["LogFormat"] == "JSON"
    assert config["LoggingConfig"]["LogGroup"] == "/aws/lambda/fn"

    lambda_.update_function_configuration(FunctionName="fn", DeadLetterConfig={"TargetArn": ""})
    assert lambda_.get_function_configuration(FunctionName="fn")["DeadLetterConfig"] == {
        "TargetArn": ""
    }
    other = POWERTOOLS.replace("017000801446", "999999999999")
    assert (
        _error_code(
            lambda: lambda_.update_function_configuration(FunctionName="fn", Layers=[other])
        )
        == "ResourceNotFoundException"
    )


def test_reset_clears_the_stand_ins_with_moto(server: MotoServer) -> None:
    logs = server.client("logs")
    logs.put_query_definition(name="kept?", queryString="fields @message")
    server.reset()
    assert logs.describe_query_definitions()["queryDefinitions"] == []
