"""The CLI over HTTP against moto in server mode (``--endpoint-url``), as in the local demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from bedrock_guard.local.clients import local_http
from bedrock_guard.local.moto_server import MotoServer
from tests.cli.conftest import (
    ALARM_ARN,
    APP_ROLE,
    BOB,
    LIMITS,
    MONTH,
    MOTO_IDENTITY,
    POLICY_ARN,
    TABLE,
    World,
    seed,
)

pytestmark = pytest.mark.server


@pytest.fixture
def server() -> Iterator[tuple[MotoServer, World]]:
    with MotoServer() as moto_server:
        world = seed(
            moto_server.client("dynamodb"),
            moto_server.client("iam"),
            moto_server.client("cloudwatch"),
        )
        yield moto_server, world


def queue_cost_explorer_result(server: MotoServer, result: dict[str, Any]) -> None:
    """moto answers GetCostAndUsage from a queue set through its API."""
    request = urllib.request.Request(
        f"{server.endpoint_url}/moto-api/static/ce/cost-and-usage-results",
        data=json.dumps({"results": [result]}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    local_http(request)


def test_usage_locks_unlock_and_report_over_http(
    server: tuple[MotoServer, World], cli: Any
) -> None:
    moto_server, world = server
    base = (
        *("--endpoint-url", moto_server.endpoint_url, "--region", "us-east-1"),
        *("--table-name", TABLE, "--json"),
    )

    usage = cli(*base, "usage", "--month", MONTH, *LIMITS)
    assert usage.code == 0, usage.err
    callers = {c["principal"]: c for c in usage.json()["callers"]}
    assert callers[BOB]["locked_by"] == [ALARM_ARN]
    assert callers[BOB]["month"]["tokens"] == 10000

    locks = cli(*base, "locks")
    assert locks.code == 0, locks.err
    assert [lock["principal"] for lock in locks.json()["locks"]] == [APP_ROLE, BOB]

    unlock = cli(*base, "unlock", BOB, "--reason", "demo over", "--deny-policy-arn", POLICY_ARN)
    assert unlock.code == 0, unlock.err
    assert unlock.json()["requested_by"] == MOTO_IDENTITY
    assert not world.attached(BOB)
    assert world.holders(BOB) == set()
    (event,) = world.events(BOB, "unlock")
    assert event["requested_by"] == {"S": MOTO_IDENTITY}

    queue_cost_explorer_result(
        moto_server,
        {
            "ResultsByTime": [
                {
                    "TimePeriod": {"Start": "2026-11-01", "End": "2026-12-01"},
                    "Total": {},
                    "Groups": [
                        {
                            "Keys": ["costCenter$cc-sales"],
                            "Metrics": {"UnblendedCost": {"Amount": "1.5", "Unit": "USD"}},
                        }
                    ],
                    "Estimated": False,
                }
            ]
        },
    )
    report = cli(
        *base, "report", "--by", "costCenter", "--month", MONTH, "--service", "Amazon Bedrock"
    )
    assert report.code == 0, report.err
    rows = {row["value"]: row for row in report.json()["rows"]}
    assert (rows["cc-sales"]["cost_explorer_usd"], rows["cc-sales"]["gate_usd"]) == ("1.5", "0.75")


def test_console_entry_point_in_a_subprocess(server: tuple[MotoServer, World]) -> None:
    moto_server, world = server
    env = {**os.environ, **moto_server.environ()}
    for name in ("USAGE_TABLE_NAME", "LEDGER_TABLE_NAME", "DENY_POLICY_ARN"):
        env.pop(name, None)
    command = [sys.executable, "-m", "bedrock_guard.cli"]
    command += ["--endpoint-url", moto_server.endpoint_url, "--table-name", TABLE]

    listed = subprocess.run(
        [*command, "--json", "locks"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert [lock["principal"] for lock in json.loads(listed.stdout)["locks"]] == [APP_ROLE, BOB]

    refused = subprocess.run(
        [*command, "unlock", "arn:aws:iam::123456789012:root", "--reason", "r"],
        capture_output=True,
        text=True,
        env={**env, "DENY_POLICY_ARN": POLICY_ARN},
        check=False,
        timeout=120,
    )
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "bedrock-guard: error: cannot unlock 'arn:aws:iam::123456789012:root': "
        "arn:aws:iam::123456789012:root is the account root"
    )
    assert world.attached(BOB)
