"""What the demo knows of the deployed configuration, and where each value comes from.

``environments/dev`` leaves its callers, API-key users and tenants to a tfvars file, so the demo
deploys it with ``terraform.tfvars.example`` (:mod:`.deploy`). Everything else is read back from
what ``terraform apply`` created: ``terraform output -json``, the functions' environment,
the alarms in CloudWatch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Literal

from bedrock_guard.cli.formats import usd
from bedrock_guard.core.accounting import Limits, Window
from bedrock_guard.core.principals import PrincipalError, caller_identity, parse_principal
from bedrock_guard.demo.deploy import ConfigError, Provisioned
from bedrock_guard.gate.config import parse_model_aliases, parse_tier_limits

ENVIRONMENT: Final = Path("environments") / "dev"
TFVARS_EXAMPLE: Final = "terraform.tfvars.example"
CALLER_ALARM_METRIC: Final = "CallerBudgetUsedPercent"

CallerKind = Literal["iam", "apikey"]


@dataclass(frozen=True, slots=True)
class Fact:
    """One setting the demo uses: what it is, its value, and where it was read."""

    label: str
    value: str
    source: str


@dataclass(frozen=True, slots=True)
class CallerSpec:
    """A caller of the gate as the configuration registers it."""

    key: str  # the callers key (an IAM ARN) or the api_key_users name
    name: str  # short name for tables: the user or role name, or the API-key user
    kind: CallerKind
    tier: str
    tenant: str
    cost_center: str
    application: str
    arn: str | None = None  # IAM ARN as written (with its path); None for API-key users
    principal: str | None = None  # the principal the gate keys the caller by
    alarms: bool = True  # the caller's alarms flag, as configured
    alarm_thresholds: tuple[float, ...] = ()  # its budget alarms (percent), as deployed


@dataclass(frozen=True, slots=True)
class TenantSpec:
    """A tenant's inference profile, its gate alias, alarm and the principals it locks."""

    name: str
    alias: str
    principals: tuple[str, ...]
    alarm_thresholds: Mapping[str, float]  # metric name -> threshold, per alarm period
    alarm_period: int = 0  # seconds


@dataclass(frozen=True, slots=True)
class Settings:
    """The deployed configuration the scenario runs with."""

    tfvars: Path
    name_prefix: str
    region: str
    account: str
    partition: str
    tiers: Mapping[str, Limits]
    default_tier: str | None
    model_aliases: tuple[str, ...]
    callers: tuple[CallerSpec, ...]
    tenants: tuple[TenantSpec, ...]
    facts: tuple[Fact, ...]


def find_repo_root(start: Path | None = None) -> Path:
    """The folder holding ``environments/dev``: the current one or a parent, else the
    repository this package is installed from."""
    candidates = [start or Path.cwd(), Path(__file__).resolve()]
    for candidate in candidates:
        for folder in (candidate, *candidate.parents):
            if (folder / ENVIRONMENT / "main.tf").is_file():
                return folder
    raise ConfigError(
        f"cannot find {ENVIRONMENT}/main.tf from {Path.cwd()}: run from the repository"
    )


def load_settings(
    variables: Mapping[str, Any],
    deployed: Provisioned,
    *,
    tfvars: Path,
    region: str,
    partition: str,
    account: str,
) -> Settings:
    """The settings of the scenario, from the tfvars and what Terraform deployed."""
    out = deployed.outputs
    try:
        tiers = parse_tier_limits(out["tier_limits_json"])
        aliases = parse_model_aliases(out["model_aliases_json"])
    except Exception as error:
        raise ConfigError(f"terraform output of the gate's settings: {error}") from error
    callers = _callers(variables, deployed)
    gate = deployed.gate
    name_prefix = gate.name.removesuffix("-gate") if gate else ""
    default_tier = str(out["default_tier"])
    settings = Settings(
        tfvars=tfvars,
        name_prefix=name_prefix,
        region=region,
        account=account,
        partition=partition,
        tiers=tiers,
        default_tier=None if default_tier == "none" else default_tier,
        model_aliases=tuple(sorted(aliases)),
        callers=callers,
        tenants=_tenants(variables, deployed, json.loads(out["model_aliases_json"])),
        facts=(),
    )
    return replace(settings, facts=tuple(_facts(settings, deployed)))


def _caller_thresholds(deployed: Provisioned, principal: str | None) -> tuple[float, ...]:
    return tuple(
        sorted(
            alarm.threshold
            for alarm in deployed.alarms
            if alarm.metric == CALLER_ALARM_METRIC
            and principal is not None
            and alarm.dimensions.get("Principal") == principal
        )
    )


def _callers(variables: Mapping[str, Any], deployed: Provisioned) -> tuple[CallerSpec, ...]:
    callers = []
    for key, spec in sorted((variables.get("callers") or {}).items()):
        try:
            principal = parse_principal(key, lockable=False)
        except PrincipalError as error:
            raise ConfigError(f"callers key {key!r}: {error}") from error
        callers.append(
            CallerSpec(
                key=key,
                name=principal.name,
                kind="iam",
                tier=spec["tier"],
                tenant=spec["tenant"],
                cost_center=spec["cost_center"],
                application=spec["application"],
                arn=principal.arn,
                principal=principal.canonical,
                alarms=bool(spec.get("alarms", True)),
                alarm_thresholds=_caller_thresholds(deployed, principal.canonical),
            )
        )
    for name, spec in sorted((variables.get("api_key_users") or {}).items()):
        key_id = deployed.api_keys.get(name)
        principal_id = caller_identity(None, key_id) if key_id else None
        callers.append(
            CallerSpec(
                key=name,
                name=name,
                kind="apikey",
                tier=spec["tier"],
                tenant=spec["tenant"],
                cost_center=spec["cost_center"],
                application=spec["application"],
                alarms=bool(spec.get("alarms", False)),
                alarm_thresholds=_caller_thresholds(deployed, principal_id),
            )
        )
    return tuple(callers)


def _tenants(
    variables: Mapping[str, Any], deployed: Provisioned, aliases: Mapping[str, Any]
) -> tuple[TenantSpec, ...]:
    result = []
    for name, tenant in sorted((variables.get("tenants") or {}).items()):
        profile = deployed.profiles.get(name, {})
        alias = next(
            (
                a
                for a, route in aliases.items()
                if isinstance(route, dict) and route.get("target") == profile.get("arn")
            ),
            name,
        )
        alarms = [
            a
            for a in deployed.alarms
            if profile and any(v in (profile["arn"], profile["id"]) for v in a.dimensions.values())
        ]
        result.append(
            TenantSpec(
                name=name,
                alias=alias,
                principals=tuple(tenant.get("principals", [])),
                alarm_thresholds={a.metric: a.threshold for a in alarms},
                alarm_period=max((a.period for a in alarms), default=0),
            )
        )
    return tuple(result)


# Facts: what the output shows, with sources -------------------------------------------------


def format_amount(value: int | Decimal | float) -> str:
    """``100,000`` tokens or dollars by the CLI's one money rule (``$1.25``, ``$10.00``)."""
    if isinstance(value, Decimal):
        return usd(value)
    return f"{value:,}"


def describe_limits(limits: Limits) -> str:
    """``100,000 tok, $1 a day; 1,000,000 tok, $10 a month``."""
    parts = []
    for period, windows in (
        ("a day", (Window.DAILY_TOKENS, Window.DAILY_USD)),
        ("a month", (Window.MONTHLY_TOKENS, Window.MONTHLY_USD)),
    ):
        amounts = []
        for window in windows:
            limit = limits.of(window)
            if limit is not None:
                amounts.append(format_amount(limit) + ("" if window.is_usd else " tok"))
        if amounts:
            parts.append(f"{', '.join(amounts)} {period}")
    return "; ".join(parts) or "no limit"


def _facts(settings: Settings, deployed: Provisioned) -> list[Fact]:
    tfvars = settings.tfvars.name
    iam_callers = [c for c in settings.callers if c.kind == "iam"]
    api_users = [c for c in settings.callers if c.kind == "apikey"]
    gate = deployed.gate.environment if deployed.gate else {}
    enforcer = deployed.enforcer.environment if deployed.enforcer else {}
    alarmed = [c.name for c in settings.callers if c.alarm_thresholds]
    silent = [
        f"{c.name} (alarms = {str(c.alarms).lower()})"
        for c in settings.callers
        if not c.alarm_thresholds
    ]
    thresholds = sorted({t for c in settings.callers for t in c.alarm_thresholds})
    return [
        Fact("name prefix", settings.name_prefix, "the deployed functions' names"),
        Fact("region, account", f"{settings.region}, {settings.account}", tfvars),
        Fact(
            "tiers",
            "\n".join(f"{t}: {describe_limits(limits)}" for t, limits in settings.tiers.items()),
            "terraform output tier_limits_json",
        ),
        Fact(
            "default tier",
            settings.default_tier or "none (unregistered callers refused)",
            "terraform output default_tier",
        ),
        Fact(
            "callers",
            ", ".join(f"{c.name} ({c.tier})" for c in iam_callers) or "none",
            f"{tfvars} (environments/dev leaves them to tfvars)",
        ),
        Fact(
            "API-key users",
            ", ".join(f"{c.name} ({c.tier})" for c in api_users) or "none",
            f"{tfvars}; key ids: terraform output api_key_ids",
        ),
        Fact(
            "tenants",
            "; ".join(_describe_tenant(t) for t in settings.tenants) or "none",
            f"{tfvars}; profiles: terraform output tenant_profile_arns",
        ),
        Fact(
            "model aliases",
            ", ".join(settings.model_aliases),
            "terraform output model_aliases_json",
        ),
        Fact(
            "caller alarms",
            f"CallerBudgetUsedPercent >= {', '.join(f'{t:g}%' for t in thresholds)} "
            f"on: {', '.join(alarmed) or 'nobody'}"
            + (f"; none for: {', '.join(silent)}" if silent else ""),
            f"the {len(deployed.alarms)} alarms in CloudWatch",
        ),
        Fact("deny policy", deployed.deny_policy_name, "terraform output deny_policy_arn"),
        Fact(
            "enforcer",
            f"release on OK: {enforcer.get('RELEASE_ON_OK')}, dry run: {enforcer.get('DRY_RUN')}",
            "the enforcer function's environment",
        ),
        Fact(
            "metric namespace",
            gate.get("POWERTOOLS_METRICS_NAMESPACE", "GenAIRateLimiting"),
            "the gate function's environment",
        ),
        *_metering_facts(deployed),
    ]


def _metering_facts(deployed: Provisioned) -> list[Fact]:
    logging, subscription = deployed.invocation_logging, deployed.meter_filter
    log = "off"
    if logging is not None:
        body = "with text" if logging.text_delivery else "metadata only"
        log = f"{logging.log_group_name} ({body})"
    if subscription is not None:
        log += f"; subscription filter {subscription.name} -> {subscription.destination_arn}"
    facts = [
        Fact(
            "invocation log",
            log,
            "Bedrock's invocation logging configuration; DescribeSubscriptionFilters",
        )
    ]
    if deployed.meter is not None:
        meter = deployed.meter.environment
        facts.append(
            Fact(
                "usage meter",
                f"unregistered callers: tier {meter.get('DEFAULT_TIER')}; lockable paths "
                f"{meter.get('ALLOWED_PATHS_JSON')}; dry run: {meter.get('DRY_RUN')}",
                "the meter function's environment",
            )
        )
    return facts


def _describe_tenant(tenant: TenantSpec) -> str:
    alarms = ", ".join(
        f"{metric} >= {value:,}" for metric, value in tenant.alarm_thresholds.items()
    )
    if not alarms:
        return f"{tenant.name} (alias {tenant.alias})"
    return f"{tenant.name} (alias {tenant.alias}; alarm {alarms} in {tenant.alarm_period} s)"
