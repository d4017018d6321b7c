"""The harness's own promises: every rewrite applies, the zips are the modules' zips, and a
machine without terraform or a mirror is told exactly why."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Final

import pytest

from bedrock_guard.local import tf_harness
from bedrock_guard.local.tf_harness import (
    RewriteDidNotApply,
    Unavailable,
    apply_rewrites,
    archive_members,
    archive_specs,
    build_archive,
    find_mirror,
    find_terraform,
    glob_regex,
    rewrites,
)

REPO: Final = Path(__file__).resolve().parents[2]
LAMBDA_MODULES: Final = ("alarm-enforcer", "token-gate")


def _copy_of_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    tf_harness._copy_tree(REPO, tree)
    return tree


def test_every_rewrite_matches_the_real_tree(tmp_path: Path) -> None:
    tree = _copy_of_tree(tmp_path)
    counts = apply_rewrites(tree, rewrites("5.100"))
    assert all(n > 0 for n in counts.values()), counts
    text = "\n".join(p.read_text(encoding="utf-8") for p in tree.rglob("*.tf"))
    assert "data.aws_region.current.region" not in text
    assert "hashicorp/archive" not in text
    assert 'data "archive_file"' not in text and "data.archive_file." not in text
    assert not re.search(r'version\s*=\s*"[~>= ]*6', text)


def test_the_real_tree_keeps_the_6x_text(tmp_path: Path) -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "modules").rglob("*.tf"))
    assert "data.aws_region.current.region" in text  # the copy, never the tree, is adapted


def test_a_rewrite_that_no_longer_applies_fails_loudly(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('data "aws_region" "current" {}\n', encoding="utf-8")
    with pytest.raises(RewriteDidNotApply, match="aws version constraint"):
        apply_rewrites(tmp_path, rewrites("5.100"))


@pytest.mark.parametrize("module", LAMBDA_MODULES)
def test_the_zip_holds_what_archive_file_would_put_in_it(tmp_path: Path, module: str) -> None:
    (spec,) = archive_specs(REPO / "modules" / module)
    assert spec.source_dir == (REPO / "lambda_src").resolve()
    output = build_archive(spec, tmp_path / "lambda.zip")

    source = spec.source_dir
    expected = {
        path.relative_to(source).as_posix(): path.read_bytes()
        for path in source.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and not any(part.endswith(".egg-info") for part in path.parts)
        and not path.relative_to(source)
        .as_posix()
        .startswith(("bedrock_guard/local/", "bedrock_guard/cli/", "bedrock_guard/demo/"))
    }
    with zipfile.ZipFile(output) as zf:
        content = {info.filename: zf.read(info) for info in zf.infolist()}
        modes = {info.external_attr >> 16 & 0o777 for info in zf.infolist()}
    assert content == expected
    assert modes == {spec.file_mode}
    assert "bedrock_guard/token_gate.py" in content and "bedrock_guard/alarm_enforcer.py" in content


def test_the_zip_imports_the_contract_handlers(tmp_path: Path) -> None:
    (spec,) = archive_specs(REPO / "modules" / "token-gate")
    output = build_archive(spec, tmp_path / "lambda.zip")
    probe = (
        "import importlib, sys; sys.path.insert(0, sys.argv[1]); "
        "[importlib.import_module(m) for m in sys.argv[2:]]; "
        "import bedrock_guard; assert bedrock_guard.__file__.startswith(sys.argv[1])"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", probe, str(output), "bedrock_guard"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert not [m for m in archive_members(spec) if "/local/" in m.as_posix()]


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("**/__pycache__/**", "bedrock_guard/__pycache__/x.pyc", True),
        ("**/__pycache__/**", "__pycache__/x.pyc", True),
        ("*.egg-info/**", "bedrock_cost_guard.egg-info/PKG-INFO", True),
        ("*.egg-info/**", "bedrock_guard/x.egg-info/PKG-INFO", False),
        ("bedrock_guard/local/**", "bedrock_guard/local/moto_server.py", True),
        ("bedrock_guard/local/**", "bedrock_guard/localize.py", False),
    ],
)
def test_excludes_match_as_doublestar_globs(pattern: str, path: str, matches: bool) -> None:
    assert bool(glob_regex(pattern).match(path)) is matches


def test_a_missing_mirror_is_reported_with_where_it_was_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TF_PROVIDER_MIRROR", str(tmp_path))
    with pytest.raises(Unavailable, match=r"no filesystem mirror with registry.terraform.io"):
        find_mirror()


def test_a_missing_terraform_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERRAFORM", str(tmp_path / "terraform"))
    with pytest.raises(Unavailable, match="is not an executable file"):
        find_terraform()
    monkeypatch.delenv("TERRAFORM")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(Unavailable, match="no terraform on the PATH"):
        find_terraform()


@pytest.mark.parametrize(("optional", "status"), [("", 1), ("1", 0)])
def test_make_validate_fails_without_terraform_unless_optional(
    tmp_path: Path, optional: str, status: int
) -> None:
    env = {"PATH": "/usr/bin:/bin", "TERRAFORM": str(tmp_path / "none"), "TF_OPTIONAL": optional}
    result = subprocess.run(
        [sys.executable, "-m", "tools.tf_validate"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == status, result.stdout + result.stderr
    assert "terraform validate cannot run: $TERRAFORM=" in result.stdout
