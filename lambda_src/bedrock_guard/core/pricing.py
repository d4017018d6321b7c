"""Bedrock prices per 1K tokens, and the cost of a call in exact decimals, as Bedrock bills it.

The built-in table (:mod:`bedrock_guard.core.price_table`, data with its source and date)
covers the models the project supports out of the box; ``PRICING_JSON`` replaces or adds
entries and always wins. Cross-region inference profile ids (``us.``, ``eu.``, ``apac.``,
``global.`` ...) and foundation-model or system inference-profile ARNs price as their base
model; a ``global.`` profile gets the global price where Bedrock publishes one below the
regional price (Claude 4.5 generation), geographic profiles the regional price.
:func:`invocation_cost` adds what an invocation log record carries: prompt-cache writes by
TTL, the service tier and batch inference. A model without a price is never treated as free:
:meth:`PriceBook.lookup` and :func:`invocation_cost` return ``None``; the gate refuses the
request before Bedrock is called, the meter counts the tokens and flags the record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

from bedrock_guard.core.price_table import (
    BATCH_FACTOR,
    PRICE_TABLE,
    SERVICE_TIER_FACTORS,
    ModelRates,
)

THOUSAND: Final = Decimal(1000)
DEFAULT_CACHE_READ_FACTOR: Final = Decimal("0.1")
DEFAULT_CACHE_WRITE_FACTOR: Final = Decimal("1.25")
# A prompt-cache write with a 1-hour TTL costs twice the input price (Anthropic's rule, the only
# provider with a 1-hour TTL on Bedrock); applied where the table or an override has no rate.
DEFAULT_CACHE_WRITE_1H_FACTOR: Final = Decimal(2)
GLOBAL_PREFIX: Final = "global."

# Geographic prefixes of system-defined cross-region inference profiles.
GEO_PREFIXES: Final = ("us-gov", "us", "eu", "apac", "jp", "au", "ca", "global")
_GEO_RE: Final = re.compile(
    rf"^(?:{'|'.join(re.escape(p) for p in GEO_PREFIXES)})\.(?=[a-z0-9-]+\.)"
)
# Provisioned-throughput variants carry a context suffix (``...-v1:0:200k``).
_CONTEXT_SUFFIX_RE: Final = re.compile(r":\d+k$")
_BEDROCK_ARN_RE: Final = re.compile(
    r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]*:\d{0,12}:"
    r"(?P<kind>foundation-model|inference-profile|application-inference-profile)/(?P<id>.+)$"
)

# The gate's original price list (input / output USD per 1K tokens). ``PriceBook.lookup`` prices
# these with the default cache factors, as the gate always has; :func:`invocation_cost` uses the
# published cache rates of the full table (they differ only for Nova Micro and Lite cache reads).
_GATE_LIST: Final = (
    "anthropic.claude-3-haiku-20240307-v1:0",
    "anthropic.claude-3-sonnet-20240229-v1:0",
    "anthropic.claude-3-opus-20240229-v1:0",
    "anthropic.claude-3-5-haiku-20241022-v1:0",
    "anthropic.claude-3-5-sonnet-20241022-v2:0",
    "anthropic.claude-instant-v1",
    "amazon.nova-micro-v1:0",
    "amazon.nova-lite-v1:0",
)
BUILTIN_PRICES_PER_1K: Final[Mapping[str, tuple[str, str]]] = {
    model: (PRICE_TABLE[model].input, PRICE_TABLE[model].output) for model in _GATE_LIST
}

_PRICE_FIELDS: Final = ("input", "output", "cache_read", "cache_write")


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Tokens of one Converse call, as Bedrock reports them."""

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def total(self) -> int:
        """Every token charged: input, output, cache read and cache write."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )

    @property
    def prompt_tokens(self) -> int:
        """All input-side tokens, cached or not."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens


@dataclass(frozen=True, slots=True)
class Price:
    """USD per 1K tokens for each kind of token a Converse call reports."""

    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal

    @classmethod
    def of(
        cls,
        input_per_1k: Decimal | str,
        output_per_1k: Decimal | str,
        cache_read: Decimal | str | None = None,
        cache_write: Decimal | str | None = None,
    ) -> Price:
        """A price with the default cache factors (0.1x read, 1.25x write) unless given."""
        inp = Decimal(input_per_1k)
        return cls(
            input=inp,
            output=Decimal(output_per_1k),
            cache_read=inp * DEFAULT_CACHE_READ_FACTOR
            if cache_read is None
            else Decimal(cache_read),
            cache_write=(
                inp * DEFAULT_CACHE_WRITE_FACTOR if cache_write is None else Decimal(cache_write)
            ),
        )

    @property
    def highest_input(self) -> Decimal:
        """The dearest way an input token can be billed (input, cache write or cache read)."""
        return max(self.input, self.cache_read, self.cache_write)

    def cost(self, usage: TokenUsage) -> Decimal:
        """Exact USD cost of a call."""
        return (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_read_tokens * self.cache_read
            + usage.cache_write_tokens * self.cache_write
        ) / THOUSAND


def base_model_id(model: str) -> str:
    """The foundation model id behind a model id, profile id or ARN, for price lookups.

    ``us.anthropic.claude-3-haiku-20240307-v1:0`` and
    ``arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0``
    both give ``anthropic.claude-3-haiku-20240307-v1:0``. An application inference profile ARN
    cannot be resolved without calling Bedrock and is returned unchanged.
    """
    match = _BEDROCK_ARN_RE.match(model)
    if match:
        if match["kind"] == "application-inference-profile":
            return model
        model = match["id"]
    return _GEO_RE.sub("", model, count=1)


def is_application_profile(model: str) -> bool:
    """True for an application inference profile ARN (priced only via ``pricing_model``)."""
    match = _BEDROCK_ARN_RE.match(model)
    return bool(match and match["kind"] == "application-inference-profile")


def is_global_profile(model: str) -> bool:
    """True for a ``global.`` cross-region inference profile id or its ARN."""
    match = _BEDROCK_ARN_RE.match(model)
    if match:
        if match["kind"] != "inference-profile":
            return False
        model = match["id"]
    return model.startswith(GLOBAL_PREFIX)


@dataclass(frozen=True, slots=True)
class Rates:
    """Everything one model id is billed at: the gate's :class:`Price` (its cache write is the
    5-minute TTL) plus the 1-hour cache write."""

    price: Price
    cache_write_1h: Decimal

    def cost(self, usage: TokenUsage, cache_write_1h_tokens: int = 0) -> Decimal:
        """Exact USD cost at Standard on-demand rates; ``cache_write_1h_tokens`` is the part of
        ``usage.cache_write_tokens`` written with a 1-hour TTL."""
        extra = self.cache_write_1h - self.price.cache_write
        return self.price.cost(usage) + cache_write_1h_tokens * extra / THOUSAND


def _rates_of(price: Price, cache_write_1h: Decimal | None = None) -> Rates:
    one_hour = (
        price.input * DEFAULT_CACHE_WRITE_1H_FACTOR if cache_write_1h is None else cache_write_1h
    )
    return Rates(price, one_hour)


def _table_rates(rates: ModelRates, *, global_profile: bool) -> Rates:
    factor = Decimal(1) if global_profile else rates.regional_premium

    def rate(value: str | None, default: Decimal) -> Decimal:
        return default if value is None else Decimal(value) * factor

    inp = Decimal(rates.input) * factor
    price = Price(
        input=inp,
        output=Decimal(rates.output) * factor,
        cache_read=rate(rates.cache_read, inp * DEFAULT_CACHE_READ_FACTOR),
        cache_write=rate(rates.cache_write, inp * DEFAULT_CACHE_WRITE_FACTOR),
    )
    return Rates(price, rate(rates.cache_write_1h, inp * DEFAULT_CACHE_WRITE_1H_FACTOR))


class PriceBook:
    """The built-in price table with ``PRICING_JSON`` overrides on top."""

    def __init__(self, overrides: Mapping[str, Price] | None = None) -> None:
        self._overrides: dict[str, Price] = dict(overrides or {})

    def _candidates(self, model: str) -> tuple[str, ...]:
        base = base_model_id(model)
        return (model, base, _CONTEXT_SUFFIX_RE.sub("", base))

    def rates(self, model: str) -> Rates | None:
        """Every rate of a model id, profile id or ARN as Bedrock bills it; ``None`` without one.

        An override wins (an exact one first, so a profile id can be priced on its own, then
        its base model's, which then prices every profile of that model alike); then the
        built-in table, at its global price for a ``global.`` profile and at the regional
        price for anything else.
        """
        candidates = self._candidates(model)
        for candidate in candidates:
            if candidate in self._overrides:
                return _rates_of(self._overrides[candidate])
        for candidate in candidates[1:]:
            if candidate in PRICE_TABLE:
                return _table_rates(PRICE_TABLE[candidate], global_profile=is_global_profile(model))
        return None

    def lookup(self, model: str) -> Price | None:
        """The price of a model id, profile id or ARN; ``None`` when it has none.

        An exact entry wins (so a profile id can be priced on its own), then the base model,
        then the base model without a provisioned-throughput context suffix. The gate's
        original list keeps the default cache factors (see ``BUILTIN_PRICES_PER_1K``).
        """
        candidates = self._candidates(model)
        if not any(c in self._overrides for c in candidates):
            for candidate in candidates[1:]:
                if candidate in BUILTIN_PRICES_PER_1K:
                    return Price.of(*BUILTIN_PRICES_PER_1K[candidate])
        rates = self.rates(model)
        return None if rates is None else rates.price

    def models(self) -> frozenset[str]:
        """Every model id with a price."""
        return frozenset(PRICE_TABLE) | frozenset(self._overrides)


def invocation_cost(
    book: PriceBook,
    model_id: str,
    usage: TokenUsage,
    *,
    cache_write_1h_tokens: int = 0,
    service_tier: str | None = None,
    batch: bool = False,
    profile_models: Mapping[str, str] | None = None,
) -> Decimal | None:
    """Exact USD cost of one logged invocation, or ``None`` when its model has no price.

    ``model_id`` is as logged (model id, cross-region profile id, or ARN); an application
    inference profile ARN is priced as the model ``profile_models`` maps it to (the gate's
    ``MODEL_ALIASES_JSON`` ``target`` -> ``pricing_model``). ``cache_write_1h_tokens`` is the
    part of ``usage.cache_write_tokens`` written with a 1-hour TTL. Batch inference is billed at
    ``BATCH_FACTOR`` of on-demand whatever the tier; otherwise the service tier's factor
    applies (``None`` is Standard; a tier this table does not know is priced as the dearest
    known one, so that spend is never under-counted). Raises ``ValueError`` on negative token
    counts or more 1-hour writes than writes.
    """
    counts = (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        cache_write_1h_tokens,
    )
    if min(counts) < 0:
        raise ValueError(f"token counts must be >= 0: {counts}")
    if cache_write_1h_tokens > usage.cache_write_tokens:
        raise ValueError("cache_write_1h_tokens exceeds cache_write_tokens")
    pricing_model = (profile_models or {}).get(model_id, model_id)
    rates = book.rates(pricing_model)
    if rates is None:
        return None
    cost = rates.cost(usage, cache_write_1h_tokens)
    if batch:
        return cost * BATCH_FACTOR
    return cost * service_tier_factor(service_tier)


def service_tier_factor(service_tier: str | None) -> Decimal:
    """The price factor of a service tier against Standard (see ``SERVICE_TIER_FACTORS``)."""
    if service_tier is None:
        return Decimal(1)
    factor = SERVICE_TIER_FACTORS.get(service_tier.strip().lower())
    return max(SERVICE_TIER_FACTORS.values()) if factor is None else factor


def parse_pricing_json(text: str | None) -> dict[str, Price]:
    """Parse ``PRICING_JSON``: ``{"<model id>": {"input": .., "output": .., "cache_read"?: ..,
    "cache_write"?: ..}}``, USD per 1K tokens as JSON numbers or decimal strings.

    Raises ``ValueError`` naming the offending entry.
    """
    if text is None or not text.strip():
        return {}
    try:
        document = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    except json.JSONDecodeError as error:
        raise ValueError(f"PRICING_JSON is not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise ValueError("PRICING_JSON must be an object of model id -> prices")
    prices: dict[str, Price] = {}
    for model, entry in document.items():
        where = f"PRICING_JSON[{model!r}]"
        if not model or not isinstance(entry, dict):
            raise ValueError(f"{where} must be an object with input and output prices")
        unknown = set(entry) - set(_PRICE_FIELDS)
        if unknown:
            raise ValueError(f"{where} has unknown keys {sorted(unknown)}; allowed {_PRICE_FIELDS}")
        if "input" not in entry or "output" not in entry:
            raise ValueError(f"{where} needs both input and output (USD per 1K tokens)")
        values = {name: _price_value(f"{where}.{name}", entry[name]) for name in entry}
        prices[model] = Price.of(
            values["input"], values["output"], values.get("cache_read"), values.get("cache_write")
        )
    return prices


def _price_value(where: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | str):
        raise ValueError(f"{where} must be a number or a decimal string")
    try:
        number = Decimal(value)
    except InvalidOperation as error:
        raise ValueError(f"{where} is not a decimal number: {value!r}") from error
    if not number.is_finite() or number < 0:
        raise ValueError(f"{where} must be a finite number >= 0")
    return number
