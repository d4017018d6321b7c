"""A small self-contained HTML report of a demo run: spend against budget per caller, as an
inline SVG chart (no script, no CDN), then the claims, the story and the lock ledger.

Every caller gets its own chart group (``<g class="caller" data-caller="...">``) with two bars:
today's tokens against the daily token limit, today's dollars against the daily dollar limit.
"""

from __future__ import annotations

import html
from decimal import Decimal
from pathlib import Path
from typing import Final

from bedrock_guard.core.accounting import Window
from bedrock_guard.demo.result import CallerReport, DemoResult, LockView, amount

BAR_WIDTH: Final = 420
ROW_HEIGHT: Final = 26
LABEL_WIDTH: Final = 190
CHART_MAX_PERCENT: Final = 110  # bars scale to 110% of the budget, so the limit line shows
STYLE: Final = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1f2933; max-width: 72rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0; }
th, td { border: 1px solid #cbd2d9; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f0f4f8; }
.ok { color: #1f7a3a; } .bad { color: #b42318; } .muted { color: #616e7c; }
svg text { font-size: 12px; fill: #1f2933; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _share(used: int | Decimal, limit: int | Decimal | None) -> float | None:
    if limit is None:
        return None
    return 100.0 if limit == 0 else float(Decimal(used) * 100 / Decimal(limit))


def _bar(y: int, label: str, used: int | Decimal, limit: int | Decimal | None) -> str:
    share = _share(used, limit)
    scale = BAR_WIDTH / CHART_MAX_PERCENT
    width = 0.0 if share is None else min(share, CHART_MAX_PERCENT) * scale
    colour = "#b42318" if share is not None and share >= 95 else "#2f6fde"
    limit_x = LABEL_WIDTH + 100 * scale
    caption = (
        f"{amount(used)} of {amount(limit)} ({share:.1f}%)"
        if share is not None and limit is not None
        else f"{amount(used)} (no limit)"
    )
    return (
        f'<text x="8" y="{y + 16}">{_e(label)}</text>'
        f'<rect x="{LABEL_WIDTH}" y="{y + 4}" width="{BAR_WIDTH}" height="16" fill="#eef2f7"/>'
        f'<rect class="spend" x="{LABEL_WIDTH}" y="{y + 4}" width="{width:.1f}" height="16" '
        f'fill="{colour}"><title>{_e(caption)}</title></rect>'
        f'<line x1="{limit_x:.1f}" x2="{limit_x:.1f}" y1="{y}" y2="{y + 24}" stroke="#1f2933" '
        'stroke-dasharray="3,2"/>'
        f'<text x="{LABEL_WIDTH + BAR_WIDTH + 10}" y="{y + 16}">{_e(caption)}</text>'
    )


def _state(report: CallerReport) -> str:
    """``basic, daily budget exhausted; locked, then released``."""
    state = f"{report.tier}, {report.state}"
    return f"{state}; {report.lock_story}" if report.lock_story else state


def _view(view: LockView | None) -> str:
    """``attached, 403 Locked``: the deny policy and the gate's answer at one moment."""
    if view is None:
        return "-"
    answer = view.answer
    policy = "attached" if view.attached else "detached"
    return f"{policy}, {answer.status} {answer.code or ''}".rstrip()


def chart(callers: list[CallerReport]) -> str:
    """Spend against the daily budget, two bars per caller, the dashed line at 100%."""
    groups = []
    y = 0
    for report in callers:
        limits = report.limits
        groups.append(
            f'<g class="caller" id="chart-{_e(report.name)}" data-caller="{_e(report.name)}">'
            f'<text x="8" y="{y + 14}" font-weight="bold">{_e(report.name)} '
            f"({_e(_state(report))})</text>"
            + _bar(
                y + ROW_HEIGHT - 6,
                "tokens today",
                report.day_tokens,
                limits.of(Window.DAILY_TOKENS),
            )
            + _bar(y + 2 * ROW_HEIGHT - 6, "USD today", report.day_usd, limits.of(Window.DAILY_USD))
            + "</g>"
        )
        y += 3 * ROW_HEIGHT + 6
    width = LABEL_WIDTH + BAR_WIDTH + 260
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{y}" '
        f'viewBox="0 0 {width} {y}" aria-label="Spend against daily budget per caller">'
        + "".join(groups)
        + "</svg>"
    )


def _table(headers: tuple[str, ...], rows: list[tuple[object, ...]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(result: DemoResult) -> str:
    """The whole report as one HTML document."""
    claims = "".join(
        f'<li class="{"ok" if c.holds else "bad"}">{"✓" if c.holds else "✗"} {_e(c.text)}</li>'
        for c in result.claims
    )
    callers = _table(
        ("caller", "tier", "part", "answers", "tokens today", "USD today", "state"),
        [
            (
                r.name,
                r.tier,
                r.role,
                ", ".join(f"{n} x {s}" for s, n in sorted(r.statuses.items())),
                f"{r.day_tokens:,}",
                amount(r.day_usd),
                f"{r.state}; {r.lock_story}" if r.lock_story else r.state,
            )
            for r in result.callers
        ],
    )
    steps = _table(("who", "what"), [(s.actor, s.text) for s in result.steps])
    ledger = _table(
        ("time (UTC)", "principal", "action", "alarm", "reason"),
        [(e.at, e.principal, e.action, e.alarm, e.reason) for e in result.ledger],
    )
    facts = _table(
        ("setting", "value", "read from"), [(f.label, f.value, f.source) for f in result.facts]
    )
    policy = ""
    if result.policy is not None:
        p = result.policy
        policy = (
            f"<h2>IAM policy attached while locked: {_e(p.name)}</h2>"
            + _table(
                ("IAM identity", "locked by alarm", "while locked: policy, gate", "after OK"),
                [
                    (
                        lock.identity,
                        ", ".join(lock.alarms),
                        _view(lock.while_locked),
                        _view(lock.after_ok),
                    )
                    for lock in result.locks
                ],
            )
            + _table(
                ("effect", "actions", "resources"),
                [
                    (effect, ", ".join(actions), ", ".join(resources))
                    for effect, actions, resources in p.statements
                ],
            )
        )
    mode = "quick" if result.quick else "full"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>bedrock-cost-guard demo report</title>"
        f"<style>{STYLE}</style></head><body>"
        "<h1>bedrock-cost-guard demo: spend against budget per caller</h1>"
        f'<p class="muted">{mode} run on a local AWS (moto server) and a Bedrock stand-in, '
        f"account {_e(result.account)}, {_e(result.region)}; {result.seconds:.1f} s.</p>"
        "<h2>Daily spend against budget</h2>"
        + chart(result.callers)
        + "<h2>What the demo showed</h2><ul>"
        + claims
        + "</ul><h2>Callers</h2>"
        + callers
        + "<h2>What happened</h2>"
        + steps
        + "<h2>Lock ledger</h2>"
        + ledger
        + policy
        + "<h2>Read from the Terraform configuration</h2>"
        + facts
        + "</body></html>\n"
    )


def write_report(result: DemoResult, path: Path) -> Path:
    """Write the report; the resolved path."""
    path = path.resolve()
    path.write_text(render(result), encoding="utf-8")
    return path
