"""Deploy an environment of the adapted copy to the local AWS with the real ``terraform``.

:class:`Deployment` writes two files into the copy's environment folder: an override file
(``local_override.tf``: a local backend, and the provider pointed at the local endpoint with
fake credentials, bounded retries and no metadata or account lookups outside it) and the
variables (``local.auto.tfvars.json``). It then runs init, plan, apply, output, re-plan and
destroy, each with a timeout, reading Terraform's ``-json`` stream: only the summary lines and
diagnostics are printed; the whole stream goes to a log file.

:class:`LocalService` runs a local stand-in (moto, the Bedrock stand-in) as a child process.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final, Self

from bedrock_guard.local.clients import DEFAULT_REGION, FAKE_CREDENTIALS
from bedrock_guard.local.tf_harness import TerraformFailed, Workspace

# Every service the modules call, by the provider's endpoints argument name.
PROVIDER_SERVICES: Final = (
    "apigateway",
    "bedrock",
    "budgets",
    "ce",
    "cloudwatch",
    "dynamodb",
    "events",
    "iam",
    "kms",
    "lambda",
    "logs",
    "sns",
    "sqs",
    "sts",
)
OVERRIDE_FILE: Final = "local_override.tf"
VARIABLES_FILE: Final = "local.auto.tfvars.json"
STEP_TIMEOUT_S: Final = 300.0
# A local endpoint answers at once; a 500 is a bug of the stand-in, not worth minutes of retry.
PROVIDER_MAX_RETRIES: Final = 2


def override_tf(endpoint: str, state_path: Path) -> str:
    """The override file: local backend, provider settings for the local endpoint."""
    endpoints = "\n".join(f'    {name:<10} = "{endpoint}"' for name in PROVIDER_SERVICES)
    return f"""# Written by bedrock_guard.local.tf_deploy: deploy to the local AWS at {endpoint}.
terraform {{
  backend "local" {{
    path = "{state_path}"
  }}
}}

provider "aws" {{
  access_key                  = "{FAKE_CREDENTIALS["aws_access_key_id"]}"
  secret_key                  = "{FAKE_CREDENTIALS["aws_secret_access_key"]}"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  max_retries                 = {PROVIDER_MAX_RETRIES}

  endpoints {{
{endpoints}
  }}
}}
"""


@dataclass
class StepResult:
    """One Terraform command: its summary line, diagnostics and how long it took."""

    command: str
    summary: str = ""
    diagnostics: list[str] = field(default_factory=list)
    seconds: float = 0.0
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Deployment:
    """One environment of a :class:`Workspace` deployed to a local endpoint."""

    workspace: Workspace
    environment: str
    endpoint: str
    variables: Mapping[str, Any]
    echo: Callable[[str], None] = print
    timeout: float = STEP_TIMEOUT_S
    parallelism: int = 20
    on_event: Callable[[dict[str, Any]], None] | None = None
    steps: list[StepResult] = field(default_factory=list)

    @property
    def folder(self) -> Path:
        """The environment folder, relative to the copy."""
        return Path("environments") / self.environment

    @property
    def path(self) -> Path:
        """The environment folder of the copy."""
        return self.workspace.tree / self.folder

    @property
    def state_path(self) -> Path:
        """The local state file."""
        return self.workspace.root / f"{self.environment}.tfstate"

    @property
    def log_path(self) -> Path:
        """Everything Terraform printed, for when a summary is not enough."""
        return self.workspace.root / f"{self.environment}.log"

    def configure(self) -> None:
        """Write the override and variables files and ``terraform init`` the local backend.

        The local AWS starts empty, so any state of an earlier run is dropped.
        """
        for stale in (self.state_path, self.state_path.with_suffix(".tfstate.backup")):
            stale.unlink(missing_ok=True)
        (self.path / OVERRIDE_FILE).write_text(
            override_tf(self.endpoint, self.state_path), encoding="utf-8"
        )
        (self.path / VARIABLES_FILE).write_text(
            json.dumps(self.variables, indent=2), encoding="utf-8"
        )
        started = time.monotonic()
        self.workspace.init(self.folder, backend=True, timeout=self.timeout)
        self._say(f"init ({time.monotonic() - started:.0f} s)")

    def plan(self, *, out: str = "tfplan", destroy: bool = False) -> StepResult:
        """``terraform plan -out``; the plan file stays in the folder for :meth:`apply`."""
        args = ["plan", "-json", "-input=false", f"-out={out}", self._parallelism]
        if destroy:
            args.append("-destroy")
        return self._stream(args)

    def apply(self, plan: str = "tfplan") -> StepResult:
        """``terraform apply`` of a saved plan."""
        return self._stream(["apply", "-json", "-input=false", self._parallelism, plan])

    def apply_now(self) -> StepResult:
        """``terraform apply -auto-approve``: plan and apply in one run (one provider start)."""
        return self._stream(["apply", "-json", "-input=false", "-auto-approve", self._parallelism])

    def destroy(self, *, refresh: bool = True) -> StepResult:
        """``terraform destroy`` (``refresh=False``: trust the state, as right after a plan)."""
        args = ["destroy", "-json", "-input=false", "-auto-approve", self._parallelism]
        if not refresh:
            args.append("-refresh=false")
        return self._stream(args)

    @property
    def _parallelism(self) -> str:
        return f"-parallelism={self.parallelism}"

    def outputs(self) -> dict[str, Any]:
        """``terraform output -json``: name -> value (sensitive values included)."""
        result = self.workspace.check(self.folder, "output", "-json", timeout=self.timeout)
        return {name: entry["value"] for name, entry in json.loads(result.stdout).items()}

    def state(self) -> dict[str, Any]:
        """``terraform show -json`` of the state."""
        result = self.workspace.check(self.folder, "show", "-json", timeout=self.timeout)
        shown: dict[str, Any] = json.loads(result.stdout)
        return shown

    def changes(self, plan: str = "tfplan") -> list[dict[str, Any]]:
        """The resource changes of a saved plan other than no-op and read."""
        result = self.workspace.check(self.folder, "show", "-json", plan, timeout=self.timeout)
        shown = json.loads(result.stdout)
        return [
            change
            for change in shown.get("resource_changes", [])
            if set(change["change"]["actions"]) - {"no-op", "read"}
        ]

    def _say(self, line: str) -> None:
        self.echo(f"[{self.environment}] {line}")

    def _stream(self, args: list[str]) -> StepResult:
        step = StepResult(args[0])
        command = [str(self.workspace.terraform), f"-chdir={self.path}", *args]
        started = time.monotonic()
        with (
            self.log_path.open("a", encoding="utf-8") as log,
            subprocess.Popen(  # noqa: S603 (our own binary and arguments)
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=self.workspace.environ(),
            ) as process,
        ):
            log.write(f"$ terraform {' '.join(args)}\n")
            timer = threading.Timer(self.timeout, process.kill)
            timer.start()
            try:
                self._read(process.stdout, log, step)
                returncode = process.wait()
            except BaseException:  # Ctrl-C, or a callback failed: Terraform stops with us
                process.kill()
                raise
            finally:
                timer.cancel()
        step.seconds = time.monotonic() - started
        self.steps.append(step)
        timed_out = returncode != 0 and step.seconds >= self.timeout
        if timed_out:
            step.diagnostics.append(f"error: killed after {self.timeout:.0f} s")
        for line in step.diagnostics:
            self._say(f"  {line}")
        if returncode != 0:
            raise TerraformFailed(
                command, step.summary, "\n".join(step.diagnostics) or f"see {self.log_path}"
            )
        self._say(f"{step.summary or args[0] + ' done'} ({step.seconds:.0f} s)")
        return step

    def _read(self, stream: IO[str] | None, log: IO[str], step: StepResult) -> None:
        for raw in stream or ():
            log.write(raw)
            try:
                event = json.loads(raw)
            except json.JSONDecodeError:
                if raw.strip():
                    step.diagnostics.append(raw.strip())
                continue
            step.events.append(event)
            kind = event.get("type")
            if kind == "change_summary":
                step.summary = event.get("@message", "")
            elif kind == "diagnostic":
                step.diagnostics.append(describe_diagnostic(event.get("diagnostic", {})))
            if self.on_event is not None:
                self.on_event(event)


def describe_diagnostic(diagnostic: Mapping[str, Any]) -> str:
    """One line for a Terraform diagnostic: severity, summary, where, detail."""
    where = diagnostic.get("address") or ""
    span = diagnostic.get("range")
    if isinstance(span, Mapping):
        where = f"{span.get('filename')}:{span.get('start', {}).get('line')}"
    detail = " ".join(str(diagnostic.get("detail") or "").split())
    return f"{diagnostic.get('severity')}: {diagnostic.get('summary')} [{where}] {detail}".rstrip()


class LocalService:
    """A local stand-in in a child process (``python -m <module> --port 0``), by its pid.

    The child prints its endpoint URL as its first line; :meth:`stop` ends that process only.
    """

    def __init__(self, module: str, *args: str, log: Path | None = None) -> None:
        self.module = module
        self.args = args
        self.log = log
        self.process: subprocess.Popen[str] | None = None
        self.endpoint_url = ""

    def start(self, timeout: float = 30.0) -> Self:
        """Start the child and wait for its endpoint line."""
        output: IO[str] | int = subprocess.DEVNULL
        if self.log is not None:
            output = self.log.open("a", encoding="utf-8")
        self.process = subprocess.Popen(  # noqa: S603 (this interpreter, our own module)
            [sys.executable, "-m", self.module, "--port", "0", *self.args],
            stdout=subprocess.PIPE,
            stderr=output,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        line: list[str] = []
        stdout = self.process.stdout
        reader = threading.Thread(
            target=lambda: line.append(stdout.readline() if stdout else ""), daemon=True
        )
        reader.start()
        reader.join(timeout)
        if not line or not line[0].startswith("http"):
            self.stop()
            raise RuntimeError(f"{self.module} did not start within {timeout:.0f} s")
        self.endpoint_url = line[0].strip()
        return self

    def stop(self) -> None:
        """Terminate the child (SIGTERM, then SIGKILL after 5 s). Safe to call twice."""
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        with contextlib.suppress(Exception):
            if process.stdout is not None:
                process.stdout.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def local_environ(endpoint: str, region: str = DEFAULT_REGION) -> dict[str, str]:
    """Environment of a process whose boto3 clients use ``endpoint`` with fake credentials."""
    env = {name.upper(): value for name, value in FAKE_CREDENTIALS.items()}
    env.update({"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": region, "AWS_REGION": region})
    return env


def run_all(deployments: Iterable[Deployment], step: Callable[[Deployment], Any]) -> list[Any]:
    """Run ``step`` for every deployment concurrently; raise the first failure after all end."""
    results: list[Any] = []
    errors: list[BaseException] = []
    threads = []
    lock = threading.Lock()

    def _one(deployment: Deployment) -> None:
        try:
            value = step(deployment)
        except BaseException as error:  # re-raised below, in the caller's thread
            with lock:
                errors.append(error)
        else:
            with lock:
                results.append(value)

    for deployment in deployments:
        thread = threading.Thread(target=_one, args=(deployment,))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
