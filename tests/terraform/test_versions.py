"""Root versions.tf is the source of truth: modules declare its minimums, environments repeat it."""

from __future__ import annotations

import re

import pytest

from tests.terraform.tfload import REPO, TfModule, body, load_module, module_dirs


def constraints(module: TfModule) -> tuple[str | None, dict[str, dict[str, str]]]:
    """(required_version, {provider: {source, version}}) declared by a folder."""
    required_version = None
    providers: dict[str, dict[str, str]] = {}
    for block in module.terraform:
        required_version = block.get("required_version", required_version)
        for required in block.get("required_providers", []):
            for name, spec in body(required).items():
                providers[name] = dict(spec)
    return required_version, providers


def minimum(constraint: str) -> str:
    """The lower bound of ``>= 1.7, < 2.0`` or ``~> 6.0`` as ``>= x``."""
    match = re.search(r"(?:>=|~>)\s*([\d.]+)", constraint)
    assert match, f"no lower bound in {constraint!r}"
    return f">= {match[1]}"


ROOT_VERSION, ROOT_PROVIDERS = constraints(load_module(REPO))
MODULES = [load_module(d) for d in module_dirs() if d.parent.name == "modules"]
ENVIRONMENTS = [load_module(d) for d in module_dirs() if d.parent.name == "environments"]


def test_root_declares_the_supported_range() -> None:
    assert ROOT_VERSION == ">= 1.7, < 2.0"
    assert ROOT_PROVIDERS["aws"] == {"source": "hashicorp/aws", "version": "~> 6.0"}


@pytest.mark.parametrize("module", MODULES, ids=[m.name for m in MODULES])
def test_modules_declare_minimums_only(module: TfModule) -> None:
    required_version, providers = constraints(module)
    assert required_version == minimum(ROOT_VERSION or "")
    assert providers, f"{module.name}/versions.tf declares no required_providers"
    for name, spec in providers.items():
        assert name in ROOT_PROVIDERS, f"{module.name} uses {name}, which root versions.tf lacks"
        assert spec["source"] == ROOT_PROVIDERS[name]["source"]
        assert spec["version"] == minimum(ROOT_PROVIDERS[name]["version"]), (
            f"{module.name}: {name} must be {minimum(ROOT_PROVIDERS[name]['version'])!r}"
        )


@pytest.mark.parametrize("environment", ENVIRONMENTS, ids=[e.name for e in ENVIRONMENTS])
def test_environments_pin_the_root_range(environment: TfModule) -> None:
    required_version, providers = constraints(environment)
    assert required_version == ROOT_VERSION
    for name, spec in providers.items():
        assert spec == ROOT_PROVIDERS[name], f"{environment.name}: {name} differs from root"


def test_minimum_reads_both_constraint_styles() -> None:
    assert minimum(">= 1.7, < 2.0") == ">= 1.7"
    assert minimum("~> 6.0") == ">= 6.0"
    with pytest.raises(AssertionError):
        minimum("= 1.2.3")
