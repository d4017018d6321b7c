"""The built-in Bedrock on-demand price table, as data, with where and when it was read.

Every rate is USD per 1K tokens as a decimal string, for US East (N. Virginia) on the Standard
tier. For the models where Bedrock prices global cross-Region inference below the regional
price (Anthropic's Claude 4.5 generation), the rates here are the global ones and
``regional_premium`` is the factor in-region calls and geographic profiles (``us.``, ``eu.``,
``apac.`` ...) pay on top; for every other model a cross-region profile costs the price of the
source region. ``None`` for a cache rate means no rate was published for the model (or it could
not be confirmed) and the default factor of :mod:`bedrock_guard.core.pricing` applies.
``PRICING_JSON`` overrides any model's rates without a release.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

SOURCE: Final = (
    "https://aws.amazon.com/bedrock/pricing/ (on-demand and batch, US East (N. Virginia)); "
    "https://docs.aws.amazon.com/bedrock/latest/userguide/global-cross-region-inference.html "
    "(global profiles about 10% below geographic ones for Claude Sonnet 4.5); "
    "https://docs.aws.amazon.com/bedrock/latest/userguide/service-tiers-inference.html "
    "(Priority at a premium, Flex at a discount); Anthropic's published Claude prices for "
    "prompt-cache writes by TTL (5 minutes 1.25x, 1 hour 2x input) and reads (0.1x input)"
)
AS_OF: Final = "2026-12-03"

# Bedrock bills batch inference at half the on-demand price of the model (both directions).
BATCH_FACTOR: Final = Decimal("0.5")
# Service tiers against the Standard ("default") tier. AWS publishes a price per model and tier,
# not a multiplier, and its announcements say only "premium" (Priority) and "discount" (Flex);
# the pricing page renders its figures client-side, so they could not be confirmed here. 1.75x
# and 0.5x are the ratios commonly reported for the models that launched with the tiers
# (2025-11): unconfirmed, and a release changes them if AWS's figures differ. "reserved"
# capacity is billed per reserved tokens-per-minute, not per token, so a reserved call is valued
# at Standard rates (what its overflow costs).
SERVICE_TIER_FACTORS: Final[Mapping[str, Decimal]] = {
    "default": Decimal(1),
    "reserved": Decimal(1),
    "priority": Decimal("1.75"),  # unconfirmed: Standard + 75%
    "flex": Decimal("0.5"),  # unconfirmed: Standard - 50%
}
# Anthropic's regional endpoints (and Bedrock's geographic profiles) for the Claude 4.5
# generation cost 10% more than the global profile.
CLAUDE_45_REGIONAL_PREMIUM: Final = Decimal("1.1")


@dataclass(frozen=True, slots=True)
class ModelRates:
    """Published rates of one model, USD per 1K tokens (decimal strings)."""

    input: str
    output: str
    cache_read: str | None = None
    cache_write: str | None = None  # 5-minute TTL
    cache_write_1h: str | None = None  # 1-hour TTL
    regional_premium: Decimal = Decimal(1)  # regional and geographic price / global price
    note: str = ""


_C45: Final = CLAUDE_45_REGIONAL_PREMIUM

PRICE_TABLE: Final[Mapping[str, ModelRates]] = {
    # Anthropic Claude 3, 3.5 and 3.7: one price worldwide. Without published cache rates the
    # default factors apply (these models have no prompt caching on Bedrock).
    "anthropic.claude-instant-v1": ModelRates("0.0008", "0.0024"),
    "anthropic.claude-3-haiku-20240307-v1:0": ModelRates("0.00025", "0.00125"),
    "anthropic.claude-3-sonnet-20240229-v1:0": ModelRates("0.003", "0.015"),
    "anthropic.claude-3-opus-20240229-v1:0": ModelRates("0.015", "0.075"),
    "anthropic.claude-3-5-sonnet-20240620-v1:0": ModelRates(
        "0.003",
        "0.015",
        note="launch price; AWS may bill legacy Claude 3.5 models at an extended-access price "
        "(unconfirmed here): override with PRICING_JSON",
    ),
    "anthropic.claude-3-5-sonnet-20241022-v2:0": ModelRates(
        "0.003", "0.015", note="launch price; see claude-3-5-sonnet-20240620-v1:0"
    ),
    "anthropic.claude-3-5-haiku-20241022-v1:0": ModelRates(
        "0.0008", "0.004", cache_read="0.00008", cache_write="0.001"
    ),
    "anthropic.claude-3-7-sonnet-20250219-v1:0": ModelRates(
        "0.003", "0.015", cache_read="0.0003", cache_write="0.00375"
    ),
    # Claude 4 generation: one price worldwide (global profile = regional price).
    "anthropic.claude-sonnet-4-20250514-v1:0": ModelRates(
        "0.003",
        "0.015",
        cache_read="0.0003",
        cache_write="0.00375",
        note="prompts over 200K tokens (1M context beta) are billed at a higher rate, not "
        "modelled here",
    ),
    "anthropic.claude-opus-4-20250514-v1:0": ModelRates(
        "0.015", "0.075", cache_read="0.0015", cache_write="0.01875"
    ),
    "anthropic.claude-opus-4-1-20250805-v1:0": ModelRates(
        "0.015", "0.075", cache_read="0.0015", cache_write="0.01875"
    ),
    # Claude 4.5 generation: global list price; regional and geographic profiles +10%.
    "anthropic.claude-sonnet-4-5-20250929-v1:0": ModelRates(
        "0.003",
        "0.015",
        cache_read="0.0003",
        cache_write="0.00375",
        cache_write_1h="0.006",
        regional_premium=_C45,
        note="prompts over 200K tokens are billed at a higher rate, not modelled here",
    ),
    "anthropic.claude-haiku-4-5-20251001-v1:0": ModelRates(
        "0.001",
        "0.005",
        cache_read="0.0001",
        cache_write="0.00125",
        cache_write_1h="0.002",
        regional_premium=_C45,
    ),
    "anthropic.claude-opus-4-5-20251101-v1:0": ModelRates(
        "0.005",
        "0.025",
        cache_read="0.0005",
        cache_write="0.00625",
        cache_write_1h="0.01",
        regional_premium=_C45,
    ),
    # Amazon Nova: cache reads at 75% off input; no separate cache-write rate was found, so the
    # default 1.25x applies (an over-count if AWS bills writes as plain input: unconfirmed).
    "amazon.nova-micro-v1:0": ModelRates("0.000035", "0.00014", cache_read="0.00000875"),
    "amazon.nova-lite-v1:0": ModelRates("0.00006", "0.00024", cache_read="0.000015"),
    "amazon.nova-pro-v1:0": ModelRates("0.0008", "0.0032", cache_read="0.0002"),
    "amazon.nova-premier-v1:0": ModelRates(
        "0.0025", "0.0125", note="cache rates not confirmed: default factors apply"
    ),
}
