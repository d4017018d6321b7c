"""Terraform type constraints of variables, and the conversion Terraform applies to inputs.

What matters for the demo is ``optional(type, default)``: an object attribute left out of a
tfvars value or a module argument gets its default (or null), exactly as Terraform fills it in,
so that expressions reading it see what they would see in a plan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hcl2.rules.containers import ObjectElemKeyRule, ObjectRule, TupleRule
from hcl2.rules.expressions import ExprTermRule
from hcl2.rules.functions import FunctionCallRule
from hcl2.rules.literal_rules import IdentifierRule

from bedrock_guard.demo.hcl_eval import ExpressionError, Lazy, Unsupported, expression_text
from bedrock_guard.demo.hcl_functions import normal_number, template_text, to_set

PRIMITIVES = frozenset({"string", "number", "bool", "any"})
COLLECTIONS = frozenset({"map", "list", "set"})


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute of an object type; ``default`` is an unevaluated expression node."""

    type: TypeSpec
    optional: bool = False
    default: Any = None


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """``kind`` is a primitive name, ``object``, ``map``, ``list``, ``set`` or ``tuple``."""

    kind: str
    element: TypeSpec | None = None
    attributes: dict[str, Attribute] = field(default_factory=dict)
    elements: tuple[TypeSpec, ...] = ()


ANY = TypeSpec("any")


def _unwrap(node: Any) -> Any:
    while isinstance(node, ExprTermRule):
        node = node.expression
    return node


def parse_type(node: Any) -> TypeSpec:
    """The type constraint written in a variable's ``type`` argument."""
    node = _unwrap(node)
    if isinstance(node, IdentifierRule):
        name = str(node.serialize())
        if name not in PRIMITIVES:
            raise Unsupported(f"type {name!r}")
        return TypeSpec(name)
    if not isinstance(node, FunctionCallRule):
        raise Unsupported(f"type constraint {expression_text(node)!r}")
    name = str(node.identifiers[0].serialize())
    arguments = node.arguments.arguments if node.arguments is not None else []
    if name in COLLECTIONS and len(arguments) == 1:
        return TypeSpec(name, element=parse_type(arguments[0]))
    if name == "tuple" and len(arguments) == 1 and isinstance(_unwrap(arguments[0]), TupleRule):
        return TypeSpec("tuple", elements=tuple(map(parse_type, _unwrap(arguments[0]).elements)))
    if name == "object" and len(arguments) == 1 and isinstance(_unwrap(arguments[0]), ObjectRule):
        return TypeSpec("object", attributes=_object_attributes(_unwrap(arguments[0])))
    raise Unsupported(f"type constraint {expression_text(node)!r}")


def _object_attributes(node: ObjectRule) -> dict[str, Attribute]:
    attributes = {}
    for element in node.elements:
        key = element.key
        if not isinstance(key, ObjectElemKeyRule):
            raise Unsupported("computed attribute names in an object type")
        name = str(key.value.serialize()).strip('"')
        value = _unwrap(element.expression)
        is_optional = (
            isinstance(value, FunctionCallRule)
            and str(value.identifiers[0].serialize()) == "optional"
        )
        if is_optional:
            arguments = value.arguments.arguments if value.arguments is not None else []
            default = arguments[1] if len(arguments) > 1 else None
            attributes[name] = Attribute(parse_type(arguments[0]), optional=True, default=default)
        else:
            attributes[name] = Attribute(parse_type(value))
    return attributes


Defaults = Callable[[Any], Any]
"""Evaluates an ``optional()`` default expression node."""


def convert(value: Any, spec: TypeSpec, defaults: Defaults, where: str = "value") -> Any:
    """``value`` converted to ``spec``, with optional attributes filled in."""
    if value is None or spec.kind == "any" or isinstance(value, Lazy):
        return value  # null, anything, or a value known after apply: kept as it is
    if spec.kind in PRIMITIVES:
        return _primitive(value, spec.kind, where)
    if spec.kind == "object":
        return _object(value, spec, defaults, where)
    if spec.kind == "map":
        if not isinstance(value, dict):
            raise ExpressionError(f"{where}: a map is required")
        element = spec.element or ANY
        return {k: convert(v, element, defaults, f"{where}[{k!r}]") for k, v in value.items()}
    if not isinstance(value, list):
        raise ExpressionError(f"{where}: a {spec.kind} is required")
    if spec.kind == "tuple":
        if len(value) != len(spec.elements):
            raise ExpressionError(f"{where}: a tuple of {len(spec.elements)} is required")
        return [
            convert(v, t, defaults, f"{where}[{i}]")
            for i, (v, t) in enumerate(zip(value, spec.elements, strict=True))
        ]
    element = spec.element or ANY
    items = [convert(v, element, defaults, f"{where}[{i}]") for i, v in enumerate(value)]
    return to_set(items) if spec.kind == "set" else items


def _primitive(value: Any, kind: str, where: str) -> Any:
    if kind == "string":
        if isinstance(value, list | dict):
            raise ExpressionError(f"{where}: a string is required")
        return template_text(value)
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ExpressionError(f"{where}: a number is required")
        return normal_number(float(value) if isinstance(value, str) else value)
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ExpressionError(f"{where}: a bool is required")


def _object(value: Any, spec: TypeSpec, defaults: Defaults, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ExpressionError(f"{where}: an object is required")
    result = {}
    for name, attribute in spec.attributes.items():
        inner = f"{where}.{name}"
        if name in value:
            result[name] = convert(value[name], attribute.type, defaults, inner)
        elif attribute.optional:
            default = None if attribute.default is None else defaults(attribute.default)
            result[name] = convert(default, attribute.type, defaults, inner)
        else:
            raise ExpressionError(f"{inner} is required")
    return result
