"""Budget arithmetic of the token gate: windows, worst-case estimates, limits, remaining.

Everything here is pure (no AWS), so the rules that guarantee a caller never exceeds a limit
can be read and tested on their own:

* a request reserves its *worst case* before Bedrock is called: an upper bound of its input
  tokens plus ``max_tokens``, priced at the dearest input rate (cache write is 1.25x input);
* a window admits the reservation only while ``used + worst <= limit``; the store turns this
  into the DynamoDB condition ``used <= limit - worst`` so that concurrent requests cannot pass
  it together;
* after the call the reservation is settled to the real usage, which never exceeds it.

Input bound: Bedrock's text models tokenize with byte-level BPE (or byte-fallback
sentencepiece), where every token stands for at least one byte of the text the tokenizer sees.
That text may be Unicode-normalised first, and NFKC/NFKD can expand a character (one 3-byte
ligature becomes 18 letters), so the bound takes the largest UTF-8 length of the raw, NFKC and
NFKD forms of each text, plus a fixed allowance per content block, per message and per request
for the chat template's role and control tokens.
"""

from __future__ import annotations

import calendar
import math
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Final

from bedrock_guard.core.pricing import THOUSAND, Price

REQUEST_OVERHEAD_TOKENS: Final = 64
MESSAGE_OVERHEAD_TOKENS: Final = 16
BLOCK_OVERHEAD_TOKENS: Final = 4
# Counters outlive their month by about 13 months, for reports a year back.
RETENTION_MONTHS: Final = 13

HUNDRED: Final = Decimal(100)


class Window(StrEnum):
    """A limited window. The values name the limit in 429 answers and in TIER_LIMITS_JSON."""

    DAILY_TOKENS = "daily_tokens"
    MONTHLY_TOKENS = "monthly_tokens"
    DAILY_USD = "daily_usd"
    MONTHLY_USD = "monthly_usd"

    @property
    def is_daily(self) -> bool:
        return self in (Window.DAILY_TOKENS, Window.DAILY_USD)

    @property
    def is_usd(self) -> bool:
        return self in (Window.DAILY_USD, Window.MONTHLY_USD)

    @property
    def response_key(self) -> str:
        """camelCase name used in the ``remaining`` object of a 200 answer."""
        period, unit = self.value.split("_")
        return f"{period}{'Usd' if unit == 'usd' else 'Tokens'}"


# Monthly windows first: when several windows refuse, the one that resets last is reported.
WINDOWS: Final = (Window.MONTHLY_TOKENS, Window.MONTHLY_USD, Window.DAILY_TOKENS, Window.DAILY_USD)

Amount = int | Decimal


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits of one tier; ``None`` means that window is not limited."""

    daily_tokens: int | None = None
    monthly_tokens: int | None = None
    daily_usd: Decimal | None = None
    monthly_usd: Decimal | None = None

    def of(self, window: Window) -> Amount | None:
        value: Amount | None = getattr(self, window.value)
        return value

    def limited(self) -> list[tuple[Window, Amount]]:
        """The limited windows with their limits, monthly first."""
        return [(w, limit) for w in WINDOWS if (limit := self.of(w)) is not None]


@dataclass(frozen=True, slots=True)
class Charge:
    """Tokens and dollars counted against every window."""

    tokens: int
    usd: Decimal

    def of(self, window: Window) -> Amount:
        return self.usd if window.is_usd else self.tokens

    def minus(self, other: Charge) -> Charge:
        return Charge(self.tokens - other.tokens, self.usd - other.usd)

    def negated(self) -> Charge:
        return Charge(-self.tokens, -self.usd)


@dataclass(frozen=True, slots=True)
class Period:
    """The UTC day and month a request is counted in, and the attribute names that hold them."""

    month: str  # yyyy-mm, the sort key of the usage item
    day: str  # dd
    day_resets_at: datetime
    month_resets_at: datetime
    expires_at: int  # epoch seconds, TTL of the month's usage item

    def attribute(self, window: Window) -> str:
        """Counter attribute of a window in the month item: month_tokens, d07_usd, ..."""
        prefix = f"d{self.day}" if window.is_daily else "month"
        return f"{prefix}_{'usd' if window.is_usd else 'tokens'}"

    def resets_at(self, window: Window) -> datetime:
        return self.day_resets_at if window.is_daily else self.month_resets_at


def period_of(now: datetime) -> Period:
    """The counting period of an instant (naive datetimes are taken as UTC)."""
    now = _as_utc(now)
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    month_start = day_start.replace(day=1)
    next_month = _add_months(month_start, 1)
    expires = _add_months(next_month, RETENTION_MONTHS)
    return Period(
        month=f"{now.year:04d}-{now.month:02d}",
        day=f"{now.day:02d}",
        day_resets_at=day_start + timedelta(days=1),
        month_resets_at=next_month,
        expires_at=calendar.timegm(expires.utctimetuple()),
    )


def period_of_day(month: str, day: str) -> Period:
    """The counting period of day ``dd`` of month ``yyyy-mm``."""
    return period_of(datetime.strptime(f"{month}-{day}", "%Y-%m-%d"))


def _as_utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _add_months(first_of_month: datetime, months: int) -> datetime:
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return first_of_month.replace(year=index // 12, month=index % 12 + 1)


def text_token_bound(text: str) -> int:
    """Upper bound of the tokens one text can become: its longest UTF-8 form (raw, NFKC, NFKD)."""
    raw = len(text.encode("utf-8"))
    if text.isascii():
        return raw  # normalisation never changes ASCII
    return max(
        raw,
        len(unicodedata.normalize("NFKC", text).encode("utf-8")),
        len(unicodedata.normalize("NFKD", text).encode("utf-8")),
    )


def input_token_bound(messages: Iterable[Iterable[str]], system: Iterable[str] = ()) -> int:
    """Upper bound of the input tokens of a conversation.

    ``messages`` holds, per message, the texts of its content blocks; ``system`` the texts of
    the system prompt blocks (counted as one more message when present).
    """
    total = REQUEST_OVERHEAD_TOKENS
    system_texts = list(system)
    if system_texts:
        total += MESSAGE_OVERHEAD_TOKENS
        total += sum(BLOCK_OVERHEAD_TOKENS + text_token_bound(t) for t in system_texts)
    for texts in messages:
        total += MESSAGE_OVERHEAD_TOKENS
        total += sum(BLOCK_OVERHEAD_TOKENS + text_token_bound(t) for t in texts)
    return total


def worst_case(input_bound: int, max_tokens: int, price: Price) -> Charge:
    """The most a request can cost: every input token at the dearest input rate, plus
    ``max_tokens`` output tokens."""
    usd = (input_bound * price.highest_input + max_tokens * price.output) / THOUSAND
    return Charge(tokens=input_bound + max_tokens, usd=usd)


@dataclass(frozen=True, slots=True)
class Counters:
    """What a caller has used (settled plus reserved) in a period."""

    values: Mapping[Window, Amount] = field(default_factory=dict)

    def of(self, window: Window) -> Amount:
        return self.values.get(window, Decimal(0) if window.is_usd else 0)

    @classmethod
    def from_numbers(cls, numbers: Mapping[str, Decimal], period: Period) -> Counters:
        """Read the counters of ``period`` from a usage item's numeric attributes."""
        values: dict[Window, Amount] = {}
        for window in WINDOWS:
            raw = numbers.get(period.attribute(window))
            if raw is None:
                continue
            values[window] = raw if window.is_usd else int(raw)
        return cls(values)


def exceeds_alone(limits: Limits, worst: Charge) -> tuple[Window, Amount] | None:
    """A window whose limit the worst case exceeds even with nothing used, if any."""
    for window, limit in limits.limited():
        if worst.of(window) > limit:
            return window, limit
    return None


def caps(limits: Limits, worst: Charge) -> dict[Window, Amount]:
    """Per limited window, the most that may already be used for the reservation to fit."""
    return {window: limit - worst.of(window) for window, limit in limits.limited()}


def refusing_window(limits: Limits, used: Counters, worst: Charge) -> Window | None:
    """The window that refuses a reservation: among those with ``used + worst > limit``, the one
    that resets last (monthly before daily, tokens before dollars)."""
    for window, limit in limits.limited():
        if used.of(window) + worst.of(window) > limit:
            return window
    return None


def remaining(limits: Limits, used: Counters) -> dict[Window, Amount]:
    """What is left in each limited window (never below zero)."""
    zero: dict[bool, Amount] = {True: Decimal(0), False: 0}
    return {
        window: max(zero[window.is_usd], limit - used.of(window))
        for window, limit in limits.limited()
    }


def used_percent(limits: Limits, used: Counters) -> Decimal | None:
    """The highest used/limit x 100 over the limited windows; ``None`` when nothing is limited.

    A zero limit counts as 100% used (nothing may be spent in it).
    """
    highest: Decimal | None = None
    for window, limit in limits.limited():
        amount = Decimal(used.of(window))
        percent = HUNDRED if limit == 0 else amount * HUNDRED / Decimal(limit)
        highest = percent if highest is None else max(highest, percent)
    return highest


def seconds_until(when: datetime, now: datetime) -> int:
    """Whole seconds from ``now`` to ``when``, at least 1 (a Retry-After value)."""
    return max(1, math.ceil((when - _as_utc(now)).total_seconds()))


def iso_utc(when: datetime) -> str:
    """``2026-11-24T00:00:00Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
