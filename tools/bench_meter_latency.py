"""End-to-end lock latency of the usage meter in the local pipeline: from the moment the record
that took a direct caller over its daily limit reached the invocation log group to the moment
the deny policy was attached to it.

On a fresh moto server and Bedrock stand-in (no Terraform: the table, the deny policy and the
log group are created directly, as the meter tests do), each run creates a role, assumes it,
and calls Converse on the stand-in with its credentials, one call after another, until its day
passes the limit (:func:`bedrock_guard.local.runaway.run_past_limit`); the stand-in takes
``answer_ms`` to answer each call (the demo's notebook's pace), so records reach the group one
by one. The stand-in writes each call's invocation record (PutLogEvents) before answering; the
played subscription polls the group every ``poll_interval_s`` and hands each delivery to a warm
container of the real meter
handler (``bedrock_guard.usage_meter.handler``, imported under its environment with its own
role's credentials). A run's latency ends when the meter invocation that attached the deny
policy returned (IAM is checked afterwards). Each run starts at a random point of the polling
cycle (seeded), so the latency covers the wait for the next poll as CloudWatch's delivery
delay would, plus reading the group, building the event and the meter's work on the delivery
(the records before the crossing one in it included). moto copies a whole table for every
DynamoDB transaction, so the meter's part grows with the table: the figures are for a table
holding only the bench's own items (a few hundred by the last run).

``from bench_meter_latency import lock_latency`` (with ``tools/`` on ``sys.path``, as
``tools/bench.py`` has it) or ``python tools/bench_meter_latency.py [--runs N]``.
Figures, not verdicts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any, Final

# Before anything imports boto3 or Powertools: fake credentials, quiet logs, no tracing.
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
}.items():
    os.environ.setdefault(_name, _value)

import boto3  # noqa: E402  (after the environment)

from bedrock_guard.demo.deploy import Credentials, FunctionSpec  # noqa: E402
from bedrock_guard.demo.lambda_part import LambdaContainer, LogSink  # noqa: E402
from bedrock_guard.local.bedrock_stub import BedrockStub  # noqa: E402
from bedrock_guard.local.clients import DEFAULT_REGION, FAKE_CREDENTIALS  # noqa: E402
from bedrock_guard.local.converse_replies import Reply  # noqa: E402
from bedrock_guard.local.invocation_log import InvocationLog, KeyRegistry  # noqa: E402
from bedrock_guard.local.log_subscription import (  # noqa: E402
    Delivery,
    PlayedSubscription,
    SubscriptionFilter,
    lambda_event,
)
from bedrock_guard.local.moto_server import MotoServer  # noqa: E402
from bedrock_guard.local.runaway import Crossing, run_past_limit, start_delays  # noqa: E402
from bedrock_guard.local.tables import create_guard_table  # noqa: E402

ACCOUNT: Final = "123456789012"  # moto's default account, where the fake credentials act
TABLE: Final = "bench-meter-latency"
LOG_GROUP: Final = "/aws/bedrock/bench/model-invocations"
FILTER_PATTERN: Final = '{ $.schemaType = "ModelInvocationLog" }'
METER: Final = "bench-usage-meter"
MODEL_ID: Final = "anthropic.claude-3-haiku-20240307-v1:0"
TIER: Final = "bench"
RUNS: Final = 20
POLL_INTERVAL_S: Final = 0.25
ANSWER_MS: Final = 100
DAILY_TOKENS: Final = 20_000
OUTPUT_TOKENS: Final = 4_000  # per call: the fifth call of a run crosses the daily limit
TIMEOUT_S: Final = 60.0
PROMPT: Final = "Summarise the experiment results in one table, then explain each column."
_TRUST: Final = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
_DENY: Final = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "bedrock:InvokeModel", "Resource": "*"}],
    }
)


@dataclass(frozen=True, slots=True)
class LockLatency:
    """The figures (seconds) and what they were measured with."""

    runs: int
    p50_s: float
    p95_s: float
    min_s: float
    max_s: float
    delivery_p50_s: float  # of which: until the played subscription had read the record
    meter_p50_s: float  # of which: the meter's invocation that locked
    poll_interval_s: float
    answer_ms: int  # how long the stand-in took to answer each call
    daily_tokens: int
    calls_per_run: float  # mean calls until the limit was passed
    records_per_delivery: float  # mean log events per subscription delivery
    samples_s: tuple[float, ...]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Run:
    crossing: Crossing
    calls: int
    deliveries: int
    records: int


def percentile(samples: list[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (the inclusive method)."""
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0]
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class _Account:
    """The moto account the runs share: table, deny policy, log group, the meter container."""

    def __init__(self, moto: MotoServer, stub: BedrockStub, poll_interval_s: float) -> None:
        self.moto, self.stub = moto, stub
        self.iam, self.sts = moto.client("iam"), moto.client("sts")
        create_guard_table(moto.client("dynamodb"), TABLE)
        self.policy_arn = self.iam.create_policy(PolicyName="BenchDeny", PolicyDocument=_DENY)[
            "Policy"
        ]["Arn"]
        logs = moto.client("logs")
        logs.create_log_group(logGroupName=LOG_GROUP)
        self.registry = KeyRegistry()
        self.log = InvocationLog.on_local_aws(
            moto.endpoint_url, LOG_GROUP, DEFAULT_REGION, self.registry, FAKE_CREDENTIALS
        )
        stub.set_invocation_log(self.log)
        function_arn = f"arn:aws:lambda:{DEFAULT_REGION}:{ACCOUNT}:function:{METER}"
        self.played = PlayedSubscription(
            logs, SubscriptionFilter(METER, LOG_GROUP, FILTER_PATTERN, function_arn, ACCOUNT)
        )
        self.container = self._meter(function_arn).start()
        self.poll_interval_s = poll_interval_s

    def _meter(self, function_arn: str) -> LambdaContainer:
        role_arn = self.iam.create_role(RoleName=METER, AssumeRolePolicyDocument=_TRUST)["Role"][
            "Arn"
        ]
        assumed = self.sts.assume_role(RoleArn=role_arn, RoleSessionName=METER)
        raw = assumed["Credentials"]
        environment = {
            "USAGE_TABLE_NAME": TABLE,
            "LEDGER_TABLE_NAME": TABLE,
            "TIER_LIMITS_JSON": json.dumps({TIER: {"daily_tokens": DAILY_TOKENS}}),
            "DEFAULT_TIER": TIER,
            "MODEL_ALIASES_JSON": json.dumps({"claude-3-haiku": MODEL_ID}),
            "DENY_POLICY_ARN": self.policy_arn,
            "PROTECTED_PRINCIPALS_JSON": "[]",
            "ALLOWED_PATHS_JSON": '["/"]',
            "DRY_RUN": "false",
            "POWERTOOLS_SERVICE_NAME": METER,
            "POWERTOOLS_METRICS_NAMESPACE": "GenAIRateLimiting",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
        spec = FunctionSpec(
            name=METER,
            handler="bedrock_guard.usage_meter.handler",
            environment=environment,
            timeout_seconds=60,
            memory_mb=256,
            arn=function_arn,
            role_arn=role_arn,
            credentials=Credentials(
                raw["AccessKeyId"],
                raw["SecretAccessKey"],
                raw["SessionToken"],
                assumed["AssumedRoleUser"]["Arn"],
            ),
        )
        local = {**self.moto.environ(), "POWERTOOLS_TRACE_DISABLED": "true"}
        return LambdaContainer(spec, local, LogSink())

    def meter(self, delivery: Delivery) -> dict[str, Any]:
        summary: dict[str, Any] = self.container.invoke(delivery.event)
        return summary

    def warm(self) -> None:
        """One empty delivery first: the container builds its meter (clients, configuration)
        on its first invocation, and the figure is that of a container that has run before."""
        empty = lambda_event(self.played.subscription, "warm-up", [])
        self.container.invoke(empty)

    def run(self, index: int, start_delay_s: float) -> Run:
        """One caller past its limit."""
        name = f"bench-notebook-{index}"
        role_arn = self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=_TRUST)["Role"][
            "Arn"
        ]
        credentials = self.registry.assume_role(self.sts, role_arn, f"{name}-session")
        client = boto3.session.Session(region_name=DEFAULT_REGION, **credentials).client(
            "bedrock-runtime", endpoint_url=self.stub.endpoint_url
        )

        def converse(_: int) -> int:
            answer = client.converse(
                modelId=MODEL_ID,
                messages=[{"role": "user", "content": [{"text": PROMPT}]}],
                inferenceConfig={"maxTokens": OUTPUT_TOKENS},
            )
            return int(answer["usage"]["totalTokens"])

        outcome = run_past_limit(
            converse=converse,
            principal=role_arn,
            limit_tokens=DAILY_TOKENS,
            used_before=0,
            played=self.played,
            meter=self.meter,
            log=self.log,
            interval_s=self.poll_interval_s,
            timeout_s=TIMEOUT_S,
            start_delay_s=start_delay_s,
        )
        attached = self.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        if outcome.crossing is None or self.policy_arn not in {p["PolicyArn"] for p in attached}:
            raise RuntimeError(f"run {index}: {name} was not locked ({outcome.summaries})")
        return Run(outcome.crossing, outcome.calls, outcome.deliveries, outcome.records_delivered)


def lock_latency(
    runs: int = RUNS, poll_interval_s: float = POLL_INTERVAL_S, answer_ms: int = ANSWER_MS
) -> LockLatency:
    """Median and 95th percentile of the lock latency over ``runs`` callers."""
    reply = Reply(output_tokens=OUTPUT_TOKENS, latency_ms=answer_ms)
    with MotoServer(region_name=DEFAULT_REGION) as moto, BedrockStub(default=reply) as stub:
        account = _Account(moto, stub, poll_interval_s)
        try:
            account.warm()
            measured = [
                account.run(index, delay)
                for index, delay in enumerate(start_delays(runs, poll_interval_s))
            ]
        finally:
            account.container.stop()
            stub.set_invocation_log(None)
    samples = [run.crossing.latency_s for run in measured]
    return LockLatency(
        runs=runs,
        p50_s=round(statistics.median(samples), 3),
        p95_s=round(percentile(samples, 0.95), 3),
        min_s=round(min(samples), 3),
        max_s=round(max(samples), 3),
        delivery_p50_s=round(statistics.median(r.crossing.delivery_s for r in measured), 3),
        meter_p50_s=round(
            statistics.median(r.crossing.locked_at - r.crossing.read_at for r in measured), 3
        ),
        poll_interval_s=poll_interval_s,
        answer_ms=answer_ms,
        daily_tokens=DAILY_TOKENS,
        calls_per_run=statistics.mean(run.calls for run in measured),
        records_per_delivery=round(
            sum(run.records for run in measured) / max(1, sum(r.deliveries for r in measured)), 2
        ),
        samples_s=tuple(round(s, 3) for s in samples),
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--poll-interval", type=float, default=POLL_INTERVAL_S)
    parser.add_argument("--answer-ms", type=int, default=ANSWER_MS)
    arguments = parser.parse_args()
    started = time.perf_counter()
    figures = lock_latency(arguments.runs, arguments.poll_interval, arguments.answer_ms)
    print(
        f"usage meter lock latency, local pipeline ({figures.runs} runs, subscription polled "
        f"every {figures.poll_interval_s} s, answers in {figures.answer_ms} ms): p50 "
        f"{figures.p50_s:.3f} s, p95 "
        f"{figures.p95_s:.3f} s (min {figures.min_s:.3f}, max {figures.max_s:.3f}; p50 "
        f"{figures.delivery_p50_s:.3f} s to delivery, {figures.meter_p50_s:.3f} s in the meter); "
        f"{figures.calls_per_run:g} calls per run, {figures.records_per_delivery:g} records "
        f"per delivery; {time.perf_counter() - started:.1f} s"
    )
    print(json.dumps(figures.as_dict(), indent=2))
