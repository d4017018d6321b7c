"""References resolve (var., local., module. outputs, data.); module calls pass valid inputs."""

from __future__ import annotations

import pytest

from tests.terraform.tfload import (
    MODULE_META_ARGUMENTS,
    TfModule,
    load_module,
    module_dirs,
    references,
)

MODULES = [load_module(directory) for directory in module_dirs()]


def _everything(module: TfModule) -> list[object]:
    values: list[object] = [module.locals]
    for group in (module.resources, module.data, module.outputs, module.modules, module.variables):
        values += [block.body for block in group.values()]  # type: ignore[attr-defined]
    values += [provider.body for provider in module.providers]
    values += [check.body for check in module.checks.values()]
    return values


def unresolved(module: TfModule) -> list[str]:
    """Every reference in ``module`` that names nothing it declares."""
    problems = []
    for value in _everything(module):
        for root, names in references(value):
            head = names[0]
            if root == "var" and head not in module.variables:
                problems.append(f"var.{head} is not declared")
            elif root == "local" and head not in module.locals:
                problems.append(f"local.{head} is not declared")
            elif root == "data" and (len(names) < 2 or (head, names[1]) not in module.data):
                problems.append(f"data.{'.'.join(names[:2])} is not declared")
            elif root == "module":
                if head not in module.modules:
                    problems.append(f"module.{head} is not declared")
                    continue
                called = module.module_source(head)
                if called is not None and len(names) > 1 and names[1] not in called.outputs:
                    problems.append(f"module.{head}.{names[1]}: {called.name} has no such output")
    return sorted(set(problems))


def module_call_problems(module: TfModule) -> list[str]:
    """Inputs a module call passes that the module does not declare, and required ones missing."""
    problems = []
    for call, block in module.modules.items():
        called = module.module_source(call)
        if called is None:
            problems.append(f"module.{call}: source must be a local path in this repository")
            continue
        passed = set(block.body) - MODULE_META_ARGUMENTS
        for name in sorted(passed - set(called.variables)):
            problems.append(f"module.{call} passes {name!r}, which {called.name} does not declare")
        for name, variable in sorted(called.variables.items()):
            if "default" not in variable.body and name not in passed:
                problems.append(f"module.{call} does not pass required input {name!r}")
    return problems


@pytest.mark.parametrize("module", MODULES, ids=[m.name for m in MODULES])
def test_references_resolve(module: TfModule) -> None:
    assert unresolved(module) == []


@pytest.mark.parametrize("module", MODULES, ids=[m.name for m in MODULES])
def test_module_calls_pass_declared_and_required_inputs(module: TfModule) -> None:
    assert module_call_problems(module) == []


def test_checks_can_fail(tmp_path) -> None:
    child = tmp_path / "child"
    child.mkdir()
    (child / "main.tf").write_text(
        'variable "needed" {\n  type = string\n}\n'
        'variable "optional" {\n  type    = string\n  default = "x"\n}\n'
        'output "id" {\n  value = var.needed\n}\n'
    )
    (tmp_path / "main.tf").write_text(
        'locals {\n  a = "${var.missing}-${local.nope}"\n}\n'
        'module "c" {\n  source = "./child"\n  extra  = 1\n}\n'
        'output "o" {\n  value = module.c.not_an_output\n}\n'
        'output "p" {\n  value = data.aws_region.current.region\n}\n'
        'check "c" {\n  assert {\n    condition     = var.in_check\n'
        '    error_message = "x"\n  }\n}\n'
    )
    parent = load_module(tmp_path)
    assert unresolved(parent) == [
        "data.aws_region.current is not declared",
        "local.nope is not declared",
        "module.c.not_an_output: child has no such output",
        "var.in_check is not declared",
        "var.missing is not declared",
    ]
    assert "module.c passes 'extra'" in module_call_problems(parent)[0]
    assert module_call_problems(parent)[1] == "module.c does not pass required input 'needed'"
