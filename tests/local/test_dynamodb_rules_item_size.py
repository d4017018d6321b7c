"""DynamoDB item sizes and capacity units, on examples computed by hand from the guide."""

from __future__ import annotations

import base64

import pytest

from bedrock_guard.local.dynamodb_rules.item_size import (
    MAX_ITEM_BYTES,
    attribute_size,
    item_size,
    number_size,
    read_units,
    value_size,
    write_capacity,
    write_units,
)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 1),  # no significant digit: the one extra byte only
        ("7", 2),
        ("12", 2),
        ("123", 3),
        ("12345", 4),  # five digits: three bytes (rounded up), plus one
        ("100", 2),  # trailing zeroes trimmed: one significant digit
        ("000123", 3),  # leading zeroes trimmed
        ("-0.0012", 2),  # sign and point cost nothing; "12" is two digits
        ("3.14159", 4),  # six digits: three bytes, plus one
        ("1E+5", 2),
    ],
)
def test_numbers_cost_a_byte_per_two_significant_digits_plus_one(text: str, size: int) -> None:
    assert number_size(text) == size


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ({"S": "USAGE#1"}, 7),
        ({"S": "é€"}, 5),  # UTF-8 bytes, not characters: 2 + 3
        ({"S": ""}, 0),
        ({"N": "12345"}, 4),
        ({"B": base64.b64encode(b"\x00\x01\x02").decode()}, 3),  # raw bytes, not base64 text
        ({"B": b"\x00\x01\x02\x03"}, 4),
        ({"BOOL": False}, 1),
        ({"NULL": True}, 1),
        ({"SS": ["a", "bc"]}, 3),  # a set: its elements summed, no overhead
        ({"NS": ["1", "12345"]}, 2 + 4),
        ({"L": []}, 3),
        ({"L": [{"S": "ab"}, {"N": "1"}]}, 3 + (1 + 2) + (1 + 2)),
        ({"M": {}}, 3),
        ({"M": {"a": {"S": "xy"}}}, 3 + 1 + (1 + 2)),  # a map key counts as a name
        ({"M": {"l": {"L": [{"BOOL": True}]}}}, 3 + 1 + (1 + 3 + (1 + 1))),
    ],
)
def test_value_sizes(value: dict[str, object], size: int) -> None:
    assert value_size(value) == size


def test_an_attribute_costs_its_name_in_utf8_plus_its_value() -> None:
    assert attribute_size("ñ", {"S": "ab"}) == 2 + 2


def test_an_item_costs_the_sum_of_its_attributes() -> None:
    item = {
        "pk": {"S": "USAGE#1"},  # 2 + 7
        "sk": {"S": "a"},  # 2 + 1
        "tokens": {"N": "1500"},  # 6 + (2 digits -> 1 + 1)
        "done": {"BOOL": True},  # 4 + 1
    }

    assert item_size(item) == 9 + 3 + 8 + 5
    assert item_size(None) == 0
    assert item_size({}) == 0


@pytest.mark.parametrize("bad", [{"X": "1"}, {"S": "a", "N": "1"}, {"N": "twelve"}, {"B": "@@"}])
def test_malformed_values_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        value_size(bad)


def test_the_item_limit_is_400_binary_kilobytes() -> None:
    assert MAX_ITEM_BYTES == 409_600


@pytest.mark.parametrize(
    ("size", "units"), [(0, 1), (1, 1), (1024, 1), (1025, 2), (2048, 2), (409_600, 400)]
)
def test_write_units_count_each_started_kilobyte(size: int, units: int) -> None:
    assert write_units(size) == units


def sized(total: int) -> dict[str, object]:
    """An item of exactly ``total`` bytes: ``pk`` (2 bytes of name) and a string."""
    return {"pk": {"S": "x" * (total - 2)}}


def test_a_write_is_billed_by_the_larger_of_the_item_before_and_after() -> None:
    assert item_size(sized(1500)) == 1500
    assert write_capacity(sized(1500), sized(500)) == 2.0  # shrinking: the old size counts
    assert write_capacity(sized(500), sized(2100)) == 3.0  # growing: the new size counts
    assert write_capacity(None, sized(100)) == 1.0


def test_a_failed_conditional_write_is_billed_by_the_existing_item_at_least_one_unit() -> None:
    assert write_capacity(sized(3000), None) == 3.0
    assert write_capacity(None, None) == 1.0


def test_transactional_writes_cost_twice() -> None:
    assert write_capacity(sized(1500), sized(1500), transactional=True) == 4.0
    assert write_capacity(None, None, transactional=True) == 2.0  # a ConditionCheck on nothing


@pytest.mark.parametrize(
    ("size", "consistency", "units"),
    [
        (0, "strong", 1.0),  # reading nothing still costs
        (4096, "strong", 1.0),
        (4097, "strong", 2.0),
        (4097, "eventual", 1.0),
        (3500, "eventual", 0.5),
        (4097, "transactional", 4.0),
        (8192, "transactional", 4.0),
    ],
)
def test_read_units_count_each_started_4kb_by_consistency(
    size: int, consistency: str, units: float
) -> None:
    assert read_units(size, consistency) == units  # type: ignore[arg-type]
