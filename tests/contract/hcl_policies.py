"""Read the actions a module's IAM policy documents allow, for the HCL-to-Python contracts."""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from tests.terraform.hcl_blocks import statement_blocks
from tests.terraform.tfload import TfModule, body


def allowed_actions(module: TfModule, document: str) -> set[str]:
    """Literal actions of the Allow statements of ``data "aws_iam_policy_document" <document>``."""
    actions: set[str] = set()
    for statement in statement_blocks(module.data[("aws_iam_policy_document", document)].body):
        if statement.get("effect", "Allow") != "Allow":
            continue
        listed = statement.get("actions", [])
        if isinstance(listed, str):  # an expression: the contract wants literal actions
            raise AssertionError(f"{module.name}: actions must be literal, got {listed!r}")
        actions.update(listed)
    return actions


def grants(allowed: set[str], action: str) -> bool:
    """Whether an allowed action or pattern (``logs:Put*``) covers ``action``."""
    return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in allowed)


def environment_keys(function: dict[str, Any]) -> set[str]:
    """Names of the environment variables an ``aws_lambda_function`` sets, literal or merged."""
    environment = function.get("environment", [])
    if not environment:
        return set()
    variables = body(environment[0]).get("variables", {})
    if isinstance(variables, dict):
        return set(variables)
    # merge({...}, {for name, value in {...} : ...}): every NAME = value pair is a key.
    return set(re.findall(r"\b([A-Z][A-Z0-9_]{2,})\s*=", variables))
