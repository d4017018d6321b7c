"""Budget arithmetic: windows, the input bound, worst cases, refusals and what remains."""

from __future__ import annotations

import calendar
import unicodedata
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bedrock_guard.core.accounting import (
    BLOCK_OVERHEAD_TOKENS,
    MESSAGE_OVERHEAD_TOKENS,
    REQUEST_OVERHEAD_TOKENS,
    Charge,
    Counters,
    Limits,
    Window,
    caps,
    exceeds_alone,
    input_token_bound,
    iso_utc,
    period_of,
    refusing_window,
    remaining,
    seconds_until,
    text_token_bound,
    used_percent,
    worst_case,
)
from bedrock_guard.core.pricing import Price

LIMITS = Limits(
    daily_tokens=1000, monthly_tokens=5000, daily_usd=Decimal("1"), monthly_usd=Decimal("3")
)


def test_period_names_the_utc_day_and_month_and_their_resets() -> None:
    period = period_of(datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC))
    assert (period.month, period.day) == ("2026-12", "31")
    assert period.day_resets_at == datetime(2027, 1, 1, tzinfo=UTC)
    assert period.month_resets_at == datetime(2027, 1, 1, tzinfo=UTC)
    assert period.attribute(Window.DAILY_TOKENS) == "d31_tokens"
    assert period.attribute(Window.MONTHLY_USD) == "month_usd"
    # Counters of December 2026 expire 13 months after the month ends.
    assert period.expires_at == calendar.timegm((2028, 2, 1, 0, 0, 0))


def test_period_uses_utc_for_other_zones_and_naive_times() -> None:
    from datetime import timedelta, timezone

    tokyo = timezone(timedelta(hours=9))
    assert period_of(datetime(2026, 11, 1, 5, 0, tzinfo=tokyo)).month == "2026-10"
    assert period_of(datetime(2026, 11, 1, 5, 0)).day == "01"


@pytest.mark.parametrize(
    "text",
    [
        "plain ascii",
        "naïve café",
        "日本語のテキスト",
        "\ufdfa",  # one code point, 18 letters after NFKC
        "\u2460\ufb01\u3392",  # circled digit, ligature, squared unit
        "e\u0301\u00e9",
        "🙂" * 3,
    ],
)
def test_text_bound_covers_raw_and_normalised_utf8(text: str) -> None:
    bound = text_token_bound(text)
    for form in ("NFC", "NFD", "NFKC", "NFKD"):
        assert bound >= len(unicodedata.normalize(form, text).encode("utf-8"))
    assert bound >= len(text.encode("utf-8"))


def test_expanding_character_is_bounded_by_its_expansion() -> None:
    assert len("\ufdfa".encode()) == 3
    assert text_token_bound("\ufdfa") == len(unicodedata.normalize("NFKC", "\ufdfa").encode())


def test_input_bound_adds_template_overheads() -> None:
    messages = [["abc", "de"], ["xyz"]]
    expected = (
        REQUEST_OVERHEAD_TOKENS
        + 2 * MESSAGE_OVERHEAD_TOKENS
        + 3 * BLOCK_OVERHEAD_TOKENS
        + len("abcdexyz")
    )
    assert input_token_bound(messages) == expected
    with_system = input_token_bound(messages, ["sys"])
    assert with_system == expected + MESSAGE_OVERHEAD_TOKENS + BLOCK_OVERHEAD_TOKENS + 3


def test_worst_case_prices_input_at_the_dearest_rate() -> None:
    price = Price.of("0.003", "0.015")  # cache write 0.00375 is the dearest input rate
    worst = worst_case(input_bound=2000, max_tokens=1000, price=price)
    assert worst == Charge(tokens=3000, usd=Decimal("0.0225"))


def test_worst_case_uses_an_overridden_cache_read_if_dearer() -> None:
    price = Price.of("0.001", "0.002", cache_read="0.01", cache_write="0.001")
    assert worst_case(1000, 0, price).usd == Decimal("0.01")


def test_exceeds_alone_and_caps() -> None:
    assert exceeds_alone(LIMITS, Charge(999, Decimal("0.5"))) is None
    assert exceeds_alone(LIMITS, Charge(1001, Decimal("0.5"))) == (Window.DAILY_TOKENS, 1000)
    assert exceeds_alone(LIMITS, Charge(10, Decimal("3.01"))) == (
        Window.MONTHLY_USD,
        Decimal("3"),
    )
    assert caps(LIMITS, Charge(100, Decimal("0.25"))) == {
        Window.MONTHLY_TOKENS: 4900,
        Window.MONTHLY_USD: Decimal("2.75"),
        Window.DAILY_TOKENS: 900,
        Window.DAILY_USD: Decimal("0.75"),
    }
    assert caps(Limits(), Charge(100, Decimal(1))) == {}


def test_refusing_window_prefers_the_window_that_resets_last() -> None:
    worst = Charge(100, Decimal("0.1"))
    both = Counters(
        {Window.DAILY_TOKENS: 950, Window.MONTHLY_TOKENS: 4950, Window.DAILY_USD: Decimal(0)}
    )
    assert refusing_window(LIMITS, both, worst) == Window.MONTHLY_TOKENS
    daily = Counters({Window.DAILY_TOKENS: 901})
    assert refusing_window(LIMITS, daily, worst) == Window.DAILY_TOKENS
    exactly_full = Counters({Window.DAILY_TOKENS: 900})  # 900 + 100 == limit: still admitted
    assert refusing_window(LIMITS, exactly_full, worst) is None


def test_remaining_is_never_negative_and_covers_only_limited_windows() -> None:
    used = Counters({Window.DAILY_TOKENS: 1200, Window.MONTHLY_USD: Decimal("1.25")})
    assert remaining(LIMITS, used) == {
        Window.MONTHLY_TOKENS: 5000,
        Window.MONTHLY_USD: Decimal("1.75"),
        Window.DAILY_TOKENS: 0,
        Window.DAILY_USD: Decimal(1),
    }
    assert remaining(Limits(daily_tokens=10), Counters()) == {Window.DAILY_TOKENS: 10}


def test_used_percent_is_the_highest_window() -> None:
    used = Counters({Window.DAILY_TOKENS: 250, Window.MONTHLY_USD: Decimal("1.5")})
    assert used_percent(LIMITS, used) == Decimal(50)
    assert used_percent(Limits(), used) is None
    assert used_percent(Limits(daily_tokens=0), Counters()) == Decimal(100)


def test_counters_read_only_the_requested_period() -> None:
    period = period_of(datetime(2026, 11, 23, tzinfo=UTC))
    counters = Counters.from_numbers(
        {"month_tokens": Decimal(40), "d23_tokens": Decimal(7), "d22_tokens": Decimal(33)}, period
    )
    assert counters.of(Window.DAILY_TOKENS) == 7
    assert counters.of(Window.MONTHLY_TOKENS) == 40
    assert counters.of(Window.DAILY_USD) == Decimal(0)


def test_retry_after_and_iso_format() -> None:
    now = datetime(2026, 11, 23, 15, 0, 0, 500000, tzinfo=UTC)
    reset = datetime(2026, 11, 24, tzinfo=UTC)
    assert seconds_until(reset, now) == 9 * 3600  # 32399.5 s rounds up
    assert seconds_until(now, now) == 1
    assert iso_utc(reset) == "2026-11-24T00:00:00Z"


def test_window_response_keys() -> None:
    assert [w.response_key for w in Window] == [
        "dailyTokens",
        "monthlyTokens",
        "dailyUsd",
        "monthlyUsd",
    ]
