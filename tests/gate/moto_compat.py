"""A fix for moto 5.2.5's DynamoDB number addition, for tests of exact decimal counters.

moto adds two numbers with ``int()`` unless the stored text contains a ``.``, and stores the
sum with ``str(Decimal)``. A USD counter that returns to exactly zero after a release is then
stored as ``0E-8`` and the next ``ADD`` fails with ``invalid literal for int()``, which real
DynamoDB (exact decimal arithmetic, normalised numbers) never does. The fix adds numbers as
decimals and stores them in DynamoDB's normalised plain form. A moto server running in another
process needs :func:`patch_moto_number_addition` called in that process before it starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any


def plain_number(value: Decimal) -> str:
    """A number as DynamoDB returns it: no exponent, no trailing zeros."""
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def _exact_add(original: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    def add(self: Any, other: Any) -> Any:
        if self.is_number() and other.is_number():
            return DynamoType({"N": plain_number(Decimal(self.value) + Decimal(other.value))})
        return original(self, other)

    add.exact = True  # type: ignore[attr-defined]
    return add


@contextmanager
def exact_moto_numbers() -> Iterator[None]:
    """moto adds numbers exactly inside the block, and as before after it."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    original = DynamoType.__add__
    DynamoType.__add__ = _exact_add(original)  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoType.__add__ = original  # type: ignore[method-assign]


def patch_moto_number_addition() -> None:
    """Make moto add numbers exactly for the rest of this process (a moto server process)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    if not getattr(DynamoType.__add__, "exact", False):
        DynamoType.__add__ = _exact_add(DynamoType.__add__)  # type: ignore[method-assign]
