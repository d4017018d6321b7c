"""``terraform apply`` of ``environments/dev`` to the local AWS, and what the demo reads back.

The environment is applied by the real Terraform through the harness
(:mod:`bedrock_guard.local.tf_harness`, :mod:`bedrock_guard.local.tf_deploy`): an adapted copy
under ``build/tf/demo``, an override file pointing the provider at the moto server, and the
variables of ``terraform.tfvars.example`` (plus ``assume_role_arn``: Terraform runs as the
local 'terraform' role of the callers' account, so everything lands in that account).

Afterwards everything the scenario uses is read back from what Terraform created: names and
ARNs from ``terraform output -json``, each Lambda's handler and environment from the deployed
function, the alarms from CloudWatch, the registry from the table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import boto3
import hcl2
from hcl2.utils import SerializationOptions

from bedrock_guard.core import keys
from bedrock_guard.core.principals import parse_principal
from bedrock_guard.local.log_subscription import SubscriptionFilter, describe_filter
from bedrock_guard.local.moto_server import MotoServer
from bedrock_guard.local.tf_deploy import Deployment
from bedrock_guard.local.tf_harness import prepare

OPERATOR_ROLE: Final = "terraform"
OPERATOR_SESSION: Final = "bedrock-guard-demo"
# The queue that stands in for the enforcer's Lambda subscription (moto runs no functions).
DELIVERY_QUEUE_SUFFIX: Final = "-delivery"
ENVIRONMENT: Final = "dev"


class ConfigError(ValueError):
    """The configuration cannot be deployed or read; the message says what and where."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """Temporary credentials from STS on the local endpoint."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    arn: str = ""  # the identity they act as (an assumed-role session's ARN)

    def environ(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }

    def session(self, region: str) -> boto3.session.Session:
        """A boto3 session with these credentials only (no profile of the machine)."""
        return boto3.session.Session(
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            aws_session_token=self.session_token,
            region_name=region,
        )


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """A deployed Lambda function, read back, and the role it runs as locally."""

    name: str
    handler: str
    environment: dict[str, str]
    timeout_seconds: int
    memory_mb: int
    arn: str
    role_arn: str
    credentials: Credentials


@dataclass(frozen=True, slots=True)
class AlarmSpec:
    """A CloudWatch alarm Terraform created."""

    name: str
    arn: str
    metric: str
    namespace: str
    dimensions: dict[str, str]
    threshold: float
    period: int
    tags: dict[str, str]
    address: str


@dataclass(frozen=True, slots=True)
class InvocationLogging:
    """Bedrock's model invocation logging configuration, as Terraform put it."""

    log_group_name: str
    role_arn: str  # the role Bedrock writes the log as
    text_delivery: bool  # request and response bodies in the records (off: metadata only)


@dataclass
class Provisioned:
    """What exists on the local endpoint after ``terraform apply``."""

    operator: Credentials
    outputs: dict[str, Any] = field(default_factory=dict)
    table_name: str = ""
    deny_policy_arn: str = ""
    deny_policy_name: str = ""
    topic_arn: str = ""
    queue_url: str = ""
    subscription_arn: str = ""
    profiles: dict[str, dict[str, str]] = field(default_factory=dict)  # tenant -> arn, id
    api_keys: dict[str, str] = field(default_factory=dict)  # user -> key id
    registry: dict[str, str] = field(default_factory=dict)  # principal -> tier
    identities: dict[str, str] = field(default_factory=dict)  # canonical principal -> IAM ARN
    alarms: list[AlarmSpec] = field(default_factory=list)
    gate: FunctionSpec | None = None
    enforcer: FunctionSpec | None = None
    meter: FunctionSpec | None = None  # None: usage_meter_enabled is false
    invocation_logging: InvocationLogging | None = None
    meter_filter: SubscriptionFilter | None = None  # the log group's filter feeding the meter
    log: list[str] = field(default_factory=list)  # Terraform's summary lines and read-backs


def read_tfvars(path: Path) -> dict[str, Any]:
    """A ``.tfvars`` file as plain values (it holds literals only)."""
    if not path.is_file():
        raise ConfigError(f"no tfvars file at {path}")
    with path.open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = hcl2.load(
            handle, serialization_options=SerializationOptions(strip_string_quotes=True)
        )
    return {name: _plain(value) for name, value in loaded.items() if not name.startswith("__")}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k).strip('"'): _plain(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def callers_account(variables: dict[str, Any]) -> tuple[str, str]:
    """The partition and account of the callers' ARNs: the local AWS plays that account."""
    accounts = {
        (parse_principal(arn, lockable=False).arn.split(":")[1], arn.split(":")[4])
        for arn in variables.get("callers", {})
    }
    if len(accounts) > 1:
        raise ConfigError(
            f"the callers belong to several accounts ({sorted(accounts)}): "
            "one environment runs in one account"
        )
    return accounts.pop() if accounts else ("aws", "123456789012")


def operator_credentials(moto: MotoServer, partition: str, account: str) -> Credentials:
    """A session of the local 'terraform' role in the callers' account."""
    role_arn = f"arn:{partition}:iam::{account}:role/{OPERATOR_ROLE}"
    raw = moto.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=OPERATOR_SESSION)
    return _credentials(raw)


def _credentials(response: dict[str, Any]) -> Credentials:
    raw = response["Credentials"]
    return Credentials(
        raw["AccessKeyId"],
        raw["SecretAccessKey"],
        raw["SessionToken"],
        response.get("AssumedRoleUser", {}).get("Arn", ""),
    )


class Deployer:
    """Applies the environment as the operator, then reads back what the scenario needs."""

    def __init__(
        self,
        repo: Path,
        variables: dict[str, Any],
        moto: MotoServer,
        *,
        region: str,
        partition: str,
        account: str,
        echo: Callable[[str], None],
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.repo, self.moto, self.region = repo, moto, region
        self.partition, self.account, self.echo = partition, account, echo
        self.variables = {
            **variables,
            "assume_role_arn": f"arn:{partition}:iam::{account}:role/{OPERATOR_ROLE}",
        }
        self.on_event = on_event
        self.operator = operator_credentials(moto, partition, account)
        self.session = self.operator.session(region)
        self.result = Provisioned(operator=self.operator)

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.moto.endpoint_url)

    def run(self, build: Path) -> Provisioned:
        """Identities first (they exist before Terraform registers them), then apply."""
        self._identities()
        workspace = prepare(self.repo, build)
        deployment = Deployment(
            workspace,
            ENVIRONMENT,
            self.moto.endpoint_url,
            self.variables,
            echo=self._echo,
            on_event=self.on_event,
        )
        deployment.configure()
        deployment.apply_now()
        self.result.outputs = deployment.outputs()
        self._read_back()
        return self.result

    def _echo(self, line: str) -> None:
        self.result.log.append(line)
        self.echo(line)

    def _identities(self) -> None:
        iam = self.client("iam")
        iam.create_role(RoleName=OPERATOR_ROLE, AssumeRolePolicyDocument=trust_policy(self.account))
        for arn in self.variables.get("callers", {}):
            principal = parse_principal(arn, lockable=False)
            path = principal.path or "/"
            if principal.kind == "user":
                created = iam.create_user(UserName=principal.name, Path=path)["User"]["Arn"]
            else:
                created = iam.create_role(
                    RoleName=principal.name,
                    Path=path,
                    AssumeRolePolicyDocument=trust_policy(self.account),
                )["Role"]["Arn"]
            self.result.identities[principal.canonical] = str(created)

    def _read_back(self) -> None:
        out, r = self.result.outputs, self.result
        r.table_name = out["table_name"]
        r.deny_policy_arn = out["deny_policy_arn"]
        r.deny_policy_name = r.deny_policy_arn.rsplit("/", 1)[-1]
        r.topic_arn = out["enforcer_topic_arn"]
        r.api_keys = dict(out["api_key_ids"])
        r.profiles = {
            tenant: {"arn": arn, "id": arn.rsplit("/", 1)[-1]}
            for tenant, arn in out["tenant_profile_arns"].items()
        }
        self._registry()
        self._alarms()
        r.gate = self._function(out["gate_function_name"])
        r.enforcer = self._function(out["enforcer_function_name"])
        if out.get("usage_meter_function_name"):
            r.meter = self._function(out["usage_meter_function_name"])
        self._invocation_logging()
        self._delivery_queue()

    def _registry(self) -> None:
        pages = self.client("dynamodb").get_paginator("scan")
        for page in pages.paginate(TableName=self.result.table_name):
            for item in page["Items"]:
                if item[keys.PK]["S"].startswith("CALLER#") and "tier" in item:
                    self.result.registry[keys.principal_of(item[keys.PK]["S"])] = item["tier"]["S"]
        self.result.log.append(f"{len(self.result.registry)} callers in the registry table")

    def _alarms(self) -> None:
        cloudwatch = self.client("cloudwatch")
        for page in cloudwatch.get_paginator("describe_alarms").paginate():
            for alarm in page["MetricAlarms"]:
                tags = cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]
                self.result.alarms.append(
                    AlarmSpec(
                        name=alarm["AlarmName"],
                        arn=alarm["AlarmArn"],
                        metric=alarm["MetricName"],
                        namespace=alarm["Namespace"],
                        dimensions={d["Name"]: d["Value"] for d in alarm["Dimensions"]},
                        threshold=float(alarm["Threshold"]),
                        period=int(alarm["Period"]),
                        tags={t["Key"]: t["Value"] for t in tags},
                        address=alarm["AlarmName"],
                    )
                )

    def _function(self, name: str) -> FunctionSpec:
        config = self.client("lambda").get_function_configuration(FunctionName=name)
        credentials = _credentials(
            self.client("sts").assume_role(RoleArn=config["Role"], RoleSessionName=name)
        )
        self.result.log.append(f"Lambda {name}: handler {config['Handler']}")
        return FunctionSpec(
            name=name,
            handler=config["Handler"],
            environment=dict(config.get("Environment", {}).get("Variables", {})),
            timeout_seconds=int(config.get("Timeout", 3)),
            memory_mb=int(config.get("MemorySize", 128)),
            arn=config["FunctionArn"],
            role_arn=config["Role"],
            credentials=credentials,
        )

    def _invocation_logging(self) -> None:
        """Bedrock's logging configuration, and the subscription filter that feeds the meter."""
        config = self.client("bedrock").get_model_invocation_logging_configuration()
        logging = config.get("loggingConfig") or {}
        cloudwatch = logging.get("cloudWatchConfig") or {}
        if not cloudwatch.get("logGroupName"):
            self.result.log.append("Bedrock model invocation logging: off")
            return
        r = self.result
        r.invocation_logging = InvocationLogging(
            log_group_name=cloudwatch["logGroupName"],
            role_arn=cloudwatch["roleArn"],
            text_delivery=bool(logging.get("textDataDeliveryEnabled")),
        )
        body = "with text" if r.invocation_logging.text_delivery else "metadata only"
        r.log.append(
            f"Bedrock model invocation logging ({body}) to {cloudwatch['logGroupName']}, "
            f"written as {cloudwatch['roleArn'].rsplit('/', 1)[-1]}"
        )
        if r.meter is None:
            return
        try:
            r.meter_filter = describe_filter(
                self.client("logs"), r.invocation_logging.log_group_name, r.meter.arn
            )
        except LookupError as error:
            r.log.append(f"no subscription filter feeds the meter: {error}")
            return
        r.log.append(
            f"subscription filter {r.meter_filter.name} "
            f"({r.meter_filter.filter_pattern}) delivers the log to {r.meter.name}"
        )

    def _delivery_queue(self) -> None:
        """An SQS queue subscribed to the enforcer's topic: moto delivers there, the demo
        hands the records to the enforcer as Lambda would."""
        sqs, sns = self.client("sqs"), self.client("sns")
        name = self.result.topic_arn.rsplit(":", 1)[-1] + DELIVERY_QUEUE_SUFFIX
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        subscription = sns.subscribe(
            TopicArn=self.result.topic_arn,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"RawMessageDelivery": "false"},
        )
        self.result.queue_url = url
        self.result.subscription_arn = subscription["SubscriptionArn"]


def trust_policy(account: str) -> str:
    """A role trust policy letting the account's principals (the operator) assume it."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
