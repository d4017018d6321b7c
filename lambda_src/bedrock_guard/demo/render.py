"""The demo on a terminal: live progress while traffic runs, then tables, in colour when the
terminal supports it (rich decides: no colour when output is not a TTY or ``NO_COLOR`` is set).

Everything printed comes from the :class:`~.result.DemoResult` (and the steps it records as they
happen), which is what the tests assert on.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from decimal import Decimal
from typing import IO, Final

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from bedrock_guard.core.accounting import Window
from bedrock_guard.demo.result import (
    BEDROCK,
    CLOUDWATCH,
    DEMO,
    GATE,
    IAM,
    LAMBDA,
    METER,
    CallerReport,
    DemoResult,
    LockView,
    Step,
    amount,
    number,
    short_principal,
)

PLAIN_WIDTH: Final = 110
ACTOR_STYLES: Final = {
    DEMO: "bold blue",
    GATE: "bold green",
    BEDROCK: "bold magenta",
    IAM: "bold red",
    CLOUDWATCH: "bold yellow",
    LAMBDA: "bold cyan",
    METER: "bold green",
}
STATUS_STYLES: Final = {200: "green", 429: "yellow", 403: "red"}


def make_console(file: IO[str] | None = None) -> Console:
    """A console on ``file`` (stdout by default), bound now: handlers' output never reaches it."""
    stream = file or sys.stdout
    terminal = stream.isatty()
    width = None if terminal else int(os.environ.get("COLUMNS", PLAIN_WIDTH))
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


class TerminalReporter:
    """Prints each step as it happens and a progress line per traffic phase."""

    def __init__(self, console: Console, *, verbose: bool = False) -> None:
        self.console = console
        self.verbose = verbose
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._counts: Counter[int | None] = Counter()

    def started(self, moto_url: str, stub_url: str) -> None:
        self.console.rule("bedrock-cost-guard demo: the control loop on a local AWS")

    def step(self, step: Step) -> None:
        style = ACTOR_STYLES.get(step.actor, "bold")
        text = Text.assemble((f"{step.actor}: ", style), step.text)
        if self.verbose:
            self.console.print(text)
        else:  # one line a step; --verbose for the whole text
            self.console.print(text, no_wrap=True, overflow="ellipsis")

    def phase(self, key: str, title: str, total: int) -> None:
        self._counts = Counter()
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("{task.fields[statuses]}"),
            TimeElapsedColumn(),
            console=self.console,
            disable=not self.console.is_terminal,
        )
        self._progress.start()
        self._task = self._progress.add_task(title, total=total, statuses="")

    def advance(self, key: str, status: int | None) -> None:
        if self._progress is None or self._task is None:
            return
        self._counts[status] += 1
        shown = "  ".join(
            f"{count} x {code}" for code, count in sorted(self._counts.items(), key=str) if code
        )
        self._progress.update(self._task, advance=1, statuses=shown)

    def phase_done(self, key: str) -> None:
        if self._progress is None or self._task is None:
            return
        done = self._progress.tasks[0].completed
        self._progress.update(self._task, total=done)
        self._progress.stop()
        self._progress = self._task = None

    def provisioned(self, result: DemoResult) -> None:
        """The configuration read back from what Terraform deployed (--verbose only)."""
        if self.verbose:
            render_configuration(self.console, result)


def render_configuration(console: Console, result: DemoResult) -> None:
    table = Table(title="environments/dev as terraform apply deployed it", title_justify="left")
    table.add_column("setting", style="bold")
    table.add_column("value")
    table.add_column("read from", style="dim")
    for fact in result.facts:
        table.add_row(fact.label, fact.value, fact.source)
    console.print(table)
    console.print(Text("terraform apply on the local endpoint:", style="bold"))
    for line in result.provisioned:
        console.print(f"  - {line}")
    console.print(Text("The demo's only additions to the functions' environment:", style="bold"))
    for name, value in result.local_settings:
        console.print(f"  - {name} = {value}")


def _limit(value: int | Decimal | None) -> str:
    return "-" if value is None else amount(value)


def _percent(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _statuses(report: CallerReport) -> Text:
    text = Text()
    for status, count in sorted(report.statuses.items()):
        if text:
            text.append("  ")
        text.append(f"{count} x {status}", style=STATUS_STYLES.get(status, "bold red"))
    return text


def callers_table(result: DemoResult) -> Table:
    table = Table(title="Callers today (UTC)", title_justify="left")
    table.add_column("caller, tier")
    table.add_column("part in the story")
    for status in (200, 429, 403):
        table.add_column(str(status), justify="right", style=STATUS_STYLES[status])
    table.add_column("tokens today / limit", justify="right")
    table.add_column("USD today / limit", justify="right")
    table.add_column("used", justify="right")
    table.add_column("state")
    for report in result.callers:
        limits = report.limits
        state_style = {"locked": "red", "daily budget exhausted": "yellow"}.get(
            report.state, "green"
        )
        part = report.role
        if report.direct_calls:
            part += (
                f" (+{report.direct_calls} direct calls: {report.direct_tokens:,} tokens, "
                f"{amount(report.direct_usd)}, metered)"
            )
        state = Text(report.state, style=state_style)
        if report.lock_story:
            state.append(f"\n({report.lock_story})", style="dim")
        table.add_row(
            Text.assemble((report.name, "bold"), (f"\n{report.tier}, {report.kind}", "dim")),
            part,
            *(str(report.statuses.get(status, 0)) for status in (200, 429, 403)),
            f"{report.day_tokens:,} / {_limit(limits.of(Window.DAILY_TOKENS))}",
            f"{amount(report.day_usd)} / {_limit(limits.of(Window.DAILY_USD))}",
            _percent(report.used_percent),
            state,
        )
    return table


def render_result(console: Console, result: DemoResult, *, verbose: bool = False) -> None:
    """Everything after the traffic: tables (``verbose``), log counts, the claims (one line
    each unless ``verbose``), where the report is."""
    if verbose:
        _tables(console, result)
    _logs(console, result)
    console.rule("What the demo showed")
    for claim in result.claims:
        mark = Text("✓ ", style="bold green") if claim.holds else Text("✗ ", style="bold red")
        if verbose or not claim.holds:
            console.print(Text.assemble(mark, claim.text))
        else:
            console.print(Text.assemble(mark, claim.text), no_wrap=True, overflow="ellipsis")
    if result.report_path is not None:
        console.print(f"HTML report: {result.report_path}")
    mode = "quick" if result.quick else "full"
    verdict = "all claims hold" if result.all_hold else "SOME CLAIMS DO NOT HOLD"
    more = "" if verbose else " (--verbose: every table and claim in full)"
    console.print(f"Done in {result.seconds:.1f} s ({mode} run): {verdict}.{more}")


def _tables(console: Console, result: DemoResult) -> None:
    console.print(callers_table(result))
    if result.burst is not None:
        b = result.burst
        console.print(
            f"Burst: {b.requests} requests from {b.caller} in {b.processes} containers at once: "
            f"{b.granted} x 200, {b.refused} x 429; charged {amount(b.charged)} of "
            f"{amount(b.limit)} {b.window}; Bedrock stand-in calls {b.stub_calls}."
        )
    _meter(console, result)
    _transitions(console, result)
    _ledger(console, result)
    _policy(console, result)


def _meter(console: Console, result: DemoResult) -> None:
    """What the usage meter made of the invocation log, delivery by delivery, summed."""
    if not result.meter_runs:
        return
    verdicts: Counter[str] = Counter()
    for run in result.meter_runs:
        verdicts.update(run.verdicts)
    counts = ", ".join(f"{n} {verdict}" for verdict, n in sorted(verdicts.items()))
    console.print(
        f"Usage meter: {len(result.meter_runs)} deliveries of the invocation log, "
        f"{sum(r.records for r in result.meter_runs)} records ({counts}); the stand-in wrote "
        f"{result.records_written} records for the {result.stub_calls_ok} calls it answered."
    )
    notebook = result.notebook
    if notebook is not None and notebook.latency_s is not None:
        read = notebook.delivery_s or 0.0
        console.print(
            f"Notebook: {notebook.calls} direct calls, {notebook.tokens:,} tokens of a "
            f"{notebook.limit:,}-token day; locked on call {notebook.crossing_call}'s record "
            f"{notebook.latency_s:.3f} s after its PutLogEvents: {read:.3f} s until the played "
            f"subscription read it (the group read every {notebook.poll_interval_s} s), "
            f"{notebook.latency_s - read:.3f} s in the meter's invocation; "
            f"{notebook.deliveries} meter invocations while it ran."
        )


def _transitions(console: Console, result: DemoResult) -> None:
    table = Table(
        title="Alarm state changes (evaluated by the demo as CloudWatch would)",
        title_justify="left",
    )
    table.add_column("time (UTC)")
    table.add_column("alarm", overflow="fold")
    table.add_column("change")
    table.add_column("value")
    table.add_column("notified topic", overflow="fold")
    for t in result.transitions:
        value = (
            f"{number(t.observed)} {t.comparison} {number(t.threshold)}"
            if t.observed is not None
            else "no datapoints"
        )
        style = "red" if t.new_state == "ALARM" else "green"
        table.add_row(
            f"{t.at:%H:%M:%S}",
            t.alarm_name,
            Text(f"{t.old_state} -> {t.new_state}", style=style),
            value,
            "\n".join(topic.rsplit(":", 1)[-1] for topic in t.topics) or "-",
        )
    console.print(table)


def _ledger(console: Console, result: DemoResult) -> None:
    table = Table(title="Lock ledger (history items in the table)", title_justify="left")
    table.add_column("time (UTC)")
    table.add_column("principal")
    table.add_column("action")
    table.add_column("alarm or holder", overflow="fold")
    table.add_column("reason", overflow="ellipsis", no_wrap=True, max_width=40)
    for event in result.ledger:
        style = "red" if event.action in ("lock", "window_lock") else "green"
        table.add_row(
            event.at[11:19],
            short_principal(event.principal),
            Text(event.action, style=style),
            event.alarm or event.holder,
            event.reason,
        )
    console.print(table)


def _answer(view: LockView | None) -> Text:
    if view is None:
        return Text("-")
    answer = view.answer
    return Text(
        f"{answer.status} {answer.code or ''}".rstrip(),
        style=STATUS_STYLES.get(answer.status, "bold red"),
    )


def _attached(view: LockView | None) -> Text:
    if view is None:
        return Text("-")
    return Text("attached", style="red") if view.attached else Text("detached", style="green")


def _policy(console: Console, result: DemoResult) -> None:
    """Every principal the enforcer locked: the deny policy on its IAM identity and the gate's
    answer while locked and after OK; then the policy's statements."""
    policy = result.policy
    if policy is None:
        return
    console.print(
        Text.assemble(
            ("IAM policy attached while locked: ", "bold"),
            f"{policy.name} on {', '.join(policy.attached_to) or '(nobody)'}",
        )
    )
    locks = Table()
    locks.add_column("IAM identity", overflow="fold")
    locks.add_column("locked by alarm", overflow="fold")
    locks.add_column("while locked: policy, gate")
    locks.add_column("after OK: policy, gate")
    for lock in result.locks:
        locks.add_row(
            lock.identity,
            "\n".join(lock.alarms),
            Text.assemble(_attached(lock.while_locked), ", ", _answer(lock.while_locked)),
            Text.assemble(_attached(lock.after_ok), ", ", _answer(lock.after_ok)),
        )
    console.print(locks)
    table = Table(title=f"{policy.name} (as IAM stores it)", title_justify="left")
    for column in ("effect", "actions", "resources"):
        table.add_column(column)
    for effect, actions, resources in policy.statements:
        table.add_row(Text(effect, style="red"), "\n".join(actions), "\n".join(resources))
    console.print(table)


def _logs(console: Console, result: DemoResult) -> None:
    for function, levels in result.log_levels.items():
        counts = ", ".join(f"{count} {level}" for level, count in sorted(levels.items()))
        console.print(
            f"Log of {function} (kept in memory, as CloudWatch Logs keeps it): {counts or 'empty'}"
        )
        for message in result.log_problems.get(function, ()):
            style = "red" if message.startswith("ERROR") else "yellow"
            console.print(Text(f"  {message}", style=style), no_wrap=True, overflow="ellipsis")
