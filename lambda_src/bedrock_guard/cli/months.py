"""UTC calendar months as the usage items and Cost Explorer see them."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final

_MONTH_RE: Final = re.compile(r"^(?P<year>\d{4})-(?P<month>0[1-9]|1[0-2])$")


def utc_now() -> datetime:
    """The current instant (a seam for tests)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Month:
    """One UTC calendar month."""

    year: int
    number: int

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.number:02d}"

    @property
    def start(self) -> date:
        return date(self.year, self.number, 1)

    @property
    def end(self) -> date:
        """The first day of the next month (Cost Explorer's exclusive end)."""
        if self.number == 12:
            return date(self.year + 1, 1, 1)
        return date(self.year, self.number + 1, 1)

    @classmethod
    def of(cls, when: datetime) -> Month:
        when = when.astimezone(UTC)
        return cls(when.year, when.month)


def parse_month(text: str) -> Month:
    """An argparse ``type``: ``YYYY-MM`` (exit 2 with a message otherwise)."""
    match = _MONTH_RE.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month: use YYYY-MM, e.g. 2026-11")
    return Month(int(match["year"]), int(match["month"]))


def current_month() -> Month:
    return Month.of(utc_now())


def today_in(month: Month) -> str | None:
    """Today's two-digit UTC day if ``month`` is the current month, else ``None``."""
    now = utc_now().astimezone(UTC)
    return f"{now.day:02d}" if Month.of(now) == month else None
