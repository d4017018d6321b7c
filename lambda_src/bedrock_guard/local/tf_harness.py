"""Run the real Terraform on a copy of the configuration, with the provider this machine has.

Users keep hashicorp/aws 6.x (the root ``versions.tf``). Machines without network access may
carry only a filesystem mirror of another release (5.100 here) and no hashicorp/archive. The
real tree is never bent to that: :func:`prepare` copies ``modules/``, ``environments/`` and
``versions.tf`` to a build folder and applies :data:`REWRITES`, a short list of mechanical
edits, each of which must match at least once (a rewrite that stops applying fails loudly).
The Lambda zips that ``archive_file`` would build are built here instead
(:func:`build_archive`), from the same source folder with the same excludes.

Terraform runs with a CLI configuration of its own (the mirror, a shared plugin cache, no
checkpoint calls), so whatever ``TF_CLI_CONFIG_FILE`` the caller has is never used.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import hcl2
from hcl2.utils import SerializationOptions

# Where to look for the binary and the mirror, after the environment overrides.
TERRAFORM_ENV: Final = "TERRAFORM"
MIRROR_ENV: Final = "TF_PROVIDER_MIRROR"
MIRROR_CANDIDATES: Final = (
    "/opt/tf-plugins",
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
)
AWS_PROVIDER: Final = "registry.terraform.io/hashicorp/aws"
# The folders of the repository Terraform reads.
TREE: Final = ("modules", "environments", "versions.tf")
HCL_OPTIONS: Final = SerializationOptions(strip_string_quotes=True)
DEFAULT_TIMEOUT_S: Final = 300.0


class Unavailable(RuntimeError):
    """Terraform or the AWS provider cannot be had on this machine; the message says why."""


def find_terraform() -> Path:
    """The terraform binary: ``$TERRAFORM``, else the PATH."""
    override = os.environ.get(TERRAFORM_ENV)
    if override:
        if not os.access(override, os.X_OK):
            raise Unavailable(f"${TERRAFORM_ENV}={override} is not an executable file")
        return Path(override)
    found = shutil.which("terraform")
    if found is None:
        raise Unavailable(
            "no terraform on the PATH (install Terraform >= 1.7, or set $TERRAFORM to the binary)"
        )
    return Path(found)


def _platform() -> str:
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return f"{platform.system().lower()}_{machine}"


def mirror_aws_versions(mirror: Path) -> list[str]:
    """Versions of hashicorp/aws in a filesystem mirror (unpacked layout) for this platform."""
    base = mirror / AWS_PROVIDER
    if not base.is_dir():
        return []
    return sorted(
        (v.name for v in base.iterdir() if (v / _platform()).is_dir()),
        key=lambda v: [int(p) if p.isdigit() else p for p in v.split(".")],
    )


def find_mirror() -> Path:
    """The filesystem mirror holding hashicorp/aws: ``$TF_PROVIDER_MIRROR``, else known paths."""
    override = os.environ.get(MIRROR_ENV)
    candidates = [override] if override else list(MIRROR_CANDIDATES)
    for candidate in candidates:
        path = Path(candidate).expanduser()
        if mirror_aws_versions(path):
            return path
    where = f"${MIRROR_ENV}={override}" if override else ", ".join(MIRROR_CANDIDATES)
    raise Unavailable(
        f"no filesystem mirror with {AWS_PROVIDER} for {_platform()} in {where} "
        f"(set ${MIRROR_ENV} to a folder laid out as <host>/<namespace>/<type>/<version>/<os_arch>)"
    )


# The rewrites ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rewrite:
    """One mechanical edit of the copy: a regex over every ``*.tf`` file, and why."""

    name: str
    why: str
    pattern: re.Pattern[str]
    replacement: str | Callable[[re.Match[str]], str]


def _archive_locals(match: re.Match[str]) -> str:
    name = match["name"]
    zip_path = f"${{path.module}}/builds/archive_file-{name}.zip"
    return (
        "locals {\n"
        f"  archive_file_{name} = {{\n"
        f'    output_path         = "{zip_path}"\n'
        f'    output_base64sha256 = filebase64sha256("{zip_path}")\n'
        "  }\n"
        "}\n"
    )


def rewrites(aws_major_minor: str) -> tuple[Rewrite, ...]:
    """The edits that let hashicorp/aws ``aws_major_minor`` (e.g. 5.100) run the 6.x tree."""
    return (
        Rewrite(
            "aws_region.region",
            "the Region's code is data.aws_region.<n>.region in 6.x, .name in 5.x",
            re.compile(r"\bdata\.aws_region\.(?P<n>\w+)\.region\b"),
            r"data.aws_region.\g<n>.name",
        ),
        Rewrite(
            "aws version constraint",
            f"the supported range is 6.x; the mirror holds {aws_major_minor}",
            re.compile(
                r'(?P<head>\baws\s*=\s*\{[^}]*?version\s*=\s*")(?P<op>~>|>=)\s*6(?:\.\d+)*"'
            ),
            rf'\g<head>\g<op> {aws_major_minor}"',
        ),
        Rewrite(
            "archive provider requirement",
            "hashicorp/archive is not in the mirror; the zips are built by the harness",
            re.compile(r'\n[ \t]*archive\s*=\s*\{[^}]*"hashicorp/archive"[^}]*\}[^\n]*'),
            "",
        ),
        Rewrite(
            "archive_file data source",
            "replaced by the same zip, built beforehand (build_archive)",
            re.compile(r'(?ms)^data "archive_file" "(?P<name>\w+)" \{\n.*?^\}\n'),
            _archive_locals,
        ),
        Rewrite(
            "archive_file references",
            "data.archive_file.<n>.<attr> -> local.archive_file_<n>.<attr>",
            re.compile(r"\bdata\.archive_file\.(?P<name>\w+)\."),
            r"local.archive_file_\g<name>.",
        ),
    )


class RewriteDidNotApply(RuntimeError):
    """A rewrite matched nothing: the configuration changed and the list must follow it."""


def apply_rewrites(root: Path, edits: Sequence[Rewrite]) -> dict[str, int]:
    """Apply ``edits`` to every ``*.tf`` under ``root``; the number of matches per rewrite."""
    counts = dict.fromkeys((edit.name for edit in edits), 0)
    for path in sorted(root.rglob("*.tf")):
        text = original = path.read_text(encoding="utf-8")
        for edit in edits:
            text, n = edit.pattern.subn(edit.replacement, text)
            counts[edit.name] += n
        if text != original:
            path.write_text(text, encoding="utf-8")
    missing = [name for name, n in counts.items() if n == 0]
    if missing:
        raise RewriteDidNotApply(f"rewrites that matched nothing: {', '.join(missing)}")
    return counts


# The Lambda zips ---------------------------------------------------------------------------


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


@dataclass(frozen=True)
class ArchiveSpec:
    """An ``archive_file`` data source of a module, with its source folder resolved."""

    module_dir: Path
    name: str
    source_dir: Path
    excludes: tuple[str, ...]
    file_mode: int


def _load(path: Path) -> dict[str, object]:
    with path.open(encoding="utf-8") as handle:
        loaded: dict[str, object] = hcl2.load(handle, serialization_options=HCL_OPTIONS)
    return loaded


def _module_locals(module_dir: Path) -> dict[str, object]:
    found: dict[str, object] = {}
    for path in sorted(module_dir.glob("*.tf")):
        for block in _load(path).get("locals", []) or []:  # type: ignore[attr-defined]
            found.update(block)
    return found


def _resolve_dir(expression: str, module_dir: Path, local_values: Mapping[str, object]) -> Path:
    local = re.fullmatch(r"\$\{local\.(\w+)\}|local\.(\w+)", expression)
    if local:
        expression = str(local_values[local[1] or local[2]])
    if not expression.startswith("${path.module}"):
        raise ValueError(f"archive_file source_dir {expression!r} is not under path.module")
    return (module_dir / expression.removeprefix("${path.module}").lstrip("/")).resolve()


def archive_specs(module_dir: Path) -> list[ArchiveSpec]:
    """The ``archive_file`` data sources of one module folder of the real tree."""
    specs = []
    local_values: dict[str, object] | None = None
    for path in sorted(module_dir.glob("*.tf")):
        for data in _load(path).get("data", []) or []:  # type: ignore[attr-defined]
            for name, archive in data.get("archive_file", {}).items():
                if local_values is None:
                    local_values = _module_locals(module_dir)
                specs.append(
                    ArchiveSpec(
                        module_dir=module_dir,
                        name=name,
                        source_dir=_resolve_dir(archive["source_dir"], module_dir, local_values),
                        excludes=tuple(archive.get("excludes", [])),
                        file_mode=int(str(archive.get("output_file_mode", "0644")), 8),
                    )
                )
    return specs


def archive_members(spec: ArchiveSpec) -> list[Path]:
    """The files ``archive_file`` puts in the zip: the source folder minus the excludes."""
    patterns = [glob_regex(pattern) for pattern in spec.excludes]
    return sorted(
        path
        for path in spec.source_dir.rglob("*")
        if path.is_file()
        and not any(p.match(path.relative_to(spec.source_dir).as_posix()) for p in patterns)
    )


def build_archive(spec: ArchiveSpec, output: Path) -> Path:
    """Write the zip ``spec`` describes to ``output`` (deflated, fixed times and file mode)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for path in archive_members(spec):
            info = zipfile.ZipInfo(
                path.relative_to(spec.source_dir).as_posix(), (1980, 1, 1, 0, 0, 0)
            )
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100000 | spec.file_mode) << 16
            zf.writestr(info, path.read_bytes())
    return output


# The workspace -----------------------------------------------------------------------------


@dataclass
class Workspace:
    """An adapted copy of the configuration and the environment to run Terraform on it."""

    repo: Path
    root: Path  # the build folder: tree/ (the copy) and terraformrc
    terraform: Path
    mirror: Path
    aws_version: str
    shared: Path
    rewrite_counts: dict[str, int] = field(default_factory=dict)

    @property
    def tree(self) -> Path:
        """The adapted copy of the repository's Terraform."""
        return self.root / "tree"

    @property
    def cli_config(self) -> Path:
        """The CLI configuration every run uses."""
        return self.root / "terraformrc"

    @property
    def lock_file(self) -> Path:
        """A dependency lock file for the mirror's provider, copied into every folder."""
        return self.shared / "lock" / ".terraform.lock.hcl"

    def folders(self) -> list[Path]:
        """Every module and environment of the copy, as paths relative to the tree."""
        found = [p.parent for p in self.tree.glob("modules/*/versions.tf")]
        found += [p.parent for p in self.tree.glob("environments/*/versions.tf")]
        return sorted(p.relative_to(self.tree) for p in found)

    def environ(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The process environment of a Terraform run (never the caller's CLI config)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
        env.update(
            {
                "TF_CLI_CONFIG_FILE": str(self.cli_config),
                "TF_IN_AUTOMATION": "1",
                "TF_INPUT": "0",
                "CHECKPOINT_DISABLE": "1",
            }
        )
        env.update(extra or {})
        return env

    def run(
        self,
        folder: Path | str,
        *args: str,
        timeout: float = DEFAULT_TIMEOUT_S,
        env: Mapping[str, str] | None = None,
        log: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """``terraform -chdir=<folder> <args>`` with a timeout; output captured (and logged)."""
        command = [str(self.terraform), f"-chdir={self.tree / folder}", *args]
        try:
            result = subprocess.run(  # noqa: S603 (our own binary and arguments)
                command,
                capture_output=True,
                text=True,
                env=self.environ(env),
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as expired:
            raise TerraformFailed(command, f"timed out after {timeout:.0f} s", "") from expired
        if log is not None:
            with log.open("a", encoding="utf-8") as handle:
                handle.write(f"$ terraform {' '.join(args)}  (in {folder})\n")
                handle.write(result.stdout + result.stderr + "\n")
        return result

    def check(
        self, folder: Path | str, *args: str, **kwargs: object
    ) -> subprocess.CompletedProcess[str]:
        """:meth:`run`, raising :class:`TerraformFailed` unless it exits 0."""
        result = self.run(folder, *args, **kwargs)  # type: ignore[arg-type]
        if result.returncode != 0:
            raise TerraformFailed([str(self.terraform), *args], result.stdout, result.stderr)
        return result

    def init(self, folder: Path | str, *, backend: bool = False, **kwargs: object) -> None:
        """``terraform init`` from the mirror, with the shared lock file (so no warning)."""
        shutil.copy(self.lock_file, self.tree / folder / ".terraform.lock.hcl")
        args = ["init", "-input=false", "-no-color"]
        if not backend:
            args.append("-backend=false")
        self.check(folder, *args, **kwargs)


class TerraformFailed(RuntimeError):
    """A Terraform command exited non-zero; the message holds its diagnostics."""

    def __init__(self, command: Sequence[str], stdout: str, stderr: str) -> None:
        self.command = list(command)
        self.stdout = stdout
        self.stderr = stderr
        shown = " ".join(command[1:] if command else [])
        super().__init__(f"terraform {shown} failed:\n{stderr.strip() or stdout.strip()}")


def _cli_config(mirror: Path, cache: Path) -> str:
    return (
        "# Written by bedrock_guard.local.tf_harness for its own runs.\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{mirror}"\n'
        f'    include = ["{AWS_PROVIDER}"]\n'
        "  }\n"
        "}\n"
        f'plugin_cache_dir   = "{cache}"\n'
        "disable_checkpoint = true\n"
    )


def _copy_tree(repo: Path, tree: Path) -> None:
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    ignore = shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*", "builds")
    for name in TREE:
        source = repo / name
        if source.is_dir():
            shutil.copytree(source, tree / name, ignore=ignore)
        else:
            shutil.copy2(source, tree / name)


def _write_lock_file(workspace: Workspace) -> None:
    """Init a one-file configuration once, so every folder starts from a complete lock file.

    This first init also fills the shared plugin cache; a file lock keeps two runs (pytest
    workers, make targets) from filling it at the same time.
    """
    folder = workspace.lock_file.parent
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".busy").open("w") as busy:
        fcntl.flock(busy, fcntl.LOCK_EX)
        if (
            workspace.lock_file.exists()
            and workspace.aws_version in workspace.lock_file.read_text()
        ):
            return
        (folder / "main.tf").write_text(
            'terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n'
            f'      version = "{workspace.aws_version}"\n    }}\n  }}\n}}\n',
            encoding="utf-8",
        )
        command = [
            str(workspace.terraform),
            f"-chdir={folder}",
            "init",
            "-input=false",
            "-no-color",
        ]
        result = subprocess.run(  # noqa: S603 (our own binary and arguments)
            command,
            capture_output=True,
            text=True,
            env=workspace.environ(),
            timeout=DEFAULT_TIMEOUT_S,
            check=False,
        )
        if result.returncode != 0:
            raise TerraformFailed(command, result.stdout, result.stderr)


def prepare(repo: Path, root: Path, shared: Path | None = None) -> Workspace:
    """Copy and adapt the configuration under ``root``; build the zips; write the CLI config.

    ``shared`` (default ``<repo>/build/tf``) holds what runs share: the plugin cache and the
    lock file. Raises :class:`Unavailable` (no terraform, no mirror) and
    :class:`RewriteDidNotApply`.
    """
    terraform = find_terraform()
    mirror = find_mirror()
    aws_version = mirror_aws_versions(mirror)[-1]
    shared = (shared or repo / "build" / "tf").resolve()
    workspace = Workspace(
        repo=repo.resolve(),
        root=root.resolve(),
        terraform=terraform,
        mirror=mirror,
        aws_version=aws_version,
        shared=shared,
    )
    workspace.root.mkdir(parents=True, exist_ok=True)
    cache = shared / "plugin-cache"
    cache.mkdir(parents=True, exist_ok=True)
    workspace.cli_config.write_text(_cli_config(mirror, cache), encoding="utf-8")
    _copy_tree(workspace.repo, workspace.tree)
    for module_dir in sorted((workspace.repo / "modules").iterdir()):
        for spec in archive_specs(module_dir):
            output = workspace.tree / "modules" / module_dir.name / "builds"
            build_archive(spec, output / f"archive_file-{spec.name}.zip")
    major_minor = ".".join(aws_version.split(".")[:2])
    workspace.rewrite_counts = apply_rewrites(workspace.tree, rewrites(major_minor))
    _write_lock_file(workspace)
    return workspace


# validate ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Validation:
    """``terraform validate -json`` of one folder: its diagnostics, errors and warnings alike."""

    folder: Path
    diagnostics: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """No error and no warning."""
        return not self.diagnostics


def _diagnostic(entry: Mapping[str, object]) -> str:
    where = entry.get("range")
    place = ""
    if isinstance(where, Mapping):
        start = where.get("start")
        line = start.get("line") if isinstance(start, Mapping) else "?"
        place = f" ({where.get('filename')}:{line})"
    detail = str(entry.get("detail") or "").strip().replace("\n", " ")
    return f"{entry.get('severity')}: {entry.get('summary')}{place}: {detail}"


def validate_folder(workspace: Workspace, folder: Path) -> Validation:
    """``init`` (no backend) and ``validate -json`` of one folder of the copy."""
    try:
        workspace.init(folder)
    except TerraformFailed as failed:
        return Validation(folder, (f"error: terraform init failed: {failed}",))
    result = workspace.run(folder, "validate", "-json", "-no-color")
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        return Validation(folder, (f"error: {result.stderr.strip() or result.stdout.strip()}",))
    found = tuple(_diagnostic(entry) for entry in report.get("diagnostics", []))
    if result.returncode != 0 and not found:
        found = (f"error: validate exited {result.returncode}",)
    return Validation(folder, found)


def validate_all(workspace: Workspace, jobs: int = 2) -> list[Validation]:
    """:func:`validate_folder` of every module and environment, ``jobs`` at a time."""
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda f: validate_folder(workspace, f), workspace.folders()))
