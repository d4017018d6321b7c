"""Nested blocks, policy statements and resources of a module, as tfload's parse gives them."""

from __future__ import annotations

from typing import Any

from tests.terraform.tfload import TfModule, body


def as_list(value: Any) -> list[Any]:
    """A value that may be one item, a list or missing, as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def blocks(value: Any) -> list[dict[str, Any]]:
    """The bodies of a nested block as python-hcl2 gives it (one dict or a list of dicts)."""
    if isinstance(value, dict):
        return [body(value)]
    return [body(item) for item in value or [] if isinstance(item, dict)]


def statement_blocks(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Static ``statement`` blocks plus the ``content`` of ``dynamic "statement"`` blocks."""
    found = blocks(document.get("statement"))
    for dynamic in blocks(document.get("dynamic")):
        for spec in blocks(dynamic.get("statement")):
            found += blocks(spec.get("content"))
    return found


def resources_of(module: TfModule, type_name: str) -> dict[str, dict[str, Any]]:
    """Name => body of every resource of one type."""
    return {
        name: block.body for (kind, name), block in module.resources.items() if kind == type_name
    }
