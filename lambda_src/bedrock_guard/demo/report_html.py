"""The HTML report of a demo run, drawn by the CLI's one renderer
(:mod:`bedrock_guard.cli.html_report`): per caller, today's and the month's spend against its
limits with its locks on the same day axis, then the demo's findings, story, lock ledger, the
deny policy and the settings read from the Terraform configuration. No script, no CDN.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bedrock_guard.cli.formats import common_account, short_principal
from bedrock_guard.cli.html_report import CallerSpend, Section, SpendReport
from bedrock_guard.cli.html_report import render as render_page
from bedrock_guard.cli.lock_history import lock_spans, parse_time
from bedrock_guard.demo.result import CallerReport, DemoResult, LedgerEvent, LockView, amount


def _view(view: LockView | None) -> str:
    """``attached\\n403 Locked``: the deny policy and the gate's answer at one moment."""
    if view is None:
        return "-"
    answer = view.answer
    policy = "attached" if view.attached else "detached"
    return f"{policy}\n{answer.status} {answer.code or ''}".rstrip()


def _history(principal: str, ledger: list[LedgerEvent]) -> list[dict[str, Any]]:
    """The demo's ledger rows of one principal, as the table's history items."""
    return [
        {
            "sk": {"S": f"EVENT#{event.at}#{index}"},
            "action": {"S": event.action},
            "alarm_arn": {"S": event.alarm},
            "alarm_name": {"S": event.alarm},
            "holder": {"S": event.holder},
        }
        for index, event in enumerate(ledger)
        if event.principal == principal
    ]


def _direct(report: CallerReport) -> str:
    """``direct: 102,900 tokens, $0.13 in 25 calls (metered)``."""
    return (
        f"direct: {report.direct_tokens:,} tokens, {amount(report.direct_usd)} in "
        f"{report.direct_calls} calls (metered from Bedrock's invocation log)"
    )


def _today(result: DemoResult) -> datetime:
    """The day of the run: that of its ledger, else the clock's."""
    for event in result.ledger:
        if (moment := parse_time(event.at)) is not None:
            return moment.astimezone(UTC)
    return datetime.now(UTC)


def spend_report(result: DemoResult) -> SpendReport:
    """The page's content from what the demo observed."""
    today = _today(result)
    account = result.account or common_account(r.principal for r in result.callers)
    callers = tuple(
        CallerSpend(
            name=r.name,
            principal=r.principal,
            tier=r.tier,
            tenant=r.tenant or None,
            limits=r.limits,
            # A fresh table: the month so far is today.
            days={today.day: (r.day_tokens, r.day_usd)}
            if r.day_tokens or r.day_usd
            else {today.day: (r.month_tokens, r.month_usd)},
            state=f"{short_principal(r.principal, account)}; {r.state}"
            + (f"; {r.lock_story}" if r.lock_story else "")
            + (f"; {_direct(r)}" if r.direct_calls else ""),
            locks=lock_spans(_history(r.principal, result.ledger)),
        )
        for r in result.callers
    )
    sections = [
        Section(
            "Callers",
            (
                "caller",
                "tier",
                "part",
                "gate answers",
                "tokens today",
                "USD today",
                "of which direct\n(metered from\nBedrock's log)",
                "state",
            ),
            [
                (
                    r.name,
                    r.tier,
                    r.role,
                    "\n".join(f"{n} x {s}" for s, n in sorted(r.statuses.items())),
                    f"{r.day_tokens:,}",
                    amount(r.day_usd),
                    f"{r.direct_tokens:,} tokens\n{amount(r.direct_usd)}\n{r.direct_calls} calls"
                    if r.direct_calls
                    else "-",
                    f"{r.state}\n{r.lock_story}" if r.lock_story else r.state,
                )
                for r in result.callers
            ],
            numeric=(4, 5),
        ),
        Section("What happened", ("who", "what"), [(s.actor, s.text) for s in result.steps]),
        Section(
            "Lock ledger",
            ("time (UTC)", "principal", "action", "alarm or holder", "reason"),
            [
                (
                    e.at,
                    short_principal(e.principal, account),
                    e.action,
                    e.alarm or e.holder,
                    e.reason,
                )
                for e in result.ledger
            ],
        ),
    ]
    if result.policy is not None:
        p = result.policy
        sections.append(
            Section(
                f"IAM policy attached while locked: {p.name}",
                ("IAM identity", "locked by alarm", "while locked:\npolicy, gate", "after OK"),
                [
                    (
                        lock.identity,
                        "\n".join(lock.alarms),
                        _view(lock.while_locked),
                        _view(lock.after_ok),
                    )
                    for lock in result.locks
                ],
            )
        )
        sections.append(
            Section(
                "Its statements",
                ("effect", "actions", "resources"),
                [
                    (effect, "\n".join(actions), "\n".join(resources))
                    for effect, actions, resources in p.statements
                ],
            )
        )
    sections.append(
        Section(
            "Read from the Terraform configuration",
            ("setting", "value", "read from"),
            [(f.label, f.value, f.source) for f in result.facts],
        )
    )
    mode = "quick" if result.quick else "full"
    return SpendReport(
        title="bedrock-cost-guard demo: spend against budget per caller",
        subtitle=f"{mode} run on a local AWS (moto server) and a Bedrock stand-in, account "
        f"{result.account}, {result.region}; {result.seconds:.1f} s.",
        year=today.year,
        month=today.month,
        today=today.day,
        callers=callers,
        sections=tuple(sections),
        bullets=tuple((c.holds, c.text) for c in result.claims),
        notes=(
            "Amounts are the token gate's accounting, in US dollars rounded to at most six "
            "decimals.",
        ),
    )


def render(result: DemoResult) -> str:
    """The whole report as one HTML document."""
    return render_page(spend_report(result))


def write_report(result: DemoResult, path: Path) -> Path:
    """Write the report; the resolved path."""
    path = path.resolve()
    path.write_text(render(result), encoding="utf-8")
    return path
