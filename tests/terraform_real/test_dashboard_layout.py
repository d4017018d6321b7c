"""The token gate's dashboard as Terraform itself lays it out: ``terraform console`` evaluates
the widgets' positions for each combination of optional rows, and no two widgets overlap.

The positions are arithmetic over optional rows (tenant profiles, the usage meter's graphs and
table, the enforcer function), which only Terraform evaluates faithfully. Without terraform or
a provider mirror this fails with the reason, unless ``TF_OPTIONAL=1``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any, Final

import pytest

from bedrock_guard.local.tf_harness import Unavailable, Workspace, prepare
from tests.terraform.dashboard_grid import Placed, grid_problems

# Left out of make check (terraform console per scenario); make test runs it.
pytestmark = pytest.mark.slow

REPO: Final = Path(__file__).resolve().parents[2]
MODULE: Final = "modules/token-gate"
LAYOUT: Final = (
    "jsonencode([for w in local.dashboard_body.widgets : [w.type, w.x, w.y, w.width, w.height]])"
)

EVERYTHING: Final = {
    "bedrock_model_ids": ["anthropic.claude-3-haiku-20240307-v1:0"],
    "enforcer_function_name": "bedrock-guard-dev-enforcer",
    "meter_service_name": "bedrock-guard-meter",
    "invocation_log_group_name": "/aws/bedrock/bedrock-guard-dev-tenants/model-invocations",
}
# Each optional part alone, none, and all: every branch of the row and column arithmetic.
SCENARIOS: Final[dict[str, dict[str, Any]]] = {
    "nothing optional": {},
    "everything": EVERYTHING,
    "meter graphs only": {"meter_service_name": "bedrock-guard-meter"},
    "meter table only, with profiles": {
        "bedrock_model_ids": EVERYTHING["bedrock_model_ids"],
        "invocation_log_group_name": EVERYTHING["invocation_log_group_name"],
    },
    "meter inputs empty, enforcer function": {
        "meter_service_name": "",
        "invocation_log_group_name": "",
        "enforcer_function_name": "bedrock-guard-dev-enforcer",
    },
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    try:
        prepared = prepare(REPO, tmp_path_factory.mktemp("dashboard-layout"))
    except Unavailable as missing:
        if os.environ.get("TF_OPTIONAL") == "1":
            pytest.skip(f"TF_OPTIONAL=1 and {missing}")
        pytest.fail(f"terraform console cannot run: {missing}", pytrace=False)
    prepared.init(MODULE)
    yield prepared


def layout(workspace: Workspace, dashboard: dict[str, Any]) -> list[Placed]:
    """The widgets of the dashboard body Terraform builds from ``var.dashboard``."""
    command = [
        str(workspace.terraform),
        f"-chdir={workspace.tree / MODULE}",
        "console",
        "-var",
        f"dashboard={json.dumps(dashboard)}",
    ]
    result = subprocess.run(
        command,
        input=LAYOUT + "\n",
        capture_output=True,
        text=True,
        env=workspace.environ(),
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # The console prints the JSON text as a quoted string.
    rows = json.loads(json.loads(result.stdout.strip()))
    return [Placed.from_row(row) for row in rows]


Layouts = Callable[[str], list[Placed]]


@pytest.fixture(scope="module")
def layouts(workspace: Workspace) -> Layouts:
    """A scenario's widgets, each evaluated once per worker (a console run takes seconds)."""
    return cache(lambda name: layout(workspace, SCENARIOS[name]))


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_no_widget_overlaps_another(layouts: Layouts, scenario: str) -> None:
    widgets = layouts(scenario)
    assert len(widgets) >= 20  # the reader found the dashboard
    assert grid_problems(widgets) == []


def test_the_meter_row_is_there_exactly_when_given(layouts: Layouts) -> None:
    kinds = {
        name: [w.kind for w in layouts(name)]
        for name in ("nothing optional", "everything", "meter graphs only")
    }
    assert len(kinds["everything"]) - len(kinds["nothing optional"]) == 3 + 3 + 2  # profiles,
    # meter graphs and table, enforcer function and its log table
    assert kinds["everything"].count("log") == kinds["nothing optional"].count("log") + 2
    assert len(kinds["meter graphs only"]) == len(kinds["nothing optional"]) + 2
