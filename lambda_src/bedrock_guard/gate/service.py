"""One token gate request from identity to answer: validate, reserve, call Bedrock, settle.

The order is what makes refusals free and accounting exact: everything that can be decided
without AWS (identity, body, model, price, a worst case larger than a whole limit) is decided
first; then one conditional write holds the worst case; only a granted hold reaches Bedrock,
which runs the model at most once for it; afterwards the hold is settled to the real usage,
released on a Bedrock error, or kept as the charge when Bedrock may have run a call whose
answer was lost. A hold carries an expiry past the function's own deadline, so one whose
Lambda died is found later and listed for reconciliation (see ``core/usage_item``).
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from aws_lambda_powertools import Logger

from bedrock_guard.core import keys
from bedrock_guard.core.accounting import (
    Charge,
    Counters,
    Limits,
    Period,
    caps,
    exceeds_alone,
    input_token_bound,
    iso_utc,
    period_of,
    refusing_window,
    remaining,
    seconds_until,
    used_percent,
    worst_case,
)
from bedrock_guard.core.invocation_metadata import gate_metadata
from bedrock_guard.core.pricing import Price
from bedrock_guard.core.principals import is_free_to_mint
from bedrock_guard.core.usage_item import Hold
from bedrock_guard.gate.bedrock_client import (
    BedrockClients,
    BedrockFailure,
    ConverseResult,
    converse,
)
from bedrock_guard.gate.config import GateConfig
from bedrock_guard.gate.metrics import RequestFacts, dimensions_for
from bedrock_guard.gate.request import GateRequest, RequestError, parse_request
from bedrock_guard.gate.responses import GateError, json_response
from bedrock_guard.gate.usage_store import (
    Locked,
    OverBudget,
    Profile,
    Reservation,
    Reserved,
    StoreError,
    TooManyHolds,
    UsageStore,
)

logger = Logger(child=True)

BUSY_RETRY_AFTER_SECONDS: Final = 1
# A hold outlives the invocation that made it by this much before it counts as abandoned.
HOLD_MARGIN_SECONDS: Final = 60


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class GateRuntime:
    """What a container keeps between requests: configuration, clients, registry cache.

    ``clock``, ``sleep`` and ``jitter`` are here so that tests can pin time and the backoff
    of Bedrock retries.
    """

    config: GateConfig
    store: UsageStore
    bedrock: Any
    clock: Callable[[], datetime] = _utc_now
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = field(default=random.random)


@dataclass(frozen=True, slots=True)
class Admission:
    """A granted hold, the profile and limits it was granted under, and abandoned holds of the
    same caller found on the way (moved out of the month item once the request is answered)."""

    reservation: Reservation
    profile: Profile
    limits: Limits
    expired: tuple[Hold, ...] = ()


@dataclass(frozen=True, slots=True)
class GateCall:
    """The parts of an API Gateway event the gate uses; identity comes from requestContext."""

    principal: str | None
    body: str | None
    is_base64: bool
    request_id: str
    time_left_seconds: float = 900.0


def serve(runtime: GateRuntime, call: GateCall, facts: RequestFacts) -> dict[str, Any]:
    """Answer one request as an API Gateway proxy response; ``facts`` collects its metrics."""
    try:
        return _serve(runtime, call, facts)
    except GateError as error:
        return error.response()


def _serve(runtime: GateRuntime, call: GateCall, facts: RequestFacts) -> dict[str, Any]:
    config = runtime.config
    if call.principal is None:
        raise GateError(
            403,
            "NoIdentity",
            "the request carries no IAM caller or API key; call the API with SigV4 or an API key",
        )
    principal = call.principal
    facts.principal = principal
    try:
        request = parse_request(call.body, call.is_base64, config.rules)
    except RequestError as error:
        raise GateError(400, "InvalidRequest", str(error)) from error

    route = config.models.get(request.model)
    if route is None:
        allowed = ", ".join(sorted(config.models))
        raise GateError(
            400,
            "InvalidRequest",
            f"model: {request.model!r} is not an allowed model alias; allowed: {allowed}",
        )
    price = config.route_prices.get(route.alias)
    if price is None:
        logger.error(
            "model has no price", extra={"alias": route.alias, "pricing": route.pricing_model}
        )
        raise GateError(
            403,
            "ModelNotPriced",
            f"model {route.alias!r} has no price configured, and the gate never serves a model "
            "it cannot charge; ask the operator to add it to PRICING_JSON",
        )

    period = period_of(runtime.clock())
    input_bound = input_token_bound(request.message_texts(), request.system_texts())
    worst = worst_case(input_bound, request.max_tokens, price)
    admitted = _reserve(
        runtime, call, principal, request=request, worst=worst, period=period, facts=facts
    )
    reservation, profile, limits = admitted.reservation, admitted.profile, admitted.limits
    _log_tags(request, profile)

    facts.approved = True
    try:
        try:
            result = converse(
                _bedrock_client(runtime, request),
                route.target,
                request,
                attempts=config.bedrock_max_attempts,
                metadata=gate_metadata(reservation.hold.hold_id, principal),
                sleep=runtime.sleep,
                jitter=runtime.jitter,
            )
        except BedrockFailure as failure:
            facts.failed = True
            _after_failure(
                runtime,
                reservation=reservation,
                profile=profile,
                limits=limits,
                failure=failure,
                facts=facts,
            )
            raise GateError(
                failure.status,
                failure.code,
                failure.message,
                retry_after=BUSY_RETRY_AFTER_SECONDS if failure.status == 429 else None,
            ) from failure
        return _settled(
            runtime,
            call=call,
            reservation=reservation,
            profile=profile,
            limits=limits,
            price=price,
            result=result,
            facts=facts,
        )
    finally:
        if admitted.expired:
            _sweep(runtime, reservation, admitted.expired)


def _bedrock_client(runtime: GateRuntime, request: GateRequest) -> Any:
    """The client whose read timeout fits this request (a single client serves every request
    when a test or tool set one)."""
    if isinstance(runtime.bedrock, BedrockClients):
        return runtime.bedrock.client_for(request.max_tokens)
    return runtime.bedrock


def _limits_for(config: GateConfig, profile: Profile) -> Limits:
    """The caller's limits, refusing callers the configuration does not cover (fail closed)."""
    if not profile.registered:
        if is_free_to_mint(profile.principal):
            raise GateError(
                403,
                "UnknownCaller",
                "this identity can be minted at will (a federated user of "
                "sts:GetFederationToken), so it gets no default budget; ask the platform team "
                "to register it",
            )
        if config.default_tier is None:
            raise GateError(
                403,
                "UnknownCaller",
                "this caller is not registered with the gate and unregistered callers are refused",
            )
        return config.tiers[config.default_tier]
    tier = profile.tier
    if tier is None or tier not in config.tiers:
        logger.error("caller tier not configured", extra={"tier": tier})
        raise GateError(
            403,
            "TierNotConfigured",
            f"this caller's tier {tier!r} has no limits configured, so the gate refuses it",
        )
    return config.tiers[tier]


def _admissible(config: GateConfig, profile: Profile, worst: Charge, facts: RequestFacts) -> Limits:
    """Limits of the caller if this request could ever fit them, else a refusal."""
    limits = _limits_for(config, profile)
    too_big = exceeds_alone(limits, worst)
    if too_big is not None:
        window, limit = too_big
        facts.denied = True
        raise GateError(
            400,
            "RequestExceedsLimit",
            f"the worst case of this request ({worst.of(window)} for {window.value}: input bound "
            f"plus max_tokens) exceeds the whole limit ({limit}); lower parameters.max_tokens "
            "or shorten the input",
            details={"limit": window.value, "limitValue": limit, "requested": worst.of(window)},
        )
    return limits


def _reserve(
    runtime: GateRuntime,
    call: GateCall,
    principal: str,
    *,
    request: GateRequest,
    worst: Charge,
    period: Period,
    facts: RequestFacts,
) -> Admission:
    """Reserve the worst case, or raise the refusal; DynamoDB failures never reach Bedrock."""
    try:
        profile, limits = _admit(runtime, principal, request.model, worst, facts)
        hold = _new_hold(runtime, call, worst, period)
        return _hold(runtime, profile, limits, hold=hold, period=period, facts=facts)
    except StoreError as error:
        facts.failed = True
        logger.exception("DynamoDB failed before Bedrock was called")
        if error.unconfirmed is not None:
            _release_unconfirmed(runtime.store, error.unconfirmed)
        if error.transient:
            raise _busy("the usage table is unavailable") from error
        raise GateError(500, "InternalError", "the gate could not reserve the budget") from error


def _admit(
    runtime: GateRuntime, principal: str, alias: str, worst: Charge, facts: RequestFacts
) -> tuple[Profile, Limits]:
    """The caller's profile and limits, refusing only on a freshly read profile."""
    store, config = runtime.store, runtime.config
    profile, fresh = store.profile(principal)
    facts.dimensions = dimensions_for(alias, profile)
    try:
        return profile, _admissible(config, profile, worst, facts)
    except GateError:
        if fresh:
            raise
    # Never refuse on a cached profile: it may predate a registration or a new tier.
    facts.denied = False
    profile = store.refresh(principal)
    facts.dimensions = dimensions_for(alias, profile)
    return profile, _admissible(config, profile, worst, facts)


def _new_hold(runtime: GateRuntime, call: GateCall, worst: Charge, period: Period) -> Hold:
    """A hold of ``worst`` that expires once this invocation must have ended, plus a margin."""
    now = runtime.clock().timestamp()
    return Hold(
        hold_id=uuid.uuid4().hex[:16],
        charge=worst,
        day=period.day,
        expires_at=math.ceil(now + call.time_left_seconds) + HOLD_MARGIN_SECONDS,
        request_id=call.request_id,
    )


def _hold(
    runtime: GateRuntime,
    profile: Profile,
    limits: Limits,
    *,
    hold: Hold,
    period: Period,
    facts: RequestFacts,
) -> Admission:
    """Place the hold, or raise the refusal."""
    store = runtime.store
    outcome = store.reserve(
        profile.principal,
        period,
        hold,
        caps(limits, hold.charge),
        now=runtime.clock().timestamp(),
    )
    if isinstance(outcome, Reserved):
        return Admission(outcome.reservation, profile, limits, outcome.expired)
    facts.denied = True
    if isinstance(outcome, Locked):
        logger.warning("caller is locked", extra={"locked_by": sorted(outcome.holders)})
        raise GateError(403, "Locked", locked_message(outcome.holders))
    if isinstance(outcome, TooManyHolds):
        raise GateError(
            429,
            "TooManyInFlight",
            f"this caller already has {outcome.in_flight} requests in flight, the most the "
            "gate holds at once for one caller; retry when some have finished",
            details={"limit": "in_flight", "limitValue": outcome.in_flight},
            retry_after=BUSY_RETRY_AFTER_SECONDS,
        )
    assert isinstance(outcome, OverBudget)
    raise _over_budget(
        runtime,
        profile=profile,
        limits=limits,
        used=outcome.used,
        worst=hold.charge,
        period=period,
        facts=facts,
    )


def _release_unconfirmed(store: UsageStore, reservation: Reservation) -> None:
    """Undo a hold that may have been written unseen; a no-op if it never was."""
    try:
        released = store.release(reservation)
    except StoreError:
        logger.exception(
            "could not release an unconfirmed hold; it stays charged until it expires and "
            "is listed for reconciliation",
            extra=_hold_fields(reservation),
        )
        return
    if released is not None:
        logger.warning("released a hold whose write was not confirmed")


def _hold_fields(reservation: Reservation) -> dict[str, Any]:
    hold = reservation.hold
    return {
        "hold_id": hold.hold_id,
        "month": reservation.period.month,
        "request_id": hold.request_id,
        "hold_expires_at": hold.expires_at,
    }


def _sweep(runtime: GateRuntime, reservation: Reservation, expired: tuple[Hold, ...]) -> None:
    """Move abandoned holds out of the caller's month item; best effort, after the answer."""
    try:
        moved = runtime.store.sweep(
            reservation.principal,
            reservation.period.month,
            expired,
            now=runtime.clock().timestamp(),
        )
    except StoreError:
        logger.exception("could not list expired holds; the next request tries again")
        return
    logger.warning(
        "expired holds listed for reconciliation; their worst case stays charged",
        extra={
            "moved": moved,
            "holds": [{"hold_id": h.hold_id, "request_id": h.request_id} for h in expired],
        },
    )


def _busy(why: str) -> GateError:
    return GateError(
        503,
        "Busy",
        f"{why}; nothing was charged and Bedrock was not called, retry shortly",
        retry_after=BUSY_RETRY_AFTER_SECONDS,
    )


def _over_budget(
    runtime: GateRuntime,
    *,
    profile: Profile,
    limits: Limits,
    used: Counters,
    worst: Charge,
    period: Period,
    facts: RequestFacts,
) -> GateError:
    window = refusing_window(limits, used, worst)
    if window is None:  # the item changed type or shape under us: refuse conservatively
        window = limits.limited()[0][0]
    limit = limits.of(window)
    resets = period.resets_at(window)
    _note_percent(profile, limits, used, facts)
    return GateError(
        429,
        "BudgetExceeded",
        f"{window.value} budget exceeded: {used.of(window)} used (including requests in "
        f"flight) plus up to {worst.of(window)} for this request is more than {limit}",
        details={
            "limit": window.value,
            "used": used.of(window),
            "limitValue": limit,
            "requested": worst.of(window),
            "resetsAt": iso_utc(resets),
        },
        retry_after=seconds_until(resets, runtime.clock()),
    )


def _note_percent(
    profile: Profile, limits: Limits, used: Counters | None, facts: RequestFacts
) -> None:
    # Per-caller series exist only for registered callers, so they stay bounded.
    if used is None or not profile.registered:
        return
    facts.budget_used_percent = used_percent(limits, used)


def _after_failure(
    runtime: GateRuntime,
    *,
    reservation: Reservation,
    profile: Profile,
    limits: Limits,
    failure: BedrockFailure,
    facts: RequestFacts,
) -> None:
    store = runtime.store
    logger.warning(
        "Bedrock call failed",
        extra={"bedrock_code": failure.bedrock_code, "maybe_billed": failure.maybe_billed},
    )
    try:
        if failure.maybe_billed:
            counters = store.settle(reservation, reservation.charge)
        else:
            counters = store.release(reservation)
    except StoreError:
        # The hold stays in the counters: over-charged by it, never under-charged, until it
        # expires and is listed for reconciliation with what Bedrock logged.
        facts.settle_failed = True
        logger.exception(
            "could not release the hold; it stays charged until reconciled",
            extra=_hold_fields(reservation),
        )
        return
    _note_percent(profile, limits, counters, facts)


def _settled(
    runtime: GateRuntime,
    *,
    call: GateCall,
    reservation: Reservation,
    profile: Profile,
    limits: Limits,
    price: Price,
    result: ConverseResult,
    facts: RequestFacts,
) -> dict[str, Any]:
    usage = result.usage
    actual = Charge(tokens=usage.total, usd=price.cost(usage))
    facts.usage = usage
    facts.cost_usd = actual.usd
    if actual.tokens > reservation.charge.tokens or actual.usd > reservation.charge.usd:
        logger.error(
            "actual usage exceeded the reservation",
            extra={"reserved_tokens": reservation.charge.tokens, "actual_tokens": actual.tokens},
        )
    counters: Counters | None
    try:
        counters = runtime.store.settle(reservation, actual)
    except StoreError:
        # Recorded, never dropped: the hold keeps the worst case charged until it expires and
        # is listed; this line carries what an exact reconciliation needs.
        facts.settle_failed = True
        logger.exception(
            "could not settle; the worst case stays charged until reconciled",
            extra=_hold_fields(reservation)
            | {"actual_tokens": actual.tokens, "actual_usd": str(actual.usd)},
        )
        counters = None
    _note_percent(profile, limits, counters, facts)
    usage_body: dict[str, Any] = {
        "inputTokens": usage.input_tokens,
        "outputTokens": usage.output_tokens,
        "totalTokens": usage.total,
    }
    if result.reported_cache_fields:
        usage_body["cacheReadInputTokens"] = usage.cache_read_tokens
        usage_body["cacheWriteInputTokens"] = usage.cache_write_tokens
    left = remaining(limits, counters) if counters is not None else {}
    body = {
        "output": result.output,
        "stopReason": result.stop_reason,
        "usage": usage_body,
        "costUsd": actual.usd,
        "remaining": {window.response_key: amount for window, amount in left.items()},
        "requestId": call.request_id,
    }
    return json_response(200, body)


def _log_tags(request: GateRequest, profile: Profile) -> None:
    """Log the caller's declared tags next to the registry's; tags are never dimensions."""
    tags = request.tags
    declared = {
        "application": tags.application_id,
        "cost_center": tags.cost_center,
        "environment": tags.environment,
    }
    mismatched = sorted(
        name
        for name, value in declared.items()
        if value is not None and profile.registered and profile.text(name) not in (None, value)
    )
    logger.info(
        "request admitted",
        extra={
            "model": request.model,
            "tags": {k: v for k, v in declared.items() if v is not None},
            "registered": profile.registered,
            "tags_differ_from_registry": mismatched,
        },
    )


def locked_message(holders: Iterable[str]) -> str:
    """Why the caller is locked, by kind of holder only: alarm names and ARNs stay private."""
    kinds = {keys.holder_kind(holder) for holder in holders}
    reasons = [
        reason
        for kind, reason in (
            ("alarm", "a budget alarm fired"),
            ("window", "its direct Bedrock use went over a budget"),
            ("operator", "an operator locked it"),
        )
        if kind in kinds
    ]
    return (
        f"this caller is locked out of Bedrock ({'; '.join(reasons) or 'a lock is recorded'}); "
        "contact the platform team"
    )
