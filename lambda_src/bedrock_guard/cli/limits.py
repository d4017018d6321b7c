"""Tier limits as the gate applies them, for showing usage next to what is allowed."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from bedrock_guard.cli.context import Context
from bedrock_guard.cli.errors import CliError, ExitCode
from bedrock_guard.cli.table_reader import CallerMonth
from bedrock_guard.core.accounting import WINDOWS, Counters, Limits, Window, remaining, used_percent
from bedrock_guard.gate.config import NO_DEFAULT_TIER, parse_tier_limits

TIER_LIMITS_ENV: Final = ("TIER_LIMITS_JSON",)
TIER_LIMITS_OUTPUT: Final = "tier_limits_json"
DEFAULT_TIER_ENV: Final = ("DEFAULT_TIER",)
DEFAULT_TIER_OUTPUT: Final = "default_tier"
_PERCENT_PLACES: Final = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class TierSettings:
    """The tiers (``None``: unknown, no source configured) and the default tier, if any."""

    tiers: Mapping[str, Limits] | None
    default_tier: str | None


def load_tiers(ctx: Context, limits_flag: str | None, default_flag: str | None) -> TierSettings:
    """Tier limits from the flag, ``TIER_LIMITS_JSON`` or the ``tier_limits_json`` output."""
    text, source = ctx.setting(limits_flag, TIER_LIMITS_ENV, TIER_LIMITS_OUTPUT)
    tiers = None
    if text is not None:
        try:
            tiers = parse_tier_limits(text)
        except ValueError as error:
            raise CliError(f"tier limits (from {source}): {error}", ExitCode.USAGE) from error
    default, _ = ctx.setting(default_flag, DEFAULT_TIER_ENV, DEFAULT_TIER_OUTPUT)
    if default == NO_DEFAULT_TIER:
        default = None
    return TierSettings(tiers, default)


@dataclass(frozen=True, slots=True)
class Standing:
    """A caller's tier, limits and how much of them is used."""

    tier: str | None
    tier_source: str | None  # "registry", "default", or None
    limits: Limits | None
    used_percent: Decimal | None
    remaining: dict[Window, int | Decimal]


def standing(caller: CallerMonth, settings: TierSettings, day: str | None) -> Standing:
    """Limits and use of ``caller``; daily windows count only when ``day`` (today) is given."""
    tier = caller.attribute("tier")
    source: str | None = "registry" if tier else None
    if tier is None and settings.default_tier is not None:
        tier, source = settings.default_tier, "default"
    limits = None
    if tier is not None and settings.tiers is not None:
        limits = settings.tiers.get(tier)
    if limits is None:
        return Standing(tier, source, None, None, {})
    effective = limits if day else dataclasses.replace(limits, daily_tokens=None, daily_usd=None)
    today = caller.days.get(day or "")
    values: dict[Window, int | Decimal] = {
        Window.MONTHLY_TOKENS: caller.month.tokens,
        Window.MONTHLY_USD: caller.month.usd,
    }
    if today is not None:
        values[Window.DAILY_TOKENS] = today.tokens
        values[Window.DAILY_USD] = today.usd
    used = Counters(values)
    percent = used_percent(effective, used)
    return Standing(
        tier,
        source,
        limits,
        None if percent is None else percent.quantize(_PERCENT_PLACES),
        remaining(effective, used),
    )


def limits_json(limits: Limits | None) -> dict[str, Any] | None:
    """``{"monthly_tokens": int|null, "monthly_usd": "..."|null, ...}`` or ``None``."""
    if limits is None:
        return None
    return {window.value: limits.of(window) for window in WINDOWS}
