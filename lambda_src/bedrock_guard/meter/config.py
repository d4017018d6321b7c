"""The usage meter's configuration: the gate's accounting variables and the enforcer's locking
variables, with the same meanings, plus ``GATE_ROLE_ARN``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from bedrock_guard.core.principals import PrincipalError, parse_principal
from bedrock_guard.enforcer.config import ConfigError, EnforcerConfig
from bedrock_guard.enforcer.config import load_config as load_enforcer_config
from bedrock_guard.gate.config import GateConfig, GateConfigError
from bedrock_guard.gate.config import load_config as load_gate_config

GATE_ROLE_ARN: Final = "GATE_ROLE_ARN"
ENVIRONMENT_VARIABLES: Final = (
    "USAGE_TABLE_NAME",
    "TIER_LIMITS_JSON",
    "DEFAULT_TIER",
    "MODEL_ALIASES_JSON",
    "PRICING_JSON",
    "DENY_POLICY_ARN",
    "LEDGER_TABLE_NAME",
    "PROTECTED_PRINCIPALS_JSON",
    "ALLOWED_PATHS_JSON",
    "DRY_RUN",
    GATE_ROLE_ARN,
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_SERVICE_NAME",
)
_ROLE_ARN_RE: Final = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/")


class MeterConfigError(RuntimeError):
    """The environment does not describe a usable meter; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class MeterConfig:
    accounting: GateConfig
    locking: EnforcerConfig
    # The gate's own role: only its records may name a gate hold (requestMetadata is the
    # caller's to set, so a direct caller could otherwise pass as the gate).
    gate_role: str | None

    @property
    def profile_models(self) -> dict[str, str]:
        """Application inference profile ARN (or any alias target) -> its pricing model."""
        return {route.target: route.pricing_model for route in self.accounting.models.values()}


def load_config(environ: Mapping[str, str]) -> MeterConfig:
    try:
        accounting = load_gate_config(environ)
        locking = load_enforcer_config(environ)
    except (GateConfigError, ConfigError) as error:
        raise MeterConfigError(f"invalid usage meter configuration: {error}") from error
    if locking.ledger_table_name != accounting.table_name:
        raise MeterConfigError(
            "LEDGER_TABLE_NAME and USAGE_TABLE_NAME must name the same table: the meter checks "
            "the lock where the gate does"
        )
    raw_role = environ.get(GATE_ROLE_ARN, "").strip()
    gate_role = None
    if raw_role:
        problem = f"{GATE_ROLE_ARN} must be the token gate's IAM role ARN, got {raw_role!r}"
        if not _ROLE_ARN_RE.match(raw_role):
            raise MeterConfigError(problem)
        try:
            gate_role = parse_principal(raw_role, lockable=False).canonical
        except PrincipalError as error:
            raise MeterConfigError(problem) from error
    return MeterConfig(accounting, locking, gate_role)
