"""The lockout: CloudWatch's part and Lambda's part, played by the demo, and what IAM shows.

An alarm evaluation publishes CloudWatch's notification to the enforcer's topic
(:mod:`.cloudwatch_part`); what the topic delivered is handed to the enforcer's container as an
SNS event (:mod:`.lambda_part`); then the deny policy's attachment, the ledger's lock and the
gate's answer show whether the principal is locked, and later released.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from bedrock_guard.demo.cloudwatch_part import (
    BEDROCK_NAMESPACE,
    CloudWatchPart,
    Transition,
    bedrock_datapoints,
    emf_datapoints,
)
from bedrock_guard.demo.config import CallerSpec
from bedrock_guard.demo.lambda_part import delivered_sns_event
from bedrock_guard.demo.result import (
    CLOUDWATCH,
    GATE,
    IAM,
    LAMBDA,
    Answer,
    EnforcerOutcome,
    EnforcerRun,
    LockCheck,
    LockView,
    PolicyReport,
    number,
    short_principal,
)
from bedrock_guard.demo.traffic import BIG_MAX_TOKENS, PROMPTS
from bedrock_guard.demo.world import World

ALARM_EVALUATION_LAG_S: Final = 60  # CloudWatch evaluates once a minute
PROBE_MAX_TOKENS: Final = 200


def cloudwatch(world: World) -> CloudWatchPart:
    """CloudWatch's part, with the operator's clients on the local endpoint."""
    return CloudWatchPart(
        world.client("cloudwatch"),
        world.client("sns"),
        world.settings.region,
        world.settings.account,
    )


def ingest(world: World, part: CloudWatchPart, at: datetime, *, bedrock: bool) -> None:
    """New EMF records of the gate's log as metrics; with ``bedrock``, Bedrock's own metrics
    for everything the stand-in served."""
    lines = world.gate_logs.lines()
    fresh, world.emf_read = lines[world.emf_read :], len(lines)
    emf = sum(part.put(ns, points) for ns, points in emf_datapoints(fresh).items())
    text = f"CloudWatch Logs turns the gate's EMF log records into {emf:,} datapoints"
    if bedrock:
        stats = world.stub.stats()
        points = bedrock_datapoints(stats.usage, stats.calls, at)
        part.put(BEDROCK_NAMESPACE, points)
        text += (
            f"; Bedrock publishes its runtime metrics for what the stand-in served: "
            f"{len(points)} datapoints in {BEDROCK_NAMESPACE}"
        )
    world.say(CLOUDWATCH, text + " (PutMetricData)")


def evaluate_alarms(world: World, part: CloudWatchPart, at: datetime) -> list[Transition]:
    """Every alarm as of ``at``; the state changes, each notified to its topics."""
    transitions = part.evaluate(at)
    world.result.transitions.extend(transitions)
    if not transitions:
        world.say(CLOUDWATCH, f"evaluated {len(world.provisioned.alarms)} alarms: no change")
    for t in transitions:
        value = (
            f"{number(t.observed)} {t.comparison} {number(t.threshold)}"
            if t.observed is not None
            else "no datapoints"
        )
        world.say(
            CLOUDWATCH,
            f"alarm {t.alarm_name}: {t.old_state} -> {t.new_state} ({value}); published "
            f"its state-change notification to {', '.join(t.topics) or 'no topic'}",
        )
    return transitions


def deliver(world: World, state: str) -> EnforcerRun | None:
    """Lambda's part: the topic's deliveries, handed to the enforcer as an SNS event."""
    sqs = world.client("sqs")
    sns_event = delivered_sns_event(
        sqs, world.provisioned.queue_url, world.provisioned.subscription_arn
    )
    records = sns_event["Records"]
    if not records:
        world.say(LAMBDA, "no notification was delivered: the enforcer was not invoked")
        return None
    summary = world.enforcer.invoke(sns_event)
    outcomes = tuple(
        EnforcerOutcome(
            str(record.get("alarm_arn", "")),
            str(p["principal"]),
            str(p["outcome"]),
            str(p.get("detail", "")),
        )
        for record in summary["records"]
        for p in record.get("principals", [])
    )
    run = EnforcerRun(state, len(records), outcomes)
    world.result.enforcer_runs.append(run)
    done = ", ".join(_did(o) for o in outcomes) or "nothing"
    world.say(
        LAMBDA,
        f"SNS delivered {len(records)} notification(s) (read from the queue subscribed to "
        f"the topic) and Lambda hands them to {world.enforcer.spec.handler}: {done}",
    )
    return run


def _did(outcome: EnforcerOutcome) -> str:
    text = f"{short_principal(outcome.principal)} {outcome.outcome}"
    refused = outcome.outcome == "refused" and outcome.detail
    return f"{text} (reason: {outcome.detail})" if refused else text


def probe(world: World, caller: CallerSpec, phase: str, prompt: str) -> Answer:
    """A request of the kind the caller has been sending: big ones from a caller whose daily
    budget the story spent (they no longer fit it), small ones from everyone else."""
    if world.cast.spent(caller):
        return world.call(caller, phase, world.big_model(), prompt, BIG_MAX_TOKENS)
    model = world.cast.tenant.alias if caller == world.cast.subject else world.direct_aliases()[0]
    return world.call(caller, phase, model, prompt, PROBE_MAX_TOKENS)


def look(world: World, caller: CallerSpec, phase: str, prompt: str) -> LockView:
    """IAM, the ledger and the usage item of ``caller``, then the gate's answer to it."""
    attached, holders = world.attached(caller), world.holders(caller)
    day_tokens = world.day_tokens(caller)
    return LockView(attached, holders, probe(world, caller, phase, prompt), day_tokens)


def _left(world: World, caller: CallerSpec, view: LockView) -> str:
    """`` (max_tokens 4,000: more than the 1,623 tokens its day has left)`` when so."""
    limit = world.settings.tiers[caller.tier].daily_tokens
    if not world.cast.spent(caller) or limit is None or limit - view.day_tokens >= BIG_MAX_TOKENS:
        return ""
    return (
        f" (max_tokens {BIG_MAX_TOKENS:,}: more than the {limit - view.day_tokens:,} tokens "
        "its day has left)"
    )


def say_locked(
    world: World, caller: CallerSpec, identity: str, view: LockView, holders: list[str]
) -> None:
    """What IAM and the ledger show of a lock, then the gate's answer to the locked caller."""
    world.say(
        IAM,
        f"{world.provisioned.deny_policy_name} "
        f"{'attached to' if view.attached else 'NOT attached to'} {identity}; "
        f"ledger lock held by {', '.join(holders) or 'nothing'}",
    )
    answer = view.answer
    world.say(
        GATE,
        f"{caller.name} -> {answer.status} {answer.code or ''}: {answer.message}"
        + _left(world, caller, view),
    )


def alarm(world: World) -> datetime:
    """Metrics in, alarms evaluated, notifications delivered, each lock checked; when it was."""
    part = cloudwatch(world)
    at = datetime.now(UTC)
    ingest(world, part, at, bedrock=True)
    evaluate_alarms(world, part, at)
    run = deliver(world, "ALARM")
    locked = {o.principal: o for o in run.outcomes if o.outcome == "locked"} if run else {}
    names = {a.arn: a.name for a in world.provisioned.alarms}
    for caller in world.cast.everyone:
        principal = world.principal(caller)
        if principal not in locked:
            continue
        arns = tuple(
            sorted({o.alarm_arn for o in run.outcomes if o.principal == principal} if run else ())
        )
        identity = world.provisioned.identities.get(principal, caller.name)
        view = look(world, caller, "locked", PROMPTS[0])
        say_locked(world, caller, identity, view, [names.get(h, h) for h in view.holders])
        world.result.locks.append(
            LockCheck(
                caller=caller.name,
                principal=principal,
                identity=identity,
                alarms=tuple(names.get(a, a) for a in arns),
                alarm_arns=arns,
                while_locked=view,
            )
        )
    policy_report(world)
    return at


def policy_report(world: World) -> None:
    """The deny policy's document as IAM stores it, and whom it was seen attached to."""
    arn = world.provisioned.deny_policy_arn
    policy = world.iam.get_policy(PolicyArn=arn)["Policy"]
    version = world.iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])[
        "PolicyVersion"
    ]["Document"]
    document = json.loads(version) if isinstance(version, str) else version
    statements = tuple(
        (
            s["Effect"],
            tuple(as_list(s.get("Action", []))),
            tuple(as_list(s.get("Resource", []))),
        )
        for s in document["Statement"]
    )
    attached = tuple(lock.identity for lock in world.result.locks if lock.while_locked.attached)
    world.result.policy = PolicyReport(policy["PolicyName"], arn, attached, statements)


def release(world: World, alarm_at: datetime) -> None:
    """The alarms one period later (no new usage: OK), the releases, and what each caller is
    answered now."""
    fired = [t for t in world.result.transitions if t.new_state == "ALARM"]
    periods = [
        a.period for a in world.provisioned.alarms if a.name in {t.alarm_name for t in fired}
    ]
    delta = timedelta(seconds=max(periods, default=300) + ALARM_EVALUATION_LAG_S)
    at = alarm_at + delta
    part = cloudwatch(world)
    world.say(
        CLOUDWATCH,
        f"the alarms are evaluated as of one alarm period later "
        f"(+{int(delta.total_seconds()):,} s; the demo does not wait): "
        "no tokens on the profile and no caller requests in the periods evaluated",
    )
    ingest(world, part, at, bedrock=False)
    evaluate_alarms(world, part, at)
    deliver(world, "OK")
    callers = {world.principal(c): c for c in world.cast.everyone}
    names = {a.arn: a.name for a in world.provisioned.alarms}
    for index, lock in enumerate(world.result.locks):
        caller = callers[lock.principal]
        view = look(world, caller, "released", PROMPTS[1])
        held = ", ".join(names.get(h, h) for h in view.holders)
        world.say(
            IAM,
            f"{world.provisioned.deny_policy_name} "
            f"{'still attached to' if view.attached else 'detached from'} {lock.identity}; "
            f"ledger lock {'held by ' + held if held else 'released'}",
        )
        answer = view.answer
        text = f"{caller.name} -> {answer.status} {answer.code or ''}".rstrip()
        if answer.status == 429:
            text += f": {answer.message} (released, but unlocking does not refill a budget)"
        world.say(GATE, text)
        world.result.locks[index] = dataclasses.replace(lock, after_ok=view)


def as_list(value: Any) -> list[Any]:
    """A policy element read back as a list (IAM writes one value as a string)."""
    return value if isinstance(value, list) else [value]
