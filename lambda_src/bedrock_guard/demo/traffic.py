"""The demo's callers and their requests: who plays which part, and what they send.

Request bodies follow docs/contracts.md; identities are put where API Gateway puts them
(``requestContext.identity``): a role's calls arrive as sessions of the role, an API-key
user's with its key id. Prompts and sizes are fixed, so a run is repeatable.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from bedrock_guard.core.accounting import Limits, Window
from bedrock_guard.core.pricing import PriceBook, parse_pricing_json
from bedrock_guard.core.principals import PrincipalError, canonical_arn, parse_principal
from bedrock_guard.demo.config import CallerSpec, Settings, TenantSpec
from bedrock_guard.demo.deploy import ConfigError
from bedrock_guard.demo.result import Answer
from bedrock_guard.gate.config import parse_model_aliases
from bedrock_guard.local.lambda_events import api_gateway_event

# Big requests use nearly the gate's default ceiling on max_tokens (MAX_OUTPUT_TOKENS, 4096).
BIG_MAX_TOKENS: Final = 4000
# Claude 3 models answer at most 4096 tokens: the direct calls ask for that much.
DIRECT_MAX_TOKENS: Final = 4096
# A caller can play the exhausted or the burst part if a big request fits this often per day.
MAX_REQUESTS_TO_EXHAUST: Final = 60
TENANT_ALARM_METRIC: Final = "OutputTokenCount"
NOTEBOOK_ROLE: Final = "notebook"

PROMPTS: Final = (
    "Summarise yesterday's support tickets about password resets in three bullet points.",
    "Draft a friendly reply to a customer whose order arrived late.",
    "List the top causes of failed notebook runs last week and one fix for each.",
    "Translate the order status 'shipped' into a one-line customer notice.",
    "Explain the difference between a daily and a monthly budget in two sentences.",
    "Write a short release note for the new export button.",
)


@dataclass(frozen=True, slots=True)
class Cast:
    """Which caller plays which part of the story."""

    subject: CallerSpec  # calls Bedrock directly until its tenant's alarm fires
    tenant: TenantSpec
    exhausted: CallerSpec  # runs out of its daily budget
    burst: CallerSpec  # sends the concurrent burst
    everyone: tuple[CallerSpec, ...]  # the registered callers
    tiers: Mapping[str, Limits]
    # Calls Bedrock directly, never the gate, until the usage meter locks it; None: no meter.
    notebook: CallerSpec | None = None

    @property
    def reported(self) -> tuple[CallerSpec, ...]:
        """Every caller of the story: the registered ones, then the notebook."""
        return self.everyone + ((self.notebook,) if self.notebook is not None else ())

    @property
    def steady(self) -> tuple[CallerSpec, ...]:
        """The callers with no other part than steady traffic."""
        return tuple(c for c in self.everyone if self.part_of(c) == "steady")

    def spent(self, caller: CallerSpec) -> bool:
        """Whether the story spends the caller's daily budget (its big requests no longer fit)."""
        return caller in (self.exhausted, self.burst)

    def part_of(self, caller: CallerSpec) -> str:
        """``bypass``, ``direct``, ``exhaust``, ``burst`` or ``steady``."""
        if caller == self.notebook:
            return "direct"
        if caller == self.subject:
            return "bypass"
        if caller == self.exhausted:
            return "exhaust"
        if caller == self.burst:
            return "burst"
        return "steady"

    def role_of(self, caller: CallerSpec) -> str:
        """The part, in words for the callers table."""
        part = self.part_of(caller)
        if part == "bypass":
            return f"calls Bedrock directly ({self.tenant.name} profile), bypassing the gate"
        if part == "direct":
            return "calls Bedrock directly with its own credentials, never through the gate"
        if part == "exhaust":
            return "runs out of its daily budget"
        if part == "burst":
            return "sends the concurrent burst"
        limits = self.tiers.get(caller.tier)
        tokens = limits is not None and (limits.daily_tokens, limits.monthly_tokens) != (None, None)
        return "steady traffic" + ("" if tokens else " (no token limit)")


def big_request_tokens(limits: Limits) -> Window | None:
    """The daily window a run of big requests exhausts, if one is reachable."""
    tokens = limits.daily_tokens
    if tokens is not None and tokens / BIG_MAX_TOKENS <= MAX_REQUESTS_TO_EXHAUST:
        return Window.DAILY_TOKENS
    return None


def choose_cast(settings: Settings, *, metered: bool = False) -> Cast:
    """The tenant principal with an alarm, then two other callers whose daily token budget a
    few dozen big requests exhaust: for the exhausted part an IAM caller with a budget alarm
    if there is one (so its lock shows too), the other sends the burst. With ``metered`` (the
    usage meter reads the invocation log), the notebook too, if the default tier it falls in
    has a daily token limit a few dozen direct calls pass."""
    by_principal = {c.principal: c for c in settings.callers if c.principal}
    subject = tenant = None
    for candidate in settings.tenants:
        if TENANT_ALARM_METRIC not in candidate.alarm_thresholds:
            continue
        for principal in candidate.principals:
            match = by_principal.get(_canonical(principal))
            if match is not None:
                subject, tenant = match, candidate
                break
        if subject is not None:
            break
    if subject is None or tenant is None:
        raise ConfigError(
            "the demo needs a tenant with an output_tokens alarm whose principals include a "
            "registered IAM caller (tenants and callers in the tfvars)"
        )
    others = [
        c
        for c in settings.callers
        if c != subject and c.tier in settings.tiers and big_request_tokens(settings.tiers[c.tier])
    ]
    if len(others) < 2:
        raise ConfigError(
            "the demo needs two callers besides the tenant principal whose tier has a daily "
            f"token limit of at most {MAX_REQUESTS_TO_EXHAUST * BIG_MAX_TOKENS:,} tokens"
        )
    others.sort(
        key=lambda c: (
            c.kind != "iam",
            not c.alarm_thresholds,
            settings.tiers[c.tier].daily_tokens,
            c.name,
        )
    )
    exhausted = others[0]
    burst = others[1]
    notebook = notebook_caller(settings) if metered else None
    return Cast(subject, tenant, exhausted, burst, settings.callers, settings.tiers, notebook)


def notebook_caller(settings: Settings) -> CallerSpec | None:
    """The notebook: a role the demo creates at the root path (a path the meter may lock) and
    registers nowhere, so the meter holds it to the default tier, as the gate would."""
    tier = settings.default_tier
    limits = settings.tiers.get(tier) if tier is not None else None
    if tier is None or limits is None or big_request_tokens(limits) is None:
        return None
    arn = f"arn:{settings.partition}:iam::{settings.account}:role/{NOTEBOOK_ROLE}"
    return CallerSpec(
        key=arn,
        name=NOTEBOOK_ROLE,
        kind="iam",
        tier=tier,
        tenant="",
        cost_center="",
        application="notebook",  # what its request would say, were it to try the gate
        arn=arn,
        principal=canonical_arn(arn),
        alarms=False,
    )


def _canonical(arn: str) -> str:
    try:
        return canonical_arn(arn)
    except PrincipalError:
        return arn


def priciest_alias(environment: Mapping[str, str], aliases: tuple[str, ...]) -> str:
    """The allowed alias with the highest output price (the gate's allowlist and price book,
    from its environment): budgets run out soonest on it."""
    routes = parse_model_aliases(environment["MODEL_ALIASES_JSON"])
    book = PriceBook(parse_pricing_json(environment.get("PRICING_JSON")))

    def output_price(alias: str) -> Decimal:
        price = book.lookup(routes[alias].pricing_model) if alias in routes else None
        return price.output if price is not None else Decimal(-1)

    return max(sorted(aliases), key=output_price)


def body(
    model: str, prompt: str, max_tokens: int, application: str, cost_center: str
) -> dict[str, Any]:
    """A request body as docs/contracts.md defines it (``costCenter`` is optional: left out
    when the caller has none)."""
    tags = {"applicationId": application, "costCenter": cost_center}
    return {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "parameters": {"max_tokens": max_tokens, "temperature": 0.2},
        "tags": {name: value for name, value in tags.items() if value},
    }


def event(
    caller: CallerSpec,
    request: Mapping[str, Any],
    *,
    account: str,
    api_key_id: str | None,
    session: str,
    request_id: str,
) -> dict[str, Any]:
    """The API Gateway proxy event of ``request`` sent by ``caller``."""
    if caller.kind == "apikey":
        return api_gateway_event(
            dict(request), api_key_id=api_key_id, account_id=account, request_id=request_id
        )
    identity = parse_principal(caller.arn, lockable=False)
    user_arn = (
        f"arn:{identity.partition}:sts::{account}:assumed-role/{caller.name}/{session}"
        if identity.kind == "role"
        else caller.arn
    )
    return api_gateway_event(
        dict(request), user_arn=user_arn, account_id=account, request_id=request_id
    )


def answer(caller: str, phase: str, response: Mapping[str, Any]) -> Answer:
    """The gate's response as an :class:`Answer` (amounts exact)."""
    status = int(response["statusCode"])
    document = json.loads(response.get("body") or "{}", parse_float=Decimal)
    if status == 200:
        return Answer(
            caller,
            phase,
            status,
            tokens=int(document["usage"]["totalTokens"]),
            cost=Decimal(str(document["costUsd"])),
        )
    error = document.get("error", {})
    return Answer(caller, phase, status, code=error.get("code"), message=error.get("message", ""))


def requests_to_exhaust(limit: int, used: int, per_request: int) -> int:
    """Big requests it takes to run a window of ``limit`` dry, from ``used``."""
    return max(1, math.ceil((limit - used) / per_request))
