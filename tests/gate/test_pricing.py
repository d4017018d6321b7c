"""Prices: the built-in table, profile and ARN resolution, overrides, exact costs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bedrock_guard.core.pricing import (
    BUILTIN_PRICES_PER_1K,
    Price,
    PriceBook,
    TokenUsage,
    base_model_id,
    parse_pricing_json,
)

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"

# The price list of the issue, per 1K tokens (input, output).
EXPECTED = {
    "anthropic.claude-3-haiku-20240307-v1:0": ("0.00025", "0.00125"),
    "anthropic.claude-3-sonnet-20240229-v1:0": ("0.003", "0.015"),
    "anthropic.claude-3-opus-20240229-v1:0": ("0.015", "0.075"),
    "anthropic.claude-3-5-haiku-20241022-v1:0": ("0.0008", "0.004"),
    "anthropic.claude-3-5-sonnet-20241022-v2:0": ("0.003", "0.015"),
    "anthropic.claude-instant-v1": ("0.0008", "0.0024"),
    "amazon.nova-micro-v1:0": ("0.000035", "0.00014"),
    "amazon.nova-lite-v1:0": ("0.00006", "0.00024"),
}


def test_builtin_table_is_the_documented_price_list() -> None:
    assert dict(BUILTIN_PRICES_PER_1K) == EXPECTED


@pytest.mark.parametrize(("model", "prices"), sorted(EXPECTED.items()))
def test_builtin_prices_with_default_cache_factors(model: str, prices: tuple[str, str]) -> None:
    price = PriceBook().lookup(model)
    assert price is not None
    assert (price.input, price.output) == (Decimal(prices[0]), Decimal(prices[1]))
    assert price.cache_read == Decimal(prices[0]) * Decimal("0.1")
    assert price.cache_write == Decimal(prices[0]) * Decimal("1.25")


@pytest.mark.parametrize(
    "model",
    [
        f"us.{HAIKU}",
        f"eu.{HAIKU}",
        f"apac.{HAIKU}",
        f"global.{HAIKU}",
        f"jp.{HAIKU}",
        f"au.{HAIKU}",
        f"ca.{HAIKU}",
        f"us-gov.{HAIKU}",
        f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}",
        f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.{HAIKU}",
        f"arn:aws-us-gov:bedrock:us-gov-west-1:123456789012:inference-profile/us-gov.{HAIKU}",
        "anthropic.claude-3-haiku-20240307-v1:0:200k",
    ],
)
def test_profiles_arns_and_variants_price_as_the_base_model(model: str) -> None:
    assert PriceBook().lookup(model) == PriceBook().lookup(HAIKU)


def test_base_model_id_strips_only_a_real_geo_prefix() -> None:
    assert base_model_id(f"us.{HAIKU}") == HAIKU
    # "usx." is not a geographic prefix, and a provider name is never stripped.
    assert base_model_id("usx.anthropic.claude") == "usx.anthropic.claude"
    assert base_model_id(HAIKU) == HAIKU


def test_unknown_models_and_application_profiles_have_no_price() -> None:
    book = PriceBook()
    assert book.lookup("acme.unpriced-model-v1:0") is None
    profile = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"
    assert book.lookup(profile) is None


def test_cost_is_exact_and_charges_cache_tokens() -> None:
    price = Price.of("0.003", "0.015")
    usage = TokenUsage(
        input_tokens=1000, output_tokens=500, cache_read_tokens=2000, cache_write_tokens=400
    )
    # 1000*0.003 + 500*0.015 + 2000*0.0003 + 400*0.00375, per 1K tokens
    assert price.cost(usage) == Decimal("0.0126")
    assert usage.total == 3900
    assert price.highest_input == Decimal("0.00375")


def test_pricing_json_overrides_and_adds_models() -> None:
    overrides = parse_pricing_json(
        '{"anthropic.claude-3-haiku-20240307-v1:0": {"input": 0.0003, "output": "0.0015"},'
        ' "acme.model-v1": {"input": 1, "output": 2, "cache_read": 0, "cache_write": "3"}}'
    )
    book = PriceBook(overrides)
    haiku = book.lookup(f"us.{HAIKU}")
    assert haiku is not None
    assert (haiku.input, haiku.output) == (Decimal("0.0003"), Decimal("0.0015"))
    acme = book.lookup("acme.model-v1")
    assert acme == Price(Decimal(1), Decimal(2), Decimal(0), Decimal(3))
    # Other built-in prices are untouched.
    assert book.lookup("amazon.nova-lite-v1:0") == PriceBook().lookup("amazon.nova-lite-v1:0")


def test_an_exact_profile_price_wins_over_its_base_model() -> None:
    book = PriceBook(parse_pricing_json(f'{{"global.{HAIKU}": {{"input": 1, "output": 1}}}}'))
    assert book.lookup(f"global.{HAIKU}") == Price.of("1", "1")
    assert book.lookup(f"us.{HAIKU}") == PriceBook().lookup(HAIKU)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{", "not valid JSON"),
        ("[]", "must be an object"),
        ('{"m": 1}', "must be an object with input and output"),
        ('{"m": {"input": 1}}', "needs both input and output"),
        ('{"m": {"input": 1, "output": -1}}', ">= 0"),
        ('{"m": {"input": 1, "output": 1, "batch": 1}}', "unknown keys"),
        ('{"m": {"input": true, "output": 1}}', "must be a number"),
        ('{"m": {"input": "NaN", "output": 1}}', "finite"),
        ('{"m": {"input": "abc", "output": 1}}', "not a decimal"),
    ],
)
def test_invalid_pricing_json_names_the_entry(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_pricing_json(text)


def test_empty_pricing_json_means_no_overrides() -> None:
    assert parse_pricing_json(None) == {}
    assert parse_pricing_json("  ") == {}
