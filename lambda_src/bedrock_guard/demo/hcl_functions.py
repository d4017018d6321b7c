"""The Terraform built-in functions the repository's configuration uses, on plain Python values.

Values are what :mod:`.hcl_eval` produces: ``str``, ``int``/``float``, ``bool``, ``None``,
``list`` (tuples, lists and sets; a set is a sorted list without duplicates) and ``dict``
(objects and maps). Each function raises ``ValueError`` or ``TypeError`` where Terraform would
report an error, which is what ``can()`` and ``try()`` catch. ``can`` and ``try`` themselves
evaluate their arguments lazily and live in the evaluator.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections.abc import Callable
from typing import Any, Final, TypeVar

Function = Callable[..., Any]
_T = TypeVar("_T")

_BACKREFERENCE: Final = re.compile(r"\$(\d+|\{\w+\}|[A-Za-z_]\w*)")


def template_text(value: Any) -> str:
    """A value as Terraform writes it into a string template."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    if value is None:
        raise ValueError("cannot use a null value in a string template")
    raise TypeError(f"cannot use a {type(value).__name__} value in a string template")


def normal_number(number: _T) -> _T | int:
    """A whole float as an int (Terraform has one number type); anything else as it is."""
    return int(number) if isinstance(number, float) and number.is_integer() else number


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise TypeError("a number is required, got a bool")
    if isinstance(value, int | float):
        return normal_number(value)
    if isinstance(value, str):
        return normal_number(float(value))
    raise TypeError(f"a number is required, got {type(value).__name__}")


def _list(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"{name}: a list is required, got {type(value).__name__}")
    return value


def _map(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"{name}: a map or object is required, got {type(value).__name__}")
    return value


def _string(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name}: a string is required, got {type(value).__name__}")
    return value


def to_set(values: list[Any]) -> list[Any]:
    """A Terraform set as a list: unique elements, strings in lexical order."""
    unique = list(dict.fromkeys(json.dumps(v, sort_keys=True) for v in values))
    items = [json.loads(text) for text in unique]
    if all(isinstance(item, str) for item in items):
        return sorted(items)
    return items


def jsonencode(value: Any) -> str:
    """Terraform's JSON: compact, object keys sorted, ``<``, ``>`` and ``&`` escaped."""

    def plain(item: Any) -> Any:
        if isinstance(item, dict):
            return {key: plain(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [plain(inner) for inner in item]
        return normal_number(item)

    text = json.dumps(plain(value), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _regex(pattern: str, text: str) -> Any:
    match = re.search(_string(pattern, "regex"), _string(text, "regex"))
    if match is None:
        raise ValueError(f"pattern {pattern!r} did not match {text!r}")
    if match.re.groupindex:
        return match.groupdict()
    if match.re.groups:
        return list(match.groups())
    return match.group(0)


def _replace(text: str, search: str, replacement: str) -> str:
    text, search = _string(text, "replace"), _string(search, "replace")
    replacement = _string(replacement, "replace")
    if len(search) > 1 and search.startswith("/") and search.endswith("/"):
        python = _BACKREFERENCE.sub(lambda m: "\\g<" + m.group(1).strip("{}") + ">", replacement)
        return re.sub(search[1:-1], python, text)
    return text.replace(search, replacement)


def _coalesce(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    raise ValueError("no non-null, non-empty-string arguments")


def _merge(*maps: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for value in maps:
        if value is not None:
            merged.update(_map(value, "merge"))
    return merged


def _flatten(values: Any) -> list[Any]:
    flat: list[Any] = []
    for value in _list(values, "flatten"):
        flat.extend(_flatten(value) if isinstance(value, list) else [value])
    return flat


def _length(value: Any) -> int:
    if isinstance(value, str | list | dict):
        return len(value)
    raise TypeError(f"length: cannot take the length of {type(value).__name__}")


def _tostring(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | dict):
        raise TypeError("tostring: only primitive values convert to a string")
    return template_text(value)


def _tobool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise ValueError(f"tobool: cannot convert {value!r}")


def _one(values: Any) -> Any:
    items = _list(values, "one")
    if len(items) > 1:
        raise ValueError("one: the list has more than one element")
    return items[0] if items else None


def _element(values: Any, index: Any) -> Any:
    items = _list(values, "element")
    if not items:
        raise ValueError("element: the list is empty")
    return items[int(_number(index)) % len(items)]


def _format(spec: str, *args: Any) -> str:
    values = iter(args)

    def verb(match: re.Match[str]) -> str:
        kind = match.group(1)
        if kind == "%":
            return "%"
        value = next(values)
        if kind == "q":
            return json.dumps(template_text(value))
        if kind == "d":
            return str(int(_number(value)))
        return template_text(value)

    return re.sub(r"%([sdq%])", verb, _string(spec, "format"))


def _lookup(values: Any, key: Any, *default: Any) -> Any:
    mapping = _map(values, "lookup")
    if key in mapping:
        return mapping[key]
    if default:
        return default[0]
    raise KeyError(f"lookup: no key {key!r}")


def _range(*bounds: Any) -> list[int | float]:
    numbers = [_number(b) for b in bounds]
    start, stop, step = (0, numbers[0], 1) if len(numbers) == 1 else (*numbers[:2], 1)
    if len(numbers) == 3:
        step = numbers[2]
    result: list[int | float] = []
    value = start
    while (step > 0 and value < stop) or (step < 0 and value > stop):
        result.append(value)
        value += step
    return result


def _sort(values: Any) -> list[str]:
    return sorted(template_text(value) for value in _list(values, "sort"))


def _setproduct(*sets: Any) -> list[list[Any]]:
    return [list(combination) for combination in itertools.product(*sets)]


def _substr(text: Any, offset: Any, length: Any) -> str:
    value, start, count = _string(text, "substr"), int(_number(offset)), int(_number(length))
    return value[start:] if count < 0 else value[start : start + count]


FUNCTIONS: Final[dict[str, Function]] = {
    "abs": lambda value: abs(_number(value)),
    "alltrue": lambda values: all(v is True for v in _list(values, "alltrue")),
    "anytrue": lambda values: any(v is True for v in _list(values, "anytrue")),
    "ceil": lambda value: math.ceil(_number(value)),
    "coalesce": _coalesce,
    "compact": lambda values: [v for v in _list(values, "compact") if v not in (None, "")],
    "concat": lambda *lists: [item for value in lists for item in _list(value, "concat")],
    "contains": lambda values, value: value in _list(values, "contains"),
    "distinct": lambda values: list(dict.fromkeys(_list(values, "distinct"))),
    "element": _element,
    "endswith": lambda text, suffix: _string(text, "endswith").endswith(suffix),
    "flatten": _flatten,
    "floor": lambda value: math.floor(_number(value)),
    "format": _format,
    "join": lambda sep, values: sep.join(template_text(v) for v in _list(values, "join")),
    "jsondecode": lambda text: json.loads(_string(text, "jsondecode")),
    "jsonencode": jsonencode,
    "keys": lambda values: sorted(_map(values, "keys")),
    "length": _length,
    "lookup": _lookup,
    "lower": lambda text: _string(text, "lower").lower(),
    "max": lambda *values: max(_number(v) for v in values),
    "merge": _merge,
    "min": lambda *values: min(_number(v) for v in values),
    "one": _one,
    "pow": lambda base, exponent: _number(base) ** _number(exponent),
    "range": _range,
    "regex": _regex,
    "replace": _replace,
    "setproduct": _setproduct,
    "sha1": lambda text: hashlib.sha1(
        _string(text, "sha1").encode(), usedforsecurity=False
    ).hexdigest(),
    "sort": _sort,
    "split": lambda sep, text: _string(text, "split").split(_string(sep, "split")),
    "startswith": lambda text, prefix: _string(text, "startswith").startswith(prefix),
    "strcontains": lambda text, part: _string(part, "strcontains") in _string(text, "strcontains"),
    "substr": _substr,
    "sum": lambda values: sum(_number(v) for v in _list(values, "sum")),
    "title": lambda text: _string(text, "title").title(),
    "tobool": _tobool,
    "tolist": lambda values: list(_list(values, "tolist")),
    "tomap": lambda values: dict(_map(values, "tomap")),
    "tonumber": lambda value: None if value is None else _number(value),
    "toset": lambda values: to_set(_list(values, "toset")),
    "tostring": _tostring,
    "trimprefix": lambda text, prefix: _string(text, "trimprefix").removeprefix(prefix),
    "trimspace": lambda text: _string(text, "trimspace").strip(),
    "trimsuffix": lambda text, suffix: _string(text, "trimsuffix").removesuffix(suffix),
    "upper": lambda text: _string(text, "upper").upper(),
    "values": lambda values: [v for _, v in sorted(_map(values, "values").items())],
    "zipmap": lambda names, values: dict(zip(names, values, strict=True)),
}
