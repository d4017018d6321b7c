"""Size of the Lambda zip, built as the token-gate module's ``archive_file`` builds it.

The zip is the one the Terraform harness builds for ``terraform apply`` on machines without
hashicorp/archive (:func:`bedrock_guard.local.tf_harness.build_archive`): the source folder and
excludes are read from ``modules/token-gate/lambda.tf``, so the figure follows the Terraform.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Final

from bedrock_guard.local.tf_harness import archive_members, archive_specs, build_archive

REPO: Final = Path(__file__).resolve().parents[1]
MODULE: Final = REPO / "modules" / "token-gate"


def lambda_zip_size() -> dict[str, Any]:
    """Bytes of the zip, of its content, and the number of files in it."""
    (spec,) = archive_specs(MODULE)
    files = archive_members(spec)
    with tempfile.TemporaryDirectory() as scratch:
        output = build_archive(spec, Path(scratch) / "token-gate.zip")
        zip_bytes = output.stat().st_size
    return {
        "zip_bytes": zip_bytes,
        "content_bytes": sum(path.stat().st_size for path in files),
        "files": len(files),
        "excludes": list(spec.excludes),
    }
