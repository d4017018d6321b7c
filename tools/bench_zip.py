"""Size of the Lambda zip, built as the token-gate module's ``archive_file`` builds it.

The excludes are read from ``modules/token-gate/lambda.tf``, so the figure follows the
Terraform; archive_file matches them as doublestar globs against slash-separated paths
relative to ``lambda_src`` and deflates each file.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any, Final

import hcl2
from hcl2.utils import SerializationOptions

REPO: Final = Path(__file__).resolve().parents[1]
SOURCE: Final = REPO / "lambda_src"
LAMBDA_TF: Final = REPO / "modules" / "token-gate" / "lambda.tf"
_OPTIONS: Final = SerializationOptions(strip_string_quotes=True)


def archive_excludes(path: Path = LAMBDA_TF) -> list[str]:
    """The ``excludes`` of the module's ``archive_file`` data source."""
    with path.open(encoding="utf-8") as handle:
        document = hcl2.load(handle, serialization_options=_OPTIONS)
    for data in document.get("data", []):
        for name, archive in data.get("archive_file", {}).items():
            excludes = archive.get("excludes")
            if isinstance(excludes, list):
                return [str(pattern) for pattern in excludes]
            raise ValueError(f"data.archive_file.{name} in {path} has no excludes list")
    raise ValueError(f"no archive_file data source in {path}")


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A doublestar glob as a regex: ``**`` spans folders, ``*`` and ``?`` stay within one."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("(?:/.*)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def lambda_zip_size() -> dict[str, Any]:
    """Bytes of the zip, of its content, and the number of files in it."""
    excludes = archive_excludes()
    patterns = [glob_regex(pattern) for pattern in excludes]
    files = sorted(
        path
        for path in SOURCE.rglob("*")
        if path.is_file()
        and not any(p.match(path.relative_to(SOURCE).as_posix()) for p in patterns)
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for path in files:
            zf.write(path, path.relative_to(SOURCE).as_posix())
    return {
        "zip_bytes": len(buffer.getvalue()),
        "content_bytes": sum(path.stat().st_size for path in files),
        "files": len(files),
        "excludes": excludes,
    }
