"""DynamoDB item sizes and the capacity units a request consumes, as the developer guide states.

Pure functions over items in the wire format of the DynamoDB JSON protocol (``{"S": "x"}``,
``{"N": "12"}``, binary as base64 text or as ``bytes``), so the proxy can size what it
forwards and what it reads back without a conversion step.

Sources (Amazon DynamoDB Developer Guide): "DynamoDB item sizes and formats", "DynamoDB read
and write operations" (capacity unit consumption) and "Amazon DynamoDB Transactions: How it
works" (capacity management for transactions).
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

KB: Final = 1024  # "All size measurements in DynamoDB use binary-based units."
MAX_ITEM_BYTES: Final = 400 * KB  # 409,600 bytes, the item size limit
WRITE_UNIT_BYTES: Final = 1 * KB
READ_UNIT_BYTES: Final = 4 * KB

# How many read units one 4 KB read costs, by consistency. A transactional read (TransactGetItems,
# or the read a replayed idempotent TransactWriteItems answers with) costs twice a strong one.
Consistency = Literal["eventual", "strong", "transactional"]
_READ_FACTOR: Final[dict[str, float]] = {"eventual": 0.5, "strong": 1.0, "transactional": 2.0}
TRANSACTION_FACTOR: Final = 2  # each item of a TransactWriteItems (ConditionCheck included)

Item = Mapping[str, Any]


def number_size(text: str) -> int:
    """Bytes of a number value: one per two significant digits, plus one.

    Leading and trailing zeroes are trimmed, as DynamoDB stores numbers; the sign and the
    decimal point cost nothing in this estimate (the guide gives the size as approximate).
    """
    try:
        digits = Decimal(text.strip()).normalize().as_tuple().digits
    except InvalidOperation as error:
        raise ValueError(f"not a DynamoDB number: {text!r}") from error
    significant = len("".join(map(str, digits)).strip("0"))
    return math.ceil(significant / 2) + 1


def binary_size(value: str | bytes | bytearray) -> int:
    """Raw byte length of a binary value (the wire carries it base64-encoded)."""
    if isinstance(value, bytes | bytearray):
        return len(value)
    try:
        return len(base64.b64decode(value, validate=True))
    except binascii.Error as error:
        raise ValueError("a B value must be base64 text") from error


_SCALAR_SIZES: Final[dict[str, Callable[[Any], int]]] = {
    "S": lambda data: len(str(data).encode("utf-8")),
    "N": lambda data: number_size(str(data)),
    "B": binary_size,
    "BOOL": lambda _: 1,
    "NULL": lambda _: 1,
}
_SET_ELEMENTS: Final = {"SS": "S", "NS": "N", "BS": "B"}


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one attribute value, its name excluded.

    Lists and maps cost 3 bytes plus 1 byte an element on top of their elements (map keys
    are attribute names, counted in UTF-8); a set costs the sum of its elements.
    """
    if len(value) != 1:
        raise ValueError(f"an attribute value has exactly one type key, got {sorted(value)}")
    ((kind, data),) = value.items()
    if kind in _SCALAR_SIZES:
        return _SCALAR_SIZES[kind](data)
    if kind in _SET_ELEMENTS:
        element_size = _SCALAR_SIZES[_SET_ELEMENTS[kind]]
        return sum(element_size(element) for element in data)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in data)
    if kind == "M":
        return 3 + sum(1 + attribute_size(name, element) for name, element in data.items())
    raise ValueError(f"unknown attribute value type {kind!r}")


def attribute_size(name: str, value: Mapping[str, Any]) -> int:
    """Bytes of one attribute: its name in UTF-8 plus its value."""
    return len(name.encode("utf-8")) + value_size(value)


def item_size(item: Item | None) -> int:
    """Bytes of a whole item (0 for an absent one), as the 400 KB limit and capacity use it."""
    if not item:
        return 0
    return sum(attribute_size(name, value) for name, value in item.items())


def write_units(size_bytes: int) -> int:
    """Write units of one standard write: one per started KB, at least one."""
    return max(1, math.ceil(size_bytes / WRITE_UNIT_BYTES))


def write_capacity(
    before: Item | None,
    after: Item | None,
    *,
    transactional: bool = False,
) -> float:
    """Write units a write consumes: sized by the larger of the item before and after it.

    A failed conditional write passes ``after=None`` (nothing changed): it is still billed,
    by the existing item's size, at least one unit. Transactional writes cost twice.
    """
    units = write_units(max(item_size(before), item_size(after)))
    return float(units * (TRANSACTION_FACTOR if transactional else 1))


def read_units(size_bytes: int, consistency: Consistency = "strong") -> float:
    """Read units of reading ``size_bytes`` (one item, or a Query/Scan page summed first).

    One unit per started 4 KB for a strongly consistent read, at least one; eventually
    consistent reads cost half, transactional reads twice. Reading nothing still costs.
    """
    units = max(1, math.ceil(size_bytes / READ_UNIT_BYTES))
    return units * _READ_FACTOR[consistency]
