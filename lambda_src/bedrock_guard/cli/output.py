"""Where results go: rich tables for people, stable JSON for scripts; messages on stderr.

Colour only when stdout is a terminal that supports it (rich decides; ``NO_COLOR`` and
``--no-color`` turn it off). Tables written to a pipe or file get a wide fixed width, so ARNs are
never cut.
"""

from __future__ import annotations

import json
import os
import sys
from decimal import Decimal
from typing import IO, Any, Final

from rich.console import Console
from rich.table import Table

PIPE_WIDTH: Final = 200
_USD_PLACES: Final = Decimal("0.0001")


def usd_text(value: Decimal | None) -> str:
    """Exact USD for JSON: plain notation, no exponent, no trailing zeros."""
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", ""} else text


def usd_human(value: Decimal | None) -> str:
    """``$1.2346`` (four decimals), or ``-``."""
    if value is None:
        return "-"
    return f"${value.quantize(_USD_PLACES):,}"


def tokens_human(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return usd_text(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class Output:
    """The result channel of one command run."""

    def __init__(
        self,
        *,
        as_json: bool = False,
        no_color: bool = False,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
    ) -> None:
        self.as_json = as_json
        self._stdout = stdout or sys.stdout
        self._stderr = stderr or sys.stderr
        # No colour also means no bold or italics: plain text, whatever the terminal.
        self.console = Console(
            file=self._stdout,
            no_color=no_color or None,
            color_system=None if no_color else "auto",
            highlight=False,
        )
        if not self.console.is_terminal and "COLUMNS" not in os.environ:
            self.console.width = PIPE_WIDTH

    def json(self, document: Any) -> None:
        """Write one JSON document (Decimals as exact strings, keys sorted)."""
        self._stdout.write(
            json.dumps(document, indent=2, sort_keys=True, default=_json_default) + "\n"
        )

    def table(self, table: Table) -> None:
        self.console.print(table)

    def line(self, text: str = "", style: str | None = None) -> None:
        """A line of human output (markup off: values may contain brackets)."""
        self.console.print(text, style=style, markup=False)

    def note(self, text: str) -> None:
        """A remark for people, on stderr, so JSON on stdout stays clean."""
        self._stderr.write(f"note: {text}\n")

    def error(self, text: str) -> None:
        self._stderr.write(f"bedrock-guard: error: {text}\n")


def new_table(title: str, *columns: str, numeric: tuple[str, ...] = ()) -> Table:
    """A table whose text columns fold (ARNs are never truncated with an ellipsis)."""
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        table.add_column(column, justify="right" if column in numeric else "left", overflow="fold")
    return table
