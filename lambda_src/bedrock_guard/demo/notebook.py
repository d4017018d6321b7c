"""The runaway notebook: a role the gate never sees, calling Bedrock directly with its own
credentials until its day passes the default tier's limit, metered from Bedrock's invocation log
and locked by the usage meter.

The demo creates the role at the root path (one the meter may lock) in the local account and
registers it nowhere: like any unregistered caller, the meter holds it to ``DEFAULT_TIER``. Its
session comes from STS AssumeRole on moto; the Bedrock stand-in writes each call's invocation
record to the log group Terraform configured, before answering. Meanwhile the demo plays the
subscription (the group read every :data:`POLL_INTERVAL_S`) and Lambda (each delivery handed to
the meter's container): :func:`bedrock_guard.local.runaway.run_past_limit`. Then IAM, the
ledger and the gate show the lock.
"""

from __future__ import annotations

import dataclasses
from typing import Final

from bedrock_guard.core.accounting import Window
from bedrock_guard.demo.config import CallerSpec
from bedrock_guard.demo.deploy import trust_policy
from bedrock_guard.demo.lockout import look, say_locked
from bedrock_guard.demo.result import BEDROCK, DEMO, METER, NotebookReport
from bedrock_guard.demo.traffic import DIRECT_MAX_TOKENS, PROMPTS
from bedrock_guard.demo.world import World
from bedrock_guard.enforcer.window_locks import window_holder
from bedrock_guard.gate.config import parse_model_aliases
from bedrock_guard.local.converse_replies import Reply
from bedrock_guard.local.runaway import run_past_limit

# How often the played subscription reads the log group: CloudWatch Logs delivers a
# subscription's events within seconds; the demo does not make the reader wait for that.
POLL_INTERVAL_S: Final = 0.25
# How long the stand-in takes to answer each of the notebook's calls. Bedrock takes tens of
# seconds to write 4,096 tokens; a tenth of a second keeps the demo short and still lets the
# records reach the group one by one, as a notebook's would, rather than all at once.
ANSWER_MS: Final = 100
TIMEOUT_S: Final = 60.0
SESSION: Final = "notebook-kernel"


def notebook(world: World) -> None:
    """The notebook's calls past its limit, the meter's lock, and what each side shows."""
    caller = world.cast.notebook
    log, subscription = world.invocation_log, world.subscription
    if caller is None or log is None or subscription is None or world.meter is None:
        world.say(DEMO, "no notebook: the usage meter, its log or a default tier is missing")
        return
    identity = create_role(world, caller)
    client = world.direct_client(caller, SESSION)
    limit = world.settings.tiers[caller.tier].daily_tokens
    assert limit is not None  # choose_cast picks a notebook only for a daily token limit
    model = direct_model(world)
    world.deliver_log()  # what earlier phases left: the notebook's run starts from a clean read
    used_before = world.day_tokens(caller)

    def converse(index: int) -> int:
        response = client.converse(
            modelId=model,
            messages=[{"role": "user", "content": [{"text": PROMPTS[index % len(PROMPTS)]}]}],
            inferenceConfig={"maxTokens": DIRECT_MAX_TOKENS},
        )
        return int(response["usage"]["totalTokens"])

    first_delivery = len(world.result.meter_runs)
    world.stub.set_reply(Reply(output_tokens=DIRECT_MAX_TOKENS, latency_ms=ANSWER_MS), model)
    try:
        outcome = run_past_limit(
            converse=converse,
            principal=caller.principal or "",
            limit_tokens=limit,
            used_before=used_before,
            played=subscription,
            meter=world.meter_delivery,
            log=log,
            interval_s=POLL_INTERVAL_S,
            timeout_s=TIMEOUT_S,
        )
    finally:
        world.stub.set_reply(None, model)
    world.deliver_log()
    world.result.stub_calls_direct += outcome.calls
    session = f":assumed-role/{caller.name}/"
    own = [w.request_id for w in log.written() if session in w.identity_arn]
    crossing = outcome.crossing
    report = NotebookReport(
        caller=caller.name,
        identity=identity,
        tier=caller.tier,
        limit=limit,
        model=model,
        calls=outcome.calls,
        tokens=outcome.tokens,
        used_before=used_before,
        deliveries=len(world.result.meter_runs) - first_delivery,
        crossing_call=own.index(crossing.request_id) + 1
        if crossing and crossing.request_id in own
        else None,
        latency_s=crossing.latency_s if crossing else None,
        delivery_s=crossing.delivery_s if crossing else None,
        poll_interval_s=POLL_INTERVAL_S,
        holder=window_holder(Window.DAILY_TOKENS, world.period),
        view=None,
    )
    tell(world, report, log.log_group_name)
    view = look(world, caller, "locked", PROMPTS[2])
    world.result.notebook = dataclasses.replace(report, view=view)
    say_locked(world, caller, identity, view, list(view.holders))


def tell(world: World, report: NotebookReport, log_group: str) -> None:
    """The notebook's calls, and when the meter locked it (first, so that it shows on the
    compact line)."""
    world.say(
        BEDROCK,
        f"{report.caller} called Bedrock directly {report.calls} times with its own "
        f"credentials: {report.tokens:,} tokens, past the {report.limit:,} a day of tier "
        f"{report.tier} (it is registered nowhere: the default tier); {report.model}; the "
        f"stand-in wrote each call's invocation record to {log_group} before answering",
    )
    assert world.meter is not None
    deliveries = f"{report.deliveries} deliver{'y' if report.deliveries == 1 else 'ies'}"
    played = (
        f"(the subscription played by the demo: the group read every "
        f"{report.poll_interval_s} s, the records handed to {world.meter.spec.handler} in "
        f"{deliveries}; Bedrock's answers took {ANSWER_MS} ms here)"
    )
    if report.latency_s is None:
        world.say(METER, f"did not lock {report.caller} within {TIMEOUT_S:.0f} s {played}")
        return
    world.say(
        METER,
        f"locked {report.caller} {report.latency_s:.2f} s after its "
        f"{ordinal(report.crossing_call or 0)} record reached the log group {played}",
    )


def create_role(world: World, caller: CallerSpec) -> str:
    """The notebook's role in the local account, at the root path; its ARN."""
    arn = str(
        world.iam.create_role(
            RoleName=caller.name,
            Path="/",
            AssumeRolePolicyDocument=trust_policy(world.settings.account),
            Description="A data-science notebook with its own Bedrock permissions",
        )["Role"]["Arn"]
    )
    world.provisioned.identities[caller.principal or arn] = arn
    return arn


def direct_model(world: World) -> str:
    """The model id behind the first allowed alias that is not a tenant's profile: what a
    notebook would name."""
    routes = parse_model_aliases(world.gate.variables["MODEL_ALIASES_JSON"])
    return routes[world.direct_aliases()[0]].target


def ordinal(number: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``11th``, ``25th``."""
    suffix = (
        "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    )
    return f"{number}{suffix}"
