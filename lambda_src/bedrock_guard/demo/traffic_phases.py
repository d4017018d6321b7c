"""The traffic: steady requests, a caller running out of budget, a burst, and direct calls.

Every request through the gate goes to the gate's container (the real handler); the burst goes
to several containers at once (:mod:`bedrock_guard.local.burst`); the direct calls go straight
to the Bedrock stand-in with the caller's own credentials, as a caller with its own Bedrock
permissions could make them, bypassing the gate. After each phase the invocation records of
its Bedrock calls are delivered to the usage meter (the subscription's part, played).
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from typing import Final

from bedrock_guard.cli.formats import usd
from bedrock_guard.core.accounting import Window
from bedrock_guard.core.usage_item import DIRECT_TOKENS, DIRECT_USD, HOLDS
from bedrock_guard.demo.result import (
    BEDROCK,
    GATE,
    LAMBDA,
    Answer,
    BurstReport,
    BypassReport,
    ExhaustReport,
)
from bedrock_guard.demo.traffic import (
    BIG_MAX_TOKENS,
    DIRECT_MAX_TOKENS,
    PROMPTS,
    TENANT_ALARM_METRIC,
    answer,
    body,
    event,
    requests_to_exhaust,
)
from bedrock_guard.demo.world import World
from bedrock_guard.local.burst import BurstPlan, run_burst
from bedrock_guard.local.converse_replies import Reply

REFUSALS_SHOWN: Final = 3
BURST_LATENCY_MS: Final = 40  # the stand-in answers a little later, so requests overlap


def steady(world: World) -> None:
    """A few requests from every caller, over the allowed models (tenant profiles included)."""
    callers = world.cast.everyone
    direct = world.direct_aliases()
    total = world.sizes.steady_per_caller * len(callers)
    with world.phase("steady", f"steady traffic, {len(callers)} callers", total):
        for i in range(world.sizes.steady_per_caller):
            for n, caller in enumerate(callers):
                model = direct[(i + n) % len(direct)]
                if caller == world.cast.subject and i % 2 == 0:
                    model = world.cast.tenant.alias
                prompt = PROMPTS[(i + n) % len(PROMPTS)]
                world.call(caller, "steady", model, prompt, 150 + 50 * (i % 4))
    answers = [a for a in world.result.answers if a.phase == "steady"]
    world.say(
        GATE,
        f"steady traffic: {len(answers)} requests from "
        f"{', '.join(c.name for c in callers)}: {_statuses(answers)}",
    )
    world.deliver_log()


def exhaust(world: World) -> None:
    """Big requests from one caller until the gate refuses it a few times (429)."""
    caller = world.cast.exhausted
    limit = world.settings.tiers[caller.tier].daily_tokens
    assert limit is not None
    model = world.big_model()
    stub_before = world.stub.stats().total_calls
    expected = requests_to_exhaust(limit, world.day_tokens(caller), BIG_MAX_TOKENS)
    title = f"{caller.name} uses up its day ({limit:,} tokens)"
    answers: list[Answer] = []
    with world.phase("exhaust", title, expected + REFUSALS_SHOWN):
        for i in range(expected + REFUSALS_SHOWN + 5):
            prompt = PROMPTS[i % len(PROMPTS)]
            answers.append(world.call(caller, "exhaust", model, prompt, BIG_MAX_TOKENS))
            if sum(a.status == 429 for a in answers) >= REFUSALS_SHOWN:
                break
    refused = [a for a in answers if a.status == 429]
    world.result.exhaust = ExhaustReport(
        caller=caller.name,
        window="daily tokens",
        limit=limit,
        granted=sum(a.status == 200 for a in answers),
        refused=len(refused),
        refusal_codes=tuple(a.code or "" for a in refused),
        first_refusal=refused[0].message if refused else "",
        stub_calls=world.stub.stats().total_calls - stub_before,
        charged=world.day_tokens(caller),
    )
    world.say(
        GATE,
        f"{caller.name} ({model}, max_tokens {BIG_MAX_TOKENS}): {_statuses(answers)}; "
        f"429 says: {refused[0].message if refused else '-'}",
    )
    world.deliver_log()


def burst(world: World) -> None:
    """More big requests than the budget holds, from several containers at once."""
    caller = world.cast.burst
    limit = world.settings.tiers[caller.tier].daily_tokens
    assert limit is not None
    workers = world.sizes.burst_workers
    before = world.day_tokens(caller)
    needed = requests_to_exhaust(limit, before, BIG_MAX_TOKENS)
    count = max(world.sizes.burst_min_requests, math.ceil(needed * 1.25))
    count = math.ceil(count / workers) * workers
    model = world.big_model()
    events = [
        event(
            caller,
            body(
                model,
                PROMPTS[i % len(PROMPTS)],
                BIG_MAX_TOKENS,
                caller.application,
                caller.cost_center,
            ),
            account=world.settings.account,
            api_key_id=world.api_key_id(caller),
            session=f"burst-{i}",
            request_id=f"burst-{i:03d}",
        )
        for i in range(count)
    ]
    context = dataclasses.asdict(world.gate.context())
    context.pop("aws_request_id")
    plan = BurstPlan(world.gate.variables, world.gate.spec.handler, context, events, workers)
    stub_before = world.stub.stats().total_calls
    world.stub.set_reply(Reply(output_tokens=DIRECT_MAX_TOKENS, latency_ms=BURST_LATENCY_MS))
    title = f"burst from {caller.name}, {workers} containers"
    try:
        with world.phase("burst", title, count):
            outcome = run_burst(
                plan, lambda _, r: world.reporter.advance("burst", int(r["statusCode"]))
            )
    finally:
        world.stub.set_reply(None)
    world.gate_logs.extend(outcome.logs)
    answers = [answer(caller.name, "burst", outcome.responses[i]) for i in range(count)]
    world.result.answers.extend(answers)
    item = world.usage(caller)
    after = int(item.get(world.period.attribute(Window.DAILY_TOKENS), 0))
    statuses = Counter(a.status for a in answers)
    world.result.burst = BurstReport(
        caller=caller.name,
        requests=count,
        processes=workers,
        granted=statuses.get(200, 0),
        refused=statuses.get(429, 0),
        other=tuple(sorted(s for s in statuses if s not in (200, 429))),
        window="daily tokens",
        limit=limit,
        charged=after,
        tokens_answered=sum(a.tokens for a in answers if a.status == 200),
        charged_tokens_delta=after - before,
        stub_calls=world.stub.stats().total_calls - stub_before,
        unsettled=len(item.get(HOLDS, {})),
    )
    world.say(
        GATE,
        f"burst from {caller.name}: {count} requests in {workers} containers: "
        f"{_statuses(answers)}; charged {after:,} of {limit:,} daily tokens",
    )
    world.deliver_log()


def bypass(world: World) -> None:
    """The tenant principal calls its profile directly, with its own credentials, until
    Bedrock's metric would alarm."""
    subject, tenant = world.cast.subject, world.cast.tenant
    threshold = float(tenant.alarm_thresholds[TENANT_ALARM_METRIC])
    profile_arn = world.provisioned.profiles[tenant.name]["arn"]
    served = world.stub.stats().usage.get(profile_arn, {}).get("outputTokens", 0)
    calls = math.ceil(max(0.0, threshold - served) / DIRECT_MAX_TOKENS)
    client = world.direct_client(subject, f"{subject.name}-batch")
    output = total = 0
    with world.phase("bypass", f"{subject.name} calls Bedrock directly", calls):
        # One caller's batch job, one call after another: the stand-in answers in about a
        # millisecond, and a fixed order keeps the run repeatable.
        for index in range(calls):
            response = client.converse(
                modelId=profile_arn,
                messages=[{"role": "user", "content": [{"text": PROMPTS[index % len(PROMPTS)]}]}],
                inferenceConfig={"maxTokens": DIRECT_MAX_TOKENS},
            )
            output += int(response["usage"]["outputTokens"])
            total += int(response["usage"]["totalTokens"])
            world.reporter.advance("bypass", None)
    world.result.stub_calls_direct += calls
    world.result.bypass = BypassReport(
        subject.name, profile_arn, calls, output, threshold, tokens=total
    )
    world.say(
        BEDROCK,
        f"{subject.name} called Bedrock directly {calls} times through the {tenant.name} "
        f"profile with its own credentials, bypassing the gate: {output:,} output tokens. The "
        "gate never sees these calls; Bedrock's own metrics and its invocation log do",
    )
    metered(world)


def metered(world: World) -> None:
    """The invocation records so far, delivered to the usage meter: what it made of them."""
    if world.subscription is None or world.meter is None:
        return
    world.deliver_log()
    runs = world.result.meter_runs
    verdicts: Counter[str] = Counter()
    for run in runs:
        verdicts.update(run.verdicts)
    subject = world.cast.subject
    item = world.usage(subject)
    world.say(
        LAMBDA,
        f"{sum(r.records for r in runs)} invocation records delivered to the meter: "
        f"{verdicts['gate_settled']} of the gate's calls left to it, {verdicts['counted']} "
        f"direct calls of {subject.name} counted into its day "
        f"({int(item.get(DIRECT_TOKENS, 0)):,} tokens, {usd(item.get(DIRECT_USD, 0))}); "
        f"subscription filter {world.subscription.subscription.name} -> "
        f"{world.meter.spec.handler}, after each phase",
    )


def _statuses(answers: list[Answer]) -> str:
    counts = Counter(a.status for a in answers)
    return ", ".join(f"{count} x {status}" for status, count in sorted(counts.items()))
