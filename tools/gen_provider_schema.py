#!/usr/bin/env python3
"""Generate the hashicorp/aws schema subset the offline Terraform checks use.

No Terraform provider can be downloaded here, but the CDK Terrain prebuilt AWS bindings on PyPI
(``cdktn-provider-aws``) are generated from the provider's own schema and ship it as a jsii
assembly. In that assembly each resource or data source is a class with a static
``tfResourceType``; its arguments are the struct ``<Class>Config``; ``optional`` marks the
arguments that are not required; every property's docs link ends in ``#<argument_name>``; nested
blocks are structs of the same kind. The class's other properties are the attributes a
reference such as ``aws_lambda_function.this.invoke_arn`` may read.

Only the resource and data source types the repository's ``.tf`` files use are written, so the
committed file stays small and its diff shows exactly what a change starts to use::

    python tools/gen_provider_schema.py                  # downloads the pinned wheel with pip
    python tools/gen_provider_schema.py --wheel path.whl # or reads one you have
    python tools/gen_provider_schema.py --types aws_sns_topic  # also a type not yet used
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

PACKAGE = "cdktn-provider-aws"
PACKAGE_VERSION = "25.8.1"
REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "tests" / "terraform" / "aws_provider_schema.json"
SKIP_DIRS = {".terraform", ".venv", ".venv-checkov", ".git"}

_DOC_LINK = re.compile(
    r"https://registry\.terraform\.io/providers/hashicorp/aws/(?P<version>[\d.]+)/docs/"
    r"(?P<kind>resources|data-sources)/(?P<name>\w+)(?:#(?P<arg>\w+))?"
)
_BLOCK_TYPE = re.compile(r'^\s*(resource|data)\s+"(aws_[a-z0-9_]+)"', re.MULTILINE)


def read_assembly(wheel: Path) -> dict[str, Any]:
    """The jsii assembly (``package/.jsii``) inside the wheel's ``_jsii/*.jsii.tgz``."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if re.search(r"_jsii/.*\.jsii\.tgz$", n))
        blob = archive.read(name)
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        member = tar.extractfile("package/.jsii")
        if member is None:
            raise SystemExit(f"{wheel}: no package/.jsii in {name}")
        assembly: dict[str, Any] = json.load(member)
    return assembly


def download_wheel(into: Path = REPO / "build") -> Path:
    """The pinned wheel, downloaded once into ``build/`` (git-ignored) and reused."""
    cached = sorted(into.glob(f"cdktn_provider_aws-{PACKAGE_VERSION}-*.whl"))
    if cached:
        return cached[0]
    into.mkdir(exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--dest",
            str(into),
            f"{PACKAGE}=={PACKAGE_VERSION}",
        ],
        check=True,
    )
    return next(into.glob("*.whl"))


def _docs_text(prop: dict[str, Any]) -> str:
    docs = prop.get("docs", {})
    return f"{docs.get('summary', '')} {docs.get('remarks', '')}"


def _struct_fqns(type_ref: dict[str, Any]) -> list[str]:
    """Struct types a property refers to: directly, in a collection, or in a union."""
    if "fqn" in type_ref:
        return [type_ref["fqn"]]
    if "collection" in type_ref:
        return _struct_fqns(type_ref["collection"]["elementtype"])
    if "union" in type_ref:
        return [fqn for inner in type_ref["union"]["types"] for fqn in _struct_fqns(inner)]
    return []


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


class SchemaBuilder:
    """Turns jsii structs into ``{argument: {"required": bool, "block"?: {...}}}``."""

    def __init__(self, assembly: dict[str, Any]) -> None:
        self.types: dict[str, Any] = assembly["types"]
        self.provider_version = ""

    def struct(self, fqn: str, seen: frozenset[str] = frozenset()) -> dict[str, Any]:
        arguments: dict[str, Any] = {}
        for prop in self.types[fqn].get("properties", []):
            match = _DOC_LINK.search(_docs_text(prop))
            name = match["arg"] if match and match["arg"] else _snake(prop["name"])
            entry: dict[str, Any] = {"required": not prop.get("optional", False)}
            nested = [
                f
                for f in _struct_fqns(prop["type"])
                if self.types.get(f, {}).get("datatype") and f not in seen
            ]
            if nested:
                entry["block"] = self.struct(nested[0], seen | {fqn})
            arguments[name] = entry
        return dict(sorted(arguments.items()))

    def entries(self) -> dict[str, dict[str, Any]]:
        """Every resource (``aws_x``) and data source (``data.aws_x``) in the assembly."""
        found: dict[str, dict[str, Any]] = {}
        for fqn, spec in self.types.items():
            if spec.get("kind") != "class":
                continue
            if not any(
                p.get("static") and p["name"] == "tfResourceType"
                for p in spec.get("properties", [])
            ):
                continue
            match = _DOC_LINK.search(spec.get("docs", {}).get("summary", ""))
            config = f"{fqn}Config"
            if not match or config not in self.types:
                continue
            self.provider_version = match["version"]
            key = ("" if match["kind"] == "resources" else "data.") + f"aws_{match['name']}"
            found[key] = {"fqn": fqn, "config": config}
        return found

    def describe(self, fqn: str, config: str) -> dict[str, Any]:
        arguments = self.struct(config)
        attributes = sorted(
            {
                _snake(p["name"])
                for p in self.types[fqn].get("properties", [])
                if not p.get("static") and not p["name"].endswith("Input")
            }
            | set(arguments)
        )
        return {"arguments": arguments, "attributes": attributes}


def used_types(root: Path = REPO) -> set[str]:
    """``aws_x`` and ``data.aws_x`` for every block type the repository's .tf files declare."""
    found: set[str] = set()
    for path in root.rglob("*.tf"):
        if SKIP_DIRS.intersection(path.relative_to(root).parts):
            continue
        for kind, type_name in _BLOCK_TYPE.findall(path.read_text(encoding="utf-8")):
            found.add(type_name if kind == "resource" else f"data.{type_name}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help=f"a downloaded {PACKAGE} wheel")
    parser.add_argument("--types", default="", help="extra types, comma separated")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)

    wanted = used_types() | {t.strip() for t in args.types.split(",") if t.strip()}
    builder = SchemaBuilder(read_assembly(args.wheel or download_wheel()))
    entries = builder.entries()
    unknown = sorted(wanted - entries.keys())
    if unknown:
        print(
            f"not in hashicorp/aws {builder.provider_version}: {', '.join(unknown)}",
            file=sys.stderr,
        )
        return 1
    schema = {
        "generated_by": "tools/gen_provider_schema.py (make schema)",
        "source": f"{PACKAGE}=={PACKAGE_VERSION}",
        "provider": f"hashicorp/aws {builder.provider_version}",
        "types": {
            key: builder.describe(entries[key]["fqn"], entries[key]["config"])
            for key in sorted(wanted)
        },
    }
    args.output.write_text(json.dumps(schema, indent=1, sort_keys=False) + "\n")
    print(f"wrote {len(wanted)} types of hashicorp/aws {builder.provider_version} to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
