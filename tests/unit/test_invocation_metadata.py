"""The gate's requestMetadata: written within Converse's limits, read back only when it is ours."""

from __future__ import annotations

from typing import Any

import pytest

from bedrock_guard.core.invocation_metadata import (
    CALLER_KEY,
    HOLD_ID_KEY,
    GateCall,
    gate_call_of,
    gate_metadata,
)

ROLE = "arn:aws:iam::123456789012:role/analytics-app"


def test_round_trip() -> None:
    assert gate_call_of(gate_metadata("0123abcd", ROLE)) == GateCall("0123abcd", ROLE)


def test_a_caller_converse_would_refuse_is_left_out() -> None:
    too_long = "arn:aws:iam::123456789012:role/" + "r" * 300
    assert gate_metadata("0123abcd", too_long) == {HOLD_ID_KEY: "0123abcd"}
    assert CALLER_KEY not in gate_metadata("0123abcd", "apikey:ключ")


@pytest.mark.parametrize(
    "metadata",
    [None, "text", [], {}, {"team": "x"}, {HOLD_ID_KEY: 5}, {HOLD_ID_KEY: "bad\nid!"}],
)
def test_anything_else_is_not_a_gate_call(metadata: Any) -> None:
    assert gate_call_of(metadata) is None
