"""Provisioning creates on moto what the Terraform says, with the Terraform's names and values."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from bedrock_guard.core import keys
from bedrock_guard.demo.config import load_settings
from bedrock_guard.demo.provision import Provisioned, Provisioner, operator_credentials
from bedrock_guard.local.moto_server import MotoServer
from tests.terraform.tfload import REPO

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def provisioned() -> Iterator[tuple[Provisioned, MotoServer]]:
    """The dev environment provisioned from its tfvars example (a role with a path, an IAM
    user with a path, an API-key user)."""
    settings = load_settings(REPO / "environments" / "dev")
    with MotoServer(region_name=settings.region) as moto:
        operator = operator_credentials(moto, settings.partition, settings.account)
        provisioner = Provisioner(settings, moto, operator)
        yield provisioner.run(), moto


def client(moto: MotoServer, result: Provisioned, service: str) -> Any:
    session = result.operator.session(moto.region_name)
    return session.client(service, endpoint_url=moto.endpoint_url)


def test_the_table_has_the_key_schema_and_ttl_of_the_terraform(
    provisioned: tuple[Provisioned, MotoServer],
) -> None:
    result, moto = provisioned
    dynamodb = client(moto, result, "dynamodb")
    table = dynamodb.describe_table(TableName=result.table_name)["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {
        keys.PK: "HASH",
        keys.SK: "RANGE",
    }
    ttl = dynamodb.describe_time_to_live(TableName=result.table_name)
    assert ttl["TimeToLiveDescription"]["AttributeName"] == keys.TTL_ATTRIBUTE
    assert table["TableArn"].split(":")[4] == "111111111111"  # the callers' account


def test_callers_are_registered_and_exist_in_iam_with_their_paths(
    provisioned: tuple[Provisioned, MotoServer],
) -> None:
    result, moto = provisioned
    iam = client(moto, result, "iam")
    user = iam.get_user(UserName="dana")["User"]
    assert user["Path"] == "/research/"
    assert result.identities["arn:aws:iam::111111111111:user/dana"] == user["Arn"]
    role = iam.get_role(RoleName="analyst")["Role"]
    assert role["Path"] == "/analytics/"
    assert result.identities["arn:aws:iam::111111111111:role/analyst"] == role["Arn"]
    assert iam.get_role(RoleName="support-bot")["Role"]["Path"] == "/"
    assert result.registry["arn:aws:iam::111111111111:user/dana"] == "enterprise"
    (api_key_id,) = result.api_keys.values()
    assert result.registry[f"apikey:{api_key_id}"] == "basic"


def test_the_deny_policy_and_alarms_are_the_evaluated_terraform(
    provisioned: tuple[Provisioned, MotoServer],
) -> None:
    result, moto = provisioned
    iam = client(moto, result, "iam")
    policy = iam.get_policy(PolicyArn=result.deny_policy_arn)["Policy"]
    document = iam.get_policy_version(
        PolicyArn=result.deny_policy_arn, VersionId=policy["DefaultVersionId"]
    )["PolicyVersion"]["Document"]
    document = json.loads(document) if isinstance(document, str) else document
    assert {s["Effect"] for s in document["Statement"]} == {"Deny"}
    tag_key = "bedrock-guard:principals"
    tenant = [a for a in result.alarms if tag_key in a.tags]
    budget = [a for a in result.alarms if a.metric == "CallerBudgetUsedPercent"]
    assert len(tenant) == 1 and tenant[0].namespace == "AWS/Bedrock"
    assert tenant[0].tags[tag_key] == "arn:aws:iam::111111111111:role/support-bot"
    assert tenant[0].dimensions == {"ModelId": result.profiles["support"]["id"]}
    # One budget alarm per IAM caller; the API-key user has none (alarms off by default).
    iam_callers = {p for p in result.registry if p.startswith("arn:")}
    assert {a.dimensions["Principal"] for a in budget} == iam_callers
    assert len(budget) == len(iam_callers) == 3
    assert {a.threshold for a in budget} == {95.0}
    cloudwatch = client(moto, result, "cloudwatch")
    described = cloudwatch.describe_alarms()["MetricAlarms"]
    assert {a["AlarmName"] for a in described} == {a.name for a in result.alarms}
    assert all(a["AlarmActions"] == [result.topic_arn] for a in described)


def test_the_functions_get_the_environment_terraform_gives_them(
    provisioned: tuple[Provisioned, MotoServer],
) -> None:
    result, _ = provisioned
    assert result.gate is not None and result.enforcer is not None
    assert result.gate.handler == "bedrock_guard.token_gate.handler"
    assert result.enforcer.handler == "bedrock_guard.alarm_enforcer.handler"
    assert result.gate.environment["USAGE_TABLE_NAME"] == result.table_name
    assert result.enforcer.environment["LEDGER_TABLE_NAME"] == result.table_name
    assert result.enforcer.environment["DENY_POLICY_ARN"] == result.deny_policy_arn
    aliases = json.loads(result.gate.environment["MODEL_ALIASES_JSON"])
    assert aliases["support"]["target"] == result.profiles["support"]["arn"]
    protected = json.loads(result.enforcer.environment["PROTECTED_PRINCIPALS_JSON"])
    assert protected == ["arn:aws:sts::111111111111:assumed-role/terraform/bedrock-guard-demo"]
