"""The notebook's part: who plays it (a role the meter may lock, held to the default tier),
and how its story line counts."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bedrock_guard.core.accounting import Limits
from bedrock_guard.demo.config import CallerSpec, Settings, TenantSpec
from bedrock_guard.demo.notebook import ordinal
from bedrock_guard.demo.traffic import choose_cast, notebook_caller

BASIC = Limits(monthly_tokens=1_000_000, daily_tokens=100_000, monthly_usd=Decimal(10))
UNLIMITED = Limits(monthly_usd=Decimal(1000))


def caller(name: str, tier: str) -> CallerSpec:
    arn = f"arn:aws:iam::111111111111:role/{name}"
    return CallerSpec(arn, name, "iam", tier, "t", "cc", "app", arn=arn, principal=arn)


def settings(default_tier: str | None, tiers: dict[str, Limits] | None = None) -> Settings:
    return Settings(
        tfvars=Path("x.tfvars"),
        name_prefix="bedrock-guard-dev",
        region="us-east-1",
        account="111111111111",
        partition="aws",
        tiers=tiers or {"basic": BASIC, "enterprise": UNLIMITED},
        default_tier=default_tier,
        model_aliases=("claude-3-haiku",),
        callers=(
            caller("support-bot", "basic"),
            caller("analyst", "basic"),
            caller("acme", "basic"),
        ),
        tenants=(
            TenantSpec(
                "support",
                "support",
                ("arn:aws:iam::111111111111:role/support-bot",),
                {"OutputTokenCount": 500_000.0},
            ),
        ),
        facts=(),
    )


def test_the_notebook_is_an_unregistered_root_path_role_on_the_default_tier() -> None:
    notebook = notebook_caller(settings("basic"))
    assert notebook is not None
    assert notebook.principal == "arn:aws:iam::111111111111:role/notebook"
    assert (notebook.kind, notebook.tier, notebook.alarms) == ("iam", "basic", False)
    assert notebook.principal not in {c.principal for c in settings("basic").callers}


@pytest.mark.parametrize(
    "default_tier", [None, "enterprise"], ids=["unregistered refused", "no daily token limit"]
)
def test_no_notebook_when_the_default_tier_cannot_be_run_past(default_tier: str | None) -> None:
    assert notebook_caller(settings(default_tier)) is None


def test_the_cast_has_a_notebook_only_when_the_meter_reads_the_log() -> None:
    metered = choose_cast(settings("basic"), metered=True)
    assert metered.notebook is not None
    assert metered.part_of(metered.notebook) == "direct"
    assert metered.reported[-1] == metered.notebook
    assert metered.notebook not in metered.everyone  # no steady traffic through the gate
    assert choose_cast(settings("basic")).notebook is None


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (22, "22nd"),
        (25, "25th"),
        (101, "101st"),
        (111, "111th"),
    ],
)
def test_ordinals(number: int, text: str) -> None:
    assert ordinal(number) == text
