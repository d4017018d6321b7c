"""Every aws resource and data block uses only arguments hashicorp/aws knows, and required ones."""

from __future__ import annotations

import pytest

from tests.terraform.schema_check import Schema, check_block, load_schema
from tests.terraform.tfload import REPO, load_module, module_dirs, resource_references

SCHEMA = load_schema()


def _aws_blocks():
    for directory in module_dirs():
        module = load_module(directory)
        for (type_name, _), block in module.resources.items():
            if type_name.startswith("aws_"):
                yield module, block, type_name
        for (type_name, _), block in module.data.items():
            if type_name.startswith("aws_"):
                yield module, block, f"data.{type_name}"


BLOCKS = list(_aws_blocks())


def test_schema_subset_is_from_the_pinned_provider() -> None:
    assert SCHEMA.provider.startswith("hashicorp/aws 6."), SCHEMA.provider


@pytest.mark.parametrize(
    ("module", "block", "type_key"),
    BLOCKS,
    ids=[f"{m.name}:{b.address}" for m, b, _ in BLOCKS],
)
def test_block_matches_provider_schema(module, block, type_key) -> None:
    where = f"{block.file.relative_to(REPO)}: {block.address}"
    assert check_block(where, type_key, block.body, SCHEMA) == []


def test_attribute_references_exist() -> None:
    """``aws_x.name.attr`` reads an attribute its type has (catches typos like ``invoke_ar``)."""
    problems = []
    for directory in module_dirs():
        module = load_module(directory)
        everything = [b.body for b in module.resources.values()]
        everything += [b.body for b in module.data.values()]
        everything += [b.body for b in module.outputs.values()]
        everything += [b.body for b in module.modules.values()]
        everything.append(module.locals)
        for value in everything:
            for type_name, name, attribute in resource_references(value, set()):
                if not type_name.startswith("aws_") or attribute is None:
                    continue
                spec = SCHEMA.types.get(type_name)
                if spec is None:
                    problems.append(f"{module.name}: {type_name} not in schema subset")
                elif attribute not in spec["attributes"]:
                    problems.append(f"{module.name}: {type_name}.{name}.{attribute} is unknown")
                if (type_name, name) not in module.resources:
                    problems.append(f"{module.name}: {type_name}.{name} is not declared")
    assert problems == []


# The checker itself must be able to fail: a hand-written excerpt of aws_lambda_function.
EXCERPT = Schema(
    provider="hashicorp/aws 6.69.1",
    types={
        "aws_lambda_function": {
            "arguments": {
                "function_name": {"required": True},
                "role": {"required": True},
                "environment": {"required": False, "block": {"variables": {"required": False}}},
                "vpc_config": {
                    "required": False,
                    "block": {
                        "security_group_ids": {"required": True},
                        "subnet_ids": {"required": True},
                    },
                },
            },
            "attributes": ["arn", "function_name", "role"],
        }
    },
)


def test_checker_reports_unknown_missing_and_nested_problems() -> None:
    given = {
        "function_nam": "typo",
        "role": "${aws_iam_role.this.arn}",
        "vpc_config": [{"subnet_ids": [], "__is_block__": True}],
        "environment": [{"variables": {}, "colour": "red", "__is_block__": True}],
        "count": 1,
    }
    problems = check_block("t", "aws_lambda_function", given, EXCERPT)
    assert "t: unknown argument 'function_nam'" in problems
    assert "t: missing required argument 'function_name'" in problems
    assert "t.vpc_config: missing required argument 'security_group_ids'" in problems
    assert "t.environment: unknown argument 'colour'" in problems
    assert not any("count" in problem for problem in problems)


def test_checker_follows_dynamic_blocks_and_unknown_types() -> None:
    given = {
        "function_name": "f",
        "role": "r",
        "dynamic": [
            {
                "vpc_config": {
                    "for_each": "${[]}",
                    "content": [{"subnet_ids": [], "__is_block__": True}],
                    "__is_block__": True,
                },
                "__is_block__": True,
            }
        ],
    }
    problems = check_block("t", "aws_lambda_function", given, EXCERPT)
    assert problems == ["t.vpc_config: missing required argument 'security_group_ids'"]
    assert "make schema" in check_block("t", "aws_not_a_type", {}, EXCERPT)[0]
