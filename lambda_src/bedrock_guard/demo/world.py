"""One run's world: the stand-ins, what was provisioned, the Lambda containers, the result.

The phases (:mod:`.traffic_phases`, :mod:`.lockout`, :mod:`.summary`) act through it: it makes
the gate calls, reads the usage and lock items, and records each step of the story.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import boto3
from botocore.config import Config

from bedrock_guard.core import keys
from bedrock_guard.core.accounting import Window, period_of
from bedrock_guard.core.principals import API_KEY_PREFIX
from bedrock_guard.demo.config import CallerSpec, Settings
from bedrock_guard.demo.deploy import Deployer, Provisioned
from bedrock_guard.demo.lambda_part import LambdaContainer, LogSink
from bedrock_guard.demo.result import DEMO, Answer, DemoResult, MeterRun, Step
from bedrock_guard.demo.traffic import Cast, answer, body, event, priciest_alias
from bedrock_guard.enforcer.ledger import Ledger
from bedrock_guard.gate.usage_store import deserialize
from bedrock_guard.local.bedrock_stub import BedrockStub
from bedrock_guard.local.invocation_log import InvocationLog, KeyRegistry
from bedrock_guard.local.log_subscription import Delivery, PlayedSubscription
from bedrock_guard.local.moto_server import MotoServer

# Direct callers call once, as a notebook's loop would: a retry would be a second invocation.
_DIRECT_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 1})


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much traffic a run sends."""

    steady_per_caller: int
    burst_workers: int
    burst_min_requests: int


class Reporter(Protocol):
    """Sees the run as it happens (the terminal renderer, or nothing)."""

    def started(self, moto_url: str, stub_url: str) -> None: ...

    def step(self, step: Step) -> None: ...

    def phase(self, key: str, title: str, total: int) -> None: ...

    def advance(self, key: str, status: int | None) -> None: ...

    def phase_done(self, key: str) -> None: ...

    def provisioned(self, result: DemoResult) -> None: ...


class World:
    """The state of one run, and what every phase needs to act on it."""

    def __init__(
        self,
        *,
        settings: Settings,
        cast: Cast,
        moto: MotoServer,
        stub: BedrockStub,
        reporter: Reporter,
        result: DemoResult,
        sizes: Sizes,
    ) -> None:
        self.settings, self.cast, self.moto, self.stub = settings, cast, moto, stub
        self.reporter, self.result, self.sizes = reporter, result, sizes
        self.gate_logs, self.enforcer_logs, self.meter_logs = LogSink(), LogSink(), LogSink()
        self.containers: list[LambdaContainer] = []
        self.meter: LambdaContainer | None = None
        # Who each access key id is: the stand-in names the signer of every call it logs.
        self.identities = KeyRegistry()
        self.invocation_log: InvocationLog | None = None
        self.subscription: PlayedSubscription | None = None
        self.requests = 0
        self.emf_read = 0
        self.period = period_of(datetime.now(UTC))

    def close(self) -> None:
        """Stop the containers (the servers are stopped by their owner)."""
        self.stub.set_invocation_log(None)
        for container in reversed(self.containers):
            container.stop()
        self.containers.clear()

    def say(self, actor: str, text: str) -> None:
        """Record a step of the story and show it."""
        step = Step(actor, text)
        self.result.steps.append(step)
        self.reporter.step(step)

    @contextlib.contextmanager
    def phase(self, key: str, title: str, total: int) -> Iterator[None]:
        """A traffic phase, with its progress line."""
        self.reporter.phase(key, title, total)
        try:
            yield
        finally:
            self.reporter.phase_done(key)

    def client(self, service: str) -> Any:
        """A client of the local endpoint with the operator's credentials (the local
        'terraform' role)."""
        return self.deployer.client(service)

    def adopt(self, deployer: Deployer, provisioned: Provisioned) -> None:
        """Take over what ``terraform apply`` of ``environments/dev`` created."""
        s = self.settings
        self.say(
            DEMO,
            f"moto server at {self.moto.endpoint_url} plays AWS (account {s.account}, "
            f"{s.region}); the Bedrock stand-in at {self.stub.endpoint_url} plays Bedrock",
        )
        self.deployer = deployer
        self.provisioned = provisioned
        self.result.provisioned = tuple(provisioned.log)
        self.dynamodb = self.client("dynamodb")
        self.iam = self.client("iam")
        self.ledger = Ledger(self.dynamodb, self.provisioned.table_name)

    def start_containers(self) -> None:
        """One warm container per function, with Terraform's environment plus the local
        endpoints (the only additions, recorded for the output)."""
        local = self.moto.environ()
        local.update(
            {"BEDROCK_ENDPOINT_URL": self.stub.endpoint_url, "POWERTOOLS_TRACE_DISABLED": "true"}
        )
        gate, enforcer = self.provisioned.gate, self.provisioned.enforcer
        assert gate is not None and enforcer is not None
        self.gate = LambdaContainer(gate, local, self.gate_logs)
        self.containers.append(self.gate.start())
        self.enforcer = LambdaContainer(enforcer, local, self.enforcer_logs)
        self.containers.append(self.enforcer.start())
        if self.provisioned.meter is not None:
            self.meter = LambdaContainer(self.provisioned.meter, local, self.meter_logs)
            self.containers.append(self.meter.start())
        self.identities.register(gate.credentials.access_key_id, gate.credentials.arn)
        self._start_invocation_log()
        self.result.local_settings = (
            ("BEDROCK_ENDPOINT_URL", f"{self.stub.endpoint_url} (the Bedrock stand-in)"),
            ("AWS_ENDPOINT_URL_<SERVICE>", f"{self.moto.endpoint_url} (moto server)"),
            ("AWS credentials", "each function's execution role, assumed through STS on moto"),
            ("POWERTOOLS_TRACE_DISABLED", "true (no X-Ray daemon locally)"),
        )

    def _start_invocation_log(self) -> None:
        """The stand-in writes the invocation log Terraform configured, as the role Bedrock
        writes it with; the played subscription reads it for the meter."""
        logging, subscription = self.provisioned.invocation_logging, self.provisioned.meter_filter
        if logging is None or subscription is None or self.meter is None:
            return
        writer = self.identities.assume_role(
            self.client("sts"), logging.role_arn, "bedrock-invocation-logging"
        )
        self.invocation_log = InvocationLog.on_local_aws(
            self.moto.endpoint_url,
            logging.log_group_name,
            self.settings.region,
            self.identities,
            writer,
        )
        self.stub.set_invocation_log(self.invocation_log)
        self.subscription = PlayedSubscription(self.client("logs"), subscription)

    def deliver_log(self) -> int:
        """The subscription's part: the invocation records new since the last delivery, handed
        to the meter's container as CloudWatch Logs would hand them to the function; how many
        records."""
        if self.subscription is None:
            return 0
        deliveries = self.subscription.poll()
        for delivery in deliveries:
            self.meter_delivery(delivery)
        return sum(len(d.log_events) for d in deliveries)

    def meter_delivery(self, delivery: Delivery) -> dict[str, Any]:
        """One delivery through the meter's handler, recorded; the handler's summary."""
        assert self.meter is not None
        summary: dict[str, Any] = self.meter.invoke(delivery.event)
        self.result.meter_runs.append(
            MeterRun(
                records=len(delivery.log_events),
                verdicts=dict(summary.get("verdicts", {})),
                rejected=dict(summary.get("rejected", {})),
                locked=tuple(summary.get("locked", [])),
            )
        )
        return summary

    def direct_client(self, caller: CallerSpec, session: str) -> Any:
        """A bedrock-runtime client with a session of the caller's own role (STS AssumeRole
        with the operator's credentials), its key registered with the stand-in's log."""
        arn = self.provisioned.identities[caller.principal or ""]
        credentials = self.identities.assume_role(self.client("sts"), arn, session)
        boto = boto3.session.Session(region_name=self.settings.region, **credentials)
        return boto.client(
            "bedrock-runtime", endpoint_url=self.stub.endpoint_url, config=_DIRECT_CONFIG
        )

    def api_key_id(self, caller: CallerSpec) -> str | None:
        """The API key id of an API-key user (created on the local API Gateway)."""
        return self.provisioned.api_keys.get(caller.key) if caller.kind == "apikey" else None

    def principal(self, caller: CallerSpec) -> str:
        """The principal the gate keys the caller by."""
        if caller.principal is not None:
            return caller.principal
        return f"{API_KEY_PREFIX}{self.api_key_id(caller)}"

    def call(
        self, caller: CallerSpec, phase: str, model: str, prompt: str, max_tokens: int
    ) -> Answer:
        """One request through the gate's container."""
        self.requests += 1
        request = body(model, prompt, max_tokens, caller.application, caller.cost_center)
        gate_event = event(
            caller,
            request,
            account=self.settings.account,
            api_key_id=self.api_key_id(caller),
            session=f"{phase}-{self.requests}",
            request_id=f"demo-{self.requests:04d}",
        )
        result = answer(caller.name, phase, self.gate.invoke(gate_event))
        self.result.answers.append(result)
        self.reporter.advance(phase, result.status)
        return result

    def direct_aliases(self) -> tuple[str, ...]:
        """The model aliases that are not a tenant's profile."""
        tenant_aliases = {t.alias for t in self.settings.tenants}
        direct = tuple(a for a in self.settings.model_aliases if a not in tenant_aliases)
        return direct or self.settings.model_aliases

    def big_model(self) -> str:
        """The model the big requests use: the priciest allowed one."""
        return priciest_alias(self.gate.variables, self.direct_aliases())

    def usage(self, caller: CallerSpec) -> dict[str, Any]:
        """The caller's usage item of this month, as plain values."""
        key = keys.usage_key(self.principal(caller), self.period.month)
        item = self.dynamodb.get_item(
            TableName=self.provisioned.table_name,
            Key=keys.attribute_values(key),
            ConsistentRead=True,
        ).get("Item", {})
        return deserialize(item)

    def day_tokens(self, caller: CallerSpec) -> int:
        """Tokens charged to the caller today (settled and reserved)."""
        return int(self.usage(caller).get(self.period.attribute(Window.DAILY_TOKENS), 0))

    def attached(self, caller: CallerSpec) -> bool:
        """Whether IAM lists the deny policy on the caller's user or role."""
        arn = self.provisioned.identities.get(caller.principal or "", "")
        kind = "user" if ":user/" in arn else "role"
        if kind == "user":
            listed = self.iam.list_attached_user_policies(UserName=caller.name)
        else:
            listed = self.iam.list_attached_role_policies(RoleName=caller.name)
        return any(
            p["PolicyArn"] == self.provisioned.deny_policy_arn for p in listed["AttachedPolicies"]
        )

    def holders(self, caller: CallerSpec) -> tuple[str, ...]:
        """What holds the caller's lock in the ledger (empty: not locked)."""
        return tuple(sorted(self.ledger.holders(self.principal(caller))))
