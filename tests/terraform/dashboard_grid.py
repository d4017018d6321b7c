"""The dashboard's grid: CloudWatch lays widgets out on 24 columns, and places a widget that
overlaps another wherever it finds room, so a wrong y in the Terraform shows as a shuffled
dashboard, never as an error. These checks find such a layout before CloudWatch does."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Final

COLUMNS: Final = 24


@dataclass(frozen=True)
class Placed:
    """One widget's type and rectangle, in grid units."""

    kind: str
    x: int
    y: int
    width: int
    height: int

    @classmethod
    def from_row(cls, row: Sequence[object]) -> Placed:
        """From ``[type, x, y, width, height]``."""
        kind, x, y, width, height = row
        return cls(str(kind), int(str(x)), int(str(y)), int(str(width)), int(str(height)))

    def overlaps(self, other: Placed) -> bool:
        return (
            self.x < other.x + other.width
            and other.x < self.x + self.width
            and self.y < other.y + other.height
            and other.y < self.y + self.height
        )

    def __str__(self) -> str:
        return f"{self.kind} at x={self.x} y={self.y} ({self.width}x{self.height})"


def grid_problems(widgets: Iterable[Placed]) -> list[str]:
    """Widgets outside the 24 columns, and every pair of widgets that overlap."""
    placed = list(widgets)
    problems = [
        f"{w} does not fit the {COLUMNS} columns"
        for w in placed
        if w.x < 0 or w.y < 0 or w.width < 1 or w.height < 1 or w.x + w.width > COLUMNS
    ]
    problems += [f"{a} overlaps {b}" for a, b in combinations(placed, 2) if a.overlaps(b)]
    return problems
