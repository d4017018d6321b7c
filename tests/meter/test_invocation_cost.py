"""What one logged invocation costs, as Bedrock bills it: the price table as data, global vs
geographic profiles, prompt-cache writes by TTL, service tiers, batch, application profiles and
PRICING_JSON on top. An unknown model is never $0."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bedrock_guard.core.price_table import AS_OF, PRICE_TABLE, SERVICE_TIER_FACTORS, SOURCE
from bedrock_guard.core.pricing import (
    Price,
    PriceBook,
    TokenUsage,
    invocation_cost,
    is_global_profile,
    parse_pricing_json,
)

SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU_45 = "anthropic.claude-haiku-4-5-20251001-v1:0"
SONNET_4 = "anthropic.claude-sonnet-4-20250514-v1:0"
SONNET_37 = "anthropic.claude-3-7-sonnet-20250219-v1:0"
NOVA_PRO = "amazon.nova-pro-v1:0"
NOVA_MICRO = "amazon.nova-micro-v1:0"
PROFILE = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"
THOUSAND_EACH = TokenUsage(input_tokens=1000, output_tokens=1000)
BOOK = PriceBook()


def cost(model: str, usage: TokenUsage = THOUSAND_EACH, **options: object) -> Decimal | None:
    return invocation_cost(BOOK, model, usage, **options)  # type: ignore[arg-type]


# --- the table as data -----------------------------------------------------------------------


def test_the_table_says_where_and_when_its_prices_come_from() -> None:
    assert "aws.amazon.com/bedrock/pricing" in SOURCE
    assert date.fromisoformat(AS_OF) <= date.today()


@pytest.mark.parametrize(
    "model",
    [
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "anthropic.claude-3-5-sonnet-20241022-v2:0",
        SONNET_37,
        SONNET_4,
        SONNET_45,
        HAIKU_45,
        "anthropic.claude-opus-4-20250514-v1:0",
        "anthropic.claude-opus-4-1-20250805-v1:0",
        "amazon.nova-micro-v1:0",
        "amazon.nova-lite-v1:0",
        NOVA_PRO,
        "amazon.nova-premier-v1:0",
    ],
)
def test_current_models_are_priced(model: str) -> None:
    assert model in PRICE_TABLE
    assert BOOK.lookup(model) is not None
    assert cost(model) is not None


@pytest.mark.parametrize("model", sorted(PRICE_TABLE))
def test_every_rate_is_a_finite_non_negative_decimal_in_a_sane_order(model: str) -> None:
    rates = PRICE_TABLE[model]
    values = [rates.input, rates.output, rates.cache_read, rates.cache_write, rates.cache_write_1h]
    for value in values:
        if value is not None:
            assert Decimal(value).is_finite()
            assert Decimal(value) >= 0
    inp = Decimal(rates.input)
    assert Decimal(rates.output) >= inp
    if rates.cache_read is not None:
        assert Decimal(rates.cache_read) < inp
    if rates.cache_write is not None and rates.cache_write_1h is not None:
        assert Decimal(rates.cache_write_1h) > Decimal(rates.cache_write) > inp
    assert rates.regional_premium >= 1


# --- global vs geographic profiles -----------------------------------------------------------


def test_a_global_profile_costs_less_than_regional_and_geographic_ones_for_claude_45() -> None:
    assert cost(f"global.{SONNET_45}") == Decimal("0.018")  # $3 + $15 per million
    for model in (SONNET_45, f"us.{SONNET_45}", f"eu.{SONNET_45}", f"apac.{SONNET_45}"):
        assert cost(model) == Decimal("0.0198"), model  # +10%
    assert cost(f"global.{HAIKU_45}") == Decimal("0.006")
    assert cost(f"us.{HAIKU_45}") == Decimal("0.0066")


def test_global_is_recognised_in_profile_arns_too() -> None:
    arn = f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/global.{SONNET_45}"
    assert is_global_profile(arn)
    assert not is_global_profile(f"arn:aws:bedrock:us-east-1::foundation-model/{SONNET_45}")
    assert not is_global_profile(f"us.{SONNET_45}")
    assert cost(arn) == Decimal("0.018")


def test_models_with_one_price_worldwide_cost_the_same_everywhere() -> None:
    assert cost(f"global.{SONNET_4}") == cost(f"us.{SONNET_4}") == cost(SONNET_4)
    assert cost(SONNET_4) == Decimal("0.018")


def test_the_gate_sees_the_same_global_and_regional_prices() -> None:
    global_price = BOOK.lookup(f"global.{SONNET_45}")
    regional = BOOK.lookup(f"us.{SONNET_45}")
    assert global_price == Price(
        Decimal("0.003"), Decimal("0.015"), Decimal("0.0003"), Decimal("0.00375")
    )
    assert regional == Price(
        Decimal("0.0033"), Decimal("0.0165"), Decimal("0.00033"), Decimal("0.004125")
    )


# --- prompt-cache writes by TTL --------------------------------------------------------------


def test_cache_writes_by_ttl_five_minutes_at_1_25x_one_hour_at_2x() -> None:
    usage = TokenUsage(
        input_tokens=212, output_tokens=780, cache_read_tokens=0, cache_write_tokens=5300
    )
    # 212*$3 + 780*$15 + 1200*$3.75 + 4100*$6 per million tokens
    assert cost(f"global.{SONNET_45}", usage, cache_write_1h_tokens=4100) == Decimal("0.041436")
    # All 5-minute writes: 5300 * $3.75.
    assert cost(f"global.{SONNET_45}", usage) == Decimal("0.032211")


def test_cache_reads_at_a_tenth_of_input_for_claude() -> None:
    usage = TokenUsage(0, 0, cache_read_tokens=10_000)
    assert cost(f"global.{SONNET_45}", usage) == Decimal("0.003")


def test_one_hour_writes_without_a_published_rate_cost_twice_the_input() -> None:
    usage = TokenUsage(0, 0, cache_write_tokens=1000)
    assert cost(SONNET_37, usage, cache_write_1h_tokens=1000) == Decimal("0.006")
    assert cost(SONNET_37, usage) == Decimal("0.00375")


def test_nova_cache_reads_cost_a_quarter_of_input() -> None:
    usage = TokenUsage(0, 0, cache_read_tokens=1_000_000)
    assert cost(NOVA_MICRO, usage) == Decimal("0.00875")  # $0.035/M input -> $0.00875/M read


@pytest.mark.parametrize(
    ("usage", "one_hour"),
    [
        (TokenUsage(-1, 0), 0),
        (TokenUsage(0, 0, cache_write_tokens=10), 11),
        (TokenUsage(0, 0, cache_write_tokens=10), -1),
    ],
)
def test_impossible_token_counts_are_refused(usage: TokenUsage, one_hour: int) -> None:
    with pytest.raises(ValueError, match=r"cache_write_1h_tokens|>= 0"):
        cost(SONNET_45, usage, cache_write_1h_tokens=one_hour)


# --- service tiers and batch -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "expected"),
    [
        (None, "0.004"),
        ("default", "0.004"),
        ("reserved", "0.004"),
        ("priority", "0.007"),
        ("Priority", "0.007"),
        ("flex", "0.002"),
        ("some-new-tier", "0.007"),  # unknown: the dearest known tier, never an under-count
    ],
)
def test_service_tiers(tier: str | None, expected: str) -> None:
    assert cost(f"us.{NOVA_PRO}", service_tier=tier) == Decimal(expected)


def test_the_tier_factors_are_a_premium_and_a_discount() -> None:
    assert SERVICE_TIER_FACTORS["priority"] > 1 > SERVICE_TIER_FACTORS["flex"] > 0


def test_batch_inference_at_half_price_whatever_the_tier() -> None:
    assert cost(f"us.{NOVA_PRO}", batch=True) == Decimal("0.002")
    assert cost(f"us.{NOVA_PRO}", batch=True, service_tier="priority") == Decimal("0.002")
    usage = TokenUsage(1000, 1000, cache_write_tokens=1000)
    assert cost(f"global.{SONNET_45}", usage, batch=True, cache_write_1h_tokens=1000) == (
        Decimal("0.012")  # ($3 + $15 + $6) / 2 per million
    )


# --- unknown models, application profiles, overrides -----------------------------------------


@pytest.mark.parametrize(
    "model",
    ["acme.unpriced-model-v1:0", "us.acme.unpriced-model-v1:0", PROFILE, ""],
)
def test_an_unknown_model_has_no_cost_never_zero(model: str) -> None:
    assert cost(model) is None


def test_an_application_profile_costs_what_its_pricing_model_costs() -> None:
    mapped = {PROFILE: f"us.{HAIKU_45}"}
    assert cost(PROFILE, profile_models=mapped) == Decimal("0.0066")
    assert cost(PROFILE, profile_models={PROFILE: f"global.{HAIKU_45}"}) == Decimal("0.006")
    assert cost(PROFILE, profile_models={"arn:other": HAIKU_45}) is None
    # The map only applies to ids it names.
    assert cost(f"global.{HAIKU_45}", profile_models=mapped) == Decimal("0.006")


def test_pricing_json_wins_over_the_table_for_every_profile_of_a_model() -> None:
    book = PriceBook(parse_pricing_json(f'{{"{SONNET_45}": {{"input": 0.002, "output": 0.01}}}}'))
    for model in (SONNET_45, f"us.{SONNET_45}", f"global.{SONNET_45}"):
        assert invocation_cost(book, model, THOUSAND_EACH) == Decimal("0.012"), model
    assert book.lookup(f"global.{SONNET_45}") == Price.of("0.002", "0.01")
    # Its 1-hour writes default to twice its input.
    one_hour = TokenUsage(0, 0, cache_write_tokens=1000)
    assert invocation_cost(book, SONNET_45, one_hour, cache_write_1h_tokens=1000) == Decimal(
        "0.004"
    )


def test_an_exact_profile_override_wins_over_its_model_and_the_table() -> None:
    book = PriceBook(
        parse_pricing_json(
            f'{{"global.{SONNET_45}": {{"input": 1, "output": 1}},'
            f' "{SONNET_45}": {{"input": 2, "output": 2}},'
            f' "{PROFILE}": {{"input": 3, "output": 3}}}}'
        )
    )
    assert invocation_cost(book, f"global.{SONNET_45}", THOUSAND_EACH) == Decimal(2)
    assert invocation_cost(book, f"us.{SONNET_45}", THOUSAND_EACH) == Decimal(4)
    # An application profile priced on its own needs no pricing model.
    assert invocation_cost(book, PROFILE, THOUSAND_EACH) == Decimal(6)
    assert invocation_cost(book, PROFILE, THOUSAND_EACH, service_tier="flex") == Decimal(3)


def test_overrides_add_models_and_the_book_lists_them() -> None:
    book = PriceBook(parse_pricing_json('{"acme.model-v1": {"input": 1, "output": 2}}'))
    assert invocation_cost(book, "us.acme.model-v1", THOUSAND_EACH) == Decimal(3)
    assert "acme.model-v1" in book.models()
    assert set(PRICE_TABLE) <= book.models()


def test_the_gate_keeps_its_original_cache_factors_for_nova_micro() -> None:
    # The gate's pinned list prices Nova Micro cache reads at 0.1x input; the meter bills the
    # published 0.25x. The gate rarely sends cache points, so the difference is reported, not
    # hidden.
    price = BOOK.lookup(NOVA_MICRO)
    assert price is not None
    assert price.cache_read == Decimal("0.0000035")
    rates = BOOK.rates(NOVA_MICRO)
    assert rates is not None
    assert rates.price.cache_read == Decimal("0.00000875")
