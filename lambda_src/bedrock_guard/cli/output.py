"""Where results go: tables for people, stable JSON for scripts; messages on stderr.

Colour only when stdout is a terminal that supports it (rich decides; ``NO_COLOR`` and
``--no-color`` turn it off).

Tables fit the width: the terminal's, else ``COLUMNS``, else :data:`PIPE_WIDTH` when writing to
a pipe or a file; ``--wide`` lifts the limit. A word is never split across lines: each column is
at least as wide as its longest word, and when the columns do not fit, the optional ones are
left out (named in a note on stderr) and, if even the essential ones do not fit, every row is
printed as a block of ``Column: value`` lines instead. Amounts and principals are written by
:mod:`bedrock_guard.cli.formats`.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any, Final

from rich.console import Console
from rich.table import Table

from bedrock_guard.cli.formats import tokens, usd

PIPE_WIDTH: Final = 80
MIN_WIDTH: Final = 40
WIDE_WIDTH: Final = 100_000  # --wide: no limit a table could reach


def usd_text(value: Decimal | None) -> str:
    """Exact USD for JSON: plain notation, no exponent, no trailing zeros."""
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", ""} else text


def usd_human(value: Decimal | None) -> str:
    """Dollars for people (:func:`bedrock_guard.cli.formats.usd`), or ``-``."""
    return usd(value)


def tokens_human(value: int | None) -> str:
    return tokens(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return usd_text(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class Column:
    """A column of :meth:`Output.grid`. ``drop`` 0: always shown; otherwise columns with the
    highest ``drop`` are left out first: while the table does not fit without splitting a word,
    then while the other columns cannot show their lines unwrapped."""

    header: str
    numeric: bool = False
    drop: int = 0
    readable: int = 0  # free text: narrower than this (or its longest line) reads badly


@dataclass(frozen=True, slots=True)
class Layout:
    """What :func:`layout` decided: the columns shown, their widths, or ``records``."""

    shown: tuple[int, ...]
    widths: tuple[int, ...]
    records: bool = False

    def dropped(self, columns: Sequence[Column]) -> list[str]:
        return [c.header for i, c in enumerate(columns) if i not in self.shown]


def _longest_word(text: str) -> int:
    return max((len(word) for word in text.split()), default=0)


def _longest_line(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


def table_overhead(count: int) -> int:
    """Characters a rich table with ``count`` columns adds: borders and one space of padding
    either side of every cell."""
    return 3 * count + 1


def layout(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int | None) -> Layout:
    """Columns and widths that fit ``width`` (``None``: no limit) without splitting a word."""
    cells = [[column.header, *(row[i] for row in rows)] for i, column in enumerate(columns)]
    least = [max(_longest_word(cell) for cell in column) for column in cells]
    natural = [max(_longest_line(cell) for cell in column) for column in cells]
    least = [max(least[i], min(column.readable, natural[i])) for i, column in enumerate(columns)]
    shown = list(range(len(columns)))
    if width is None:
        return Layout(tuple(shown), tuple(natural[i] for i in shown))

    def needed() -> int:
        return sum(least[i] for i in shown) + table_overhead(len(shown))

    def drop_one() -> bool:
        optional = [i for i in shown if columns[i].drop > 0]
        if optional:
            shown.remove(max(optional, key=lambda i: (columns[i].drop, i)))
        return bool(optional)

    while needed() > width:
        if not drop_one():
            return Layout(tuple(range(len(columns))), tuple(natural), records=True)
    # Then optional columns make room for the others to show each line unwrapped.
    while sum(natural[i] for i in shown) + table_overhead(len(shown)) > width and drop_one():
        pass
    widths = {i: least[i] for i in shown}
    spare = width - needed()
    # The spare room unwraps the columns that need least of it first, then widens the rest.
    for i in sorted(shown, key=lambda i: (natural[i] - least[i], i)):
        grant = min(spare, natural[i] - widths[i])
        widths[i] += grant
        spare -= grant
    return Layout(tuple(shown), tuple(widths[i] for i in shown))


class Output:
    """The result channel of one command run."""

    def __init__(
        self,
        *,
        as_json: bool = False,
        no_color: bool = False,
        wide: bool = False,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
    ) -> None:
        self.as_json = as_json
        self.wide = wide
        self._stdout = stdout or sys.stdout
        self._stderr = stderr or sys.stderr
        # No colour also means no bold or italics: plain text, whatever the terminal.
        self.console = Console(
            file=self._stdout,
            no_color=no_color or None,
            color_system=None if no_color else "auto",
            highlight=False,
        )
        self.width: int | None = None if wide else self._width()
        self.console.width = WIDE_WIDTH if self.width is None else self.width

    def _width(self) -> int:
        columns = os.environ.get("COLUMNS", "")
        if columns.isdigit():
            return max(int(columns), MIN_WIDTH)
        if self.console.is_terminal:
            return max(self.console.width, MIN_WIDTH)
        return PIPE_WIDTH

    def json(self, document: Any) -> None:
        """Write one JSON document (Decimals as exact strings, keys sorted)."""
        self._stdout.write(
            json.dumps(document, indent=2, sort_keys=True, default=_json_default) + "\n"
        )

    def table(self, table: Table) -> None:
        """A rich table as built by the caller (prefer :meth:`grid`, which fits the width)."""
        self.console.print(table)

    def title(self, text: str) -> None:
        """A heading wrapped at spaces to the width (rich would split a long word)."""
        for line in _wrap(text, self.width):
            self.console.print(line, style="bold", markup=False, overflow="ignore", crop=False)

    def fits(self, columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> bool:
        """Whether every column fits the width without splitting a word."""
        fitted = layout(columns, rows, self.width)
        return not fitted.records and len(fitted.shown) == len(columns)

    def grid(
        self,
        title: str,
        columns: Sequence[Column],
        rows: Sequence[Sequence[str]],
        *,
        styles: Sequence[str | None] = (),
        sections: Sequence[int] = (),
    ) -> None:
        """A table that fits the width (module docstring); ``sections``: rows that start a new
        section (a rule above them), ``styles``: a rich style per row."""
        fitted = layout(columns, rows, self.width)
        self.title(title)
        if fitted.records:
            self._records(columns, rows)
            return
        table = Table(header_style="bold", show_header=True)
        for index, width in zip(fitted.shown, fitted.widths, strict=True):
            column = columns[index]
            table.add_column(
                column.header,
                justify="right" if column.numeric else "left",
                width=width,
                overflow="fold",
            )
        for number, row in enumerate(rows):
            if number in sections:
                table.add_section()
            style = styles[number] if number < len(styles) else None
            table.add_row(*(row[i] for i in fitted.shown), style=style)
        self.console.print(table, overflow="ignore", crop=False)
        if dropped := fitted.dropped(columns):
            self.note(
                f"left out to fit {self.width} columns: {', '.join(dropped)} "
                "(--wide shows every column, --json every field)"
            )

    def _records(self, columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> None:
        """Each row as a block: the first cell, then ``Column: value`` lines."""
        for row in rows:
            self.console.print("", markup=False)  # a blank line between blocks keeps them apart
            for line in _wrap(row[0], self.width):
                self.console.print(line, style="bold", markup=False, crop=False)
            for column, cell in zip(columns[1:], row[1:], strict=True):
                if not cell:
                    continue
                for line in _wrap(
                    f"{column.header}: " + " ".join(cell.split()),
                    self.width,
                    indent="  ",
                    hang="    ",
                ):
                    self.console.print(line, markup=False, crop=False)

    def line(self, text: str = "", style: str | None = None) -> None:
        """A line of human output, wrapped at spaces to the width (markup off: values may
        contain brackets)."""
        for line in _wrap(text, self.width) if text else [""]:
            self.console.print(line, style=style, markup=False, overflow="ignore", crop=False)

    def note(self, text: str) -> None:
        """A remark for people, on stderr, so JSON on stdout stays clean."""
        self._stderr.write(f"note: {text}\n")

    def error(self, text: str) -> None:
        self._stderr.write(f"bedrock-guard: error: {text}\n")


def _wrap(text: str, width: int | None, indent: str = "", hang: str = "") -> list[str]:
    """Lines of at most ``width`` characters broken at spaces only (a longer word stays whole)."""
    if width is None:
        return [indent + text]
    return textwrap.wrap(
        text,
        width=width,
        initial_indent=indent,
        subsequent_indent=hang,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [indent]


def new_table(title: str, *columns: str, numeric: tuple[str, ...] = ()) -> Table:
    """A rich table whose text columns fold (for callers that do not use :meth:`Output.grid`)."""
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        table.add_column(column, justify="right" if column in numeric else "left", overflow="fold")
    return table
