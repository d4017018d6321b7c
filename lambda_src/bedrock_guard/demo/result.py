"""What a demo run observed, and the claims it makes about it.

The scenario fills a :class:`DemoResult`; the terminal output, the HTML report and the tests all
read this one object, so what is printed is exactly what the tests assert. Every
:class:`Claim` is computed from observations (answers, DynamoDB items, IAM attachments, the
stand-in's call counts), never written down in advance.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Final

from bedrock_guard.cli.formats import tokens, usd
from bedrock_guard.core.accounting import Limits
from bedrock_guard.demo.cloudwatch_part import Transition
from bedrock_guard.demo.config import Fact

# How soon after its record reached the log group a direct caller over a limit must be locked.
ISSUE_LOCK_DEADLINE_S: Final = 60.0
DEMO: Final = "demo"
TERRAFORM: Final = "terraform"
GATE: Final = "token gate"
BEDROCK: Final = "Bedrock stand-in"
IAM: Final = "IAM"
CLOUDWATCH: Final = "CloudWatch's part, played by the demo"
LAMBDA: Final = "Lambda's part, played by the demo"
METER: Final = "usage meter"


@dataclass(frozen=True, slots=True)
class Step:
    """One line of the story: who did what."""

    actor: str
    text: str


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer of the gate."""

    caller: str
    phase: str
    status: int
    code: str | None = None
    tokens: int = 0
    cost: Decimal = Decimal(0)
    message: str = ""


@dataclass
class CallerReport:
    """One caller's day: what it sent, what it was answered, what it was charged."""

    name: str
    kind: str
    principal: str
    tier: str
    tenant: str
    part: str  # bypass, exhaust, burst or steady
    role: str  # the part, in words
    limits: Limits
    alarms: bool = True  # its alarms flag in the configuration
    alarm_thresholds: tuple[float, ...] = ()  # its budget alarms, percent
    statuses: Counter[int] = field(default_factory=Counter)
    tokens_answered: int = 0  # sum of usage.totalTokens in 200 answers
    cost_answered: Decimal = Decimal(0)
    day_tokens: int = 0  # charged, from the usage item
    day_usd: Decimal = Decimal(0)
    month_tokens: int = 0
    month_usd: Decimal = Decimal(0)
    used_percent: Decimal | None = None
    state: str = "serving"
    direct_calls: int = 0
    # Tokens of the answers to its direct calls (counted by the demo), and what the usage meter
    # counted as direct use from Bedrock's invocation log (the usage item's direct counters).
    direct_tokens_answered: int = 0
    direct_tokens: int = 0
    direct_usd: Decimal = Decimal(0)
    lock_actions: tuple[str, ...] = ()  # its ledger history: lock, release, ...

    @property
    def lock_story(self) -> str:
        """``locked, then released``, ``locked``, ``locked by the usage meter``, or nothing."""
        if "window_lock" in self.lock_actions and "lock" not in self.lock_actions:
            return "locked by the usage meter"
        if "lock" not in self.lock_actions:
            return ""
        return "locked, then released" if self.lock_actions[-1] == "release" else "locked"

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())


@dataclass(frozen=True, slots=True)
class ExhaustReport:
    caller: str
    window: str
    limit: int | Decimal
    granted: int
    refused: int
    refusal_codes: tuple[str, ...]
    first_refusal: str
    stub_calls: int
    charged: int | Decimal


@dataclass(frozen=True, slots=True)
class BurstReport:
    caller: str
    requests: int
    processes: int
    granted: int
    refused: int
    other: tuple[int, ...]
    window: str
    limit: int | Decimal
    charged: int | Decimal
    tokens_answered: int
    charged_tokens_delta: int
    stub_calls: int
    unsettled: int


@dataclass(frozen=True, slots=True)
class BypassReport:
    caller: str
    profile_arn: str
    calls: int
    output_tokens: int
    threshold: float
    tokens: int = 0  # totalTokens of the answers


@dataclass(frozen=True, slots=True)
class MeterRun:
    """One invocation of the usage meter with a delivery of the invocation log."""

    records: int  # log events delivered
    verdicts: dict[str, int]
    rejected: dict[str, int]
    locked: tuple[dict[str, str], ...]


@dataclass(frozen=True, slots=True)
class NotebookReport:
    """The notebook's run past its limit, and what the meter, IAM and the gate show after."""

    caller: str
    identity: str  # its IAM role ARN
    tier: str
    limit: int  # its daily tokens
    model: str
    calls: int
    tokens: int  # totalTokens of the answers
    used_before: int
    deliveries: int  # meter invocations while it ran
    crossing_call: int | None  # which call's record the meter locked on (1-based)
    latency_s: float | None  # from that record's PutLogEvents to the lock
    delivery_s: float | None  # of which until the played subscription had read it
    poll_interval_s: float
    holder: str  # the ledger holder its lock should carry
    view: LockView | None  # IAM, ledger, usage item and the gate's answer afterwards


@dataclass(frozen=True, slots=True)
class EnforcerOutcome:
    """What the enforcer did for one principal an alarm named."""

    alarm_arn: str
    principal: str
    outcome: str  # locked, released, refused, ...
    detail: str = ""


@dataclass(frozen=True, slots=True)
class EnforcerRun:
    """One invocation of the enforcer with the records Lambda handed it."""

    state: str
    records: int
    outcomes: tuple[EnforcerOutcome, ...]


@dataclass(frozen=True, slots=True)
class LockView:
    """A locked (or released) principal at one moment: its IAM identity, its ledger lock, and
    the gate's answer to a request of its usual kind."""

    attached: bool  # the deny policy is on the IAM user or role
    holders: tuple[str, ...]  # locked_by in the ledger (alarm ARNs); empty: not locked
    answer: Answer
    day_tokens: int  # charged today, from the usage item


@dataclass(frozen=True, slots=True)
class LockCheck:
    """A principal the enforcer locked: by which alarms, while locked, and after OK."""

    caller: str
    principal: str
    identity: str  # the IAM ARN the deny policy is attached to
    alarms: tuple[str, ...]  # names of the alarms whose ALARM locked it
    alarm_arns: tuple[str, ...]
    while_locked: LockView
    after_ok: LockView | None = None


@dataclass(frozen=True, slots=True)
class LedgerEvent:
    at: str
    principal: str
    action: str
    alarm: str
    reason: str
    holder: str = ""  # what a window_lock holds the principal by (the usage meter's window)


@dataclass(frozen=True, slots=True)
class PolicyReport:
    name: str
    arn: str
    attached_to: tuple[str, ...]  # the identities it was seen attached to while locked
    statements: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]  # effect, actions, res.


@dataclass(frozen=True, slots=True)
class Claim:
    text: str
    holds: bool


@dataclass
class DemoResult:
    """Everything the demo observed."""

    quick: bool
    facts: tuple[Fact, ...] = ()
    moto_url: str = ""
    stub_url: str = ""
    account: str = ""
    region: str = ""
    provisioned: tuple[str, ...] = ()
    local_settings: tuple[tuple[str, str], ...] = ()
    callers: list[CallerReport] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    exhaust: ExhaustReport | None = None
    burst: BurstReport | None = None
    bypass: BypassReport | None = None
    notebook: NotebookReport | None = None
    meter_runs: list[MeterRun] = field(default_factory=list)
    records_written: int = 0  # invocation records the stand-in wrote
    record_failures: int = 0
    stub_calls_ok: int = 0  # Converse calls the stand-in answered
    transitions: list[Transition] = field(default_factory=list)
    enforcer_runs: list[EnforcerRun] = field(default_factory=list)
    locks: list[LockCheck] = field(default_factory=list)
    policy: PolicyReport | None = None
    ledger: list[LedgerEvent] = field(default_factory=list)
    stub_calls_total: int = 0
    stub_calls_direct: int = 0
    log_levels: dict[str, Counter[str]] = field(default_factory=dict)
    log_problems: dict[str, tuple[str, ...]] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    report_path: Path | None = None
    seconds: float = 0.0

    @property
    def granted(self) -> int:
        return sum(1 for answer in self.answers if answer.status == 200)

    @property
    def all_hold(self) -> bool:
        return bool(self.claims) and all(claim.holds for claim in self.claims)


def amount(value: int | Decimal) -> str:
    """Tokens (``12,345``) or dollars, by the CLI's one money rule (``$0.000375``, ``$5.00``)."""
    return usd(value) if isinstance(value, Decimal) else tokens(value)


def number(value: float | Decimal) -> str:
    """A metric value or threshold: ``2,003,744``, ``98.4``, ``95``."""
    whole = float(value).is_integer() or abs(float(value)) >= 1000
    return f"{value:,.0f}" if whole else f"{value:,.1f}"


def short_principal(principal: str) -> str:
    """``role/support-bot`` for an IAM ARN; API-key principals as they are."""
    return principal.split(":", 5)[5] if principal.startswith("arn:") else principal


def derive_claims(result: DemoResult) -> list[Claim]:
    """The claims the run supports, each with whether it holds."""
    claims: list[Claim] = []
    if (exhaust := result.exhaust) is not None:
        codes = set(exhaust.refusal_codes)
        claims.append(
            Claim(
                f"{exhaust.caller} ran out of its daily budget: {exhaust.granted} requests "
                f"granted, then {exhaust.refused} refused with 429 BudgetExceeded before "
                f"Bedrock; charged {amount(exhaust.charged)} <= {amount(exhaust.limit)} "
                f"{exhaust.window}",
                exhaust.refused > 0
                and codes == {"BudgetExceeded"}
                and exhaust.charged <= exhaust.limit
                and exhaust.stub_calls == exhaust.granted,
            )
        )
    if (burst := result.burst) is not None:
        claims.append(
            Claim(
                f"no overshoot in the burst from {burst.caller}: {burst.requests} requests "
                f"from {burst.processes} containers at once, {burst.granted} x 200 and "
                f"{burst.refused} x 429; charged {amount(burst.charged)} <= "
                f"{amount(burst.limit)} {burst.window}, no reservation left open",
                burst.refused > 0
                and not burst.other
                and burst.granted + burst.refused == burst.requests
                and burst.charged <= burst.limit
                and burst.unsettled == 0,
            )
        )
        claims.append(
            Claim(
                f"in the burst only granted requests reached Bedrock (stand-in calls "
                f"{burst.stub_calls} = {burst.granted} answers 200), and the tokens charged "
                f"({burst.charged_tokens_delta:,}) are exactly those the answers report "
                f"({burst.tokens_answered:,})",
                burst.stub_calls == burst.granted
                and burst.charged_tokens_delta == burst.tokens_answered,
            )
        )
    through_gate = result.stub_calls_total - result.stub_calls_direct
    claims.append(
        Claim(
            f"every Bedrock call through the gate was a granted request: {through_gate} "
            f"stand-in calls = {result.granted} answers 200"
            + (
                f" (plus {result.stub_calls_direct} direct calls that bypassed the gate)"
                if result.stub_calls_direct
                else ""
            ),
            through_gate == result.granted,
        )
    )
    claims.extend(_steady_claims(result))
    claims.extend(_alarm_claims(result))
    claims.extend(_lock_claims(result))
    claims.extend(_meter_claims(result))
    server_errors = sorted({a.status for a in result.answers if a.status >= 500})
    claims.append(
        Claim(
            "no request was answered with a server error"
            + (f" (saw {server_errors})" if server_errors else ""),
            not server_errors,
        )
    )
    return claims


def _steady_claims(result: DemoResult) -> list[Claim]:
    steady = [c for c in result.callers if c.part == "steady"]
    if not steady:
        return []
    described = []
    for c in steady:
        unlimited = c.limits.daily_tokens is None and c.limits.monthly_tokens is None
        statuses = ", ".join(f"{n} x {s}" for s, n in sorted(c.statuses.items()))
        described.append(
            f"{c.name} ({c.tier}{', no token limit' if unlimited else ''}): {statuses}"
        )
    return [
        Claim(
            f"steady traffic was served throughout and never locked: {'; '.join(described)}",
            all(c.requests > 0 and set(c.statuses) == {200} for c in steady)
            and not any(c.lock_actions for c in steady),
        )
    ]


def alarm_principals(transition: Transition) -> tuple[str, ...]:
    """The ``Principal`` dimension values of a budget alarm's notification."""
    dimensions = transition.message.get("Trigger", {}).get("Dimensions", [])
    return tuple(str(d["value"]) for d in dimensions if d.get("name") == "Principal")


def _alarm_claims(result: DemoResult) -> list[Claim]:
    claims = []
    fired = [t for t in result.transitions if t.new_state == "ALARM"]
    watched = [c for c in result.callers if c.alarm_thresholds]
    if watched:
        budget_fired = {p for t in fired for p in alarm_principals(t)}
        reached = {
            c.principal
            for c in watched
            if c.used_percent is not None
            and c.used_percent >= Decimal(str(min(c.alarm_thresholds)))
        }
        threshold = ", ".join(
            sorted({f"{number(t)}%" for c in watched for t in c.alarm_thresholds})
        )

        def used(c: CallerReport) -> str:
            return "-" if c.used_percent is None else f"{number(c.used_percent)}%"

        text = (
            f"the budget alarms (>= {threshold} of a budget window) fired for exactly the "
            "callers that reached their threshold: "
            + (
                ", ".join(f"{c.name} ({used(c)})" for c in watched if c.principal in reached)
                or "none"
            )
        )
        quiet = [f"{c.name} ({used(c)})" for c in watched if c.principal not in reached]
        if quiet:
            text += f"; not {', '.join(quiet)}"
        unwatched = [
            f"{c.name} ({used(c)}; alarms = {str(c.alarms).lower()})"
            for c in result.callers
            if not c.alarm_thresholds and c.part != "direct"  # the meter watches the notebook
        ]
        if unwatched:
            text += f"; no budget alarm watches {', '.join(unwatched)}"
        claims.append(Claim(text, budget_fired == reached))
    if not fired:
        claims.append(Claim("an alarm went to ALARM", False))
    for t in fired:
        outcomes = [
            o
            for run in result.enforcer_runs
            if run.state == "ALARM"
            for o in run.outcomes
            if o.alarm_arn == t.alarm_arn
        ]
        did = ", ".join(f"{o.outcome} {short_principal(o.principal)}" for o in outcomes)
        value = number(t.observed) if t.observed is not None else "no datapoints"
        claims.append(
            Claim(
                f"alarm {t.alarm_name} went {t.old_state} -> ALARM ({value} {t.comparison} "
                f"{number(t.threshold)}); through SNS the enforcer {did or 'did nothing'}",
                bool(t.message_ids)
                and bool(outcomes)
                and all(o.outcome == _expected_lock_outcome(o.principal) for o in outcomes),
            )
        )
    return claims


def _expected_lock_outcome(principal: str) -> str:
    """IAM users and roles are locked; an API key has no IAM identity, so it is refused."""
    return "locked" if principal.startswith("arn:") else "refused"


def _lock_claims(result: DemoResult) -> list[Claim]:
    policy = result.policy
    if not result.locks or policy is None:
        return [Claim("an alarm locked a principal", False)]
    reports = {c.name: c for c in result.callers}
    claims = []
    for lock in result.locks:
        report = reports.get(lock.caller)
        spent = report is not None and report.part in ("exhaust", "burst")
        locked, after = lock.while_locked, lock.after_ok
        answer = locked.answer
        # The same request at the same usage is refused 429 once released: the budget is spent.
        spent_shown = (
            after is not None
            and after.answer.status == 429
            and after.day_tokens == locked.day_tokens
        )
        claims.append(
            Claim(
                f"while {lock.caller} was locked, {policy.name} was attached to {lock.identity} "
                f"and the gate answered it {answer.status} {answer.code or ''}".rstrip()
                + (", not 429, although its daily budget is spent" if spent else ""),
                locked.attached
                and set(locked.holders) == set(lock.alarm_arns)
                and (answer.status, answer.code) == (403, "Locked")
                and (spent_shown or not spent),
            )
        )
        claims.append(_release_claim(result, lock, report, spent=spent))
    return claims


def _release_claim(
    result: DemoResult,
    lock: LockCheck,
    report: CallerReport | None,
    *,
    spent: bool,
) -> Claim:
    after = lock.after_ok
    if after is None:
        return Claim(f"after OK {lock.caller} was released", False)
    cleared = {t.alarm_arn for t in result.transitions if t.new_state == "OK"}
    released = set(lock.alarm_arns) <= cleared and not after.attached and not after.holders
    answer = after.answer
    text = (
        f"after OK {lock.caller} was released (deny policy detached, ledger lock gone) "
        f"and the gate answered it {answer.status} {answer.code or ''}".rstrip()
    )
    if not spent:
        return Claim(f"{text} again", released and answer.status == 200)
    limit = report.limits.daily_tokens if report is not None else None
    return Claim(
        f"{text}: unlocking does not refill a budget ({after.day_tokens:,} of "
        f"{_limit(limit)} daily tokens still charged)",
        released
        and (answer.status, answer.code) == (429, "BudgetExceeded")
        and after.day_tokens == lock.while_locked.day_tokens,
    )


def _limit(value: int | Decimal | None) -> str:
    return "no limit" if value is None else amount(value)


def _meter_claims(result: DemoResult) -> list[Claim]:
    if not result.meter_runs and result.notebook is None:
        return []
    return [_every_call_metered(result), _notebook_claim(result)]


def _every_call_metered(result: DemoResult) -> Claim:
    """Every call the stand-in answered reached the meter once, and each was dealt with by its
    path: the gate's own calls left to the gate, direct calls counted to their caller."""
    verdicts: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    for run in result.meter_runs:
        verdicts.update(run.verdicts)
        rejected.update(run.rejected)
    delivered = sum(run.records for run in result.meter_runs)
    direct = [c for c in result.callers if c.direct_calls]
    counted = ", ".join(f"{c.name} {c.direct_tokens:,} tokens" for c in direct)
    others = sorted(set(verdicts) - {"gate_settled", "counted"})
    text = (
        f"the usage meter saw every Bedrock call once: {delivered} invocation records delivered "
        f"= {result.stub_calls_ok} calls the stand-in answered; {verdicts['gate_settled']} of "
        f"the gate's calls left to the gate (= {result.granted} answers 200, not counted again), "
        f"{verdicts['counted']} direct calls counted ({counted or 'none'}: their answers' tokens)"
    )
    if others or rejected or result.record_failures:
        text += f"; also {dict(verdicts)}, rejected {dict(rejected)}"
    return Claim(
        text,
        delivered == result.records_written == result.stub_calls_ok
        and result.record_failures == 0
        and not rejected
        and not others
        and verdicts["gate_settled"] == result.granted
        and verdicts["counted"] == result.stub_calls_direct
        and all(c.direct_tokens == c.direct_tokens_answered for c in result.callers),
    )


def _notebook_claim(result: DemoResult) -> Claim:
    notebook = result.notebook
    if notebook is None or notebook.view is None:
        return Claim("the usage meter locked the notebook, a caller the gate never saw", False)
    view = notebook.view
    answer = view.answer
    latency = "no lock" if notebook.latency_s is None else f"{notebook.latency_s:.2f} s"
    return Claim(
        f"the usage meter locked {notebook.caller}, a caller the gate never saw: its "
        f"{notebook.calls} direct calls ({notebook.tokens:,} tokens) passed its "
        f"{notebook.limit:,}-token day; the lock came on the record of the call that passed it, "
        f"{latency} after it reached the log group; the deny policy is attached to "
        f"{notebook.identity}, the ledger lock is held by {', '.join(view.holders) or 'nothing'}"
        f", the gate answers it {answer.status} {answer.code or ''}".rstrip(),
        view.attached
        and view.holders == (notebook.holder,)
        and (answer.status, answer.code) == (403, "Locked")
        and notebook.used_before + notebook.tokens > notebook.limit
        and view.day_tokens == notebook.used_before + notebook.tokens
        and notebook.crossing_call == notebook.calls
        and notebook.latency_s is not None
        and 0 < notebook.latency_s < ISSUE_LOCK_DEADLINE_S,
    )
