"""``make validate``: real ``terraform fmt -check`` on the tree, ``init`` + ``validate`` on a copy.

fmt runs on the repository's own files. init and validate run on the adapted copy that
:mod:`bedrock_guard.local.tf_harness` prepares (the provider this machine's mirror holds, the
listed rewrites), every module and environment, and fail on any error or warning.

Without terraform or a provider mirror this says why and exits 1, unless ``TF_OPTIONAL=1``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

from bedrock_guard.local.tf_harness import (
    TREE,
    RewriteDidNotApply,
    TerraformFailed,
    Unavailable,
    find_terraform,
    prepare,
    rewrites,
    validate_all,
)

REPO: Final = Path(__file__).resolve().parents[1]
BUILD: Final = REPO / "build" / "tf" / "validate"
OPTIONAL_ENV: Final = "TF_OPTIONAL"


def fmt_check(terraform: Path) -> bool:
    """``terraform fmt -check -recursive -diff`` of the real tree; True when formatted."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CLI_CONFIG_FILE"}
    env["CHECKPOINT_DISABLE"] = "1"
    result = subprocess.run(
        [str(terraform), "fmt", "-check", "-recursive", "-diff", "-no-color", *TREE],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**env, "TF_CLI_CONFIG_FILE": os.devnull},
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        print(result.stdout + result.stderr)
    return result.returncode == 0


def main() -> int:
    """Run the checks; the exit status of ``make validate``."""
    started = time.monotonic()
    try:
        terraform = find_terraform()
        workspace = prepare(REPO, BUILD)
    except Unavailable as missing:
        print(f"terraform validate cannot run: {missing}")
        if os.environ.get(OPTIONAL_ENV) == "1":
            print(f"{OPTIONAL_ENV}=1: not counted as a failure")
            return 0
        print(f"(set {OPTIONAL_ENV}=1 to accept running without it)")
        return 1
    except (RewriteDidNotApply, TerraformFailed) as failed:
        print(f"preparing the Terraform copy failed: {failed}")
        return 1
    ok = fmt_check(terraform)
    print(f"terraform fmt -check -recursive: {'ok' if ok else 'FAILED'}")
    print(f"copy in {workspace.tree.relative_to(REPO)} for hashicorp/aws {workspace.aws_version}:")
    for edit in rewrites(workspace.aws_version):
        print(f"  rewrite {edit.name!r} x{workspace.rewrite_counts[edit.name]}: {edit.why}")
    for result in validate_all(workspace):
        print(f"terraform validate {result.folder}: {'ok' if result.ok else 'FAILED'}")
        for line in result.diagnostics:
            print(f"  {line}")
        ok = ok and result.ok
    print(f"{'ok' if ok else 'FAILED'} in {time.monotonic() - started:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
