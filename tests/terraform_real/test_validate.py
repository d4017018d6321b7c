"""Real ``terraform init`` + ``validate`` of every folder, and proof that an error fails it.

These run the binary on the adapted copy (see bedrock_guard.local.tf_harness). Without
terraform or a provider mirror they fail with the reason, unless ``TF_OPTIONAL=1``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

import pytest

from bedrock_guard.local.tf_harness import (
    Unavailable,
    Workspace,
    prepare,
    validate_all,
    validate_folder,
)

# Left out of make check (real init and validate of every folder, about a minute); make test
# runs it.
pytestmark = pytest.mark.slow

REPO: Final = Path(__file__).resolve().parents[2]

# Appended to one file of a folder of the copy: an error of each kind a user could make.
INJECTED: Final = {
    "unknown argument": (
        "modules/token-gate",
        'resource "aws_sns_topic" "injected" {\n  not_an_argument = true\n}\n',
        "Unsupported argument",
    ),
    "bad reference": (
        "modules/budget",
        'output "injected" {\n  value = aws_sns_topic.does_not_exist.arn\n}\n',
        "Reference to undeclared resource",
    ),
    "wrong attribute": (
        "modules/alarm-enforcer",
        'output "injected" {\n  value = data.aws_partition.current.no_such_attribute\n}\n',
        "Unsupported attribute",
    ),
    "wrong type": (
        "environments/dev",
        'resource "aws_cloudwatch_log_group" "injected" {\n'
        '  name              = "injected"\n'
        '  retention_in_days = "forever"\n'
        "}\n",
        "Incorrect attribute value type",
    ),
}


def _workspace(root: Path) -> Workspace:
    try:
        return prepare(REPO, root)
    except Unavailable as missing:
        if os.environ.get("TF_OPTIONAL") == "1":
            pytest.skip(f"TF_OPTIONAL=1 and {missing}")
        pytest.fail(f"real terraform validate cannot run: {missing}", pytrace=False)


def test_every_module_and_environment_validates_without_warnings(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path)
    results = validate_all(workspace)
    assert {str(result.folder) for result in results} >= {
        "environments/dev",
        "environments/prod",
        "modules/token-gate",
    }
    failed = {str(r.folder): r.diagnostics for r in results if not r.ok}
    assert not failed


@pytest.mark.parametrize("kind", sorted(INJECTED))
def test_a_deliberate_error_fails_validate(tmp_path: Path, kind: str) -> None:
    folder, block, summary = INJECTED[kind]
    workspace = _workspace(tmp_path)
    target = sorted((workspace.tree / folder).glob("*.tf"))[0]
    target.write_text(target.read_text(encoding="utf-8") + "\n" + block, encoding="utf-8")

    result = validate_folder(workspace, Path(folder))

    assert not result.ok
    assert any(summary in line and line.startswith("error") for line in result.diagnostics), (
        result.diagnostics
    )
