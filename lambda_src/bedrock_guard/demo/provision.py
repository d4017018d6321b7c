"""Create on the local endpoint what ``terraform apply`` of ``environments/dev`` would create.

Every name, key schema, item, alarm argument and Lambda environment variable is evaluated from
the Terraform resources (:mod:`.terraform`); this module only maps resource arguments to API
calls, in dependency order, and records what AWS would compute (ARNs, ids) in
:class:`LocalResolver`, so that later expressions referring to them evaluate. Where the local
endpoint lacks a service (Bedrock's control plane) the value is made up here and noted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import boto3

from bedrock_guard.core import keys
from bedrock_guard.core.principals import parse_principal
from bedrock_guard.demo.config import CallerSpec, Settings
from bedrock_guard.demo.hcl_eval import EvalError, Unknown, plain
from bedrock_guard.demo.terraform import ResourceInstance, evaluation_error
from bedrock_guard.local.moto_server import MotoServer

OPERATOR_ROLE: Final = "terraform"
OPERATOR_SESSION: Final = "bedrock-guard-demo"
# The queue that stands in for the enforcer's Lambda subscription (moto runs no functions).
DELIVERY_QUEUE_SUFFIX: Final = "-delivery"
PARTITION_DNS: Final = {"aws": "amazonaws.com", "aws-cn": "amazonaws.com.cn"}


@dataclass(frozen=True, slots=True)
class Note:
    """A value Terraform knows only after apply, and where the demo got it."""

    address: str
    value: str
    why: str


class LocalResolver:
    """After-apply values from the local endpoint; every value handed out is noted once."""

    def __init__(self, region: str, account: str, partition: str, identity_arn: str) -> None:
        self.region = region
        self.account = account
        self.partition = partition
        self.identity_arn = identity_arn
        self._resources: dict[str, dict[str, Any]] = {}
        self._why: dict[str, str] = {}
        self.notes: dict[str, Note] = {}

    def created(self, address: str, attributes: dict[str, Any], why: str) -> None:
        """Record the computed attributes of a resource the demo created."""
        self._resources[address] = attributes
        self._why[address] = why

    def resource_attribute(self, address: str, attribute: str) -> Any:
        attributes = self._resources.get(address)
        if attributes is None or attribute not in attributes:
            raise Unknown(f"{address}.{attribute} is known only after apply (not created locally)")
        value = attributes[attribute]
        self._note(f"{address}.{attribute}", value, self._why[address])
        return value

    def data_attribute(self, address: str, attribute: str) -> Any:
        kind = address.rsplit("data.", 1)[-1].split(".", 1)[0]
        values: dict[str, dict[str, Any]] = {
            "aws_caller_identity": {
                "account_id": self.account,
                "arn": self.identity_arn,
                "id": self.account,
            },
            "aws_region": {"region": self.region, "name": self.region, "id": self.region},
            "aws_partition": {
                "partition": self.partition,
                "id": self.partition,
                "dns_suffix": PARTITION_DNS.get(self.partition, "amazonaws.com"),
            },
        }
        if kind not in values or attribute not in values[kind]:
            raise Unknown(f"{address}.{attribute} is read from AWS and has no local stand-in")
        value = values[kind][attribute]
        if kind == "aws_caller_identity":
            self._note(
                f"data.{kind}.current.{attribute}",
                value,
                f"the demo's session of a local '{OPERATOR_ROLE}' role, in place of whoever "
                "runs terraform apply",
            )
        return value

    def _note(self, key: str, value: Any, why: str) -> None:
        if key not in self.notes:
            self.notes[key] = Note(key, str(value), why)


@dataclass(frozen=True, slots=True)
class Credentials:
    """Temporary credentials from STS on the local endpoint."""

    access_key_id: str
    secret_access_key: str
    session_token: str

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
    """A Lambda function as Terraform defines it, and the role it runs as locally."""

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
    """A CloudWatch alarm as created on the local endpoint."""

    name: str
    arn: str
    metric: str
    namespace: str
    dimensions: dict[str, str]
    threshold: float
    period: int
    tags: dict[str, str]
    address: str


@dataclass
class Provisioned:
    """What exists on the local endpoint after provisioning."""

    operator: Credentials
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
    log: list[str] = field(default_factory=list)  # one line per thing created


def operator_credentials(moto: MotoServer, partition: str, account: str) -> Credentials:
    """A session of the local 'terraform' role in the callers' account: whatever it creates
    lives in that account."""
    sts = moto.client("sts")
    role_arn = f"arn:{partition}:iam::{account}:role/{OPERATOR_ROLE}"
    response = sts.assume_role(RoleArn=role_arn, RoleSessionName=OPERATOR_SESSION)
    return _credentials(response)


def _credentials(response: dict[str, Any]) -> Credentials:
    raw = response["Credentials"]
    return Credentials(raw["AccessKeyId"], raw["SecretAccessKey"], raw["SessionToken"])


class Provisioner:
    """Creates the resources, in dependency order, with the operator's credentials."""

    def __init__(self, settings: Settings, moto: MotoServer, operator: Credentials) -> None:
        self.settings = settings
        self.moto = moto
        self.session = operator.session(settings.region)
        self.result = Provisioned(operator=operator)
        identity = self.client("sts").get_caller_identity()["Arn"]
        self.resolver = LocalResolver(
            settings.region, settings.account, settings.partition, identity
        )
        settings.terraform.resolver = self.resolver

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.moto.endpoint_url)

    def run(self) -> Provisioned:
        """Everything, in the order Terraform's dependencies impose."""
        steps: list[Callable[[], None]] = [
            self._operator_role,
            self._table,
            self._deny_policy,
            self._topic,
            self._profiles,
            self._api_keys,
            self._registry,
            self._identities,
            self._alarms,
            self._functions,
        ]
        for step in steps:
            try:
                step()
            except EvalError as error:
                raise evaluation_error(error) from error
        return self.result

    def _log(self, line: str) -> None:
        self.result.log.append(line)

    def _instances(self, module: str, kind: str, name: str) -> dict[Any, ResourceInstance]:
        return self.settings.module(module).resource(kind, name).instances()

    def _single(self, module: str, kind: str, name: str) -> ResourceInstance:
        return self._instances(module, kind, name)[None]

    # Resources -------------------------------------------------------------------------------

    def _operator_role(self) -> None:
        # The role the demo's own session belongs to: it exists, and the enforcer protects it.
        self.client("iam").create_role(
            RoleName=OPERATOR_ROLE, AssumeRolePolicyDocument=_trust(self.settings.account)
        )

    def _table(self) -> None:
        table = self._single("token_gate", "aws_dynamodb_table", "this")
        name = table.get("name")
        attributes = [
            {"AttributeName": a.get("name"), "AttributeType": a.get("type")}
            for a in table.blocks("attribute")
        ]
        key_schema = [{"AttributeName": table.get("hash_key"), "KeyType": "HASH"}]
        if table.has("range_key"):
            key_schema.append({"AttributeName": table.get("range_key"), "KeyType": "RANGE"})
        dynamodb = self.client("dynamodb")
        described = dynamodb.create_table(
            TableName=name,
            KeySchema=key_schema,
            AttributeDefinitions=attributes,
            BillingMode=table.get("billing_mode", "PROVISIONED"),
        )["TableDescription"]
        for ttl in table.blocks("ttl"):
            if ttl.get("enabled", False):
                dynamodb.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={
                        "Enabled": True,
                        "AttributeName": ttl.get("attribute_name"),
                    },
                )
        self.resolver.created(table.address, {"arn": described["TableArn"], "id": name}, "moto")
        self.result.table_name = name
        key_names = "/".join(k["AttributeName"] for k in key_schema)
        ttl_names = [t.get("attribute_name") for t in table.blocks("ttl")]
        self._log(f"DynamoDB table {name} (keys {key_names}, TTL {', '.join(ttl_names)})")

    def _deny_policy(self) -> None:
        policy = self._single("alarm_enforcer", "aws_iam_policy", "deny")
        name = policy.get("name")
        created = self.client("iam").create_policy(
            PolicyName=name,
            PolicyDocument=policy.get("policy"),
            Description=policy.get("description", ""),
        )["Policy"]
        self.resolver.created(
            policy.address, {"arn": created["Arn"], "id": created["Arn"]}, "created in moto IAM"
        )
        self.result.deny_policy_arn = created["Arn"]
        self.result.deny_policy_name = name
        self._log(f"IAM managed policy {name}")

    def _topic(self) -> None:
        topic = self._single("alarm_enforcer", "aws_sns_topic", "this")
        name = topic.get("name")
        arn = self.client("sns").create_topic(Name=name)["TopicArn"]
        self.resolver.created(topic.address, {"arn": arn, "id": arn}, "created in moto SNS")
        self.result.topic_arn = arn
        function = self._single("alarm_enforcer", "aws_lambda_function", "this")
        queue_name = f"{function.get('function_name')}{DELIVERY_QUEUE_SUFFIX}"
        sqs = self.client("sqs")
        self.result.queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(
            QueueUrl=self.result.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        subscription = self.client("sns").subscribe(
            TopicArn=arn, Protocol="sqs", Endpoint=queue_arn
        )
        self.result.subscription_arn = subscription["SubscriptionArn"]
        self._log(f"SNS topic {name}, subscribed by queue {queue_name} (stands in for the Lambda)")

    def _profiles(self) -> None:
        for key, profile in self._instances(
            "aip_tenant", "aws_bedrock_inference_profile", "this"
        ).items():
            name = profile.get("name")
            # Bedrock profile ids are 12 lowercase letters and digits; derive one from the name.
            profile_id = hashlib.sha256(name.encode()).hexdigest()[:12]
            s = self.settings
            arn = (
                f"arn:{s.partition}:bedrock:{s.region}:{s.account}:"
                f"application-inference-profile/{profile_id}"
            )
            attributes = {"arn": arn, "id": profile_id}
            self.resolver.created(
                profile.address,
                attributes,
                "made up locally: moto has no Bedrock control plane",
            )
            self.result.profiles[str(key)] = attributes
            self._log(f"inference profile {name} (local ARN; moto has no Bedrock control plane)")

    def _api_keys(self) -> None:
        apigateway = self.client("apigateway")
        for key, api_key in self._instances(
            "usage_plan", "aws_api_gateway_api_key", "this"
        ).items():
            created = apigateway.create_api_key(
                name=api_key.get("name"),
                description=api_key.get("description", ""),
                enabled=api_key.get("enabled", True),
            )
            self.resolver.created(
                api_key.address,
                {"id": created["id"], "value": created["value"]},
                "created in moto API Gateway",
            )
            self.result.api_keys[str(key)] = created["id"]
            self._log(f"API key {api_key.get('name')} (id {created['id']})")

    def _registry(self) -> None:
        dynamodb = self.client("dynamodb")
        for kind in ("caller", "api_key_caller"):
            for item in self._instances("token_gate", "aws_dynamodb_table_item", kind).values():
                document = json.loads(item.get("item"))
                dynamodb.put_item(TableName=item.get("table_name"), Item=document)
                principal = keys.principal_of(document[keys.PK]["S"])
                self.result.registry[principal] = document["tier"]["S"]
        self._log(f"{len(self.result.registry)} registry items (CALLER#<principal> / PROFILE)")

    def _identities(self) -> None:
        """The callers' IAM users and roles: they exist before Terraform registers them."""
        iam = self.client("iam")
        for caller in self.settings.callers:
            if caller.kind != "iam" or caller.arn is None or caller.principal is None:
                continue
            created = _create_identity(iam, caller, self.settings.account)
            self.result.identities[caller.principal] = created
        kinds = ", ".join(sorted(self.result.identities.values()))
        self._log(f"IAM identities of the callers: {kinds}")

    def _alarms(self) -> None:
        cloudwatch = self.client("cloudwatch")
        resources = (
            ("token_gate", "caller_budget"),
            ("aip_tenant", "tokens"),
        )
        for module, name in resources:
            for alarm in self._instances(module, "aws_cloudwatch_metric_alarm", name).values():
                arguments = _alarm_arguments(alarm)
                cloudwatch.put_metric_alarm(**arguments)
                described = cloudwatch.describe_alarms(AlarmNames=[arguments["AlarmName"]])
                arn = described["MetricAlarms"][0]["AlarmArn"]
                self.resolver.created(
                    alarm.address, {"arn": arn, "id": arguments["AlarmName"]}, "moto"
                )
                self.result.alarms.append(
                    AlarmSpec(
                        name=arguments["AlarmName"],
                        arn=arn,
                        metric=arguments["MetricName"],
                        namespace=arguments["Namespace"],
                        dimensions={d["Name"]: d["Value"] for d in arguments["Dimensions"]},
                        threshold=float(arguments["Threshold"]),
                        period=int(arguments["Period"]),
                        tags={t["Key"]: t["Value"] for t in arguments.get("Tags", [])},
                        address=alarm.address,
                    )
                )
        self._log(f"{len(self.result.alarms)} CloudWatch alarms")

    def _functions(self) -> None:
        self.result.gate = self._function("token_gate")
        self.result.enforcer = self._function("alarm_enforcer")

    def _function(self, module: str) -> FunctionSpec:
        function = self._single(module, "aws_lambda_function", "this")
        role = self._single(module, "aws_iam_role", "this")
        iam = self.client("iam")
        role_arn = iam.create_role(
            RoleName=role.get("name"),
            AssumeRolePolicyDocument=role.get("assume_role_policy"),
            Description=role.get("description", ""),
        )["Role"]["Arn"]
        credentials = _credentials(
            self.client("sts").assume_role(
                RoleArn=role_arn, RoleSessionName=function.get("function_name")
            )
        )
        variables: dict[str, Any] = {}
        for environment in function.blocks("environment"):
            variables.update(plain(environment.get("variables", {})))
        s = self.settings
        name = function.get("function_name")
        self._log(f"Lambda {name}: handler {function.get('handler')}, role {role.get('name')}")
        return FunctionSpec(
            name=name,
            handler=function.get("handler"),
            environment={k: str(v) for k, v in variables.items()},
            timeout_seconds=int(function.get("timeout", 3)),
            memory_mb=int(function.get("memory_size", 128)),
            arn=f"arn:{s.partition}:lambda:{s.region}:{s.account}:function:{name}",
            role_arn=role_arn,
            credentials=credentials,
        )


def _trust(account: str) -> str:
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


def _create_identity(iam: Any, caller: CallerSpec, account: str) -> str:
    identity = parse_principal(caller.arn, lockable=False)
    path = identity.path or "/"
    if identity.kind == "user":
        return str(iam.create_user(UserName=caller.name, Path=path)["User"]["Arn"])
    return str(
        iam.create_role(RoleName=caller.name, Path=path, AssumeRolePolicyDocument=_trust(account))[
            "Role"
        ]["Arn"]
    )


_ALARM_ARGUMENTS: Final = (
    ("alarm_name", "AlarmName"),
    ("alarm_description", "AlarmDescription"),
    ("namespace", "Namespace"),
    ("metric_name", "MetricName"),
    ("statistic", "Statistic"),
    ("comparison_operator", "ComparisonOperator"),
    ("threshold", "Threshold"),
    ("period", "Period"),
    ("evaluation_periods", "EvaluationPeriods"),
    ("datapoints_to_alarm", "DatapointsToAlarm"),
    ("treat_missing_data", "TreatMissingData"),
    ("actions_enabled", "ActionsEnabled"),
    ("alarm_actions", "AlarmActions"),
    ("ok_actions", "OKActions"),
    ("insufficient_data_actions", "InsufficientDataActions"),
)


def _alarm_arguments(alarm: ResourceInstance) -> dict[str, Any]:
    """PutMetricAlarm parameters from an ``aws_cloudwatch_metric_alarm`` instance."""
    arguments: dict[str, Any] = {}
    for argument, parameter in _ALARM_ARGUMENTS:
        if alarm.has(argument):
            value = plain(alarm.get(argument))
            if value is not None:
                arguments[parameter] = value
    dimensions = plain(alarm.get("dimensions", {})) or {}
    arguments["Dimensions"] = [{"Name": k, "Value": v} for k, v in dimensions.items()]
    tags = plain(alarm.get("tags", {})) or {}
    if tags:
        arguments["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    return arguments
