"""``bedrock-guard report --html``: one self-contained page (no script, no external resource)
with daily and monthly windows per caller against its limits, locks on the same day axis, a
legend, and table cells that keep their line breaks."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bedrock_guard.cli.html_report import CallerSpend, LockSpan, SpendReport, render
from bedrock_guard.cli.lock_history import lock_spans
from bedrock_guard.core.accounting import Limits
from tests.cli.conftest import BASE, LIMITS, MONTH, World

LIMITED = Limits(
    monthly_tokens=100000, daily_tokens=5000, monthly_usd=Decimal(50), daily_usd=Decimal(5)
)


def sample_report() -> SpendReport:
    return SpendReport(
        title="Bedrock spend 2026-11",
        subtitle="table t",
        year=2026,
        month=11,
        today=23,
        callers=(
            CallerSpend(
                name="user/alice",
                principal="arn:aws:iam::123456789012:user/alice",
                tier="standard",
                limits=LIMITED,
                days={22: (500, Decimal("0.25")), 23: (5000, Decimal("5"))},
                locks=(
                    LockSpan(datetime(2026, 11, 23, 9, tzinfo=UTC), None, ("alarm daily-dollars",)),
                ),
            ),
            CallerSpend(
                name="apikey:k3y",
                principal="apikey:k3y",
                tier=None,
                limits=None,
                days={5: (42, Decimal("0.001"))},
            ),
        ),
    )


def charts(page: str) -> dict[str, str]:
    return dict(re.findall(r'<svg[^>]*data-caller="([^"]+)"[^>]*>(.*?)</svg>', page, re.S))


def test_page_is_self_contained() -> None:
    page = render(sample_report())

    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "url(" not in page


def test_daily_and_monthly_windows_with_limits_only_where_there_are_limits() -> None:
    page = render(sample_report())
    per_caller = charts(page)

    alice = per_caller["user/alice"]
    assert "Daily USD, day 23: $5.00 (limit $5.00)" in alice
    assert "Month to date USD: $5.25 (limit $50.00)" in alice
    assert alice.count('class="limit"') == 2  # the daily and the monthly limit
    assert 'class="lock"' in alice  # locked on day 23, on the same axis
    assert alice.count('class="spend"') == 3  # two daily bars, one month-to-date line

    unlimited = per_caller["apikey:k3y"]
    assert 'class="limit"' not in unlimited and "stroke-dasharray" not in unlimited
    assert "(no limit)" in unlimited


def test_legend_and_cells_that_keep_line_breaks() -> None:
    page = render(sample_report())

    assert 'class="legend"' in page
    for entry in ("spend", "limit of the window", "locked out"):
        assert entry in page
    assert "white-space: pre-line" in page
    assert "$5.00\nof $5.00" in page  # a cell of two lines


def test_lock_spans_from_history() -> None:
    def event(at: str, action: str, alarm: str = "", dry_run: bool = False) -> dict[str, Any]:
        item: dict[str, Any] = {"sk": {"S": f"EVENT#{at}#x"}, "action": {"S": action}}
        if alarm:
            item["alarm_arn"] = {"S": f"arn:aws:cloudwatch:us-east-1:1:alarm:{alarm}"}
            item["alarm_name"] = {"S": alarm}
        if dry_run:
            item["dry_run"] = {"BOOL": True}
        return item

    spans = lock_spans(
        [
            event("2026-11-02T10:00:00.000+0000", "lock", "a"),
            event("2026-11-02T11:00:00.000+0000", "lock", "b"),
            event("2026-11-02T12:00:00.000+0000", "release", "a"),
            event("2026-11-03T08:00:00.000+0000", "release", "b"),
            event("2026-11-05T08:00:00.000+0000", "lock", "c", dry_run=True),
            event("2026-11-06T08:00:00.000000Z", "operator_lock"),
        ]
    )
    assert [(s.start.day, s.end.day if s.end else None, s.holders) for s in spans] == [
        (2, 3, ("alarm a", "alarm b")),
        (6, None, ("operator",)),
    ]


def test_lock_spans_of_the_usage_meters_window_locks() -> None:
    day = "window:daily_tokens:2026-11-02"

    def event(at: str, action: str, **fields: dict[str, Any]) -> dict[str, Any]:
        return {"sk": {"S": f"EVENT#{at}#x"}, "action": {"S": action}, **fields}

    spans = lock_spans(
        [
            event("2026-11-02T10:00:00.000+0000", "window_lock", holder={"S": day}),
            event(
                "2026-11-03T00:10:00.000+0000",
                "window_release",
                released_holders={"SS": [day]},
            ),
            event("2026-11-04T09:00:00.000+0000", "window_lock", holder={"S": "window:x:y"}),
        ]
    )
    assert [(s.start.day, s.end.day if s.end else None, s.holders) for s in spans] == [
        (2, 3, (f"usage meter {day}",)),
        (4, None, ("usage meter window:x:y",)),
    ]


def test_report_html_from_the_table(world: World, cli: Any, tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.html"
    run = cli(*BASE, "report", "--html", str(target), "--month", MONTH, *LIMITS)

    assert run.code == 0, run.err
    assert "Spend report written to" in run.out
    page = target.read_text(encoding="utf-8")
    per_caller = charts(page)
    assert set(per_caller) == {"user/alice", "user/bob", "role/app-role", "apikey:k3y1d"}
    assert 'class="lock"' in per_caller["user/bob"]  # the alarm's lock
    # The operator's lock was taken at the real clock, after this month: not on its axis.
    assert 'class="lock"' not in per_caller["role/app-role"]
    assert 'class="lock"' not in per_caller["user/alice"]
    assert "<script" not in page


def test_a_window_limited_in_both_units_is_drawn_in_the_one_closer_to_its_limit() -> None:
    report = sample_report()
    tokens_bound = CallerSpend(
        name="role/batch",
        principal="arn:aws:iam::123456789012:role/batch",
        tier="standard",
        limits=LIMITED,
        days={23: (4900, Decimal("0.10"))},  # 98% of the daily tokens, 2% of the daily dollars
    )
    page = render(SpendReport(**{**_fields(report), "callers": (tokens_bound,)}))

    chart = charts(page)["role/batch"]
    assert "Daily tokens, day 23: 4,900 (limit 5,000)" in chart
    assert "Month to date tokens: 4,900 (limit 100,000)" in chart  # 4.9% against 0.2%


def _fields(report: SpendReport) -> dict[str, Any]:
    return {name: getattr(report, name) for name in SpendReport.__slots__}
