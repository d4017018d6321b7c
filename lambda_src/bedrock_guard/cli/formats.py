"""How amounts and principals are written for people: one rule each, shared by the CLI's tables,
the HTML report and the demo's text.

Money: US dollars rounded (half to even) to at most six decimals, trailing zeros dropped down to
two, thousands separated, the sign before the dollar: ``$10.00``, ``$0.1212``, ``$0.000375``,
``-$1,234.50``. Six decimals keep a single cheap request visible (Claude 3 Haiku's 250 input
tokens cost ``$0.0000625``, shown as ``$0.000063``); whole amounts still read as money.

Principals: an IAM ARN of the account named once in the heading (the account most principals
belong to) is shortened to what follows the account, ``arn:aws:iam::123456789012:role/app``
becoming ``role/app``. The short form never starts with ``arn:``, so it cannot be mistaken for a
full ARN; principals of any other account, and ``apikey:<id>`` callers, are shown whole. A
CloudWatch alarm ARN holding a lock is shown as ``alarm <name>`` (``--wide`` and ``--json`` keep
the ARN).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

USD_PLACES: Final = 6
_QUANTUM: Final = Decimal(1).scaleb(-USD_PLACES)
_IAM_ARN: Final = re.compile(r"^arn:(?P<partition>[\w-]+):iam::(?P<account>\d{12}):(?P<rest>.+)$")


def usd(value: Decimal | int | float | str | None, *, missing: str = "-") -> str:
    """Dollars for people (the rule above); ``missing`` when there is no figure."""
    if value is None:
        return missing
    amount = Decimal(str(value)).quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)
    sign = "-" if amount < 0 else ""
    digits = f"{abs(amount):,.{USD_PLACES}f}"
    whole, _, fraction = digits.partition(".")
    fraction = fraction.rstrip("0").ljust(2, "0")
    return f"{sign}${whole}.{fraction}"


def tokens(value: int | None, *, missing: str = "-") -> str:
    """``12,345``, or ``missing``."""
    return missing if value is None else f"{value:,}"


def percent(value: Decimal | float | None, *, missing: str = "-") -> str:
    """``82.5%`` (at most one decimal), or ``missing``."""
    if value is None:
        return missing
    text = f"{Decimal(str(value)).quantize(Decimal('0.1')):f}".removesuffix(".0")
    return f"{text}%"


def account_of(principal: str) -> str | None:
    """The account of an IAM ARN; ``None`` for anything else (API key callers)."""
    match = _IAM_ARN.match(principal)
    return match["account"] if match else None


def common_account(principals: Iterable[str]) -> str | None:
    """The account most IAM principals belong to (the smallest id on a tie), or ``None``."""
    counts = Counter(a for p in principals if (a := account_of(p)) is not None)
    if not counts:
        return None
    return min(counts, key=lambda account: (-counts[account], account))


def short_principal(principal: str, account: str | None) -> str:
    """``role/app`` for an IAM ARN of ``account``; anything else unchanged."""
    match = _IAM_ARN.match(principal)
    if match is None or account is None or match["account"] != account:
        return principal
    return match["rest"]


def alarm_short(holder: str) -> str:
    """``alarm <name>`` for a CloudWatch alarm ARN; anything else (``operator``) unchanged."""
    _, found, name = holder.partition(":alarm:")
    return f"alarm {name}" if found and holder.startswith("arn:") else holder


def account_note(account: str) -> str:
    """The heading's note of the account whose ARNs are shortened."""
    return f"IAM ARNs of account {account} shortened to user/NAME or role/NAME"


def when(iso: str | None, *, missing: str = "-") -> str:
    """``2026-11-23 09:15 UTC`` from an ISO 8601 time (the ledger's and CloudWatch's forms);
    text that is not one is returned as it is."""
    if not iso:
        return missing
    text = iso.strip().replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":  # +0000 -> +00:00
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return iso
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
