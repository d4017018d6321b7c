"""``data "aws_iam_policy_document"`` rendered to its ``json``, as the provider does.

Statements (static and ``dynamic``) with sid, effect, actions, resources, principals and
conditions; a one-element list is written as a plain string, as the provider writes it.
Arguments the demo does not render (source or override documents) are refused by name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from bedrock_guard.demo.hcl_eval import Unsupported

if TYPE_CHECKING:
    from bedrock_guard.demo.terraform import BlockView

VERSION: Final = "2012-10-17"
_UNSUPPORTED: Final = ("source_policy_documents", "override_policy_documents", "policy_id")
_LISTS: Final = (
    ("actions", "Action"),
    ("not_actions", "NotAction"),
    ("resources", "Resource"),
    ("not_resources", "NotResource"),
)


def _one_or_list(values: Iterable[Any]) -> Any:
    items = list(values)
    return items[0] if len(items) == 1 else items


def as_list(value: Any) -> list[Any]:
    """A policy element read back as a list (the inverse of how it is written)."""
    return value if isinstance(value, list) else [value]


def _principals(blocks: Iterable[BlockView]) -> dict[str, Any]:
    principals: dict[str, list[Any]] = {}
    for block in blocks:
        principals.setdefault(block.get("type"), []).extend(block.get("identifiers", []))
    return {kind: _one_or_list(ids) for kind, ids in principals.items()}


def statement(view: BlockView) -> dict[str, Any]:
    """One ``statement`` block as an IAM policy statement."""
    rendered: dict[str, Any] = {}
    if sid := view.get("sid"):
        rendered["Sid"] = sid
    rendered["Effect"] = view.get("effect", "Allow")
    for argument, key in _LISTS:
        values = view.get(argument)
        if values:
            rendered[key] = _one_or_list(values)
    if principals := _principals(view.blocks("principals")):
        rendered["Principal"] = principals
    if not_principals := _principals(view.blocks("not_principals")):
        rendered["NotPrincipal"] = not_principals
    conditions: dict[str, dict[str, Any]] = {}
    for condition in view.blocks("condition"):
        test, variable = condition.get("test"), condition.get("variable")
        conditions.setdefault(test, {})[variable] = _one_or_list(condition.get("values", []))
    if conditions:
        rendered["Condition"] = conditions
    return rendered


def policy_document(view: BlockView) -> dict[str, Any]:
    """The document as a dict."""
    for argument in _UNSUPPORTED:
        if view.has(argument):
            raise Unsupported(f"aws_iam_policy_document {argument} is not rendered by the demo")
    return {
        "Version": view.get("version", VERSION),
        "Statement": [statement(block) for block in view.blocks("statement")],
    }


def render_policy_document(view: BlockView) -> str:
    """The ``json`` attribute of the data source."""
    return json.dumps(policy_document(view), indent=2)
