"""The end of a run: each caller's day from the usage items, the lock history, the logs."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from decimal import Decimal

from bedrock_guard.core import keys
from bedrock_guard.core.accounting import Counters, Window, used_percent
from bedrock_guard.core.usage_item import DIRECT_TOKENS, DIRECT_USD
from bedrock_guard.demo.config import CallerSpec
from bedrock_guard.demo.result import CallerReport, LedgerEvent
from bedrock_guard.demo.world import World
from bedrock_guard.gate.usage_store import deserialize


def summarise(world: World) -> None:
    """Fill in the result's per-caller, ledger, log and after-apply sections."""
    world.deliver_log()  # the records of the last phases' calls reach the meter too
    stats = world.stub.stats()
    world.result.stub_calls_total = stats.total_calls
    world.result.stub_calls_ok = stats.total_ok
    world.result.records_written = stats.records_written
    world.result.record_failures = stats.record_failures
    world.result.ledger = ledger_events(world)
    world.result.callers = [caller_report(world, c) for c in world.cast.reported]
    logs = [(world.gate, world.gate_logs), (world.enforcer, world.enforcer_logs)]
    if world.meter is not None:
        logs.append((world.meter, world.meter_logs))
    world.result.log_levels = {c.spec.name: _levels(sink.lines()) for c, sink in logs}
    world.result.log_problems = {c.spec.name: _problems(sink.lines()) for c, sink in logs}


def caller_report(world: World, caller: CallerSpec) -> CallerReport:
    """One caller's answers, and its charges as the usage item holds them."""
    limits = world.settings.tiers[caller.tier]
    answers = [a for a in world.result.answers if a.caller == caller.name]
    item = world.usage(caller)
    numbers = {k: Decimal(v) for k, v in item.items() if isinstance(v, Decimal | int)}
    counters = Counters.from_numbers(numbers, world.period)
    locked = bool(world.holders(caller))
    state = "locked" if locked else "serving"
    if not locked and answers and answers[-1].status == 429:
        state = "daily budget exhausted"
    principal = world.principal(caller)
    direct_calls, direct_answered = _direct(world, caller)
    return CallerReport(
        name=caller.name,
        kind=_kind(world, caller),
        principal=principal,
        tier=caller.tier,
        tenant=caller.tenant,
        part=world.cast.part_of(caller),
        role=world.cast.role_of(caller),
        limits=limits,
        alarms=caller.alarms,
        alarm_thresholds=caller.alarm_thresholds,
        statuses=Counter(a.status for a in answers),
        tokens_answered=sum(a.tokens for a in answers),
        cost_answered=sum((a.cost for a in answers), Decimal(0)),
        day_tokens=int(counters.of(Window.DAILY_TOKENS)),
        day_usd=Decimal(counters.of(Window.DAILY_USD)),
        month_tokens=int(counters.of(Window.MONTHLY_TOKENS)),
        month_usd=Decimal(counters.of(Window.MONTHLY_USD)),
        used_percent=used_percent(limits, counters),
        state=state,
        direct_calls=direct_calls,
        direct_tokens_answered=direct_answered,
        direct_tokens=int(item.get(DIRECT_TOKENS, 0)),
        direct_usd=Decimal(item.get(DIRECT_USD, 0)),
        lock_actions=tuple(e.action for e in world.result.ledger if e.principal == principal),
    )


def _direct(world: World, caller: CallerSpec) -> tuple[int, int]:
    """The caller's calls straight to Bedrock, and the tokens their answers reported."""
    bypass, notebook = world.result.bypass, world.result.notebook
    if bypass is not None and caller == world.cast.subject:
        return bypass.calls, bypass.tokens
    if notebook is not None and caller == world.cast.notebook:
        return notebook.calls, notebook.tokens
    return 0, 0


def _kind(world: World, caller: CallerSpec) -> str:
    """``IAM user``, ``IAM role`` (as created in IAM) or ``API key``."""
    if caller.kind == "apikey":
        return "API key"
    arn = world.provisioned.identities.get(caller.principal or "", caller.arn or "")
    return "IAM user" if ":user/" in arn else "IAM role"


def ledger_events(world: World) -> list[LedgerEvent]:
    """Every history item of every caller's lock partition, oldest first."""
    events = []
    for caller in world.cast.reported:
        principal = world.principal(caller)
        response = world.dynamodb.query(
            TableName=world.provisioned.table_name,
            KeyConditionExpression="#pk = :pk AND begins_with(#sk, :event)",
            ExpressionAttributeNames={"#pk": keys.PK, "#sk": keys.SK},
            ExpressionAttributeValues={
                ":pk": {"S": keys.lock_partition(principal)},
                ":event": {"S": "EVENT#"},
            },
            ConsistentRead=True,
        )
        for raw in response["Items"]:
            item = deserialize(raw)
            events.append(
                LedgerEvent(
                    at=str(item.get("state_change_time") or item[keys.SK].split("#")[1]),
                    principal=principal,
                    action=str(item.get("action", "")),
                    alarm=str(item.get("alarm_name", "")),
                    reason=str(item.get("reason") or item.get("operator_reason") or ""),
                    holder=str(item.get("holder", "")),
                )
            )
    return sorted(events, key=lambda e: e.at)


def _levels(lines: list[str]) -> Counter[str]:
    levels: Counter[str] = Counter()
    for line in lines:
        if line.startswith("{") and '"level"' in line:
            with contextlib.suppress(ValueError):
                levels[str(json.loads(line).get("level", "?"))] += 1
    return levels


def _problems(lines: list[str]) -> tuple[str, ...]:
    """Each distinct ERROR and WARNING message, prefixed with its level (counted above)."""
    messages: dict[str, None] = {}
    for line in lines:
        if not line.startswith("{"):
            continue
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            level = str(record.get("level", ""))
            if level in ("ERROR", "WARNING"):
                messages[f"{level}: {record.get('message', '')}"] = None
    return tuple(messages)
