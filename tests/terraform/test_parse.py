"""Every .tf file parses, and the committed provider-schema subset is exactly what the files use."""

from __future__ import annotations

import json

import pytest

from tests.terraform.schema_check import REGENERATE, SCHEMA_FILE
from tests.terraform.tfload import REPO, parse, tf_files
from tools.gen_provider_schema import used_types

FILES = tf_files()


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(REPO)) for p in FILES])
def test_parses(path) -> None:
    assert isinstance(parse(path), dict)


def test_there_is_terraform_to_check() -> None:
    assert REPO / "versions.tf" in FILES


def test_schema_subset_is_exactly_the_types_in_use() -> None:
    committed = set(json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))["types"])
    used = used_types(REPO)
    assert sorted(used - committed) == [], f"types missing from the subset: {REGENERATE}"
    assert sorted(committed - used) == [], f"types no longer used: {REGENERATE}"
