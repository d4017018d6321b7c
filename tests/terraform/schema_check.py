"""Check resource and data blocks against the committed hashicorp/aws schema subset."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from tests.terraform.tfload import BLOCK, META_ARGUMENTS, body, is_block

SCHEMA_FILE = Path(__file__).with_name("aws_provider_schema.json")
REGENERATE = "run `make schema` (tools/gen_provider_schema.py) and commit the result"


@dataclass(frozen=True)
class Schema:
    provider: str
    types: dict[str, Any]


@cache
def load_schema(path: Path = SCHEMA_FILE) -> Schema:
    document = json.loads(path.read_text(encoding="utf-8"))
    return Schema(provider=document["provider"], types=document["types"])


def _as_blocks(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return [value] if isinstance(value, dict) else []


def check_arguments(
    where: str, given: dict[str, Any], arguments: dict[str, Any], top_level: bool
) -> list[str]:
    """Problems with one block body: unknown arguments, missing required ones, nested blocks."""
    problems: list[str] = []
    present = set(given)
    for dynamic in _as_blocks(given.get("dynamic")):
        for name, spec in body(dynamic).items():
            present.add(name)
            if name not in arguments or "block" not in arguments[name]:
                problems.append(f"{where}: dynamic block {name!r} is not a nested block here")
                continue
            for content in _as_blocks(body(spec).get("content")):
                problems += check_arguments(
                    f"{where}.{name}", body(content), arguments[name]["block"], False
                )
    for name, value in given.items():
        if name in ("dynamic", BLOCK) or (top_level and name in META_ARGUMENTS):
            continue
        if name not in arguments:
            problems.append(f"{where}: unknown argument {name!r}")
            continue
        nested = arguments[name].get("block")
        if nested is None:
            if is_block(value) or (isinstance(value, list) and value and is_block(value[0])):
                problems.append(f"{where}: {name!r} is an argument, not a block")
            continue
        for item in _as_blocks(value):
            problems += check_arguments(f"{where}.{name}", body(item), nested, False)
    for name, spec in arguments.items():
        if spec["required"] and name not in present:
            problems.append(f"{where}: missing required argument {name!r}")
    return problems


def check_block(address: str, type_key: str, given: dict[str, Any], schema: Schema) -> list[str]:
    """Problems with one resource or data block; ``type_key`` is ``aws_x`` or ``data.aws_x``."""
    spec = schema.types.get(type_key)
    if spec is None:
        return [f"{address}: {type_key} is not in the committed schema subset; {REGENERATE}"]
    return check_arguments(address, given, spec["arguments"], True)
