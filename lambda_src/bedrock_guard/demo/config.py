"""What the demo reads from the Terraform configuration, and where each value comes from.

Everything comes from ``environments/dev`` and the modules it calls, evaluated by
:mod:`.terraform`: names, tiers, the model allowlist, the enforcer's settings, the alarms.
``environments/dev`` leaves its callers, API-key users and tenants to a tfvars file, so the demo
reads ``terraform.tfvars.example`` for them and says so. Values Terraform only knows after apply
are supplied later by the local provisioning (:mod:`.provision`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, Final, Literal

from bedrock_guard.cli.formats import usd
from bedrock_guard.core.accounting import Limits, Window
from bedrock_guard.core.principals import PrincipalError, parse_principal
from bedrock_guard.demo.hcl_eval import EvalError
from bedrock_guard.demo.terraform import ConfigError, ModuleInstance, Terraform, evaluation_error
from bedrock_guard.demo.tf_policy import as_list
from bedrock_guard.gate.config import parse_tier_limits
from bedrock_guard.local.lambda_events import DEFAULT_ACCOUNT

ENVIRONMENT: Final = Path("environments") / "dev"
TFVARS_EXAMPLE: Final = "terraform.tfvars.example"

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
    principal: str | None = None  # canonical ARN; API-key callers get theirs once keyed
    alarms: bool = True  # the caller's alarms flag, as configured
    alarm_thresholds: tuple[float, ...] = ()  # its budget alarms (percent), as Terraform makes them

    @property
    def alarm_subject(self) -> str:
        """How token-gate keys the caller's budget alarms (``local.alarm_subjects`` in
        modules/token-gate/alarms.tf): the canonical principal, or ``apikey-name:<name>``
        for an API-key user, whose key id is known only after apply."""
        return self.principal if self.principal is not None else f"apikey-name:{self.key}"


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
    """The evaluated configuration the scenario runs with."""

    terraform: Terraform
    env_dir: Path
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

    @property
    def root(self) -> ModuleInstance:
        return self.terraform.root

    def module(self, name: str) -> ModuleInstance:
        """A module the environment calls (``token_gate``, ``alarm_enforcer``, ...)."""
        return self.terraform.root.child(name)


def find_repo_root(start: Path | None = None) -> Path:
    """The folder holding ``environments/dev``: the current one or a parent, else the
    repository this package is installed from."""
    candidates = [start or Path.cwd(), Path(__file__).resolve()]
    for candidate in candidates:
        for folder in (candidate, *candidate.parents):
            if (folder / ENVIRONMENT / "main.tf").is_file():
                return folder
    raise ConfigError(
        f"cannot find {ENVIRONMENT}/main.tf from {Path.cwd()}: run from the repository, "
        "or pass --env-dir"
    )


def _value(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except EvalError as error:
        raise evaluation_error(error) from error


def load_settings(env_dir: Path, tfvars: Path | None = None) -> Settings:
    """Parse and evaluate the environment; raise :class:`ConfigError` saying what and where."""
    env_dir = env_dir.resolve()
    tfvars = (tfvars or env_dir / TFVARS_EXAMPLE).resolve()
    if not tfvars.is_file():
        raise ConfigError(f"no tfvars file at {tfvars}")
    display_root = env_dir.parents[1] if len(env_dir.parents) > 1 else env_dir
    terraform = Terraform(env_dir, tfvars=tfvars, display_root=display_root)
    root = terraform.root
    gate = root.child("token_gate")

    callers = _with_alarms(_callers(root), terraform)
    tiers = _value(lambda: parse_tier_limits(gate.local("tier_limits_json")))
    default_tier = _value(lambda: gate.var("default_tier"))
    account = _account(callers)
    settings = Settings(
        terraform=terraform,
        env_dir=env_dir,
        tfvars=tfvars,
        name_prefix=_value(lambda: root.local("name")),
        region=_value(lambda: root.var("region")),
        account=account,
        partition=_partition(callers),
        tiers=tiers,
        default_tier=None if default_tier == "none" else default_tier,
        model_aliases=_model_aliases(root),
        callers=callers,
        tenants=_tenants(root),
        facts=(),
    )
    return replace(settings, facts=tuple(_value(lambda: _facts(settings))))


def _callers(root: ModuleInstance) -> tuple[CallerSpec, ...]:
    iam_callers = _value(lambda: root.var("callers")) or {}
    api_users = _value(lambda: root.var("api_key_users")) or {}
    callers = []
    for key, spec in sorted(iam_callers.items()):
        try:
            principal = parse_principal(key, lockable=False)
        except PrincipalError as error:
            raise ConfigError(f"var.callers key {key!r}: {error}") from error
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
                alarms=bool(spec["alarms"]),
            )
        )
    for name, spec in sorted(api_users.items()):
        callers.append(
            CallerSpec(
                key=name,
                name=name,
                kind="apikey",
                tier=spec["tier"],
                tenant=spec["tenant"],
                cost_center=spec["cost_center"],
                application=spec["application"],
                alarms=bool(spec.get("alarms", True)),
            )
        )
    return tuple(callers)


def _with_alarms(callers: tuple[CallerSpec, ...], terraform: Terraform) -> tuple[CallerSpec, ...]:
    """Each caller with the thresholds of the budget alarms token-gate creates for it: one
    ``aws_cloudwatch_metric_alarm.caller_budget`` instance per subject and threshold, keyed
    ``<subject>@<threshold>``. The keys are known at plan time even where the values are not
    (an API-key caller's principal needs its key id), so they are read from a plan view."""
    gate = terraform.planned().root.child("token_gate")
    alarms = _value(
        lambda: gate.resource("aws_cloudwatch_metric_alarm", "caller_budget").instances()
    )
    thresholds: dict[str, list[float]] = {}
    for key, alarm in alarms.items():
        subject = str(key).rpartition("@")[0]
        thresholds.setdefault(subject, []).append(float(_value(partial(alarm.get, "threshold"))))
    return tuple(
        replace(c, alarm_thresholds=tuple(sorted(thresholds.get(c.alarm_subject, ()))))
        for c in callers
    )


def _account(callers: tuple[CallerSpec, ...]) -> str:
    """The account the callers live in: the local endpoint plays that account."""
    accounts = sorted({c.principal.split(":")[4] for c in callers if c.principal})
    if len(accounts) > 1:
        raise ConfigError(
            f"the callers belong to several accounts ({', '.join(accounts)}): "
            "one environment runs in one account"
        )
    return accounts[0] if accounts else DEFAULT_ACCOUNT


def _partition(callers: tuple[CallerSpec, ...]) -> str:
    partitions = {c.principal.split(":")[1] for c in callers if c.principal}
    return partitions.pop() if len(partitions) == 1 else "aws"


def _model_aliases(root: ModuleInstance) -> tuple[str, ...]:
    direct = _value(lambda: root.var("model_aliases")) or {}
    tenants = _value(lambda: root.child("aip_tenant").local("aliases")) or {}
    return tuple(sorted({*direct, *tenants.values()}))


def _tenants(root: ModuleInstance) -> tuple[TenantSpec, ...]:
    aip = root.child("aip_tenant")
    tenants = _value(lambda: aip.var("tenants")) or {}
    aliases = _value(lambda: aip.local("aliases")) or {}
    alarms = _value(lambda: aip.local("token_alarms")) or {}
    result = []
    for name, tenant in sorted(tenants.items()):
        thresholds = {
            alarm["metric_name"]: alarm["threshold"]
            for alarm in alarms.values()
            if alarm["tenant"] == name
        }
        periods = [a["period_seconds"] for a in alarms.values() if a["tenant"] == name]
        result.append(
            TenantSpec(
                name=name,
                alias=aliases[name],
                principals=tuple(tenant["principals"]),
                alarm_thresholds=thresholds,
                alarm_period=int(max(periods, default=0)),
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


def where(instance: ModuleInstance, name: str) -> str:
    """Where ``var.<name>`` of a module comes from, briefly."""
    source = instance.var_source(name)
    if source.startswith("default in "):
        return f"var.{name} default ({source.removeprefix('default in ')})"
    if source.startswith("module."):
        return f"var.{name}: {source}"
    return f"var.{name} in {Path(source).name}"


def _facts(settings: Settings) -> list[Fact]:
    root = settings.root
    tfvars = settings.tfvars.name
    gate = settings.module("token_gate")
    enforcer = settings.module("alarm_enforcer")
    iam_callers = [c for c in settings.callers if c.kind == "iam"]
    api_users = [c for c in settings.callers if c.kind == "apikey"]
    deny_source = enforcer.files.data[("aws_iam_policy_document", "deny")].source
    deny = json.loads(enforcer.data_attribute("aws_iam_policy_document", "deny", "json"))
    actions = [a for s in deny["Statement"] for a in as_list(s.get("Action", []))]
    facts = [
        Fact("name prefix", settings.name_prefix, f"local.name; {where(root, 'environment')}"),
        Fact("region", settings.region, where(root, "region")),
        Fact("account", settings.account, f"the callers' ARNs in {tfvars}"),
        Fact(
            "tiers",
            "\n".join(f"{t}: {describe_limits(limits)}" for t, limits in settings.tiers.items()),
            where(gate, "tiers"),
        ),
        Fact(
            "default tier",
            settings.default_tier or "none (unregistered callers refused)",
            where(root, "default_tier"),
        ),
        Fact(
            "callers",
            ", ".join(f"{c.name} ({c.tier})" for c in iam_callers) or "none",
            f"{where(root, 'callers')} (environments/dev leaves them to tfvars)",
        ),
        Fact(
            "API-key users",
            ", ".join(f"{c.name} ({c.tier})" for c in api_users) or "none",
            where(root, "api_key_users"),
        ),
        Fact(
            "tenants",
            "; ".join(_describe_tenant(t) for t in settings.tenants) or "none",
            where(root, "tenants"),
        ),
        Fact(
            "model aliases",
            ", ".join(settings.model_aliases),
            f"{where(root, 'model_aliases')} + one per tenant",
        ),
        *_alarm_facts(settings),
        Fact(
            "deny policy",
            f"{enforcer.local('deny_policy')}\ndenies {', '.join(actions)}",
            f"data.aws_iam_policy_document.deny ({deny_source})",
        ),
        Fact(
            "enforcer",
            f"release on OK: {str(enforcer.var('release_on_ok')).lower()}, "
            f"dry run: {str(enforcer.var('dry_run')).lower()}, "
            f"principal from dimension {enforcer.var('principal_dimension')} "
            f"or tag {enforcer.var('principal_tag_key')}",
            f"{where(root, 'release_on_ok')}; module defaults",
        ),
        Fact(
            "metric namespace",
            str(gate.var("metrics_namespace")),
            where(gate, "metrics_namespace"),
        ),
    ]
    return facts


def _describe_tenant(tenant: TenantSpec) -> str:
    alarms = ", ".join(
        f"{metric} >= {value:,}" for metric, value in tenant.alarm_thresholds.items()
    )
    if not alarms:
        return f"{tenant.name} (alias {tenant.alias})"
    return f"{tenant.name} (alias {tenant.alias}; alarm {alarms} in {tenant.alarm_period} s)"


def _alarm_facts(settings: Settings) -> list[Fact]:
    root, gate = settings.root, settings.module("token_gate")
    caller_alarms = gate.var("caller_alarms")
    thresholds = ", ".join(f"{t}%" for t in caller_alarms["thresholds_percent"])
    alarmed = [c.name for c in settings.callers if c.alarm_thresholds]
    silent = [_why_no_alarm(settings, c) for c in settings.callers if not c.alarm_thresholds]
    value = "off"
    if caller_alarms["enabled"]:
        value = (
            f"CallerBudgetUsedPercent >= {thresholds} "
            f"(Maximum over {caller_alarms['period_seconds']} s)\n"
            f"on: {', '.join(alarmed) or 'nobody'}"
            + (f"\nnone for: {'; '.join(silent)}" if silent else "")
        )
    return [
        Fact(
            "caller alarms",
            value,
            f"{where(root, 'caller_alarm_thresholds_percent')}; on or off: alarms in "
            "var.callers, var.api_key_users; period: optional() default of var.caller_alarms "
            f"({gate.files.variables['caller_alarms'].source})",
        )
    ]


def _why_no_alarm(settings: Settings, caller: CallerSpec) -> str:
    """``partner-acme (alarms = false: the optional() default of var.api_key_users)``."""
    if caller.alarms:
        return caller.name
    variable = "callers" if caller.kind == "iam" else "api_key_users"
    written = _value(lambda: settings.terraform.written(variable)) or {}
    entry = written.get(caller.key) if isinstance(written, dict) else None
    if isinstance(entry, dict) and "alarms" in entry:
        return f"{caller.name} (alarms = false in {settings.tfvars.name})"
    return f"{caller.name} (alarms = false: the optional() default of var.{variable})"
