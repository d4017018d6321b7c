"""The documentation cites only what exists and lists the variables the code reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bedrock_guard.core import keys
from bedrock_guard.enforcer.config import ENVIRONMENT_VARIABLES as ENFORCER_VARIABLES
from bedrock_guard.gate.config import ENVIRONMENT_VARIABLES as GATE_VARIABLES
from bedrock_guard.meter.config import ENVIRONMENT_VARIABLES as METER_VARIABLES

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
CONTRACTS = (REPO / "docs" / "contracts.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = CONTRACTS.index(f"## {title}")
    end = CONTRACTS.find("\n## ", start + 1)
    return CONTRACTS[start : end if end != -1 else None]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_relative_links_resolve(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    missing = [
        target
        for target in LINK.findall(text)
        if "://" not in target
        and not target.startswith("mailto:")
        and not (document.parent / target).exists()
    ]
    assert missing == []


def test_nothing_cites_a_design_file_outside_the_repository() -> None:
    sources = [
        *DOCUMENTS,
        *(REPO / "lambda_src").rglob("*.py"),
        *(REPO / "modules").rglob("*.tf"),
        *(REPO / "modules").rglob("*.md"),
        *(REPO / "environments").rglob("*.tf"),
        *(REPO / "tools").rglob("*.py"),
    ]
    citing = [str(path.relative_to(REPO)) for path in sources if "DESIGN.md" in path.read_text()]
    assert citing == []


def test_every_variable_the_gate_reads_is_documented() -> None:
    gate = section("Token gate")
    assert [name for name in GATE_VARIABLES if f"`{name}`" not in gate] == []


def test_every_variable_the_enforcer_reads_is_documented() -> None:
    enforcer = section("Alarm enforcer")
    assert [name for name in ENFORCER_VARIABLES if f"`{name}`" not in enforcer] == []


def test_every_variable_the_meter_reads_is_documented() -> None:
    meter = section("Usage meter")
    assert [name for name in METER_VARIABLES if f"`{name}`" not in meter] == []


def test_table_keys_are_documented() -> None:
    table = section("The table")
    for name in (keys.PK, keys.SK, keys.TTL_ATTRIBUTE, keys.LOCKED_BY, *keys.PROFILE_ATTRIBUTES):
        assert f"`{name}`" in table, name
    for prefix in ("CALLER#", "USAGE#", "LOCK#", "MONTH#", "ALARM#", "EVENT#"):
        assert prefix in table, prefix


# Backticked repository paths the documents cite (`lambda_src/...`, `modules/...`): each must
# exist. Placeholders (`<name>`), globs and what runs produce (build/, .bench/) are not paths.
CITED_PATH = re.compile(
    r"`((?:\.ci|docs|environments|lambda_src|modules|tests|tools)/[^`\s]*"
    r"|[\w.-]+\.(?:tf|toml|example|md))`"
)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_cited_repository_paths_exist(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    cited = {m for m in CITED_PATH.findall(text) if not re.search(r"[<>*{}$]", m)}
    bare = {name for name in cited if "/" not in name}
    missing = sorted(path for path in cited - bare if not (REPO / path.rstrip("/")).exists())
    unknown = sorted(name for name in bare if not any(REPO.rglob(name)))
    assert cited
    assert (missing, unknown) == ([], [])
