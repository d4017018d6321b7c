"""Load the repository's Terraform with python-hcl2 into shapes the checks can walk.

python-hcl2 (8.x) marks blocks with ``__is_block__`` and, with ``strip_string_quotes``, gives
literal strings as plain text and expressions as ``${...}``. Everything here is read-only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

REPO = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".terraform", ".venv", ".venv-checkov", ".git", "node_modules", "build"}
BLOCK = "__is_block__"
META_ARGUMENTS = {"count", "for_each", "depends_on", "provider", "lifecycle", "provisioner"}
MODULE_META_ARGUMENTS = {"source", "version", "providers", "count", "for_each", "depends_on"}

HCL_OPTIONS = SerializationOptions(
    with_comments=False, strip_string_quotes=True, preserve_heredocs=False, explicit_blocks=True
)


def tf_files(root: Path = REPO) -> list[Path]:
    """Every ``.tf`` file of the repository, outside tool and cache folders."""
    return sorted(
        path
        for path in root.rglob("*.tf")
        if not SKIP_DIRS.intersection(path.parts[len(root.parts) :])
    )


def module_dirs(root: Path = REPO) -> list[Path]:
    """Every folder holding ``.tf`` files: the root, each module and each environment."""
    return sorted({path.parent for path in tf_files(root)})


@cache
def parse(path: Path) -> dict[str, Any]:
    """Parse one file (cached: the checks read the same files many times)."""
    with path.open(encoding="utf-8") as handle:
        return hcl2.load(handle, serialization_options=HCL_OPTIONS)


def is_block(value: Any) -> bool:
    return isinstance(value, dict) and value.get(BLOCK) is True


def body(block: dict[str, Any]) -> dict[str, Any]:
    """A block's arguments and nested blocks, without python-hcl2's marker."""
    return {key: value for key, value in block.items() if key != BLOCK}


@dataclass
class Labeled:
    """A labelled block (resource, data, module, variable, output) and where it is."""

    kind: str
    labels: tuple[str, ...]
    body: dict[str, Any]
    file: Path

    @property
    def address(self) -> str:
        prefix = {"resource": "", "data": "data."}.get(self.kind, f"{self.kind}.")
        return prefix + ".".join(self.labels)


@dataclass
class TfModule:
    """Everything one folder of ``.tf`` files declares."""

    path: Path
    variables: dict[str, Labeled] = field(default_factory=dict)
    outputs: dict[str, Labeled] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    resources: dict[tuple[str, str], Labeled] = field(default_factory=dict)
    data: dict[tuple[str, str], Labeled] = field(default_factory=dict)
    modules: dict[str, Labeled] = field(default_factory=dict)
    terraform: list[dict[str, Any]] = field(default_factory=list)
    providers: list[Labeled] = field(default_factory=list)
    checks: dict[str, Labeled] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    @property
    def name(self) -> str:
        if self.path.is_relative_to(REPO):
            return str(self.path.relative_to(REPO)) or "."
        return self.path.name

    def module_source(self, call: str) -> TfModule | None:
        """The module a ``module`` block calls, when its source is a local path."""
        source = self.modules[call].body.get("source", "")
        if not isinstance(source, str) or not source.startswith("."):
            return None
        return load_module((self.path / source).resolve())


def _labeled(kind: str, entries: list[dict[str, Any]], depth: int, file: Path) -> Iterator[Labeled]:
    """Unwrap python-hcl2's nesting of labels: {label1: {label2: {...body}}}."""

    def unwrap(node: dict[str, Any], labels: tuple[str, ...]) -> Iterator[Labeled]:
        if len(labels) == depth:
            yield Labeled(kind, labels, body(node), file)
            return
        for label, inner in body(node).items():
            yield from unwrap(inner, (*labels, label))

    for entry in entries:
        yield from unwrap(entry, ())


@cache
def load_module(path: Path) -> TfModule:
    """Collect the declarations of every ``.tf`` file directly in ``path``."""
    module = TfModule(path=path.resolve())
    for file in sorted(path.glob("*.tf")):
        module.files.append(file)
        doc = parse(file)
        for item in _labeled("variable", doc.get("variable", []), 1, file):
            module.variables[item.labels[0]] = item
        for item in _labeled("output", doc.get("output", []), 1, file):
            module.outputs[item.labels[0]] = item
        for item in _labeled("module", doc.get("module", []), 1, file):
            module.modules[item.labels[0]] = item
        for item in _labeled("resource", doc.get("resource", []), 2, file):
            module.resources[(item.labels[0], item.labels[1])] = item
        for item in _labeled("data", doc.get("data", []), 2, file):
            module.data[(item.labels[0], item.labels[1])] = item
        for item in _labeled("provider", doc.get("provider", []), 1, file):
            module.providers.append(item)
        for item in _labeled("check", doc.get("check", []), 1, file):
            module.checks[item.labels[0]] = item
        for block in doc.get("locals", []):
            module.locals.update(body(block))
        module.terraform.extend(body(block) for block in doc.get("terraform", []))
    return module


def strings(value: Any) -> Iterator[str]:
    """Every string anywhere inside a parsed value, keys of plain objects included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, inner in value.items():
            if key == BLOCK:
                continue
            if not is_block(value):
                yield key
            yield from strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from strings(inner)


_REFERENCE = re.compile(
    r"(?<![\w.\"])(?P<root>var|local|module|data|path|each|count|self|terraform)"
    r"\.(?P<rest>[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*)"
)
_STRING_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')


def expressions(text: str) -> Iterator[str]:
    """The ``${...}`` expression parts of a serialized value (brace-balanced)."""
    start = text.find("${")
    while start != -1:
        depth, index = 0, start + 1
        while index < len(text):
            char = text[index]
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0:
                    break
            index += 1
        yield text[start + 2 : index]
        start = text.find("${", index)


def references(value: Any) -> Iterator[tuple[str, list[str]]]:
    """(root, [names...]) for every ``var.x``, ``local.x``, ``module.m.o``, ``data.t.n`` used."""
    for text in strings(value):
        for expression in expressions(text):
            # Template literals inside expressions ("${var.x}-suffix") hold references too.
            for match in _REFERENCE.finditer(expression):
                yield match["root"], match["rest"].split(".")


def resource_references(value: Any, types: set[str]) -> Iterator[tuple[str, str, str | None]]:
    """(type, name, attribute) for every ``aws_x.name.attr`` reference to a known type prefix."""
    pattern = re.compile(
        r"(?<![\w.])(?P<type>(?:aws|archive|null|random|time)_[a-z0-9_]+)"
        r"\.(?P<name>[\w-]+)(?:\[[^\]]*\])?(?:\.(?P<attr>\w+))?"
    )
    for text in strings(value):
        for expression in expressions(text):
            for match in pattern.finditer(_STRING_LITERAL.sub('""', expression)):
                if match["type"] in types or not types:
                    yield match["type"], match["name"], match["attr"]
