"""Fixtures for the alarm enforcer: a moto account with a ledger table, the deny policy, users
and roles; real CloudWatch alarms (``alarms``) whose state changes produce the notification
CloudWatch would send; the handler loaded with a given environment; SNS events built from the
recorded notification shapes in ``tests/events``."""

from __future__ import annotations

import copy
import importlib
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from bedrock_guard.core import keys
from bedrock_guard.core.lock_marks import mark_months
from bedrock_guard.local.tables import create_guard_table
from tests.enforcer.moto_account import LAMBDA_TRUST_POLICY, MotoAccount

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
TABLE = "bedrock-guard-test"
POLICY_NAME = "BedrockGuardDenyInference"
POLICY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/{POLICY_NAME}"
EVENTS = Path(__file__).resolve().parents[1] / "events"

ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"
APP_ROLE = f"arn:aws:iam::{ACCOUNT}:role/app-role"  # canonical; IAM path is /apps/
APP_ROLE_WITH_PATH = f"arn:aws:iam::{ACCOUNT}:role/apps/app-role"
APP_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/app-role/batch-job-17"
ADMIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/admin"
BREAKGLASS_ROLE = f"arn:aws:iam::{ACCOUNT}:role/breakglass"  # IAM path /ops/
OUTSIDER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/outsider"  # IAM path /outside/

REGION = "us-east-1"
ALARM_NAME = "bedrock-guard-caller-alice-monthly"
ALARM_ARN = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{ALARM_NAME}"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:bedrock-guard-enforcer"  # the recorded events' topic
OTHER_TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:team-notifications"

DENY_DOCUMENT = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Deny",
            "Action": [
                "bedrock:InvokeModel",
                "bedrock:InvokeModelWithResponseStream",
                "bedrock:CallWithBearerToken",
            ],
            "Resource": "*",
        }
    ],
}


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def classic_message() -> dict[str, Any]:
    """The alarm notification (decoded ``Message``) of the recorded single-metric event."""
    return json.loads(load_event("sns_alarm_classic.json")["Records"][0]["Sns"]["Message"])


def metric_math_message() -> dict[str, Any]:
    return json.loads(load_event("sns_alarm_metric_math.json")["Records"][0]["Sns"]["Message"])


def alarm(
    state: str = "ALARM",
    *,
    principal: str | None = ALICE,
    at: str = "2026-11-23T10:01:12.345+0000",
    name: str = "bedrock-guard-caller-alice-monthly",
    old: str | None = None,
) -> dict[str, Any]:
    """A classic alarm message for ``principal`` (``None``: no Principal dimension)."""
    message = classic_message()
    message["AlarmName"] = name
    message["AlarmArn"] = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{name}"
    message["NewStateValue"] = state
    message["OldStateValue"] = old or ("OK" if state == "ALARM" else "ALARM")
    message["StateChangeTime"] = at
    message["Trigger"]["Dimensions"] = (
        [] if principal is None else [{"value": principal, "name": "Principal"}]
    )
    return message


def sns_event(*messages: dict[str, Any] | str, topic_arn: str = TOPIC_ARN) -> dict[str, Any]:
    """An SNS event with one record per message, in the recorded envelope."""
    template = load_event("sns_alarm_classic.json")["Records"][0]
    records = []
    for index, message in enumerate(messages):
        record = copy.deepcopy(template)
        record["Sns"]["MessageId"] = f"00000000-0000-5000-8000-{index:012d}"
        record["Sns"]["TopicArn"] = topic_arn
        record["Sns"]["Message"] = message if isinstance(message, str) else json.dumps(message)
        records.append(record)
    return {"Records": records}


def recorded_event(name: str, fired: dict[str, Any]) -> dict[str, Any]:
    """A recorded event from ``tests/events`` as it would arrive for ``fired`` (a message from
    :meth:`Alarms.fire`): the recorded text, with the real alarm's state change time."""
    event = load_event(name)
    sns = event["Records"][0]["Sns"]
    message = json.loads(sns["Message"])
    assert message["AlarmArn"] == fired["AlarmArn"], "fire the alarm the recording is about"
    message["StateChangeTime"] = fired["StateChangeTime"]
    sns["Message"] = json.dumps(message)
    return event


# Real alarms -----------------------------------------------------------------------------------


def cloudwatch_time(instant: datetime) -> str:
    """A time as CloudWatch writes it in notifications: ``2026-11-23T10:01:12.345+0000``."""
    utc = instant.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def state_changed_at(described: dict[str, Any]) -> datetime:
    """When the described alarm last changed state (moto reports StateUpdatedTimestamp only)."""
    changed = described.get("StateTransitionedTimestamp") or described["StateUpdatedTimestamp"]
    assert isinstance(changed, datetime)
    return changed


def _notification_dimensions(dimensions: list[dict[str, str]]) -> list[dict[str, str]]:
    # Notifications spell dimension keys in lower case, the API capitalises them.
    return [{"value": d["Value"], "name": d["Name"]} for d in dimensions]


def _trigger(described: dict[str, Any]) -> dict[str, Any]:
    """The ``Trigger`` of a metric alarm's notification, in CloudWatch's notification shape."""
    common = {
        key: described[key]
        for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm", "ComparisonOperator")
        if key in described
    }
    common.update(
        Threshold=described.get("Threshold"),
        TreatMissingData=described.get("TreatMissingData", "missing"),
        EvaluateLowSampleCountPercentile="",
    )
    if described.get("Metrics"):
        metrics = []
        for query in described["Metrics"]:
            entry = {k: v for k, v in query.items() if k != "MetricStat"}
            if "MetricStat" in query:
                stat = query["MetricStat"]
                metric = stat["Metric"]
                entry["MetricStat"] = {
                    "Metric": {
                        "Dimensions": _notification_dimensions(metric.get("Dimensions", [])),
                        "MetricName": metric["MetricName"],
                        "Namespace": metric["Namespace"],
                    },
                    "Period": stat["Period"],
                    "Stat": stat["Stat"],
                }
            metrics.append(entry)
        return {**common, "Metrics": metrics}
    return {
        "MetricName": described["MetricName"],
        "Namespace": described["Namespace"],
        "StatisticType": "Statistic",
        "Statistic": str(described.get("Statistic", "")).upper(),
        "Unit": None,
        "Dimensions": _notification_dimensions(described.get("Dimensions", [])),
        **common,
    }


def notification(described: dict[str, Any], *, old_state: str) -> dict[str, Any]:
    """The ``Message`` CloudWatch sends to SNS for an alarm as DescribeAlarms shows it now.

    Field by field the shape of the recorded notifications; a composite alarm (one with an
    ``AlarmRule``) has its rule and no ``Trigger``.
    """
    message = classic_message()
    message.update(
        AlarmName=described["AlarmName"],
        AlarmDescription=described.get("AlarmDescription"),
        AlarmArn=described["AlarmArn"],
        AlarmConfigurationUpdatedTimestamp=cloudwatch_time(
            described["AlarmConfigurationUpdatedTimestamp"]
        ),
        NewStateValue=described["StateValue"],
        NewStateReason=described["StateReason"],
        StateChangeTime=cloudwatch_time(state_changed_at(described)),
        OldStateValue=old_state,
        OKActions=described.get("OKActions", []),
        AlarmActions=described.get("AlarmActions", []),
        InsufficientDataActions=described.get("InsufficientDataActions", []),
    )
    if "AlarmRule" in described:
        del message["Trigger"]
        message["AlarmRule"] = described["AlarmRule"]
    else:
        message["Trigger"] = _trigger(described)
    return message


REASONS = {
    "ALARM": "Threshold Crossed: 1 out of the last 1 datapoints [104.2 (23/11/26 10:00:00)] was "
    "greater than or equal to the threshold (100.0) (minimum 1 datapoint for OK -> ALARM "
    "transition).",
    "OK": "Threshold Crossed: 1 out of the last 1 datapoints [12.0 (23/11/26 11:00:00)] was not "
    "greater than or equal to the threshold (100.0) (minimum 1 datapoint for ALARM -> OK "
    "transition).",
    "INSUFFICIENT_DATA": "Insufficient Data: 1 datapoint was unknown.",
}


@dataclass
class Alarms:
    """Real alarms in the moto account, and the notifications their state changes send."""

    cloudwatch: Any

    def create(
        self,
        name: str = ALARM_NAME,
        *,
        principal: str | None = ALICE,
        tags: dict[str, str] | None = None,
        actions: Sequence[str] = (TOPIC_ARN,),
        actions_enabled: bool = True,
    ) -> str:
        """A per-caller budget alarm on ``principal`` (``None``: a Bedrock metric without a
        principal dimension), notifying ``actions`` on ALARM and OK; returns its ARN."""
        if principal is None:
            metric = {
                "Namespace": "AWS/Bedrock",
                "MetricName": "InputTokenCount",
                "Dimensions": [{"Name": "ModelId", "Value": "anthropic.claude-3-haiku"}],
            }
        else:
            metric = {
                "Namespace": "GenAIRateLimiting",
                "MetricName": "CallerBudgetUsedPercent",
                "Dimensions": [{"Name": "Principal", "Value": principal}],
            }
        self.cloudwatch.put_metric_alarm(
            AlarmName=name,
            AlarmDescription=f"{name} over its budget",
            **metric,
            Statistic="Maximum",
            Period=60,
            EvaluationPeriods=1,
            DatapointsToAlarm=1,
            Threshold=100.0,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            TreatMissingData="missing",
            ActionsEnabled=actions_enabled,
            AlarmActions=list(actions),
            OKActions=list(actions),
            Tags=[{"Key": key, "Value": value} for key, value in (tags or {}).items()],
        )
        return str(self.describe(name)["AlarmArn"])

    def create_math(
        self,
        name: str,
        principals: Sequence[str],
        *,
        tags: dict[str, str] | None = None,
        other_dimensions: Sequence[dict[str, str]] = (),
    ) -> str:
        """A metric-math alarm: MAX over one CallerBudgetUsedPercent metric per principal."""
        queries: list[dict[str, Any]] = [
            {
                "Id": "e1",
                "Expression": "MAX(METRICS())",
                "Label": "budget used %",
                "ReturnData": True,
            }
        ]
        for index, principal in enumerate(principals, start=1):
            queries.append(
                {
                    "Id": f"m{index}",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "GenAIRateLimiting",
                            "MetricName": "CallerBudgetUsedPercent",
                            "Dimensions": [
                                {"Name": "Principal", "Value": principal},
                                *other_dimensions,
                            ],
                        },
                        "Period": 300,
                        "Stat": "Maximum",
                    },
                    "ReturnData": False,
                }
            )
        self.cloudwatch.put_metric_alarm(
            AlarmName=name,
            AlarmDescription=f"{name} over its budget",
            Metrics=queries,
            EvaluationPeriods=1,
            DatapointsToAlarm=1,
            Threshold=100.0,
            ComparisonOperator="GreaterThanThreshold",
            TreatMissingData="missing",
            AlarmActions=[TOPIC_ARN],
            OKActions=[TOPIC_ARN],
            Tags=[{"Key": key, "Value": value} for key, value in (tags or {}).items()],
        )
        return str(self.describe(name)["AlarmArn"])

    def describe(self, name: str = ALARM_NAME) -> dict[str, Any]:
        """The alarm as DescribeAlarms returns it now."""
        response = self.cloudwatch.describe_alarms(
            AlarmNames=[name], AlarmTypes=["MetricAlarm", "CompositeAlarm"]
        )
        (found,) = response["MetricAlarms"] + response["CompositeAlarms"]
        return dict(found)

    def fire(
        self, name: str = ALARM_NAME, state: str = "ALARM", *, reason: str | None = None
    ) -> dict[str, Any]:
        """Set the alarm's state, then return the notification CloudWatch would send for it.

        The time in the message is read back from DescribeAlarms, so it is exactly the alarm's.
        Each change gets a later time than the one before (moto's clock has millisecond steps),
        as CloudWatch's evaluations, minutes apart, always do.
        """
        before = self.describe(name)
        for _ in range(100):
            self.cloudwatch.set_alarm_state(
                AlarmName=name, StateValue=state, StateReason=reason or REASONS[state]
            )
            after = self.describe(name)
            if state_changed_at(after) > state_changed_at(before):
                return notification(after, old_state=str(before["StateValue"]))
            time.sleep(0.002)
        raise AssertionError(f"the state time of {name} did not move")

    def fire_event(self, name: str = ALARM_NAME, state: str = "ALARM") -> dict[str, Any]:
        """:meth:`fire`, delivered as an SNS event."""
        return sns_event(self.fire(name, state))


@dataclass
class World(MotoAccount):
    """Handles on the moto account the enforcer runs against."""

    def alarm_record(self, principal: str, alarm_arn: str) -> dict[str, Any] | None:
        item = self.ddb.get_item(
            TableName=self.table,
            Key=keys.attribute_values(keys.lock_alarm_key(principal, alarm_arn)),
            ConsistentRead=True,
        ).get("Item")
        return None if item is None else {name: _plain(value) for name, value in item.items()}

    def events(self, principal: str) -> list[dict[str, Any]]:
        return [
            {name: _plain(value) for name, value in item.items()}
            for item in self.event_items(principal)
        ]

    def marks(self, principal: str) -> dict[str, set[str]]:
        """The lock marks on the principal's month usage items around now (empty: none)."""
        found = {}
        for month, _ in mark_months(datetime.now(UTC)):
            item = self.ddb.get_item(
                TableName=self.table,
                Key=keys.attribute_values(keys.usage_key(principal, month)),
                ConsistentRead=True,
            ).get("Item", {})
            found[month] = set(item.get(keys.LOCKED_BY, {}).get("SS", []))
        return found

    def assert_marks_match(self, principal: str) -> set[str]:
        """The gate's marks say what STATE says; returns the holders."""
        holders = self.holders(principal)
        assert all(marks == holders for marks in self.marks(principal).values()), (
            holders,
            self.marks(principal),
        )
        return holders

    def assert_agree(self, principal: str) -> set[str]:
        """IAM, STATE and the gate's marks all say the same; returns the holders."""
        holders = self.holders(principal)
        assert self.attached(principal) == bool(holders), (principal, holders)
        assert all(marks == holders for marks in self.marks(principal).values()), (
            holders,
            self.marks(principal),
        )
        return holders

    def table_items(self) -> list[dict[str, Any]]:
        items = self.ddb.scan(TableName=self.table, ConsistentRead=True)["Items"]
        return sorted(
            ({name: _plain(value) for name, value in item.items()} for item in items),
            key=lambda item: (item["pk"], item["sk"]),
        )


def _plain(value: dict[str, Any]) -> Any:
    ((kind, inner),) = value.items()
    if kind == "SS":
        return sorted(inner)
    return inner


def seed_world(iam: Any, ddb: Any, cloudwatch: Any) -> World:
    """The ledger table, the deny policy, and the users and roles the tests lock, on any
    account (in-process moto, or a moto server behind the DynamoDB rules)."""
    create_guard_table(ddb, TABLE)
    iam.create_policy(PolicyName=POLICY_NAME, PolicyDocument=json.dumps(DENY_DOCUMENT))
    for user in ("alice", "bob"):
        iam.create_user(UserName=user)
    for name, path in (
        ("app-role", "/apps/"),
        ("admin", "/"),
        ("breakglass", "/ops/"),
        ("outsider", "/outside/"),
    ):
        iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=LAMBDA_TRUST_POLICY)
    return World(iam=iam, ddb=ddb, cloudwatch=cloudwatch, table=TABLE, policy_arn=POLICY_ARN)


@pytest.fixture
def world(aws: None) -> World:
    """The ledger table, the deny policy, and the users and roles the tests lock."""
    return seed_world(boto3.client("iam"), boto3.client("dynamodb"), boto3.client("cloudwatch"))


@pytest.fixture
def alarms(world: World) -> Alarms:
    """Real alarms in the moto account (create, then fire to get their notifications)."""
    return Alarms(world.cloudwatch)


BASE_ENV = {
    "ALARM_TOPIC_ARN": TOPIC_ARN,
    "ALARM_NAME_PREFIX": "",
    "DENY_POLICY_ARN": POLICY_ARN,
    "LEDGER_TABLE_NAME": TABLE,
    "PROTECTED_PRINCIPALS_JSON": json.dumps([ADMIN_ROLE]),
    "PRINCIPAL_DIMENSION": "Principal",
    "PRINCIPAL_TAG_KEY": "bedrock-guard:principals",
    "RELEASE_ON_OK": "true",
    "DRY_RUN": "false",
    "ALLOWED_PATHS_JSON": json.dumps(["/", "/apps/", "/ops/"]),
}

Loader = Callable[..., ModuleType]


@pytest.fixture
def load_enforcer(monkeypatch: pytest.MonkeyPatch, world: World) -> Loader:
    """Import the handler module afresh with ``BASE_ENV`` plus overrides (clients included)."""

    def load(**overrides: str) -> ModuleType:
        for name, value in {**BASE_ENV, **overrides}.items():
            monkeypatch.setenv(name, value)
        sys.modules.pop("bedrock_guard.alarm_enforcer", None)
        return importlib.import_module("bedrock_guard.alarm_enforcer")

    return load


@pytest.fixture
def enforcer(load_enforcer: Loader) -> ModuleType:
    """The handler module with the default test environment."""
    return load_enforcer()


@pytest.fixture(autouse=True)
def reset_metrics() -> Iterator[None]:
    """Powertools keeps metrics in class attributes: start every test from none."""
    from bedrock_guard.enforcer.metrics import metrics

    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


def emitted_metrics(output: str) -> list[tuple[str, dict[str, str]]]:
    """(metric name, dimensions) of every EMF blob in captured stdout."""
    found = []
    for line in output.splitlines():
        try:
            blob = json.loads(line)
        except ValueError:
            continue
        if not isinstance(blob, dict) or "_aws" not in blob:
            continue
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            dimension_names = {name for group in directive["Dimensions"] for name in group}
            dimensions = {name: blob[name] for name in dimension_names}
            for metric in directive["Metrics"]:
                found.append((metric["Name"], dimensions))
    return found


def has_metric(output: str, name: str, **dimensions: str) -> bool:
    """Whether stdout holds an EMF metric ``name`` with at least these dimension values."""
    return any(
        found == name and all(dims.get(key) == value for key, value in dimensions.items())
        for found, dims in emitted_metrics(output)
    )
