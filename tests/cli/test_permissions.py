"""The documented operator permissions: real IAM actions, and all each command really calls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from policy_sentry.querying.actions import get_action_data

from bedrock_guard.cli.errors import IAM_ACTIONS
from bedrock_guard.cli.permissions import COMMAND_ACTIONS
from tests.cli.conftest import ALICE, BASE, BOB, LIMITS, POLICY_ARN, World
from tests.contract.api_recorder import recording

ALL_ACTIONS = sorted({action for actions in COMMAND_ACTIONS.values() for action in actions})


@pytest.mark.parametrize("action", ALL_ACTIONS)
def test_every_documented_action_exists(action: str) -> None:
    service, _, name = action.partition(":")
    assert get_action_data(service, name), f"{action} is not an IAM action"


def test_access_denied_messages_name_documented_actions() -> None:
    documented = set(ALL_ACTIONS)
    for operation, action in IAM_ACTIONS.items():
        for part in action.split(" and "):
            assert part in documented, (operation, part)


@pytest.fixture
def stubbed_ce() -> Iterator[Any]:
    client = boto3.client("ce", region_name="us-east-1")
    with Stubber(client) as stubber:
        stubber.add_response(
            "get_dimension_values", {"DimensionValues": [], "ReturnSize": 0, "TotalSize": 0}
        )
        stubber.add_response("get_cost_and_usage", {"ResultsByTime": []})
        yield client


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        ("usage", ("usage", *LIMITS), "dynamodb:Scan"),
        ("usage", ("usage", "--caller", ALICE), "dynamodb:GetItem"),
        ("locks", ("locks",), "dynamodb:Query"),
        (
            "unlock",
            ("unlock", BOB, "--reason", "r", "--deny-policy-arn", POLICY_ARN),
            "iam:DetachUserPolicy",
        ),
        # Not locked in the ledger: the IAM lookups of a stray attachment.
        (
            "unlock",
            ("unlock", ALICE, "--reason", "r", "--deny-policy-arn", POLICY_ARN),
            "iam:ListAttachedUserPolicies",
        ),
        ("holds", ("holds",), "dynamodb:Scan"),
        ("bypass", ("bypass",), "dynamodb:Scan"),
        ("report", ("report", "--by", "costCenter"), "ce:GetDimensionValues"),
    ],
)
def test_each_command_calls_only_what_its_policy_allows(
    world: World, cli: Any, stubbed_ce: Any, *, command: str, args: tuple[str, ...], expected: str
) -> None:
    with recording() as actions:
        run = cli(*BASE, *args, clients={"ce": stubbed_ce})

    assert run.code in (0, 1), run.err
    assert expected in actions
    assert actions <= set(COMMAND_ACTIONS[command]), json.dumps(sorted(actions))
