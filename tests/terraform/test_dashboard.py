"""modules/token-gate against the code it deploys: the dashboard plots what the Lambdas publish,
and the function's environment holds exactly the settings the gate reads.

The published side is taken from the code itself: the gate's EMF record is produced by
``gate_metrics.record_request`` and read back, the enforcer's counters are read from its calls of
``enforcer_metrics.count`` and ``count_by``, the usage meter's record is produced by
``meter/metrics.py`` and read back. The Terraform side is read with python-hcl2. That no two
widgets overlap is checked on Terraform's own evaluation (tests/terraform_real).
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.shared import constants as powertools_constants

from bedrock_guard import token_gate
from bedrock_guard.core.invocation_metadata import HOLD_ID_KEY
from bedrock_guard.core.pricing import TokenUsage
from bedrock_guard.enforcer import metrics as enforcer_metrics
from bedrock_guard.gate import bedrock_client
from bedrock_guard.gate import config as gate_config
from bedrock_guard.gate import metrics as gate_metrics
from bedrock_guard.meter import metrics as meter_metrics
from bedrock_guard.meter.service import MeterReport
from tests.terraform.dashboard_grid import Placed, grid_problems
from tests.terraform.tfload import REPO, Labeled, TfModule, expressions, load_module, strings

MODULE = load_module(REPO / "modules" / "token-gate")
ENFORCER_MODULE = load_module(REPO / "modules" / "alarm-enforcer")
METER_MODULE = load_module(REPO / "modules" / "usage-meter")
ENVIRONMENTS = [load_module(path.parent) for path in sorted(REPO.glob("environments/*/main.tf"))]
PACKAGE = REPO / "lambda_src" / "bedrock_guard"
# The meter's code: the handler and everything under meter/.
METER_SOURCES = [PACKAGE / "usage_meter.py", *sorted((PACKAGE / "meter").glob("*.py"))]

GATE_NAMESPACE = "${var.metrics_namespace}"
ENFORCER_NAMESPACE = "${local.dashboard_enforcer_namespace}"
METER_NAMESPACE = "${local.dashboard_meter_namespace}"
GATE_SERVICE = "${var.service_name}"
ENFORCER_SERVICE = "${local.dashboard_enforcer_service}"
METER_SERVICE = "${local.dashboard_meter_service}"
INVOCATION_LOG_GROUP = "${local.dashboard_invocation_log_group}"
SERVICE = "service"
USAGE_METRICS = ("InputTokens", "OutputTokens", "CostUsd")
# What the dashboard breaks usage down by (the registry's labels).
BREAKDOWNS = ("Model", "CostCenter", "Application")

Published = dict[str, set[frozenset[str]]]


@dataclass(frozen=True)
class Series:
    """One metric selection of the dashboard: a plain metric array or a SEARCH."""

    namespace: str
    metric: str
    dimensions: frozenset[str]
    values: Mapping[str, str] = field(default_factory=dict)
    search: bool = False


# ---------------------------------------------------------------------------------------------
# Reading the dashboard
# ---------------------------------------------------------------------------------------------


def dashboard_locals(module: Any = MODULE) -> dict[str, Any]:
    return {name: value for name, value in module.locals.items() if name.startswith("dashboard_")}


def searches(dashboard: Mapping[str, Any]) -> list[Series]:
    """The entries of ``local.dashboard_searches``."""
    return [
        Series(
            namespace=entry["namespace"],
            metric=entry["metric"],
            dimensions=frozenset(entry["dimensions"]),
            values=dict(entry["match"]),
            search=True,
        )
        for entry in dashboard.get("dashboard_searches", {}).values()
    ]


def _metric_arrays(value: Any) -> Iterator[list[Any]]:
    """Entries of every literal ``metrics`` list: [namespace, metric, dim1, value1, ...,
    {options}?] as the dashboard body defines them (expression entries are skipped)."""
    if isinstance(value, list):
        for inner in value:
            yield from _metric_arrays(inner)
    elif isinstance(value, dict):
        for key, inner in value.items():
            if key == "metrics" and isinstance(inner, list):
                for entry in inner:
                    head = [item for item in entry if not isinstance(item, dict)]
                    if len(head) >= 2 and len(head) % 2 == 0:
                        yield head
            else:
                yield from _metric_arrays(inner)


def metric_arrays(dashboard: Mapping[str, Any]) -> list[Series]:
    """Every literal metric array in the dashboard's locals."""
    found = []
    for array in _metric_arrays(dict(dashboard)):
        pairs = dict(zip(array[2::2], array[3::2], strict=True))
        found.append(Series(array[0], array[1], frozenset(pairs), pairs))
    return found


def all_series(dashboard: Mapping[str, Any]) -> list[Series]:
    return searches(dashboard) + metric_arrays(dashboard)


# ---------------------------------------------------------------------------------------------
# Reading what the code publishes
# ---------------------------------------------------------------------------------------------


def _emf_dimension_sets(record: Mapping[str, Any]) -> Published:
    published: Published = {}
    for directive in record["_aws"]["CloudWatchMetrics"]:
        sets = {frozenset(names) for names in directive["Dimensions"]}
        for metric in directive["Metrics"]:
            published.setdefault(metric["Name"], set()).update(sets)
    return published


def gate_publication() -> Published:
    """Metric name -> dimension sets, from one EMF record of a request that did everything.

    Runs the gate's own ``record_request`` (the combined set off, the module's default) and
    ``publish_caller_budget``; the service dimension is Powertools' own and holds
    POWERTOOLS_SERVICE_NAME.
    """
    metrics = Metrics(namespace="Probe", service="probe-service")
    metrics.clear_metrics()
    try:
        facts = gate_metrics.RequestFacts(
            dimensions=gate_metrics.Dimensions("alias", "cc", "app", "env"),
            approved=True,
            denied=True,
            failed=True,
            usage=TokenUsage(input_tokens=3, output_tokens=5),
            cost_usd=Decimal("0.25"),
        )
        gate_metrics.record_request(metrics, facts, combined=False)
        published = _emf_dimension_sets(metrics.serialize_metric_set())
    finally:
        metrics.clear_metrics()
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        gate_metrics.publish_caller_budget("Probe", "arn:aws:iam::123456789012:role/R", Decimal(1))
    for line in output.getvalue().splitlines():
        for name, sets in _emf_dimension_sets(json.loads(line)).items():
            published.setdefault(name, set()).update(sets)
    return published


def _enforcer_aliases(tree: ast.Module) -> set[str]:
    return {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "bedrock_guard.enforcer"
        for alias in node.names
        if alias.name == "metrics"
    }


def _string_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "text"`` (or ``NAME: Final = "text"``) assignments."""
    found = {}
    for node in tree.body:
        value: ast.expr | None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        else:
            continue
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            found.update({t.id: value.value for t in targets if isinstance(t, ast.Name)})
    return found


def _resolve(node: ast.expr, aliases: set[str], constants: Mapping[str, str]) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in aliases
    ):
        return str(getattr(enforcer_metrics, node.attr))
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    raise ValueError(f"cannot resolve {ast.unparse(node)} to a metric or dimension name")


def enforcer_counters(source: str) -> dict[str, frozenset[str]]:
    """Metric name -> the dimensions it is emitted with, from ``count`` and ``count_by`` calls.

    ``count`` adds to the function's record (Powertools' service dimension only); ``count_by``
    emits a single metric with one dimension, to which Powertools adds the service dimension
    (test_count_by_adds_the_service_dimension checks that).
    """
    tree = ast.parse(source)
    aliases = _enforcer_aliases(tree)
    constants = _string_constants(tree)
    found: dict[str, frozenset[str]] = {}
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in aliases
            and node.func.attr in {"count", "count_by"}
        ):
            continue
        name = _resolve(node.args[0], aliases, constants)
        if node.func.attr == "count":
            found[name] = frozenset({SERVICE})
        else:
            dimension = _resolve(node.args[1], aliases, constants)
            found[name] = frozenset({dimension, SERVICE})
    return found


def meter_publication() -> Published:
    """Metric name -> dimension sets, from one EMF record of a delivery that did everything and
    a scheduled release, written by the meter's own ``meter/metrics.py``."""
    metrics = Metrics(namespace="Probe", service="probe-meter")
    metrics.clear_metrics()
    try:
        report = MeterReport(
            direct_tokens=Counter({"arn:aws:iam::123456789012:role/R": 5}),
            direct_usd=Decimal("0.25"),
            locks_placed=1,
            unpriced=1,
        )
        meter_metrics.record_delivery(metrics, rejected=1, report=report)
        meter_metrics.record_release(metrics, 1)
        return _emf_dimension_sets(metrics.serialize_metric_set())
    finally:
        metrics.clear_metrics()


def metric_emitters(paths: Iterable[Path]) -> list[str]:
    """Files that add a metric themselves (``add_metric`` or ``single_metric``)."""
    found = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            func = node.func if isinstance(node, ast.Call) else None
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in {"add_metric", "single_metric"}:
                found.append(path.name)
                break
    return found


def enforcer_publication() -> Published:
    published: Published = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        counters = enforcer_counters(path.read_text(encoding="utf-8"))
        for name, dimensions in counters.items():
            published.setdefault(name, set()).add(dimensions)
    return published


# ---------------------------------------------------------------------------------------------
# Checkers: each returns the problems it finds, so that it can be shown to find them
# ---------------------------------------------------------------------------------------------


def unpublished_series(series: Iterable[Series], namespace: str, published: Published) -> list[str]:
    """Selections in ``namespace`` that no code publishes: they would plot nothing."""
    return [
        f"{s.metric} with dimensions {sorted(s.dimensions)} is not published"
        for s in series
        if s.namespace == namespace and s.dimensions not in published.get(s.metric, set())
    ]


def unplotted_metrics(series: Iterable[Series], namespace: str, published: Published) -> list[str]:
    plotted = {s.metric for s in series if s.namespace == namespace}
    return [
        f"{name} is published but not on the dashboard" for name in sorted(set(published) - plotted)
    ]


def missing_breakdowns(
    series: Iterable[Series], metrics: Iterable[str], dimensions: Iterable[str]
) -> list[str]:
    found = {(s.metric, s.dimensions) for s in series if s.search and s.namespace == GATE_NAMESPACE}
    return [
        f"no SEARCH of {metric} by {dimension}"
        for metric in metrics
        for dimension in dimensions
        if (metric, frozenset({dimension})) not in found
    ]


def service_value_problems(series: Iterable[Series], namespace: str, expected: str) -> list[str]:
    """The service dimension must hold the function's POWERTOOLS_SERVICE_NAME."""
    return [
        f"{s.metric}: service = {s.values.get(SERVICE)!r}, expected {expected!r}"
        for s in series
        if s.namespace == namespace
        and SERVICE in s.dimensions
        and s.values.get(SERVICE) != expected
    ]


def namespace_problems(series: Iterable[Series]) -> list[str]:
    """Custom namespaces come from the module's inputs, never a literal."""
    allowed = {GATE_NAMESPACE, ENFORCER_NAMESPACE, METER_NAMESPACE}
    return [
        f"{s.metric}: namespace {s.namespace!r} is neither an input nor an AWS namespace"
        for s in series
        if s.namespace not in allowed and not s.namespace.startswith("AWS/")
    ]


def literal_namespace_problems(
    dashboard: Mapping[str, Any], namespaces: Iterable[str]
) -> list[str]:
    """A namespace written out (say the default GenAIRateLimiting) would ignore the input."""
    texts = list(strings(dict(dashboard)))
    return [
        f"{name!r} is written out in the dashboard"
        for name in namespaces
        if any(name in t for t in texts)
    ]


def _strip_for_expressions(text: str) -> str:
    """``text`` without its ``{for ...}`` parts: what is left is set unconditionally."""
    while (start := text.find("{for ")) != -1:
        depth, index = 0, start
        for index, char in enumerate(text[start:], start):  # noqa: B007 (index is used below)
            depth += {"{": 1, "}": -1}.get(char, 0)
            if depth == 0:
                break
        text = text[:start] + text[index + 1 :]
    return text


_ENV_KEY = re.compile(r"\b([A-Z][A-Z0-9_]+)\s*=(?!=)")
_LOCAL = re.compile(r"\blocal\.([A-Za-z_][\w-]*)")


def environment_names(
    expression: str, module_locals: Mapping[str, Any]
) -> tuple[set[str], set[str]]:
    """(always set, set somewhere) environment variable names of an ``environment`` expression;
    ``local.x`` references are expanded once."""

    def expand(match: re.Match[str]) -> str:
        value = module_locals.get(match[1])
        return "".join(expressions(value)) if isinstance(value, str) else match[0]

    text = _LOCAL.sub(expand, "".join(expressions(expression)))
    return set(_ENV_KEY.findall(_strip_for_expressions(text))), set(_ENV_KEY.findall(text))


def environment_problems(
    always: set[str], anywhere: set[str], declared: Iterable[str], required: Iterable[str]
) -> list[str]:
    powertools = {
        value
        for value in vars(powertools_constants).values()
        if isinstance(value, str) and value.startswith("POWERTOOLS_")
    }
    problems = [
        f"{name} is set but neither the gate nor Powertools reads it"
        for name in sorted(anywhere - set(declared) - powertools)
    ]
    problems += [f"required {name} is not always set" for name in required if name not in always]
    problems += [
        f"{name} is read by the gate but the module cannot set it"
        for name in declared
        if name not in anywhere
    ]
    return problems


_MESSAGE_EQUALS = re.compile(r'message\s*=\s*\\*"([^"\\]+)\\*"')
_MESSAGE_IN = re.compile(r"message\s+in\s+\[([^\]]*)\]")
_QUOTED = re.compile(r'\\*"([^"\\]+)\\*"')


def queried_messages(dashboard: Mapping[str, Any]) -> set[str]:
    """Log messages the Logs Insights widgets filter on."""
    found: set[str] = set()
    for text in strings(dict(dashboard)):
        if "SOURCE '" not in text:
            continue
        found.update(_MESSAGE_EQUALS.findall(text))
        for listed in _MESSAGE_IN.findall(text):
            found.update(_QUOTED.findall(listed))
    return found


def code_strings(paths: Iterable[Path]) -> set[str]:
    return {
        node.value
        for path in paths
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def unknown_messages(messages: Iterable[str], literals: set[str]) -> list[str]:
    return [f"no log call writes {m!r}" for m in sorted(messages) if m not in literals]


_SOURCE = re.compile(r"SOURCE '([^']*)'")
_COALESCED_FIELD = re.compile(r"coalesce\((\w+)\.(\w+), 0\)")


def query_sources(value: Any) -> set[str]:
    """The log groups named by the Logs Insights queries anywhere in ``value``."""
    return {group for text in strings(value) for group in _SOURCE.findall(text)}


_METER_OUTPUT = re.compile(r"^\$\{(?:one\()?module\.(\w+)(?:\[(?:\*|0)\])?\.(\w+)\)?\}$")


def meter_wiring_problems(environment: TfModule, attribute: str, output: str) -> list[str]:
    """The token gate's ``dashboard.<attribute>`` in an environment must be the usage meter's
    ``output``: what the meter writes to, not a copy of what it was given."""
    value = environment.modules["token_gate"].body.get("dashboard", {}).get(attribute)
    match = _METER_OUTPUT.match(value) if isinstance(value, str) else None
    call = environment.modules.get(match[1]) if match else None
    source = call.body.get("source", "") if call else ""
    if match is None or not str(source).endswith("modules/usage-meter") or match[2] != output:
        return [f"{environment.name}: dashboard.{attribute} = {value!r}, not the meter's {output}"]
    return []


def hcl_bounds(conditions: Iterable[str], setting: str) -> tuple[int, int | None]:
    """(low, high) numeric bounds of a ``gate_settings.<setting>`` validation; high is None when
    it is not a number."""
    for condition in conditions:
        low = re.search(rf"gate_settings\.{setting} >= ([0-9]+)", condition)
        if low:
            high = re.search(rf"gate_settings\.{setting} <= ([0-9]+)\b", condition)
            return int(low[1]), int(high[1]) if high else None
    raise LookupError(f"no validation bounds gate_settings.{setting}")


def optional_default(type_expression: str, attribute: str) -> str | None:
    """The default of ``attribute = optional(string, "x")`` in an object type expression."""
    match = re.search(
        rf'\b{attribute}\s*=\s*optional\(string,\s*\\?"([^"\\]*)\\?"\)', type_expression
    )
    return match[1] if match else None


# ---------------------------------------------------------------------------------------------
# The module against the code
# ---------------------------------------------------------------------------------------------

DASHBOARD = dashboard_locals()
GATE_PUBLISHED = gate_publication()
ENFORCER_PUBLISHED = enforcer_publication()
METER_PUBLISHED = meter_publication()
METER_QUERY = "".join(strings(DASHBOARD["dashboard_meter_log"]))


def test_the_readers_find_the_dashboard() -> None:
    """A reader that finds nothing checks nothing."""
    assert len(searches(DASHBOARD)) >= len(USAGE_METRICS) * len(BREAKDOWNS)
    assert any(s.metric == "TotalRequests" for s in metric_arrays(DASHBOARD))
    assert GATE_PUBLISHED.keys() >= set(USAGE_METRICS)
    assert {enforcer_metrics.LOCKS, enforcer_metrics.RELEASES, enforcer_metrics.REFUSED} <= set(
        ENFORCER_PUBLISHED
    )
    assert ("aws_cloudwatch_dashboard", "this") in MODULE.resources


def test_the_gate_publishes_each_dimension_as_its_own_set() -> None:
    """What the searches rely on: {namespace,Model} matches exactly the per-model series."""
    for name in USAGE_METRICS:
        assert {frozenset({d}) for d in gate_metrics.DIMENSION_NAMES} <= GATE_PUBLISHED[name]
    assert set(BREAKDOWNS) <= set(gate_metrics.DIMENSION_NAMES)
    assert GATE_PUBLISHED[gate_metrics.CALLER_BUDGET_METRIC] == {
        frozenset({gate_metrics.PRINCIPAL_DIMENSION})
    }


def test_every_gate_metric_is_plotted() -> None:
    assert unplotted_metrics(all_series(DASHBOARD), GATE_NAMESPACE, GATE_PUBLISHED) == []


def test_every_gate_selection_matches_a_published_series() -> None:
    assert unpublished_series(all_series(DASHBOARD), GATE_NAMESPACE, GATE_PUBLISHED) == []


def test_usage_is_broken_down_by_model_cost_centre_and_application() -> None:
    assert missing_breakdowns(searches(DASHBOARD), USAGE_METRICS, BREAKDOWNS) == []


def test_every_enforcer_counter_is_plotted_with_its_dimensions() -> None:
    series = all_series(DASHBOARD)
    assert unplotted_metrics(series, ENFORCER_NAMESPACE, ENFORCER_PUBLISHED) == []
    assert unpublished_series(series, ENFORCER_NAMESPACE, ENFORCER_PUBLISHED) == []


def test_service_dimensions_name_the_right_function() -> None:
    series = all_series(DASHBOARD)
    assert service_value_problems(series, GATE_NAMESPACE, GATE_SERVICE) == []
    assert service_value_problems(series, ENFORCER_NAMESPACE, ENFORCER_SERVICE) == []
    env = MODULE.resources[("aws_lambda_function", "this")].body["environment"][0]["variables"]
    assert "POWERTOOLS_SERVICE_NAME = var.service_name" in env
    assert "POWERTOOLS_METRICS_NAMESPACE = var.metrics_namespace" in env


def test_searches_use_the_namespace_inputs() -> None:
    assert namespace_problems(all_series(DASHBOARD)) == []
    assert literal_namespace_problems(DASHBOARD, [gate_config.DEFAULT_METRICS_NAMESPACE]) == []
    template = DASHBOARD["dashboard_search_expressions"]
    assert "SEARCH(" in template and "search.namespace" in template
    enforcer_ns = DASHBOARD["dashboard_enforcer_namespace"]
    assert "var.dashboard.enforcer_metrics_namespace" in enforcer_ns
    assert "var.metrics_namespace" in enforcer_ns


def test_usage_widgets_only_name_defined_searches() -> None:
    """The usage grid indexes the searches by "<metric>/<dimension>"; every cell must exist."""
    defined = DASHBOARD["dashboard_searches"]
    for row in DASHBOARD["dashboard_usage_rows"]:
        for column in DASHBOARD["dashboard_usage_columns"]:
            entry = defined[f"{row['metric']}/{column['dimension']}"]
            assert (entry["metric"], entry["dimensions"]) == (row["metric"], [column["dimension"]])


def test_enforcer_defaults_match_the_alarm_enforcer_module() -> None:
    dashboard_type = MODULE.variables["dashboard"].body["type"]
    enforcer_service = ENFORCER_MODULE.variables["service_name"].body["default"]
    assert optional_default(dashboard_type, "enforcer_service_name") == enforcer_service
    assert (
        ENFORCER_MODULE.variables["metrics_namespace"].body["default"]
        == MODULE.variables["metrics_namespace"].body["default"]
        == enforcer_metrics.NAMESPACE
    )


def test_count_by_adds_the_service_dimension(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Powertools adds the function's service to a single metric: the searches' schema says so."""
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "probe-enforcer")
    enforcer_metrics.count_by(enforcer_metrics.REFUSED, "Reason", "probe")
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert _emf_dimension_sets(record) == {
        enforcer_metrics.REFUSED: {frozenset({"Reason", SERVICE})}
    }
    assert record[SERVICE] == "probe-enforcer"


def test_log_widgets_filter_on_messages_the_code_writes() -> None:
    messages = queried_messages(DASHBOARD)
    assert {"request answered", "locked principal out of Bedrock"} <= messages
    assert unknown_messages(messages, code_strings(PACKAGE.rglob("*.py"))) == []


def test_the_meter_publishes_only_through_its_metrics_module() -> None:
    """What meter_publication reads is everything the meter writes."""
    assert metric_emitters(METER_SOURCES) == ["metrics.py"]
    assert {meter_metrics.DIRECT_TOKENS, meter_metrics.DIRECT_COST_USD} <= set(METER_PUBLISHED)


def test_every_meter_metric_is_plotted_as_published() -> None:
    series = all_series(DASHBOARD)
    assert any(s.namespace == METER_NAMESPACE for s in series)  # the reader finds the row
    assert unplotted_metrics(series, METER_NAMESPACE, METER_PUBLISHED) == []
    assert unpublished_series(series, METER_NAMESPACE, METER_PUBLISHED) == []
    assert service_value_problems(series, METER_NAMESPACE, METER_SERVICE) == []


def test_the_meter_inputs_are_the_dashboard_variable() -> None:
    assert "var.dashboard.meter_metrics_namespace" in DASHBOARD["dashboard_meter_namespace"]
    assert "var.metrics_namespace" in DASHBOARD["dashboard_meter_namespace"]
    assert "var.dashboard.meter_service_name" in DASHBOARD["dashboard_meter_service"]
    assert "var.dashboard.invocation_log_group_name" in DASHBOARD["dashboard_invocation_log_group"]


def test_the_top_callers_table_reads_the_group_the_meter_is_subscribed_to() -> None:
    assert query_sources(DASHBOARD["dashboard_meter_log"]) == {INVOCATION_LOG_GROUP}
    subscription = METER_MODULE.resources[("aws_cloudwatch_log_subscription_filter", "this")]
    assert METER_MODULE.outputs["invocation_log_group_name"].body["value"] == (
        "${aws_cloudwatch_log_subscription_filter.this.log_group_name}"
    )
    assert subscription.body["log_group_name"] == "${var.invocation_log_group_name}"
    assert len(ENVIRONMENTS) >= 2
    for environment in ENVIRONMENTS:
        assert (
            meter_wiring_problems(
                environment, "invocation_log_group_name", "invocation_log_group_name"
            )
            == []
        )


def test_the_meter_graphs_read_the_service_and_namespace_the_meter_runs_with() -> None:
    function = METER_MODULE.resources[("aws_lambda_function", "this")]
    environment = function.body["environment"][0]["variables"]
    for output, variable in (("service_name", "SERVICE_NAME"), ("metrics_namespace", "NAMESPACE")):
        assert METER_MODULE.outputs[output].body["value"] == f"${{var.{output}}}"
        assert re.search(rf"POWERTOOLS_(METRICS_)?{variable}\s*=\s*var\.{output}\b", environment)
    for env in ENVIRONMENTS:
        assert meter_wiring_problems(env, "meter_service_name", "service_name") == []
        assert meter_wiring_problems(env, "meter_metrics_namespace", "metrics_namespace") == []


def test_the_top_callers_table_leaves_out_only_the_gates_own_calls() -> None:
    """As the meter does: a record of the gate's role (the role the gate runs as) that names a
    hold under the key the gate writes."""
    assert f"not (ispresent(requestMetadata.{HOLD_ID_KEY}) and identity.arn like" in METER_QUERY
    assert ":assumed-role/${aws_iam_role.this.name}/" in METER_QUERY
    assert MODULE.resources[("aws_lambda_function", "this")].body["role"] == (
        "${aws_iam_role.this.arn}"
    )


def test_the_top_callers_table_counts_the_token_fields_the_meter_reads() -> None:
    queried = set(_COALESCED_FIELD.findall(METER_QUERY))
    read = {f for f in code_strings([PACKAGE / "meter" / "records.py"]) if f.endswith("Count")}
    assert {field for _, field in queried} == read
    assert {"inputTokenCount", "outputTokenCount", "cacheReadInputTokenCount"} <= read


def test_the_meter_defaults_pass_the_dashboard_validations() -> None:
    conditions = " ".join(_validations("dashboard"))
    for attribute, variable in (
        ("meter_service_name", "service_name"),
        ("meter_metrics_namespace", "metrics_namespace"),
    ):
        pattern = re.search(rf'regex\(\\?"([^"\\]+)\\?", var\.dashboard\.{attribute}\)', conditions)
        assert pattern, f"no regex validates dashboard.{attribute}"
        assert re.fullmatch(pattern[1], METER_MODULE.variables[variable].body["default"])


# ---------------------------------------------------------------------------------------------
# The function's environment against gate_config
# ---------------------------------------------------------------------------------------------

ENVIRONMENT = MODULE.resources[("aws_lambda_function", "this")].body["environment"][0]["variables"]


def test_environment_is_what_the_gate_reads() -> None:
    always, anywhere = environment_names(ENVIRONMENT, MODULE.locals)
    assert "MAX_OUTPUT_TOKENS" in anywhere - always  # gate_settings are only set when given
    assert (
        environment_problems(
            always,
            anywhere,
            gate_config.ENVIRONMENT_VARIABLES,
            gate_config.REQUIRED_ENVIRONMENT_VARIABLES,
        )
        == []
    )


SETTINGS = {
    "bedrock_read_timeout_seconds": "BEDROCK_READ_TIMEOUT_SECONDS",
    "bedrock_max_attempts": "BEDROCK_MAX_ATTEMPTS",
    "max_output_tokens": "MAX_OUTPUT_TOKENS",
    "max_request_bytes": "MAX_REQUEST_BYTES",
}
BASE_ENVIRONMENT = {
    "USAGE_TABLE_NAME": "usage",
    "TIER_LIMITS_JSON": json.dumps({"basic": {"daily_tokens": 1000}}),
    "MODEL_ALIASES_JSON": json.dumps({"haiku": "anthropic.claude-3-haiku-20240307-v1:0"}),
}


def _accepted(**settings: str) -> bool:
    try:
        gate_config.load_config({**BASE_ENVIRONMENT, **settings})
    except gate_config.GateConfigError:
        return False
    return True


def _validations(variable: str) -> list[str]:
    return [rule["condition"] for rule in MODULE.variables[variable].body["validation"]]


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_gate_settings_ranges_are_the_gates(setting: str) -> None:
    """The plan refuses exactly what the gate would refuse at start-up."""
    low, high = hcl_bounds(_validations("gate_settings"), setting)
    assert high is not None
    name = SETTINGS[setting]
    assert _accepted(**{name: str(low)}) and _accepted(**{name: str(high)})
    assert not _accepted(**{name: str(low - 1)}) and not _accepted(**{name: str(high + 1)})


def test_default_max_tokens_is_capped_like_the_gate() -> None:
    conditions = " ".join(_validations("gate_settings"))
    cap = f"coalesce(var.gate_settings.max_output_tokens, {gate_config.DEFAULT_MAX_OUTPUT_TOKENS})"
    assert f"gate_settings.default_max_tokens <= {cap}" in conditions
    limit = str(gate_config.DEFAULT_MAX_OUTPUT_TOKENS)
    assert _accepted(DEFAULT_MAX_TOKENS=limit)
    assert not _accepted(DEFAULT_MAX_TOKENS=str(gate_config.DEFAULT_MAX_OUTPUT_TOKENS + 1))
    assert not _accepted(MAX_OUTPUT_TOKENS="100", DEFAULT_MAX_TOKENS="101")


def test_time_budget_uses_the_gates_numbers() -> None:
    """The plan-time check of lambda_timeout repeats the gate's own start-up check."""
    expected = {
        "gate_default_read_timeout_seconds": gate_config.DEFAULT_READ_TIMEOUT_SECONDS,
        "gate_default_max_attempts": gate_config.DEFAULT_MAX_ATTEMPTS,
        "gate_bedrock_connect_timeout": bedrock_client.CONNECT_TIMEOUT_SECONDS,
        "gate_bedrock_backoff_base_seconds": bedrock_client.RETRY_BACKOFF_BASE_SECONDS,
        "gate_bedrock_backoff_cap_seconds": bedrock_client.RETRY_BACKOFF_CAP_SECONDS,
        "gate_settle_reserve_seconds": token_gate.SETTLE_RESERVE_SECONDS,
    }
    assert {name: MODULE.locals[name] for name in expected} == expected


# ---------------------------------------------------------------------------------------------
# Each checker finds what it is for
# ---------------------------------------------------------------------------------------------

PUBLISHED: Published = {
    "CostUsd": {frozenset({"Model"}), frozenset({"service"})},
    "TotalRequests": {frozenset({"service"})},
}


def _search(metric: str, *dimensions: str, namespace: str = GATE_NAMESPACE) -> Series:
    return Series(namespace, metric, frozenset(dimensions), search=True)


def test_unpublished_series_finds_a_combined_set_and_an_unknown_metric() -> None:
    series = [
        _search("CostUsd", "Model"),
        _search("CostUsd", "Model", "CostCenter"),
        _search("Costs", "Model"),
        _search("CostUsd", "Model", "CostCenter", namespace="other"),
    ]
    assert unpublished_series(series, GATE_NAMESPACE, PUBLISHED) == [
        "CostUsd with dimensions ['CostCenter', 'Model'] is not published",
        "Costs with dimensions ['Model'] is not published",
    ]


def test_unplotted_metrics_finds_a_missing_metric() -> None:
    series = [_search("CostUsd", "Model"), _search("TotalRequests", "service", namespace="other")]
    assert unplotted_metrics(series, GATE_NAMESPACE, PUBLISHED) == [
        "TotalRequests is published but not on the dashboard"
    ]


def test_missing_breakdowns_finds_a_missing_search() -> None:
    series = [
        _search("CostUsd", "Model"),
        Series(GATE_NAMESPACE, "CostUsd", frozenset({"CostCenter"})),
    ]
    assert missing_breakdowns(series, ["CostUsd"], ["Model", "CostCenter"]) == [
        "no SEARCH of CostUsd by CostCenter"  # a plain metric array is not a search
    ]


def test_service_value_problems_finds_a_literal_service() -> None:
    series = [
        Series(GATE_NAMESPACE, "TotalRequests", frozenset({SERVICE}), {SERVICE: "token-gate"}),
        Series(GATE_NAMESPACE, "Locks", frozenset({SERVICE}), {SERVICE: GATE_SERVICE}),
    ]
    assert service_value_problems(series, GATE_NAMESPACE, GATE_SERVICE) == [
        f"TotalRequests: service = 'token-gate', expected {GATE_SERVICE!r}"
    ]


def test_namespace_problems_finds_a_literal_namespace() -> None:
    series = [
        _search("CostUsd", "Model", namespace="GenAIRateLimiting"),
        _search("X", namespace="AWS/Bedrock"),
    ]
    assert namespace_problems(series) == [
        "CostUsd: namespace 'GenAIRateLimiting' is neither an input nor an AWS namespace"
    ]
    dashboard = {
        "dashboard_x": {"expression": "SEARCH('{\"GenAIRateLimiting\",Model}', 'Sum', 300)"}
    }
    assert literal_namespace_problems(dashboard, ["GenAIRateLimiting"]) != []


def test_metric_arrays_reads_dimensions_and_skips_options() -> None:
    dashboard = {
        "dashboard_w": {"metrics": [["ns", "M", "service", "s", {"label": "x"}], [{"id": "e"}]]}
    }
    assert metric_arrays(dashboard) == [Series("ns", "M", frozenset({"service"}), {"service": "s"})]


def test_enforcer_counters_reads_count_and_count_by() -> None:
    source = (
        "from bedrock_guard.enforcer import metrics as em\n"
        "REASON = 'Reason'\n"
        "em.count(em.LOCKS)\n"
        "em.count_by(em.REFUSED, REASON, 'protected')\n"
        "em.count_by(em.DRY_RUN, 'Action', 'lock')\n"
        "other.count(em.RELEASES)\n"
    )
    assert enforcer_counters(source) == {
        enforcer_metrics.LOCKS: frozenset({SERVICE}),
        enforcer_metrics.REFUSED: frozenset({"Reason", SERVICE}),
        enforcer_metrics.DRY_RUN: frozenset({"Action", SERVICE}),
    }
    with pytest.raises(ValueError, match="cannot resolve"):
        enforcer_counters("from bedrock_guard.enforcer import metrics as m\nm.count(name)\n")


def test_environment_problems_finds_unknown_unset_and_conditional_names() -> None:
    expression = (
        '${merge({USAGE_TABLE_NAME = "t", FOO_BAR = "x", POWERTOOLS_LOG_LEVEL = "INFO"}, '
        "{for n, v in {TIER_LIMITS_JSON = var.t} : n => v if v != null}, local.extra)}"
    )
    always, anywhere = environment_names(expression, {"extra": "${{MAX_OUTPUT_TOKENS = 1}}"})
    assert always == {"USAGE_TABLE_NAME", "FOO_BAR", "POWERTOOLS_LOG_LEVEL", "MAX_OUTPUT_TOKENS"}
    assert anywhere == always | {"TIER_LIMITS_JSON"}
    problems = environment_problems(
        always,
        anywhere,
        ["USAGE_TABLE_NAME", "TIER_LIMITS_JSON", "MAX_OUTPUT_TOKENS", "MAX_REQUEST_BYTES"],
        ["USAGE_TABLE_NAME", "TIER_LIMITS_JSON", "MODEL_ALIASES_JSON"],
    )
    assert problems == [
        "FOO_BAR is set but neither the gate nor Powertools reads it",
        "required TIER_LIMITS_JSON is not always set",
        "required MODEL_ALIASES_JSON is not always set",
        "MAX_REQUEST_BYTES is read by the gate but the module cannot set it",
    ]


def test_unknown_messages_finds_a_message_no_code_writes() -> None:
    dashboard = {
        "dashboard_q": 'SOURCE \'g\' | filter message = \\"gone away\\" or message in [\\"kept\\"]'
    }
    assert queried_messages(dashboard) == {"gone away", "kept"}
    assert unknown_messages(queried_messages(dashboard), {"kept"}) == [
        "no log call writes 'gone away'"
    ]


def test_hcl_bounds_reads_numbers_and_fails_without_a_rule() -> None:
    conditions = [
        "${var.gate_settings.a == null ? true : "
        "var.gate_settings.a >= 2 && var.gate_settings.a <= 9}",
        "${var.gate_settings.b >= 1 && var.gate_settings.b <= coalesce(var.x, 4)}",
    ]
    assert hcl_bounds(conditions, "a") == (2, 9)
    assert hcl_bounds(conditions, "b") == (1, None)
    with pytest.raises(LookupError):
        hcl_bounds(conditions, "c")


def test_optional_default_reads_a_string_default() -> None:
    expression = '${object({name = optional(string, "svc"), other = optional(string)})}'
    assert optional_default(expression, "name") == "svc"
    assert optional_default(expression, "other") is None


def test_grid_problems_finds_an_overlap_and_a_widget_off_the_grid() -> None:
    row = [Placed("metric", 0, 33, 8, 6), Placed("metric", 8, 33, 8, 6)]
    assert grid_problems(row) == []
    assert grid_problems([*row, Placed("log", 12, 38, 12, 6)]) == [
        "metric at x=8 y=33 (8x6) overlaps log at x=12 y=38 (12x6)"
    ]
    assert grid_problems([Placed("log", 16, 0, 12, 6)]) == [
        "log at x=16 y=0 (12x6) does not fit the 24 columns"
    ]


def test_query_sources_and_meter_wiring_find_the_wrong_group() -> None:
    assert query_sources({"q": "SOURCE '/aws/lambda/x' | fields @message"}) == {"/aws/lambda/x"}
    environment = TfModule(path=REPO / "environments" / "probe")
    environment.modules = {
        "usage_meter": ENVIRONMENTS[0].modules["usage_meter"],
        "aip_tenant": ENVIRONMENTS[0].modules["aip_tenant"],
    }
    meter_output = "${one(module.usage_meter[*].invocation_log_group_name)}"
    for value, problems in (
        (meter_output, 0),
        ("${module.usage_meter[0].invocation_log_group_name}", 0),
        ("${module.aip_tenant.invocation_log_group_name}", 1),  # the group, not the subscription
        ("${one(module.usage_meter[*].log_group_name)}", 1),  # the meter's own log group
        ("/aws/bedrock/model-invocations", 1),
    ):
        environment.modules["token_gate"] = Labeled(
            "module", ("token_gate",), {"dashboard": {"invocation_log_group_name": value}}, REPO
        )
        found = meter_wiring_problems(
            environment, "invocation_log_group_name", "invocation_log_group_name"
        )
        assert len(found) == problems, (value, found)


def test_metric_emitters_finds_a_metric_added_outside_the_metrics_module(tmp_path: Path) -> None:
    handler = tmp_path / "handler.py"
    handler.write_text("metrics.add_metric(name='Extra', unit='Count', value=1)\n")
    quiet = tmp_path / "quiet.py"
    quiet.write_text("record_delivery(metrics, rejected=0, report=report)\n")
    assert metric_emitters([handler, quiet]) == ["handler.py"]
