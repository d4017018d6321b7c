"""The demo's Terraform evaluator on small configurations: values, errors, unknowns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bedrock_guard.demo.hcl_eval import ExpressionError, Unknown, Unsupported
from bedrock_guard.demo.terraform import Terraform


def configuration(tmp_path: Path, main: str, tfvars: str | None = None) -> Terraform:
    (tmp_path / "main.tf").write_text(main)
    values = None
    if tfvars is not None:
        values = tmp_path / "test.tfvars"
        values.write_text(tfvars)
    return Terraform(tmp_path, tfvars=values)


def local(tmp_path: Path, expression: str, extra: str = "") -> Any:
    return configuration(tmp_path, f"locals {{\n  x = {expression}\n}}\n{extra}").root.local("x")


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('"a-${1 + 2}-${true}"', "a-3-true"),
        ('"$${not} %%{x}"', "${not} %{x}"),
        ('"tab\\tquote\\""', 'tab\tquote"'),
        ("3 * 4 - 10 / 4", 9.5),
        ("7 % 4 == 3 && !false", True),
        ('1 == "1"', False),
        ("true == 1", False),
        ('length([1, 2, 3]) > 2 ? "big" : "small"', "big"),
        ("[for n in [3, 1, 2] : n * 10 if n != 1]", [30, 20]),
        ("{ for k, v in { b = 2, a = 1 } : v => k }", {"2": "b", "1": "a"}),
        (
            '{ for s in ["ax", "ay", "bz"] : substr(s, 0, 1) => s... }',
            {"a": ["ax", "ay"], "b": ["bz"]},
        ),
        (
            'regex("^(?P<kind>role|user)/(?P<name>.+)$", "role/app")',
            {"kind": "role", "name": "app"},
        ),
        ('replace("arn:aws:iam::1:role/x", "/[:/]/", "-")', "arn-aws-iam--1-role-x"),
        ('replace("abc", "/(b)/", "[$1]")', "a[b]c"),
        ('coalesce(null, "", "x")', "x"),
        ('jsonencode({ b = 1, a = [true, null, "<"] })', '{"a":[true,null,"\\u003c"],"b":1}'),
        ("merge([{ a = 1 }, { b = 2 }]...)", {"a": 1, "b": 2}),
        ('can(regex("^x", "y"))', False),
        ('try(regex("^x", "y"), "fallback")', "fallback"),
        ('setproduct(["a"], [1, 2])', [["a", 1], ["a", 2]]),
        ('{ ("k${1}") = 1 }', {"k1": 1}),
    ],
)
def test_expressions_evaluate_as_terraform_does(
    tmp_path: Path, expression: str, expected: Any
) -> None:
    assert local(tmp_path, expression) == expected


def test_references_follow_variables_locals_and_module_outputs(tmp_path: Path) -> None:
    child = tmp_path / "child"
    child.mkdir()
    (child / "main.tf").write_text(
        'variable "name" {\n  type = string\n}\n'
        'locals {\n  full = "${var.name}-child"\n}\n'
        'output "full" {\n  value = local.full\n}\n'
    )
    root = configuration(
        tmp_path,
        'variable "env" {\n  default = "dev"\n}\n'
        'locals {\n  name = "svc-${var.env}"\n}\n'
        'module "c" {\n  source = "./child"\n  name = local.name\n}\n'
        "locals {\n  out = module.c.full\n}\n",
        tfvars='env = "qa"\n',
    ).root
    assert root.local("out") == "svc-qa-child"
    assert root.var_source("env").endswith("test.tfvars")
    assert root.child("c").var_source("name").startswith("module.c argument")


def test_optional_attributes_get_their_defaults(tmp_path: Path) -> None:
    root = configuration(
        tmp_path,
        'variable "t" {\n'
        "  type = map(object({\n"
        "    a = string\n"
        "    b = optional(number, 7)\n"
        "    c = optional(object({ d = optional(bool, true) }))\n"
        "  }))\n"
        "}\n",
        tfvars='t = { one = { a = "x" }, two = { a = "y", b = 1, c = {} } }\n',
    ).root
    assert root.var("t") == {
        "one": {"a": "x", "b": 7, "c": None},
        "two": {"a": "y", "b": 1, "c": {"d": True}},
    }


def test_a_missing_required_attribute_is_an_error(tmp_path: Path) -> None:
    root = configuration(
        tmp_path,
        'variable "t" {\n  type = object({ a = string })\n}\n',
        tfvars="t = {}\n",
    ).root
    with pytest.raises(ExpressionError, match=r"var\.t\.a is required"):
        root.var("t")


def test_resources_expand_for_each_and_dynamic_blocks(tmp_path: Path) -> None:
    root = configuration(
        tmp_path,
        'resource "aws_thing" "this" {\n'
        "  for_each = { a = 1, b = 2 }\n"
        '  name     = "thing-${each.key}-${each.value}"\n'
        '  dynamic "rule" {\n'
        "    for_each = range(each.value)\n"
        '    content {\n      n = "r${rule.value}"\n    }\n'
        "  }\n"
        "}\n",
    ).root
    instances = root.resource("aws_thing", "this").instances()
    assert {k: i.get("name") for k, i in instances.items()} == {"a": "thing-a-1", "b": "thing-b-2"}
    assert [r.get("n") for r in instances["b"].blocks("rule")] == ["r0", "r1"]
    assert instances["a"].address == 'aws_thing.this["a"]'


def test_computed_attributes_are_unknown_until_a_resolver_knows_them(tmp_path: Path) -> None:
    terraform = configuration(
        tmp_path,
        'resource "aws_thing" "this" {\n  name = "n"\n}\n'
        "locals {\n  both = { name = aws_thing.this.name, arn = aws_thing.this.arn }\n}\n",
    )
    both = terraform.root.local("both")
    assert both["name"] == "n"  # an argument: known at plan time
    with pytest.raises(Unknown, match=r"aws_thing\.this\.arn is known only after apply"):
        terraform.root.evaluate(terraform.root.files.locals["both"], None)["arn"].value()

    class Resolver:
        def resource_attribute(self, address: str, attribute: str) -> Any:
            return f"arn-of-{address}"

        def data_attribute(self, address: str, attribute: str) -> Any:
            raise Unknown("no data")

    terraform.resolver = Resolver()
    # The element that was unknown is evaluated again once something can resolve it.
    assert both["arn"].value() == "arn-of-aws_thing.this"


def test_unsupported_constructs_say_where_and_are_not_swallowed_by_can(tmp_path: Path) -> None:
    with pytest.raises(Unsupported) as raised:
        local(tmp_path, 'can(uuid()) ? "a" : "b"')
    assert raised.value.source == "main.tf"
    assert "uuid() is not supported" in str(raised.value)
    assert "can(uuid())" in str(raised.value)


def test_references_to_undeclared_names_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(ExpressionError, match=r"var\.missing is not declared"):
        local(tmp_path, "var.missing")
    with pytest.raises(ExpressionError, match="refers to itself"):
        configuration(tmp_path, "locals {\n  a = local.b\n  b = local.a\n}\n").root.local("a")
