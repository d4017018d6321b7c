"""The alarm enforcer's environment, parsed and checked once when the container starts.

A wrong setting in a function that edits IAM must stop it before it acts, so every problem
raises :class:`ConfigError` at import time instead of being guessed around per message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from bedrock_guard.enforcer.protection import ProtectedPrincipals

DENY_POLICY_ARN: Final = "DENY_POLICY_ARN"
LEDGER_TABLE_NAME: Final = "LEDGER_TABLE_NAME"
PROTECTED_PRINCIPALS_JSON: Final = "PROTECTED_PRINCIPALS_JSON"
PRINCIPAL_DIMENSION: Final = "PRINCIPAL_DIMENSION"
PRINCIPAL_TAG_KEY: Final = "PRINCIPAL_TAG_KEY"
RELEASE_ON_OK: Final = "RELEASE_ON_OK"
DRY_RUN: Final = "DRY_RUN"
ALLOWED_PATHS_JSON: Final = "ALLOWED_PATHS_JSON"
ALARM_TOPIC_ARN: Final = "ALARM_TOPIC_ARN"
ALARM_NAME_PREFIX: Final = "ALARM_NAME_PREFIX"

ENVIRONMENT_VARIABLES: Final = (
    DENY_POLICY_ARN,
    LEDGER_TABLE_NAME,
    PROTECTED_PRINCIPALS_JSON,
    PRINCIPAL_DIMENSION,
    PRINCIPAL_TAG_KEY,
    RELEASE_ON_OK,
    DRY_RUN,
    ALLOWED_PATHS_JSON,
    ALARM_TOPIC_ARN,
    ALARM_NAME_PREFIX,
)
"""Every variable the enforcer reads; the Terraform module's contract test compares with it."""

DEFAULT_PRINCIPAL_DIMENSION: Final = "Principal"
DEFAULT_PRINCIPAL_TAG_KEY: Final = "bedrock-guard:principals"

_POLICY_ARN_RE = re.compile(
    r"^arn:aws(?:-[a-z]+(?:-[a-z]+)*)?:iam::(?:\d{12}|aws):policy/(?:[\x21-\x7e]*/)?[\w+=,.@-]{1,128}$"
)
# DynamoDB table names (the operator CLI checks its table with it too), and the IAM path
# syntax (a leading and trailing slash).
TABLE_NAME_RE: Final = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_PATH_RE = re.compile(r"^/(?:[\x21-\x7e]*/)?$")
_DIMENSION_RE = re.compile(r"^[\x20-\x7e]{1,255}$")
_TOPIC_ARN_RE = re.compile(
    r"^arn:aws(?:-[a-z]+(?:-[a-z]+)*)?:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$"
)
# Alarm names are up to 255 printable characters; the prefix is matched literally.
_NAME_PREFIX_RE = re.compile(r"^[^*?\x00-\x1f]{0,255}$")


class ConfigError(ValueError):
    """The environment is unusable; the message names the variable and what to fix."""


@dataclass(frozen=True, slots=True)
class EnforcerConfig:
    """What the enforcer may do, and to whom."""

    deny_policy_arn: str
    ledger_table_name: str
    protected: ProtectedPrincipals
    principal_dimension: str = DEFAULT_PRINCIPAL_DIMENSION
    principal_tag_key: str = DEFAULT_PRINCIPAL_TAG_KEY
    release_on_ok: bool = True
    dry_run: bool = False
    allowed_paths: tuple[str, ...] = ("/",)
    # The topic an alarm must notify for its message to count; None: the SNS record's topic.
    alarm_topic_arn: str | None = None
    alarm_name_prefix: str = ""

    def path_allowed(self, path: str) -> bool:
        """Whether IAM lets the enforcer act on a principal under ``path`` (prefix match)."""
        return any(path.startswith(prefix) for prefix in self.allowed_paths)


def load_config(environ: Mapping[str, str]) -> EnforcerConfig:
    """Parse the enforcer's environment; raise :class:`ConfigError` on anything doubtful."""
    policy_arn = _required(environ, DENY_POLICY_ARN)
    if not _POLICY_ARN_RE.match(policy_arn):
        raise ConfigError(
            f"{DENY_POLICY_ARN} must be an IAM managed policy ARN, got {policy_arn!r}"
        )
    table = _required(environ, LEDGER_TABLE_NAME)
    if not TABLE_NAME_RE.match(table):
        raise ConfigError(f"{LEDGER_TABLE_NAME} is not a DynamoDB table name: {table!r}")

    protected_entries = _json_string_list(environ, PROTECTED_PRINCIPALS_JSON, default=[])
    try:
        protected = ProtectedPrincipals.from_entries(protected_entries)
    except ValueError as error:
        raise ConfigError(f"{PROTECTED_PRINCIPALS_JSON}: {error}") from error

    dimension = environ.get(PRINCIPAL_DIMENSION, "").strip() or DEFAULT_PRINCIPAL_DIMENSION
    if not _DIMENSION_RE.match(dimension):
        raise ConfigError(
            f"{PRINCIPAL_DIMENSION} is not a CloudWatch dimension name: {dimension!r}"
        )
    tag_key = environ.get(PRINCIPAL_TAG_KEY, "").strip() or DEFAULT_PRINCIPAL_TAG_KEY

    paths = _json_string_list(environ, ALLOWED_PATHS_JSON, default=["/"])
    if not paths:
        raise ConfigError(f'{ALLOWED_PATHS_JSON} must list at least one IAM path, e.g. ["/"]')
    for path in paths:
        if not _PATH_RE.match(path):
            raise ConfigError(
                f"{ALLOWED_PATHS_JSON}: {path!r} is not an IAM path (start and end with '/')"
            )

    topic_arn = environ.get(ALARM_TOPIC_ARN, "").strip() or None
    if topic_arn is not None and not _TOPIC_ARN_RE.match(topic_arn):
        raise ConfigError(
            f"{ALARM_TOPIC_ARN} must be the ARN of a standard SNS topic, got {topic_arn!r}"
        )
    name_prefix = environ.get(ALARM_NAME_PREFIX, "")
    if not _NAME_PREFIX_RE.match(name_prefix):
        raise ConfigError(
            f"{ALARM_NAME_PREFIX} must be at most 255 characters without '*', '?' or control "
            f"characters (it is matched literally), got {name_prefix!r}"
        )

    return EnforcerConfig(
        deny_policy_arn=policy_arn,
        ledger_table_name=table,
        protected=protected,
        principal_dimension=dimension,
        principal_tag_key=tag_key,
        release_on_ok=_boolean(environ, RELEASE_ON_OK, default=True),
        dry_run=_boolean(environ, DRY_RUN, default=False),
        allowed_paths=tuple(paths),
        alarm_topic_arn=topic_arn,
        alarm_name_prefix=name_prefix,
    )


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is required")
    return value


def _boolean(environ: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"true", "false"}:
        return raw == "true"
    raise ConfigError(f"{name} must be 'true' or 'false', got {raw!r}")


def _json_string_list(environ: Mapping[str, str], name: str, *, default: list[str]) -> list[str]:
    raw = environ.get(name, "").strip()
    if not raw:
        return list(default)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{name} is not valid JSON: {error}") from error
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{name} must be a JSON list of strings")
    return [item.strip() for item in value]
