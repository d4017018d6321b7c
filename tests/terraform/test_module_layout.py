"""Every module has the standard files, typed and described variables, and a README in sync."""

from __future__ import annotations

import re

import pytest

from tests.terraform.tfload import REPO, TfModule, load_module

MODULE_NAMES = ["budget", "usage-plan", "aip-tenant", "token-gate", "alarm-enforcer", "usage-meter"]
REQUIRED_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md")
PRESENT = [name for name in MODULE_NAMES if (REPO / "modules" / name).is_dir()]
MODULES = [load_module(REPO / "modules" / name) for name in PRESENT]


def readme_table_names(readme: str, heading: str) -> set[str]:
    """First-column names (`name`) of the Markdown table under a ``## <heading>`` heading."""
    section = re.search(rf"^##+ {heading}\s*$(.*?)(?=^##+ |\Z)", readme, re.M | re.S | re.I)
    if not section:
        return set()
    return set(re.findall(r"^\|\s*`([a-z0-9_]+)`\s*\|", section[1], re.M))


def test_only_known_modules_exist() -> None:
    found = {path.name for path in (REPO / "modules").glob("*") if path.is_dir()}
    assert found <= set(MODULE_NAMES)


@pytest.mark.parametrize("module", MODULES, ids=PRESENT)
def test_standard_files(module: TfModule) -> None:
    missing = [name for name in REQUIRED_FILES if not (module.path / name).is_file()]
    assert missing == []


@pytest.mark.parametrize("module", MODULES, ids=PRESENT)
def test_variables_are_typed_and_described(module: TfModule) -> None:
    problems = [
        f"variable {name}: missing {field}"
        for name, variable in module.variables.items()
        for field in ("type", "description")
        if not variable.body.get(field)
    ]
    assert problems == []


@pytest.mark.parametrize("module", MODULES, ids=PRESENT)
def test_outputs_are_described(module: TfModule) -> None:
    assert [name for name, out in module.outputs.items() if not out.body.get("description")] == []


@pytest.mark.parametrize("module", MODULES, ids=PRESENT)
def test_readme_tables_match_the_code(module: TfModule) -> None:
    readme = (module.path / "README.md").read_text(encoding="utf-8")
    assert readme_table_names(readme, "Inputs") == set(module.variables)
    assert readme_table_names(readme, "Outputs") == set(module.outputs)
    assert re.search(r'module\s+"[\w-]+"\s*\{', readme), "README needs an example module call"


def test_readme_table_reader_can_fail() -> None:
    readme = (
        "# x\n## Inputs\n| Name | Description |\n|---|---|\n| `name` | x |\n| `a` | x |\n"
        "## Outputs\n| `b` | y |\n"
    )
    assert readme_table_names(readme, "Inputs") == {"name", "a"}
    assert readme_table_names(readme, "Outputs") == {"b"}
    assert readme_table_names(readme, "Nothing") == set()
