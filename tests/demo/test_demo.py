"""The demo's whole story in quick mode, and every claim it prints, checked on its own evidence.

One run (module-scoped: it takes some seconds) against moto server and the Bedrock stand-in,
with the real handlers. Each test below re-derives a claim from the raw observations in the
result (answers, usage items, IAM attachments, call counts), so a claim that were merely
printed, or computed wrongly, fails here.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bedrock_guard.cli.formats import usd
from bedrock_guard.demo.render import TerminalReporter, make_console, render_result
from bedrock_guard.demo.result import (
    CLOUDWATCH,
    LAMBDA,
    CallerReport,
    DemoResult,
    alarm_principals,
)
from bedrock_guard.demo.run import run_demo
from bedrock_guard.demo.scenario import Options

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoResult]:
    report = tmp_path_factory.mktemp("demo") / "demo-report.html"
    build = tmp_path_factory.mktemp("terraform")
    yield run_demo(Options(quick=True, build_dir=build), report_path=report)


@pytest.fixture(scope="module")
def printed(run: DemoResult) -> str:
    buffer = io.StringIO()
    render_result(make_console(buffer), run, verbose=True)
    return buffer.getvalue()


def test_every_claim_holds(run: DemoResult) -> None:
    assert run.claims
    failing = [claim.text for claim in run.claims if not claim.holds]
    assert not failing


def test_every_claim_is_printed_without_colour_codes(printed: str, run: DemoResult) -> None:
    flat = " ".join(printed.split())
    for claim in run.claims:
        assert "✓ " + " ".join(claim.text.split()) in flat
    assert "\x1b[" not in printed  # not a terminal: no colour
    assert "all claims hold" in printed


def test_the_exhausted_caller_got_429_for_its_budget_and_nothing_past_it(run: DemoResult) -> None:
    exhaust = run.exhaust
    assert exhaust is not None
    answers = [a for a in run.answers if a.phase == "exhaust"]
    refused = [a for a in answers if a.status == 429]
    assert refused
    assert {a.code for a in refused} == {"BudgetExceeded"}
    assert all("daily_tokens budget exceeded" in a.message for a in refused)
    # Once refused, it stays refused: the budget does not come back within the day.
    first = next(i for i, a in enumerate(answers) if a.status == 429)
    assert all(a.status == 429 for a in answers[first:])
    report = next(c for c in run.callers if c.name == exhaust.caller)
    assert report.day_tokens <= report.limits.daily_tokens  # type: ignore[operator]
    assert report.day_tokens == report.tokens_answered  # exactly what the 200s reported
    assert exhaust.stub_calls == exhaust.granted


def test_the_burst_never_overspent_and_only_granted_requests_reached_bedrock(
    run: DemoResult,
) -> None:
    burst = run.burst
    assert burst is not None
    answers = [a for a in run.answers if a.phase == "burst"]
    assert len(answers) == burst.requests
    granted = [a for a in answers if a.status == 200]
    refused = [a for a in answers if a.status == 429]
    assert granted and refused  # the budget was really fought over
    assert len(granted) + len(refused) == len(answers)
    assert burst.charged <= burst.limit
    assert burst.unsettled == 0
    assert burst.stub_calls == len(granted)
    assert burst.charged_tokens_delta == sum(a.tokens for a in granted)
    assert burst.processes > 1


def test_what_each_caller_was_charged_is_exactly_what_its_answers_reported(
    run: DemoResult,
) -> None:
    """Through the gate: what its 200s reported; directly: what Bedrock answered the caller,
    as the usage meter counted it from the invocation log. One budget, whatever the path."""
    for caller in run.callers:
        assert caller.day_tokens == caller.tokens_answered + caller.direct_tokens_answered, (
            caller.name
        )
        assert caller.direct_tokens == caller.direct_tokens_answered, caller.name
        # Exact decimals: the gate's charges and the meter's, nothing else.
        assert caller.day_usd == caller.cost_answered + caller.direct_usd, caller.name
        assert caller.requests == sum(1 for a in run.answers if a.caller == caller.name)
    direct = {c.name for c in run.callers if c.direct_calls}
    assert run.bypass is not None and run.notebook is not None
    assert direct == {run.bypass.caller, run.notebook.caller}


def test_bedrock_was_only_called_for_granted_requests_or_the_declared_bypass(
    run: DemoResult,
) -> None:
    granted = sum(1 for a in run.answers if a.status == 200)
    assert run.stub_calls_total == granted + run.stub_calls_direct
    assert run.bypass is not None and run.notebook is not None
    assert run.bypass.calls + run.notebook.calls == run.stub_calls_direct
    assert run.bypass.output_tokens >= run.bypass.threshold


def by_name(run: DemoResult) -> dict[str, CallerReport]:
    return {caller.name: caller for caller in run.callers}


def locked_callers(run: DemoResult) -> set[str]:
    """The callers whose part spends their budget or bypasses the gate: the story's locks."""
    return {c.name for c in run.callers if c.part in ("exhaust", "bypass")}


def test_the_exhausted_callers_budget_alarm_and_the_tenant_alarm_fired_and_cleared(
    run: DemoResult,
) -> None:
    assert run.exhaust is not None
    exhausted = by_name(run)[run.exhaust.caller]
    # The lockout alarms: those that notify somebody. The enforcer's own health alarms (lock
    # drift, incomplete locks) notify the operators' topics, which the dev environment leaves
    # empty; their first evaluation is recorded too, and is not part of this story.
    lockout = [t for t in run.transitions if t.topics]
    fired = [t for t in lockout if (t.old_state, t.new_state) == ("OK", "ALARM")]
    cleared = [t for t in lockout if (t.old_state, t.new_state) == ("ALARM", "OK")]
    assert len(lockout) == len(fired) + len(cleared)
    assert all(t.new_state != "ALARM" for t in run.transitions if not t.topics)
    assert {t.alarm_arn for t in fired} == {t.alarm_arn for t in cleared}
    namespaces = {t.message["Trigger"]["Namespace"]: t for t in fired}
    assert len(namespaces) == len(fired) == 2
    budget, tenant = namespaces["GenAIRateLimiting"], namespaces["AWS/Bedrock"]
    assert alarm_principals(budget) == (exhausted.principal,)
    assert budget.message["Trigger"]["MetricName"] == "CallerBudgetUsedPercent"
    assert budget.threshold in exhausted.alarm_thresholds
    assert exhausted.used_percent is not None
    assert budget.observed == pytest.approx(float(exhausted.used_percent), abs=0.01)
    assert tenant.message["Trigger"]["MetricName"] == "OutputTokenCount"
    for t in fired:
        assert t.observed is not None and t.observed >= t.threshold
        assert t.message["NewStateValue"] == "ALARM"
        assert t.message_ids  # published to the real topic
    assert all(t.message_ids for t in cleared)


def test_the_enforcer_locked_and_released_exactly_the_principals_the_alarms_named(
    run: DemoResult,
) -> None:
    callers = by_name(run)
    principals = {callers[name].principal for name in locked_callers(run)}
    fired = {t.alarm_arn for t in run.transitions if t.new_state == "ALARM"}
    assert [(r.state, r.records) for r in run.enforcer_runs] == [("ALARM", 2), ("OK", 2)]
    alarm_run, ok_run = run.enforcer_runs
    assert {(o.principal, o.outcome) for o in alarm_run.outcomes} == {
        (p, "locked") for p in principals
    }
    assert {(o.principal, o.outcome) for o in ok_run.outcomes} == {
        (p, "released") for p in principals
    }
    assert {o.alarm_arn for o in alarm_run.outcomes} == fired


def test_no_alarm_watches_the_api_key_user_and_nothing_was_refused(
    run: DemoResult, printed: str
) -> None:
    assert run.burst is not None
    acme = by_name(run)[run.burst.caller]
    assert acme.kind == "API key"
    assert acme.alarms is False
    assert acme.alarm_thresholds == ()
    assert acme.used_percent is not None and acme.used_percent >= 95  # an alarm would fire
    named = {p for t in run.transitions for p in alarm_principals(t)}
    assert acme.principal not in named
    assert all(o.principal != acme.principal for r in run.enforcer_runs for o in r.outcomes)
    assert acme.lock_actions == ()
    assert acme.statuses.get(403, 0) == 0
    steps = " ".join(step.text for step in run.steps)
    assert "refused (" not in steps
    assert "refused (" not in printed
    facts = {fact.label: fact for fact in run.facts}
    assert f"none for: {acme.name} (alarms = false" in facts["caller alarms"].value


def test_every_locked_principal_had_the_deny_policy_only_while_locked(run: DemoResult) -> None:
    policy = run.policy
    assert policy is not None
    actions = {action for _, actions, _ in policy.statements for action in actions}
    assert {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"} <= actions
    assert {lock.caller for lock in run.locks} == locked_callers(run)
    assert set(policy.attached_to) == {lock.identity for lock in run.locks}
    fired = {t.alarm_arn: t for t in run.transitions if t.new_state == "ALARM"}
    for lock in run.locks:
        assert lock.identity.endswith(f"/{lock.caller}")
        during, after = lock.while_locked, lock.after_ok
        assert during.attached
        assert during.holders == lock.alarm_arns
        assert [fired[arn].alarm_name for arn in lock.alarm_arns] == list(lock.alarms)
        assert (during.answer.status, during.answer.code) == (403, "Locked")
        assert after is not None
        assert not after.attached
        assert after.holders == ()
        history = [e.action for e in run.ledger if e.principal == lock.principal]
        assert history == ["lock", "release"]
        assert by_name(run)[lock.caller].lock_story == "locked, then released"
    notebook = {c.principal for c in run.callers if c.part == "direct"}
    assert {e.principal for e in run.ledger} == {lock.principal for lock in run.locks} | notebook


def test_release_answers_200_to_the_tenant_principal_and_429_to_the_spent_budget(
    run: DemoResult,
) -> None:
    assert run.exhaust is not None and run.bypass is not None
    locks = {lock.caller: lock for lock in run.locks}
    exhausted = locks[run.exhaust.caller]
    assert exhausted.after_ok is not None
    answer = exhausted.after_ok.answer
    assert (answer.status, answer.code) == (429, "BudgetExceeded")
    assert "daily_tokens budget exceeded" in answer.message
    # Unlocking neither refunded nor charged anything: the day's usage is what it was.
    assert exhausted.after_ok.day_tokens == exhausted.while_locked.day_tokens
    assert exhausted.after_ok.day_tokens == run.exhaust.charged
    assert by_name(run)[run.exhaust.caller].state == "daily budget exhausted"
    bypass = locks[run.bypass.caller]
    assert bypass.after_ok is not None
    assert bypass.after_ok.answer.status == 200


def test_the_steady_caller_has_no_token_limit_and_was_always_served(run: DemoResult) -> None:
    steady = [c for c in run.callers if c.part == "steady"]
    assert [c.name for c in steady] == ["dana"]
    (dana,) = steady
    assert (dana.limits.daily_tokens, dana.limits.monthly_tokens) == (None, None)
    assert dana.kind == "IAM user"
    assert set(dana.statuses) == {200}
    assert dana.state == "serving"
    assert dana.lock_actions == ()


def test_the_played_parts_are_said_so(run: DemoResult, printed: str) -> None:
    actors = {step.actor for step in run.steps}
    assert {CLOUDWATCH, LAMBDA} <= actors
    assert any("published" in s.text for s in run.steps if s.actor == CLOUDWATCH)
    assert any("SNS delivered" in s.text for s in run.steps if s.actor == LAMBDA)


def test_nothing_the_handlers_logged_reached_the_terminal(printed: str, run: DemoResult) -> None:
    assert not re.search(r'^\{"(level|_aws)"', printed, re.M)
    assert sum(run.log_levels["bedrock-guard-dev-gate"].values()) > 0  # they were captured
    # Locking is worth a warning; an error is not expected.
    problems = [m for messages in run.log_problems.values() for m in messages]
    assert not [m for m in problems if not m.startswith("WARNING: ")], problems


def test_the_report_charts_spend_against_budget_for_every_caller(run: DemoResult) -> None:
    assert run.report_path is not None
    html = Path(run.report_path).read_text()
    assert "<script" not in html
    assert not re.search(r"(src|href)\s*=", html)  # nothing is fetched from anywhere
    for caller in run.callers:
        group = re.search(
            rf'<svg[^>]*data-caller="{re.escape(caller.name)}"[^>]*>(.*?)</svg>', html, re.S
        )
        assert group is not None, caller.name
        chart = group.group(1)
        # Daily bars and the month-to-date line, each against its limit where there is one.
        assert chart.count('class="spend"') >= 1
        # The daily window in the unit closer to its limit (dollars or tokens), if limited.
        limits = caller.limits
        drawn = [
            f"(limit {text})"
            for text in (
                None if limits.daily_usd is None else usd(limits.daily_usd),
                None if limits.daily_tokens is None else f"{limits.daily_tokens:,}",
            )
            if text is not None
        ] or ["(no limit)"]
        assert any(text in chart for text in drawn), (caller.name, drawn)
        if caller.lock_story:
            assert 'class="lock"' in chart


def test_the_printed_tables_show_every_lock(
    run: DemoResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # one line per table row
    buffer = io.StringIO()
    render_result(make_console(buffer), run, verbose=True)
    printed = buffer.getvalue()
    assert run.policy is not None
    assert run.locks
    identities = ", ".join(lock.identity for lock in run.locks)
    assert f"IAM policy attached while locked: {run.policy.name} on {identities}" in printed
    for lock in run.locks:
        assert lock.after_ok is not None
        after = f"{lock.after_ok.answer.status} {lock.after_ok.answer.code or ''}".rstrip()
        row = rf"│ {re.escape(lock.identity)} +│ {re.escape(', '.join(lock.alarms))} +│ "
        row += rf"attached, 403 Locked +│ detached, {re.escape(after)} +│"
        assert re.search(row, printed), lock.caller


def test_the_configuration_was_deployed_by_terraform_apply(run: DemoResult) -> None:
    labels = {fact.label: fact for fact in run.facts}
    assert labels["callers"].source.endswith("(environments/dev leaves them to tfvars)")
    assert "terraform output tenant_profile_arns" in labels["tenants"].source
    assert labels["tiers"].source == "terraform output tier_limits_json"
    applied = [line for line in run.provisioned if "Apply complete!" in line]
    assert applied and ", 0 changed, 0 destroyed." in applied[0]
    assert any("handler bedrock_guard.token_gate.handler" in line for line in run.provisioned)


def test_the_default_output_is_a_compact_story(run: DemoResult) -> None:
    buffer = io.StringIO()
    reporter = TerminalReporter(make_console(buffer))
    reporter.started(run.moto_url, run.stub_url)
    for step in run.steps:
        reporter.step(step)
    reporter.provisioned(run)
    render_result(make_console(buffer), run)
    printed = buffer.getvalue()
    assert len(printed.splitlines()) <= 60, printed
    assert "Log of bedrock-guard-dev-gate" in printed  # the log counts, warnings included
    assert "Log of bedrock-guard-dev-meter" in printed
    assert "--verbose" in printed
    # The notebook's lock and how soon it came, on one line of the story.
    assert re.search(
        r"^usage meter: locked notebook \d+\.\d\d s after its \d+(st|nd|rd|th) record "
        r"reached the log group",
        printed,
        re.M,
    ), printed


def test_the_usage_meter_locked_the_notebook_the_gate_never_saw(run: DemoResult) -> None:
    notebook = run.notebook
    assert notebook is not None and notebook.view is not None
    claim = next(c for c in run.claims if c.text.startswith("the usage meter locked notebook"))
    assert claim.holds
    # It ran past its day and stopped there; the meter locked on the very call that passed it.
    assert notebook.used_before + notebook.tokens > notebook.limit
    assert notebook.crossing_call == notebook.calls > 1
    assert notebook.latency_s is not None and 0 < notebook.latency_s < 60
    view = notebook.view
    assert view.attached and notebook.identity.endswith(":role/notebook")
    (locked,) = [e for e in run.ledger if e.action == "window_lock"]
    today = locked.at[:10]  # the UTC day of the lock, the day its window covers
    assert view.holders == (f"window:daily_tokens:{today}",) == (notebook.holder,)
    assert (view.answer.status, view.answer.code) == (403, "Locked")
    assert view.day_tokens == notebook.used_before + notebook.tokens
    report = by_name(run)["notebook"]
    assert (report.part, report.kind, report.tier) == ("direct", "IAM role", "basic")
    assert report.statuses == {403: 1}  # it never went through the gate, bar the probe
    assert (report.state, report.lock_story) == ("locked", "locked by the usage meter")
    assert report.direct_calls == notebook.calls
    assert [e.action for e in run.ledger if e.principal == report.principal] == ["window_lock"]


def test_the_usage_meter_saw_every_bedrock_call_once(run: DemoResult) -> None:
    claim = next(c for c in run.claims if c.text.startswith("the usage meter saw every"))
    assert claim.holds
    granted = sum(1 for a in run.answers if a.status == 200)
    delivered = sum(r.records for r in run.meter_runs)
    assert delivered == run.records_written == run.stub_calls_ok == granted + run.stub_calls_direct
    assert run.record_failures == 0
    verdicts: dict[str, int] = {}
    for meter_run in run.meter_runs:
        assert meter_run.rejected == {}
        for verdict, count in meter_run.verdicts.items():
            verdicts[verdict] = verdicts.get(verdict, 0) + count
    assert verdicts == {"gate_settled": granted, "counted": run.stub_calls_direct}
    # Only the notebook was locked by the meter, once, on the record that took it over.
    locks = [entry for r in run.meter_runs for entry in r.locked if entry["outcome"] == "locked"]
    assert [entry["principal"] for entry in locks] == [by_name(run)["notebook"].principal]
