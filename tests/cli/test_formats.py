"""The one money rule and the principal short form (bedrock_guard.cli.formats)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bedrock_guard.cli.formats import (
    common_account,
    percent,
    short_principal,
    tokens,
    usd,
    when,
)

ACCOUNT = "123456789012"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal(10), "$10.00"),
        (Decimal("0.1212"), "$0.1212"),
        (Decimal("0.000375"), "$0.000375"),
        (Decimal("0.0000625"), "$0.000062"),  # half to even at the sixth decimal
        (Decimal("0.0000635"), "$0.000064"),
        (Decimal("1234.5"), "$1,234.50"),
        (Decimal("-0.1212"), "-$0.1212"),
        (Decimal("0E-10"), "$0.00"),
        (0, "$0.00"),
        ("5", "$5.00"),
        (None, "-"),
    ],
)
def test_usd(value: object, text: str) -> None:
    assert usd(value) == text  # type: ignore[arg-type]


def test_usd_missing_figure() -> None:
    assert usd(None, missing="n/a") == "n/a"


def test_tokens_and_percent() -> None:
    assert tokens(1234567) == "1,234,567"
    assert tokens(None) == "-"
    assert percent(Decimal("82.35")) == "82.4%"
    assert percent(Decimal(100)) == "100%"
    assert percent(None) == "-"


def test_short_principal_only_for_the_named_account() -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/app"
    other = "arn:aws:iam::210987654321:role/app"
    gov = f"arn:aws-us-gov:iam::{ACCOUNT}:user/ops/alice"
    assert short_principal(role, ACCOUNT) == "role/app"
    assert short_principal(gov, ACCOUNT) == "user/ops/alice"
    assert short_principal(other, ACCOUNT) == other
    assert short_principal("apikey:k3y", ACCOUNT) == "apikey:k3y"
    assert short_principal(role, None) == role


def test_common_account_is_the_most_frequent() -> None:
    principals = [
        "arn:aws:iam::210987654321:role/a",
        f"arn:aws:iam::{ACCOUNT}:role/b",
        f"arn:aws:iam::{ACCOUNT}:user/c",
        "apikey:x",
    ]
    assert common_account(principals) == ACCOUNT
    assert common_account(["apikey:x"]) is None


@pytest.mark.parametrize(
    ("iso", "text"),
    [
        ("2026-11-23T09:15:01.000000Z", "2026-11-23 09:15 UTC"),
        ("2026-11-23T09:15:00.000+0000", "2026-11-23 09:15 UTC"),
        ("2026-11-23T10:15:00+01:00", "2026-11-23 09:15 UTC"),
        ("yesterday", "yesterday"),
        (None, "-"),
    ],
)
def test_when(iso: str | None, text: str) -> None:
    assert when(iso) == text


def test_alarm_short() -> None:
    from bedrock_guard.cli.formats import alarm_short

    assert alarm_short(f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:gate-95pct") == (
        "alarm gate-95pct"
    )
    assert alarm_short("operator") == "operator"
