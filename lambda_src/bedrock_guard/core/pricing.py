"""Bedrock on-demand prices per 1K tokens, and the cost of a call in exact decimals.

The built-in table covers the models the project supports out of the box; ``PRICING_JSON``
replaces or adds entries. Cross-region inference profile ids (``us.``, ``eu.``, ``apac.``,
``global.`` ...) and foundation-model or system inference-profile ARNs price as their base
model. A model without a price is never treated as free: :meth:`PriceBook.lookup` returns
``None`` and the gate refuses the request before Bedrock is called.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

THOUSAND: Final = Decimal(1000)
DEFAULT_CACHE_READ_FACTOR: Final = Decimal("0.1")
DEFAULT_CACHE_WRITE_FACTOR: Final = Decimal("1.25")

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

# Input / output USD per 1K tokens, Bedrock on-demand.
BUILTIN_PRICES_PER_1K: Final[Mapping[str, tuple[str, str]]] = {
    "anthropic.claude-3-haiku-20240307-v1:0": ("0.00025", "0.00125"),
    "anthropic.claude-3-sonnet-20240229-v1:0": ("0.003", "0.015"),
    "anthropic.claude-3-opus-20240229-v1:0": ("0.015", "0.075"),
    "anthropic.claude-3-5-haiku-20241022-v1:0": ("0.0008", "0.004"),
    "anthropic.claude-3-5-sonnet-20241022-v2:0": ("0.003", "0.015"),
    "anthropic.claude-instant-v1": ("0.0008", "0.0024"),
    "amazon.nova-micro-v1:0": ("0.000035", "0.00014"),
    "amazon.nova-lite-v1:0": ("0.00006", "0.00024"),
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


class PriceBook:
    """The built-in prices with ``PRICING_JSON`` overrides applied."""

    def __init__(self, overrides: Mapping[str, Price] | None = None) -> None:
        prices = {model: Price.of(i, o) for model, (i, o) in BUILTIN_PRICES_PER_1K.items()}
        prices.update(overrides or {})
        self._prices: dict[str, Price] = prices

    def lookup(self, model: str) -> Price | None:
        """The price of a model id, profile id or ARN; ``None`` when it has none.

        An exact entry wins (so a profile id can be priced on its own), then the base model,
        then the base model without a provisioned-throughput context suffix.
        """
        base = base_model_id(model)
        for candidate in (model, base, _CONTEXT_SUFFIX_RE.sub("", base)):
            if candidate in self._prices:
                return self._prices[candidate]
        return None

    def models(self) -> frozenset[str]:
        """Every model id with a price."""
        return frozenset(self._prices)


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
