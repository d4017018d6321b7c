"""The spend report as one self-contained HTML page: no script, no external resource.

For a month, per caller: daily spend against the daily limit (bars) and the month to date against
the monthly limit (a line), each in the unit the window is limited in (dollars or tokens; with
both, the one closer to its limit), else in dollars with "no limit" (and no limit line); the
periods the caller was locked out shaded on the same day axis; one legend for every chart; then a
table of the figures. ``bedrock-guard report --html`` fills it from the table, the demo from its
run; both call :func:`render`.
"""

from __future__ import annotations

import calendar
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

from bedrock_guard.cli.formats import tokens, usd
from bedrock_guard.core.accounting import Limits, Window

# Chart geometry (SVG user units; the SVG scales down to its container, never overflows it).
PANEL_WIDTH: Final = 520
PANEL_HEIGHT: Final = 170
PANEL_GAP: Final = 40
MARGIN_LEFT: Final = 62
MARGIN_TOP: Final = 26
MARGIN_BOTTOM: Final = 26
CHART_WIDTH: Final = MARGIN_LEFT + 2 * PANEL_WIDTH + PANEL_GAP + 12
CHART_HEIGHT: Final = MARGIN_TOP + PANEL_HEIGHT + MARGIN_BOTTOM

SPEND: Final = "#2f6fde"
OVER: Final = "#b42318"
LIMIT: Final = "#b42318"
LOCK: Final = "#f4c7c3"
GRID: Final = "#d9dee5"
INK: Final = "#1f2933"
MUTED: Final = "#616e7c"

STYLE: Final = f"""
*, *::before, *::after {{ box-sizing: border-box; }}
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: {INK};
  margin: 0; background: #f7f9fb; }}
main {{ max-width: 1180px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }}
h1 {{ font-size: 1.45rem; margin: 0 0 4px; }}
h2 {{ font-size: 1.1rem; margin: 28px 0 8px; }}
h3 {{ font-size: 0.98rem; margin: 18px 0 2px; }}
p {{ margin: 4px 0; }}
.muted {{ color: {MUTED}; }}
.ok {{ color: #1f7a3a; }} .bad {{ color: {OVER}; }}
.legend {{ display: flex; flex-wrap: wrap; gap: 6px 20px; margin: 8px 0 4px;
  font-size: 0.85rem; }}
.legend span {{ display: inline-flex; align-items: center; gap: 6px; }}
.swatch {{ display: inline-block; width: 22px; height: 12px; }}
.figure {{ margin: 4px 0 10px; }}
.figure svg {{ display: block; width: 100%; height: auto; max-width: {CHART_WIDTH}px; }}
svg text {{ font-size: 11px; fill: {INK}; font-family: inherit; }}
svg .axis {{ fill: {MUTED}; }}
table {{ border-collapse: collapse; font-size: 0.84rem; margin: 6px 0 12px; width: 100%; }}
th, td {{ border: 1px solid #cbd2d9; padding: 4px 8px; text-align: left; vertical-align: top;
  white-space: pre-line; overflow-wrap: anywhere; }}
th {{ background: #eef2f7; }}
th {{ overflow-wrap: normal; }}
td.num {{ text-align: right; white-space: pre; overflow-wrap: normal;
  font-variant-numeric: tabular-nums; }}
ul {{ margin: 4px 0; padding-left: 20px; }}
"""


@dataclass(frozen=True, slots=True)
class LockSpan:
    """A period the caller was locked out; ``end`` ``None``: still locked."""

    start: datetime
    end: datetime | None
    holders: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CallerSpend:
    """One caller's month: per day of the month, tokens and dollars; its limits and locks."""

    name: str  # as shown (a short principal)
    principal: str
    tier: str | None
    limits: Limits | None
    days: Mapping[int, tuple[int, Decimal]]
    tenant: str | None = None
    state: str = ""
    locks: tuple[LockSpan, ...] = ()

    @property
    def month_tokens(self) -> int:
        return sum(t for t, _ in self.days.values())

    @property
    def month_usd(self) -> Decimal:
        return sum((u for _, u in self.days.values()), Decimal(0))


@dataclass(frozen=True, slots=True)
class Section:
    """An extra table after the charts: a heading, column headers, rows (cells keep ``\\n``)."""

    heading: str
    headers: tuple[str, ...]
    rows: Sequence[Sequence[object]]
    numeric: tuple[int, ...] = ()
    intro: str = ""


@dataclass(frozen=True, slots=True)
class SpendReport:
    """Everything the page shows."""

    title: str
    subtitle: str
    year: int
    month: int
    callers: tuple[CallerSpend, ...]
    today: int | None = None  # the current day, when the month is the current one
    sections: tuple[Section, ...] = ()
    notes: tuple[str, ...] = ()
    bullets: tuple[tuple[bool, str], ...] = field(default=())  # (holds, text) findings

    @property
    def days_in_month(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    @property
    def last_day(self) -> int:
        """The last day with figures: today in the current month, else the month's last."""
        return self.today or self.days_in_month


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


# Measures -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Measure:
    """What one panel plots: dollars or tokens, and the limit of the window (if any)."""

    is_usd: bool
    limit: int | Decimal | None

    def text(self, value: float | int | Decimal) -> str:
        if self.is_usd:
            return usd(Decimal(str(value)))
        return tokens(round(value))

    def axis(self, value: float) -> str:
        """Short axis labels: ``$12.5``, ``$0.0005``, ``$1.2k``, ``40k``, ``2M``."""
        for size, suffix in ((1_000_000, "M"), (1000, "k")):
            if value >= size:
                text = f"{value / size:,.2f}".rstrip("0").rstrip(".") + suffix
                return f"${text}" if self.is_usd else text
        if not self.is_usd:
            return f"{value:,.0f}"
        exact = Decimal(str(value)).quantize(Decimal("0.000001")).normalize()
        return "$0" if not exact else f"${exact:f}"


def measure(
    limits: Limits | None, *, daily: bool, days: Mapping[int, tuple[int, Decimal]] | None = None
) -> Measure:
    """What a panel plots: the limited unit (dollars or tokens) of the window; with both limited,
    the one more used (the binding limit: its highest day, or the month's total); dollars
    without a limit when neither is limited."""
    usd_window = Window.DAILY_USD if daily else Window.MONTHLY_USD
    token_window = Window.DAILY_TOKENS if daily else Window.MONTHLY_TOKENS
    usd_limit = None if limits is None else limits.of(usd_window)
    token_limit = None if limits is None else limits.of(token_window)
    if usd_limit is None and token_limit is None:
        return Measure(True, None)
    if usd_limit is None or token_limit is None:
        return Measure(usd_limit is not None, usd_limit if usd_limit is not None else token_limit)
    figures = list((days or {}).values())
    if daily:
        spent = max((u for _, u in figures), default=Decimal(0))
        used = max((t for t, _ in figures), default=0)
    else:
        spent = sum((u for _, u in figures), Decimal(0))
        used = sum(t for t, _ in figures)
    usd_share = spent / usd_limit if usd_limit else Decimal(0)
    token_share = Decimal(used) / token_limit if token_limit else Decimal(0)
    if token_share > usd_share:
        return Measure(False, token_limit)
    return Measure(True, usd_limit)


# Chart --------------------------------------------------------------------------------------


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` whose quarters are round too."""
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1, 1.2, 1.6, 2, 4, 6, 8, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _day_fraction(moment: datetime, report: SpendReport) -> float:
    """Position of an instant on the month's day axis (day 1 starts at 0)."""
    moment = moment.astimezone(UTC)
    if (moment.year, moment.month) < (report.year, report.month):
        return 0.0
    if (moment.year, moment.month) > (report.year, report.month):
        return float(report.days_in_month)
    return moment.day - 1 + (moment.hour * 3600 + moment.minute * 60 + moment.second) / 86400


@dataclass(frozen=True, slots=True)
class _Panel:
    """One panel's geometry: the day axis from ``left``, the value axis up to ``top``."""

    report: SpendReport
    left: float
    top: float

    @property
    def slot(self) -> float:
        return PANEL_WIDTH / self.report.days_in_month

    def x(self, day_position: float) -> float:
        return self.left + day_position * self.slot

    def y(self, value: float) -> float:
        return MARGIN_TOP + PANEL_HEIGHT - value / self.top * PANEL_HEIGHT

    def hline(self, value: float, attributes: str) -> str:
        y = f"{self.y(value):.1f}"
        right = self.left + PANEL_WIDTH
        return f'<line x1="{self.left}" x2="{right}" y1="{y}" y2="{y}" {attributes}/>'

    def lock_bands(self, locks: Sequence[LockSpan]) -> str:
        """Shaded periods of lockout (drawn first, under the data)."""
        parts = []
        for lock in locks:
            start = _day_fraction(lock.start, self.report)
            end = _day_fraction(lock.end, self.report) if lock.end else float(self.report.last_day)
            if end <= 0 or start >= self.report.days_in_month:
                continue
            width = max((end - start) * self.slot, 3.0)
            parts.append(
                f'<rect class="lock" x="{self.x(start):.1f}" y="{MARGIN_TOP}" '
                f'width="{width:.1f}" height="{PANEL_HEIGHT}" fill="{LOCK}" opacity="0.75">'
                f"<title>locked: {_e(', '.join(lock.holders) or 'locked')}</title></rect>"
            )
        return "".join(parts)

    def axes(self, m: Measure) -> str:
        """Horizontal grid with value labels, and day labels (1, 5, 10, ..., the last day)."""
        parts = []
        for step in range(5):
            value = self.top * step / 4
            parts.append(
                self.hline(value, f'stroke="{GRID}" stroke-width="1"')
                + f'<text class="axis" x="{self.left - 6}" y="{self.y(value) + 4:.1f}" '
                f'text-anchor="end">{_e(m.axis(value))}</text>'
            )
        days = self.report.days_in_month
        for day in sorted({1, *range(5, days + 1, 5), days}):
            if day == days - 1 and days % 5:
                continue  # the month's last day stands close by
            parts.append(
                f'<text class="axis" x="{self.x(day - 0.5):.1f}" '
                f'y="{MARGIN_TOP + PANEL_HEIGHT + 16}" text-anchor="middle">{day}</text>'
            )
        return "".join(parts)

    def bars(self, m: Measure, series: Sequence[tuple[int, float]]) -> str:
        parts = []
        for day, value in series:
            over = m.limit is not None and value >= float(m.limit)
            height = MARGIN_TOP + PANEL_HEIGHT - self.y(value)
            parts.append(
                f'<rect class="spend" x="{self.x(day - 1) + self.slot * 0.15:.1f}" '
                f'y="{self.y(value):.1f}" width="{self.slot * 0.7:.1f}" height="{height:.1f}" '
                f'fill="{OVER if over else SPEND}"><title>day {day}: {_e(m.text(value))}'
                "</title></rect>"
            )
        return "".join(parts)

    def line(self, m: Measure, series: Sequence[tuple[int, float]]) -> str:
        if not series:
            return ""
        points = " ".join(
            [f"{self.x(0):.1f},{self.y(0):.1f}"]
            + [f"{self.x(day):.1f},{self.y(value):.1f}" for day, value in series]
        )
        last_day, last_value = series[-1]
        return (
            f'<polyline class="spend" points="{points}" fill="none" stroke="{SPEND}" '
            'stroke-width="2.5" stroke-linejoin="round"/>'
            f'<circle cx="{self.x(last_day):.1f}" cy="{self.y(last_value):.1f}" r="3.5" '
            f'fill="{SPEND}"><title>day {last_day}: {_e(m.text(last_value))}</title></circle>'
        )


def _series(
    report: SpendReport, caller: CallerSpend, m: Measure, *, daily: bool
) -> list[tuple[int, float]]:
    """Per day: the day's amount (daily), or the running total up to the last day (monthly)."""
    values = {
        day: float(usd_amount if m.is_usd else token_count)
        for day, (token_count, usd_amount) in caller.days.items()
        if 1 <= day <= report.days_in_month
    }
    if daily:
        return sorted(values.items())
    running, series = 0.0, []
    for day in range(1, report.last_day + 1):
        running += values.get(day, 0.0)
        series.append((day, running))
    return series


def _heading(report: SpendReport, m: Measure, series: list[tuple[int, float]], daily: bool) -> str:
    unit = "USD" if m.is_usd else "tokens"
    against = "no limit" if m.limit is None else f"limit {m.text(m.limit)}"
    if daily and report.today is not None:
        head = f"Daily {unit}, day {report.today}: {m.text(dict(series).get(report.today, 0.0))}"
    elif daily:
        head = f"Daily {unit}, highest day: {m.text(max((v for _, v in series), default=0.0))}"
    else:
        head = f"Month to date {unit}: {m.text(series[-1][1] if series else 0.0)}"
    return f"{head} ({against})"


def _panel(report: SpendReport, caller: CallerSpend, *, left: float, daily: bool) -> str:
    """One panel: daily bars, or the month-to-date line; the limit if any; the lock bands."""
    m = measure(caller.limits, daily=daily, days=caller.days)
    series = _series(report, caller, m, daily=daily)
    top = _nice_max(max([v for _, v in series] + [float(m.limit or 0), 0.0]) * 1.08)
    panel = _Panel(report, left, top)
    parts = [panel.lock_bands(caller.locks), panel.axes(m)]
    parts.append(panel.bars(m, series) if daily else panel.line(m, series))
    if m.limit is not None:  # no limit, no line
        parts.append(
            panel.hline(
                float(m.limit),
                f'class="limit" stroke="{LIMIT}" stroke-width="1.5" stroke-dasharray="6,4"',
            )
        )
    parts.append(panel.hline(0, f'stroke="{MUTED}" stroke-width="1"'))
    parts.append(
        f'<text x="{left}" y="{MARGIN_TOP - 9}" font-weight="600">'
        f"{_e(_heading(report, m, series, daily))}</text>"
    )
    return "".join(parts)


def chart(report: SpendReport, caller: CallerSpend) -> str:
    """The two panels of one caller as one SVG."""
    body = _panel(report, caller, left=MARGIN_LEFT, daily=True) + _panel(
        report, caller, left=MARGIN_LEFT + PANEL_WIDTH + PANEL_GAP + 20, daily=False
    )
    label = f"{caller.name}: daily spend and month to date against its limits"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {CHART_WIDTH + 20} '
        f'{CHART_HEIGHT}" width="{CHART_WIDTH + 20}" height="{CHART_HEIGHT}" '
        f'class="caller" data-caller="{_e(caller.name)}" aria-label="{_e(label)}">'
        f"<title>{_e(label)}</title>{body}</svg>"
    )


def legend() -> str:
    """One legend for every chart."""
    items = (
        f'<span><i class="swatch" style="background:{SPEND}"></i>spend (bars: per day; '
        "line: month to date)</span>",
        f'<span><i class="swatch" style="background:{OVER}"></i>a day at or over its limit</span>',
        f'<span><svg width="24" height="12" aria-hidden="true"><line x1="0" x2="24" y1="6" y2="6" '
        f'stroke="{LIMIT}" stroke-width="2" stroke-dasharray="6,4"/></svg>limit of the window '
        "(none drawn when there is no limit)</span>",
        f'<span><i class="swatch" style="background:{LOCK}"></i>locked out '
        "(the gate refuses, the deny policy is attached)</span>",
    )
    return f'<div class="legend">{"".join(items)}</div>'


# Tables -------------------------------------------------------------------------------------


def table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], numeric: Sequence[int] = ()
) -> str:
    """A table whose cells keep their line breaks (``white-space: pre-line``)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{_e(c)}</td>' if i in numeric else f"<td>{_e(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _of(used: str, limit: str | None) -> str:
    return f"{used}\nof {limit}" if limit is not None else f"{used}\nno limit"


def _window_text(limits: Limits | None, spent: Decimal, used: int, *, daily: bool) -> str:
    """``$0.75\nof $50.00\n1,500 tokens\nof 100,000``: dollars, then tokens, each of its limit."""
    usd_limit = (
        None if limits is None else limits.of(Window.DAILY_USD if daily else Window.MONTHLY_USD)
    )
    token_limit = (
        None
        if limits is None
        else limits.of(Window.DAILY_TOKENS if daily else Window.MONTHLY_TOKENS)
    )
    return (
        _of(usd(spent), None if usd_limit is None else usd(usd_limit))
        + "\n"
        + _of(f"{tokens(used)} tokens", None if token_limit is None else tokens(int(token_limit)))
    )


def _lock_text(lock: LockSpan) -> str:
    """``2026-11-02 10:00 to 2026-11-03 08:00 UTC\nby alarm a`` (or ``since ..., still``)."""
    start = lock.start.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    if lock.end is None:
        span = f"since {start} UTC, still locked"
    else:
        span = f"{start} to {lock.end.astimezone(UTC).strftime('%Y-%m-%d %H:%M')} UTC"
    by = f"\nby {', '.join(lock.holders)}" if lock.holders else ""
    return span + by


def summary(report: SpendReport) -> str:
    """The figures behind the charts, one row per caller."""
    rows = []
    for c in report.callers:
        today = c.days.get(report.last_day, (0, Decimal(0)))
        rows.append(
            (
                f"{c.name}\n{c.tier or 'no tier'}" + (f", tenant {c.tenant}" if c.tenant else ""),
                _window_text(c.limits, c.month_usd, c.month_tokens, daily=False),
                _window_text(c.limits, today[1], today[0], daily=True),
                "\n".join(_lock_text(lock) for lock in c.locks) or "never locked",
                c.state or "-",
            )
        )
    day = f"day {report.last_day}"
    return table(
        (
            "Caller\ntier, tenant",
            "Month\nUSD, tokens",
            f"{day}\nUSD, tokens",
            "Locked out\n(UTC)",
            "State",
        ),
        rows,
        numeric=(1, 2),
    )


def render(report: SpendReport) -> str:
    """The whole page."""
    month_name = f"{calendar.month_name[report.month]} {report.year}"
    charts = (
        "".join(
            f'<section class="figure"><h3>{_e(c.name)}</h3>'
            + (
                f'<p class="muted">{_e(c.tier or "no tier")}'
                + (f", tenant {_e(c.tenant)}" if c.tenant else "")
                + (f"; {_e(c.state)}" if c.state else "")
                + "</p>"
            )
            + chart(report, c)
            + "</section>"
            for c in report.callers
        )
        or '<p class="muted">No caller has usage, a registry entry or a lock this month.</p>'
    )
    bullets = ""
    if report.bullets:
        bullets = (
            "<h2>Findings</h2><ul>"
            + "".join(
                f'<li class="{"ok" if holds else "bad"}">{"✓" if holds else "✗"} {_e(text)}</li>'
                for holds, text in report.bullets
            )
            + "</ul>"
        )
    sections = "".join(
        f"<h2>{_e(s.heading)}</h2>"
        + (f'<p class="muted">{_e(s.intro)}</p>' if s.intro else "")
        + table(s.headers, s.rows, s.numeric)
        for s in report.sections
    )
    notes = "".join(f'<p class="muted">{_e(note)}</p>' for note in report.notes)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(report.title)}</title><style>{STYLE}</style></head><body><main>"
        f"<h1>{_e(report.title)}</h1>"
        f'<p class="muted">{_e(report.subtitle)}</p>'
        + bullets
        + f"<h2>Spend per caller against its limits, {_e(month_name)}</h2>"
        + legend()
        + charts
        + "<h2>Figures</h2>"
        + summary(report)
        + sections
        + notes
        + "</main></body></html>\n"
    )
