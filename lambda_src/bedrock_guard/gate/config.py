"""The token gate's configuration, parsed once per container from the environment.

A configuration error belongs to the operator, not to the caller: :func:`load_config` raises
:class:`GateConfigError` listing every problem, the handler lets it propagate (Lambda records a
function error, API Gateway answers 502), and no request is served, charged or sent to Bedrock
with a half-understood configuration.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from bedrock_guard.core.accounting import Limits, Window
from bedrock_guard.core.pricing import (
    Price,
    PriceBook,
    base_model_id,
    is_application_profile,
    parse_pricing_json,
)
from bedrock_guard.gate.request import MODEL_ALIAS_RE, RequestRules

# Every environment variable the gate's configuration consists of. The first group is read by
# this module; the Powertools names are read by Powertools (and the namespace default here).
ENVIRONMENT_VARIABLES: Final = (
    "USAGE_TABLE_NAME",
    "TIER_LIMITS_JSON",
    "DEFAULT_TIER",
    "MODEL_ALIASES_JSON",
    "PRICING_JSON",
    "BEDROCK_ENDPOINT_URL",
    "BEDROCK_READ_TIMEOUT_SECONDS",
    "BEDROCK_MAX_ATTEMPTS",
    "MAX_OUTPUT_TOKENS",
    "DEFAULT_MAX_TOKENS",
    "MAX_REQUEST_BYTES",
    "METRICS_COMBINED_DIMENSIONS",
    "CALLER_METRICS",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_TRACE_DISABLED",  # read by token_gate: Powertools' Tracer only when "false"
)
REQUIRED_ENVIRONMENT_VARIABLES: Final = (
    "USAGE_TABLE_NAME",
    "TIER_LIMITS_JSON",
    "MODEL_ALIASES_JSON",
)
# Set by Lambda itself (never by Terraform): the handler reads it to build its runtime at init.
LAMBDA_RUNTIME_VARIABLE: Final = "AWS_LAMBDA_FUNCTION_NAME"

NO_DEFAULT_TIER: Final = "none"
DEFAULT_METRICS_NAMESPACE: Final = "GenAIRateLimiting"
DEFAULT_READ_TIMEOUT_SECONDS: Final = 25.0
DEFAULT_MAX_ATTEMPTS: Final = 2
DEFAULT_MAX_OUTPUT_TOKENS: Final = 4096
DEFAULT_DEFAULT_MAX_TOKENS: Final = 512
DEFAULT_MAX_REQUEST_BYTES: Final = 256 * 1024
LAMBDA_PAYLOAD_BYTES: Final = 6 * 1024 * 1024

_TIER_RE: Final = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_TARGET_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,2047}$")
_TRUE: Final = frozenset({"true", "1", "yes", "on"})
_FALSE: Final = frozenset({"false", "0", "no", "off", ""})


class GateConfigError(RuntimeError):
    """The environment does not describe a usable gate; the message lists every problem."""


@dataclass(frozen=True, slots=True)
class ModelRoute:
    """An allowlisted model alias: what Converse is called with, and what it is priced as."""

    alias: str
    target: str
    pricing_model: str


@dataclass(frozen=True, slots=True)
class GateConfig:
    """Everything the gate needs to know from its environment."""

    table_name: str
    tiers: Mapping[str, Limits]
    default_tier: str | None
    models: Mapping[str, ModelRoute]
    prices: PriceBook
    rules: RequestRules
    bedrock_endpoint_url: str | None = None
    bedrock_read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS
    bedrock_max_attempts: int = DEFAULT_MAX_ATTEMPTS
    metrics_namespace: str = DEFAULT_METRICS_NAMESPACE
    combined_dimensions: bool = False
    # CallerBudgetUsedPercent per registered caller: one billed metric each, which per-caller
    # alarms need and nothing else does.
    caller_metrics: bool = True
    # The price of every alias that has one, looked up once here rather than per request.
    route_prices: Mapping[str, Price] = field(default_factory=dict)
    unpriced_aliases: tuple[str, ...] = field(default=())


def load_config(environ: Mapping[str, str]) -> GateConfig:
    """Parse and check the whole configuration, or raise :class:`GateConfigError`."""
    errors: list[str] = []

    def attempt(parse: Any, *args: Any) -> Any:
        try:
            return parse(*args)
        except ValueError as error:
            errors.append(str(error))
            return None

    for name in REQUIRED_ENVIRONMENT_VARIABLES:
        if not environ.get(name, "").strip():
            errors.append(f"{name} is required")
    table_name = environ.get("USAGE_TABLE_NAME", "").strip()
    tiers = attempt(parse_tier_limits, environ.get("TIER_LIMITS_JSON")) or {}
    models = attempt(parse_model_aliases, environ.get("MODEL_ALIASES_JSON")) or {}
    overrides = attempt(parse_pricing_json, environ.get("PRICING_JSON"))
    default_tier = environ.get("DEFAULT_TIER", NO_DEFAULT_TIER).strip() or NO_DEFAULT_TIER
    if default_tier != NO_DEFAULT_TIER and tiers and default_tier not in tiers:
        errors.append(
            f"DEFAULT_TIER {default_tier!r} is not a tier of TIER_LIMITS_JSON "
            f"({', '.join(sorted(tiers))}); or set it to 'none' to refuse unregistered callers"
        )
    read_timeout = attempt(
        _number, environ, "BEDROCK_READ_TIMEOUT_SECONDS", DEFAULT_READ_TIMEOUT_SECONDS, 1, 900
    )
    max_attempts = attempt(_integer, environ, "BEDROCK_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS, 1, 5)
    max_output = attempt(
        _integer, environ, "MAX_OUTPUT_TOKENS", DEFAULT_MAX_OUTPUT_TOKENS, 1, 1_000_000
    )
    default_max = attempt(
        _integer,
        environ,
        "DEFAULT_MAX_TOKENS",
        min(DEFAULT_DEFAULT_MAX_TOKENS, max_output or DEFAULT_DEFAULT_MAX_TOKENS),
        1,
        max_output or DEFAULT_MAX_OUTPUT_TOKENS,
    )
    max_bytes = attempt(
        _integer,
        environ,
        "MAX_REQUEST_BYTES",
        DEFAULT_MAX_REQUEST_BYTES,
        1024,
        LAMBDA_PAYLOAD_BYTES,
    )
    combined = attempt(_boolean, environ, "METRICS_COMBINED_DIMENSIONS")
    caller_metrics = attempt(_boolean, environ, "CALLER_METRICS", True)
    endpoint = environ.get("BEDROCK_ENDPOINT_URL", "").strip() or None
    if endpoint is not None and not endpoint.startswith(("https://", "http://")):
        errors.append("BEDROCK_ENDPOINT_URL must be an http(s) URL")
    namespace = environ.get("POWERTOOLS_METRICS_NAMESPACE", "").strip() or DEFAULT_METRICS_NAMESPACE
    if errors:
        raise GateConfigError("invalid token gate configuration: " + "; ".join(errors))

    prices = PriceBook(overrides)
    route_prices = {
        alias: price
        for alias, route in models.items()
        if (price := prices.lookup(route.pricing_model)) is not None
    }
    return GateConfig(
        table_name=table_name,
        tiers=tiers,
        default_tier=None if default_tier == NO_DEFAULT_TIER else default_tier,
        models=models,
        prices=prices,
        rules=RequestRules(
            max_request_bytes=max_bytes,
            max_output_tokens=max_output,
            default_max_tokens=default_max,
        ),
        bedrock_endpoint_url=endpoint,
        bedrock_read_timeout=read_timeout,
        bedrock_max_attempts=max_attempts,
        metrics_namespace=namespace,
        combined_dimensions=combined,
        caller_metrics=caller_metrics,
        route_prices=route_prices,
        unpriced_aliases=tuple(sorted(set(models) - set(route_prices))),
    )


def _json(name: str, text: str | None) -> Any:
    if text is None or not text.strip():
        raise ValueError(f"{name} is required")
    try:
        return json.loads(text, parse_float=Decimal, parse_int=Decimal)
    except json.JSONDecodeError as error:
        raise ValueError(f"{name} is not valid JSON: {error}") from error


def parse_tier_limits(text: str | None) -> dict[str, Limits]:
    """``TIER_LIMITS_JSON``: ``{"<tier>": {"daily_tokens"?, "monthly_tokens"?, "daily_usd"?,
    "monthly_usd"?}}``; tokens are integers, USD numbers or decimal strings, null = no limit."""
    document = _json("TIER_LIMITS_JSON", text)
    if not isinstance(document, dict) or not document:
        raise ValueError("TIER_LIMITS_JSON must be a non-empty object of tier -> limits")
    tiers: dict[str, Limits] = {}
    allowed = {w.value for w in Window}
    for tier, limits in document.items():
        where = f"TIER_LIMITS_JSON[{tier!r}]"
        if not _TIER_RE.match(tier) or tier == NO_DEFAULT_TIER:
            raise ValueError(f"{where}: tier names are 1-64 of A-Z a-z 0-9 _ . - and not 'none'")
        if not isinstance(limits, dict):
            raise ValueError(f"{where} must be an object of limits")
        unknown = set(limits) - allowed
        if unknown:
            raise ValueError(
                f"{where} has unknown keys {sorted(unknown)}; allowed {sorted(allowed)}"
            )
        tiers[tier] = Limits(
            daily_tokens=_tokens(f"{where}.daily_tokens", limits.get("daily_tokens")),
            monthly_tokens=_tokens(f"{where}.monthly_tokens", limits.get("monthly_tokens")),
            daily_usd=_usd(f"{where}.daily_usd", limits.get("daily_usd")),
            monthly_usd=_usd(f"{where}.monthly_usd", limits.get("monthly_usd")),
        )
    return tiers


def _usd(where: str, raw: Any) -> Decimal | None:
    """A USD limit: a JSON number or decimal string >= 0, or null for no limit."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, Decimal | str):
        raise ValueError(f"{where} must be a number or null")
    try:
        number = Decimal(raw)
    except InvalidOperation as error:
        raise ValueError(f"{where} is not a number: {raw!r}") from error
    if not number.is_finite() or number < 0:
        raise ValueError(f"{where} must be a finite number >= 0")
    return number


def _tokens(where: str, raw: Any) -> int | None:
    """A token limit: a whole number >= 0, or null for no limit."""
    number = _usd(where, raw)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise ValueError(f"{where} must be a whole number of tokens")
    return int(number)


def parse_model_aliases(text: str | None) -> dict[str, ModelRoute]:
    """``MODEL_ALIASES_JSON``: ``{"<alias>": "<model or profile id or ARN>"}`` or
    ``{"<alias>": {"target": "<inference profile ARN>", "pricing_model": "<base model id>"}}``."""
    document = _json("MODEL_ALIASES_JSON", text)
    if not isinstance(document, dict) or not document:
        raise ValueError("MODEL_ALIASES_JSON must be a non-empty object of alias -> model")
    routes: dict[str, ModelRoute] = {}
    for alias, entry in document.items():
        where = f"MODEL_ALIASES_JSON[{alias!r}]"
        if not MODEL_ALIAS_RE.match(alias):
            raise ValueError(
                f"{where}: aliases are 1-64 of A-Z a-z 0-9 . _ : - (letter or digit first)"
            )
        if isinstance(entry, str):
            target = _target(where, entry)
            if is_application_profile(target):
                raise ValueError(
                    f"{where} is an application inference profile: write it as "
                    '{"target": "<profile ARN>", "pricing_model": "<base model id>"}'
                )
            routes[alias] = ModelRoute(alias, target, base_model_id(target))
        elif isinstance(entry, dict):
            if set(entry) != {"target", "pricing_model"}:
                raise ValueError(f"{where} must have exactly the keys target and pricing_model")
            target = _target(f"{where}.target", entry["target"])
            pricing = _target(f"{where}.pricing_model", entry["pricing_model"])
            routes[alias] = ModelRoute(alias, target, pricing)
        else:
            raise ValueError(f"{where} must be a model id string or an object")
    return routes


def _target(where: str, value: Any) -> str:
    if not isinstance(value, str) or not _TARGET_RE.match(value):
        raise ValueError(f"{where} must be a model id, inference profile id or Bedrock ARN")
    return value


def _integer(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError as error:
        raise ValueError(f"{name} must be an integer, got {text!r}") from error
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _number(
    environ: Mapping[str, str], name: str, default: float, low: float, high: float
) -> float:
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError as error:
        raise ValueError(f"{name} must be a number, got {text!r}") from error
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low:g} and {high:g}, got {value:g}")
    return value


def _boolean(environ: Mapping[str, str], name: str, default: bool = False) -> bool:
    text = environ.get(name, "").strip().lower()
    if not text:
        return default
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name} must be true or false, got {text!r}")
