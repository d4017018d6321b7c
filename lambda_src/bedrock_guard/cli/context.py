"""What every command needs: settings (flag, then environment, then Terraform outputs) and clients.

Clients are created lazily, one per service, from one boto3 session (``--profile``,
``--region``); ``--endpoint-url`` applies to all of them, so the whole CLI can run against the
demo's local moto server.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

import boto3
from botocore.config import Config

from bedrock_guard.cli.errors import CliError, ExitCode
from bedrock_guard.enforcer.config import TABLE_NAME_RE

TABLE_ENV: Final = ("USAGE_TABLE_NAME", "LEDGER_TABLE_NAME")
TABLE_OUTPUT: Final = "table_name"
_ENDPOINT_RE: Final = re.compile(r"^https?://[^\s/]+", re.IGNORECASE)
# Short timeouts and one retry keep an endpoint that never answers from hanging a shell: it
# fails after about (connect or read timeout) x attempts. --timeout and --max-attempts change them.
DEFAULT_TIMEOUT: Final = 5.0
DEFAULT_CONNECT_TIMEOUT: Final = 3.0
DEFAULT_MAX_ATTEMPTS: Final = 2
CLIENT_CONFIG: Final = Config(
    retries={"mode": "standard", "total_max_attempts": DEFAULT_MAX_ATTEMPTS},
    connect_timeout=DEFAULT_CONNECT_TIMEOUT,
    read_timeout=DEFAULT_TIMEOUT,
    user_agent_extra="bedrock-guard-cli",
)


@dataclass(frozen=True, slots=True)
class Network:
    """Timeouts and attempts of every AWS call of one run."""

    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_TIMEOUT
    max_attempts: int = DEFAULT_MAX_ATTEMPTS

    @classmethod
    def of(cls, timeout: float | None, max_attempts: int | None) -> Network:
        """From ``--timeout`` (both timeouts, the connect one capped at its default) and
        ``--max-attempts``; ``None`` keeps the default."""
        if timeout is None:
            return cls(max_attempts=max_attempts or DEFAULT_MAX_ATTEMPTS)
        return cls(
            min(timeout, DEFAULT_CONNECT_TIMEOUT), timeout, max_attempts or DEFAULT_MAX_ATTEMPTS
        )

    def config(self) -> Config:
        return CLIENT_CONFIG.merge(
            Config(
                retries={"mode": "standard", "total_max_attempts": self.max_attempts},
                connect_timeout=self.connect_timeout,
                read_timeout=self.read_timeout,
            )
        )

    def describe(self) -> str:
        """``2 attempts, connect timeout 3 s, read timeout 5 s``."""
        return (
            f"{self.max_attempts} attempt{'s' if self.max_attempts != 1 else ''}, "
            f"connect timeout {self.connect_timeout:g} s, read timeout {self.read_timeout:g} s"
        )


def load_tf_outputs(source: str, stdin: IO[str] | None = None) -> dict[str, Any]:
    """The values of ``terraform output -json`` (``{"name": {"value": ...}}``), from a file or
    ``-`` (standard input). Raises :class:`CliError` (exit 2) when it cannot be read."""
    try:
        if source == "-":
            text = (stdin or sys.stdin).read()
        else:
            text = Path(source).read_text(encoding="utf-8")
    except OSError as error:
        raise CliError(f"cannot read --tf-outputs {source}: {error}", ExitCode.USAGE) from error
    return parse_tf_outputs(text, source)


def parse_tf_outputs(text: str, source: str = "-") -> dict[str, Any]:
    """Output name -> value; entries that are not ``{"value": ...}`` objects are refused."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise CliError(
            f"--tf-outputs {source} is not JSON ({error}): pass the output of "
            "`terraform output -json`",
            ExitCode.USAGE,
        ) from error
    if not isinstance(document, dict):
        raise CliError(
            f"--tf-outputs {source} must be a JSON object of outputs (terraform output -json)",
            ExitCode.USAGE,
        )
    values: dict[str, Any] = {}
    for name, entry in document.items():
        if not isinstance(entry, dict) or "value" not in entry:
            raise CliError(
                f"--tf-outputs {source}: output {name!r} has no 'value' "
                "(expected the shape of `terraform output -json`)",
                ExitCode.USAGE,
            )
        values[name] = entry["value"]
    return values


@dataclass(frozen=True, slots=True)
class Identity:
    """Who runs the command, as STS GetCallerIdentity reports it."""

    arn: str
    account: str
    partition: str


class Context:
    """Settings and AWS clients of one command run."""

    def __init__(
        self,
        *,
        table_name: str | None = None,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        tf_outputs: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        clients: Mapping[str, Any] | None = None,
        network: Network | None = None,
    ) -> None:
        if endpoint_url is not None and not _ENDPOINT_RE.match(endpoint_url):
            raise CliError(
                f"--endpoint-url must be an http(s) URL, got {endpoint_url!r}", ExitCode.USAGE
            )
        self._table_flag = table_name
        self.region = region
        self.profile = profile
        self.endpoint_url = endpoint_url
        self.tf_outputs: Mapping[str, Any] = tf_outputs or {}
        self.environ: Mapping[str, str] = environ if environ is not None else {}
        self._clients: dict[str, Any] = dict(clients or {})
        self._watched: set[str] = set()
        self._session: boto3.session.Session | None = None
        self._identity: Identity | None = None
        self.resolved_table: str | None = None
        self.network = network or Network()
        self.last_call: str | None = None  # "ce:GetCostAndUsage", named when a call fails

    # Settings --------------------------------------------------------------------------

    def setting(
        self, flag: str | None, env_names: Sequence[str], output: str | None
    ) -> tuple[str | None, str]:
        """A value and where it came from: the flag, else the first environment variable set,
        else the Terraform output (strings only; JSON values are re-encoded)."""
        if flag is not None and flag.strip():
            return flag.strip(), "flag"
        for name in env_names:
            value = self.environ.get(name, "").strip()
            if value:
                return value, name
        if output is not None and output in self.tf_outputs:
            value = self.tf_outputs[output]
            if value is None:
                return None, ""
            if not isinstance(value, str):
                value = json.dumps(value)
            return value.strip() or None, f"terraform output {output}"
        return None, ""

    def table_name(self) -> str:
        """The usage/registry/ledger table; exit 2 when none is configured or it is malformed."""
        name, source = self.setting(self._table_flag, TABLE_ENV, TABLE_OUTPUT)
        if name is None:
            raise CliError(
                "no table name: pass --table-name, set USAGE_TABLE_NAME (or LEDGER_TABLE_NAME), "
                "or give --tf-outputs with a table_name output",
                ExitCode.USAGE,
            )
        if not TABLE_NAME_RE.match(name):
            raise CliError(f"{name!r} (from {source}) is not a DynamoDB table name", ExitCode.USAGE)
        self.resolved_table = name
        return name

    # Clients ---------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """The boto3 client of ``service`` (created on first use)."""
        if service not in self._clients:
            self._clients[service] = self._boto_session().client(
                service, endpoint_url=self.endpoint_url, config=self.network.config()
            )
        client = self._clients[service]
        if service not in self._watched:
            self._watched.add(service)
            client.meta.events.register("before-call", self._remember_call)
        return client

    def _remember_call(self, model: Any = None, **_: Any) -> None:
        """botocore's before-call hook: the operation about to be sent, to name it on failure."""
        if model is not None:
            self.last_call = f"{model.service_model.signing_name}:{model.name}"

    def _boto_session(self) -> boto3.session.Session:
        if self._session is None:
            # ProfileNotFound propagates and becomes exit 3 with the other credential errors.
            self._session = boto3.session.Session(
                profile_name=self.profile or None, region_name=self.region or None
            )
        return self._session

    def identity(self) -> Identity:
        """The caller's own identity (never taken from a flag): STS GetCallerIdentity."""
        if self._identity is None:
            response = self.client("sts").get_caller_identity()
            arn = str(response["Arn"])
            self._identity = Identity(arn, str(response["Account"]), arn.split(":")[1])
        return self._identity
