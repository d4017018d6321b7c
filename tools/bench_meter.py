"""The usage meter's throughput: log records metered per second per invocation, and what each
record costs in DynamoDB.

The real handler (``bedrock_guard.usage_meter.handler``) meters subscription deliveries of 100
and 1,000 log events, in process, against moto behind the rules proxy (a transaction holds its
items while it commits; units are billed by DynamoDB's item-size rules). A delivery mixes the
recorded formats of ``tests/events/invocation_records``: direct calls of 20 principals in five
shapes (Converse, ConverseStream with prompt caching on a global profile, InvokeModel, an
application inference profile, the priority tier), the gate's own calls naming holds it had
settled, and throttled calls Bedrock logged without tokens (dropped). Every direct caller stays
under its limits: this is the steady state, not a lockout.

The first delivery meets a cold container (the meter is built: configuration, clients), the
next ones the warm container. The machine is shared and noisy, so each rate is also given as a
ratio to a baseline measured in the same run on the same delivery: the parse and one PutItem
per record through the same proxy, the least a meter that writes every record would do. Warm
runs and the baseline are the best of two: noise on a shared machine only ever slows a run.

moto backs up every table a TransactWriteItems touches, by a deep copy of the whole table,
before applying it. That copy grows with every ``SEEN#`` marker the meter writes and would make
the figure moto's (quadratic in the table's size; DynamoDB's transactions cost the same whatever
the table holds), so the bench turns it off (:func:`moto_table_backups_off`) and voids the run
if any transaction fails, since moto could not roll it back.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Final

from moto.dynamodb import models as moto_dynamodb_models
from moto.dynamodb.models.table import Table

from bedrock_guard import usage_meter
from bedrock_guard.core import keys
from bedrock_guard.local.dynamodb_rules import LocalDynamoDB, local_dynamodb
from bedrock_guard.local.lambda_events import DEFAULT_ACCOUNT, LocalLambdaContext
from bedrock_guard.local.tables import create_guard_table
from bedrock_guard.meter.records import FAILED_INVOCATION, parse_subscription_event

REPO: Final = Path(__file__).resolve().parents[1]
# The recorded invocation records and their encoding live with the meter's tests: one source of
# the real format for the tests and the bench.
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))
from tests.meter.events import record, subscription_event  # noqa: E402

TABLE: Final = "bench-meter"
REGION: Final = "us-east-1"
DELIVERY_SIZES: Final = (100, 1000)
BEST_OF: Final = 2
PARSE_REPEATS: Final = 5
PRINCIPALS: Final = 20
GATE_ROLE: Final = f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/bedrock-cost-guard-dev-gate"
ACME_PROFILE: Final = (
    f"arn:aws:bedrock:{REGION}:{DEFAULT_ACCOUNT}:application-inference-profile/a1b2c3d4e5f6"
)
DIRECT_SHAPES: Final = (
    "converse",
    "converse_stream_cache_global",
    "invoke_model_metadata_only",
    "invoke_stream_application_profile",
    "converse_priority_tier",
)
# Of every 20 log events: 13 direct calls, 6 of the gate's calls, 1 throttled call.
MIX: Final = ("direct",) * 13 + ("gate",) * 6 + ("throttled",)


@dataclass(frozen=True)
class Delivery:
    """One subscription event and what its log events are."""

    event: dict[str, Any]
    kinds: Counter[str]

    @property
    def log_events(self) -> int:
        return sum(self.kinds.values())


@dataclass(frozen=True)
class Run:
    """One timed pass over a delivery, and the capacity it consumed."""

    log_events: int
    seconds: float
    write_units: float = 0.0
    read_units: float = 0.0

    @property
    def rate(self) -> float:
        return self.log_events / self.seconds


class Deliveries:
    """Deliveries whose request ids never repeat, so that every direct call counts."""

    def __init__(self) -> None:
        self.serial = 0
        self.templates = {name: record(name) for name in (*DIRECT_SHAPES, "converse_throttled")}

    def next(self, size: int) -> Delivery:
        messages, kinds = [], Counter[str]()
        for index in range(size):
            kind = MIX[index % len(MIX)]
            messages.append(self._record(kind, kinds["direct"]))
            kinds[kind] += 1
        return Delivery(subscription_event(messages), kinds)

    def _record(self, kind: str, direct_index: int) -> dict[str, Any]:
        self.serial += 1
        if kind == "gate":  # the gate's role, naming a hold the gate settled itself
            body = copy.deepcopy(self.templates["converse"])
            body["requestMetadata"]["bedrockGuardHoldId"] = f"h-bench-{self.serial}"
        elif kind == "throttled":
            body = copy.deepcopy(self.templates["converse_throttled"])
        else:
            # Every principal in turn, each through every shape over the delivery.
            principal = direct_index % PRINCIPALS
            shape = (direct_index + direct_index // PRINCIPALS) % len(DIRECT_SHAPES)
            body = copy.deepcopy(self.templates[DIRECT_SHAPES[shape]])
            if body.get("requestMetadata", {}).get("bedrockGuardHoldId"):
                del body["requestMetadata"]  # a direct call names no hold
            body["identity"] = {"arn": _principal(principal, self.serial)}
        body["requestId"] = f"bench-{self.serial:09d}"
        return body


def _principal(number: int, serial: int) -> str:
    """Half roles (each record its own session), half IAM users."""
    if number % 2:
        return f"arn:aws:iam::{DEFAULT_ACCOUNT}:user/developer-{number}"
    return f"arn:aws:sts::{DEFAULT_ACCOUNT}:assumed-role/notebook-{number}/session-{serial}"


def meter_environment() -> dict[str, str]:
    """The meter's configuration: limits no direct caller reaches, the gate's role, prices for
    the application inference profile."""
    return {
        "USAGE_TABLE_NAME": TABLE,
        "LEDGER_TABLE_NAME": TABLE,
        "TIER_LIMITS_JSON": json.dumps({"bench": {"daily_tokens": 10**12, "monthly_usd": "1e9"}}),
        "DEFAULT_TIER": "bench",
        "MODEL_ALIASES_JSON": json.dumps(
            {"acme": {"target": ACME_PROFILE, "pricing_model": "amazon.nova-lite-v1:0"}}
        ),
        "DENY_POLICY_ARN": f"arn:aws:iam::{DEFAULT_ACCOUNT}:policy/bench-meter-deny",
        "PROTECTED_PRINCIPALS_JSON": "[]",
        "GATE_ROLE_ARN": GATE_ROLE,
    }


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` with ``values`` set, restored afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def quiet_meter() -> Iterator[None]:
    """The meter's warnings (records dropped) and EMF records off the bench's output."""
    level = usage_meter.logger.log_level
    usage_meter.logger.setLevel(logging.ERROR)
    try:
        with redirect_stdout(io.StringIO()):
            yield
    finally:
        usage_meter.logger.setLevel(level)


@contextmanager
def moto_table_backups_off() -> Iterator[None]:
    """moto's whole-table backup before each TransactWriteItems made a no-op (see the module's
    docstring); every other deep copy moto makes is left as it is."""

    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    saved = moto_dynamodb_models.copy
    moto_dynamodb_models.copy = SimpleNamespace(deepcopy=deepcopy)  # type: ignore[assignment]
    try:
        yield
    finally:
        moto_dynamodb_models.copy = saved


def meter_run(dynamodb: LocalDynamoDB, delivery: Delivery) -> Run:
    """The handler on one delivery, checked: every direct call counted (so no transaction
    failed), every gate call found settled, every throttled call dropped."""
    dynamodb.rules.reset_capacity()
    started = time.perf_counter()
    summary = usage_meter.handler(delivery.event, LocalLambdaContext())
    seconds = time.perf_counter() - started
    expected = (
        {"counted": delivery.kinds["direct"], "gate_settled": delivery.kinds["gate"]},
        {FAILED_INVOCATION: delivery.kinds["throttled"]},
    )
    if (summary["verdicts"], summary["rejected"]) != expected:
        raise RuntimeError(f"the meter did not meter the delivery as built: {summary}")
    total = dynamodb.capacity()["total"]
    return Run(delivery.log_events, seconds, total["write"], total["read"])


def put_item_run(dynamodb: LocalDynamoDB, delivery: Delivery) -> Run:
    """Baseline: the parse, then one PutItem per record, through the same proxy."""
    client = dynamodb.client("dynamodb")
    dynamodb.rules.reset_capacity()
    started = time.perf_counter()
    batch = parse_subscription_event(delivery.event, account_id=DEFAULT_ACCOUNT, region=REGION)
    for parsed in batch.records:
        client.put_item(
            TableName=TABLE,
            Item={
                keys.PK: {"S": f"BENCH#{parsed.request_id}"},
                keys.SK: {"S": "PUT"},
                "tokens": {"N": str(parsed.input_tokens + parsed.output_tokens)},
            },
        )
    seconds = time.perf_counter() - started
    total = dynamodb.capacity()["total"]
    return Run(delivery.log_events, seconds, total["write"], total["read"])


def parse_run(delivery: Delivery) -> Run:
    """Baseline: the parse alone (median of a few passes)."""
    timings = []
    for _ in range(PARSE_REPEATS):
        started = time.perf_counter()
        parse_subscription_event(delivery.event, account_id=DEFAULT_ACCOUNT, region=REGION)
        timings.append(time.perf_counter() - started)
    return Run(delivery.log_events, statistics.median(timings))


def _fresh_table(dynamodb: LocalDynamoDB) -> None:
    client = dynamodb.client("dynamodb")
    if TABLE in client.list_tables()["TableNames"]:
        client.delete_table(TableName=TABLE)
    create_guard_table(client, TABLE)


def _best(runs: Iterable[Run]) -> Run:
    return min(runs, key=lambda run: run.seconds)


def _row(size: int, run_name: str, run: Run, baseline: Run) -> dict[str, Any]:
    return {
        "records_per_delivery": size,
        "run": run_name,
        "records_per_second": round(run.rate, 1),
        "ms_per_invocation": round(run.seconds * 1000, 1),
        "write_units_per_record": round(run.write_units / run.log_events, 2),
        "read_units_per_record": round(run.read_units / run.log_events, 2),
        "vs_put_item": round(run.rate / baseline.rate, 2),
    }


def meter_throughput(dynamodb: LocalDynamoDB | None = None) -> list[dict[str, Any]]:
    """Per delivery size: the meter in a cold and a warm container, and the two baselines.

    Uses ``dynamodb`` (moto behind the rules proxy) when given, else starts its own.
    """
    if dynamodb is None:
        with local_dynamodb() as own:
            return meter_throughput(own)
    deliveries = Deliveries()
    rows = []
    with (
        environment(dynamodb.environ() | meter_environment()),
        quiet_meter(),
        moto_table_backups_off(),
    ):
        _fresh_table(dynamodb)
        for size in DELIVERY_SIZES:
            usage_meter.set_meter(None)  # a cold container: the first delivery builds the meter
            try:
                cold = meter_run(dynamodb, deliveries.next(size))
                warm = _best(meter_run(dynamodb, deliveries.next(size)) for _ in range(BEST_OF))
            finally:
                usage_meter.set_meter(None)
            sample = deliveries.next(size)
            baseline = _best(put_item_run(dynamodb, sample) for _ in range(BEST_OF))
            rows += [
                _row(size, "meter, cold container", cold, baseline),
                _row(size, "meter, warm container", warm, baseline),
                _row(size, "baseline: parse + 1 PutItem per record", baseline, baseline),
                _row(size, "baseline: parse only", parse_run(sample), baseline),
            ]
    return rows


def mix() -> str:
    """The delivery's composition, for the report's heading."""
    shares = Counter(MIX)
    return (
        f"of every {len(MIX)} log events {shares['direct']} direct calls of {PRINCIPALS} "
        f"principals, {shares['gate']} gate calls, {shares['throttled']} throttled"
    )


if __name__ == "__main__":
    print(json.dumps(meter_throughput(), indent=2))
