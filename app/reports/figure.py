"""A report's figures in the one shape the page draws, tabulates and exports.

The table is the whole truth (and the accessible form of the chart); the chart shows
some of its columns as series over its categories. Plain values, no Qt: the same
`Figure` is written to CSV here and drawn by ui/reports/charts.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from app.audit import log as audit
from app.audit.actions import EXPORT
from app.exports.csv_export import atomic_csv, safe_cell

if TYPE_CHECKING:
    from app.clinic import Clinic

Cell = int | float | Decimal | str | None  # Decimal: money in dollars, two decimals

BARS = "bars"  # series side by side in each category
STACKED = "stacked"  # series on top of each other: the bar is the total
LINE = "line"


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[float | None, ...]  # one per category; None: nothing to show (no data)


@dataclass(frozen=True)
class Figure:
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    categories: tuple[str, ...] = ()  # the chart's x axis, e.g. "Mar 2025"
    series: tuple[Series, ...] = ()
    kind: str = BARS
    unit: str = ""  # the y axis: "%", "visits", "NPS" ...
    axis: str = "Month"  # what the categories are
    note: str = ""  # what the figures count, in a sentence
    empty_reason: str = ""  # said instead of an empty chart
    extra: tuple[Figure, ...] = field(default=())  # further tables of the same report

    @property
    def is_empty(self) -> bool:
        return not self.rows


def cell_text(value: Cell) -> str:
    """How a cell reads in the table and in the CSV: the same text in both."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def dollars(cents: int | None) -> Decimal | None:
    return None if cents is None else Decimal(cents) / 100


def percent(part: int, whole: int) -> float | None:
    """A share in percent; None when there is nothing to share (not 0: unknown)."""
    return 100.0 * part / whole if whole else None


def month_label(month: str) -> str:
    """ "2025-03" → "Mar 2025", for the chart's axis."""
    names = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return f"{names[int(month[5:7]) - 1]} {month[:4]}"


def write_csv(figure: Figure, path: Path, *, clinic: Clinic | None = None) -> int:
    """The figure's table (and any further tables) as CSV; returns the rows written.

    Every text cell goes through `safe_cell`: channel and provider names are typed by
    people, and a name like "=cmd" must stay text in a spreadsheet. Numbers are ours and
    are written as numbers: an NPS of -25 must stay a number a spreadsheet can add up.
    """
    written = 0
    with atomic_csv(path) as writer:
        for number, table in enumerate((figure, *figure.extra)):
            if number:
                writer.writerow([])
                writer.writerow([safe_cell(table.title)])
            writer.writerow([safe_cell(c) for c in table.columns])
            for row in table.rows:
                writer.writerow([_csv_cell(c) for c in row])
                written += 1
    if clinic is not None:  # the audit log keeps which report, its size and the file's name
        detail = {"report": figure.title, "rows": written, "columns": list(figure.columns)}
        audit.record(clinic, EXPORT, target=path.name, detail=detail)
    return written


def _csv_cell(value: Cell) -> str:
    if isinstance(value, str):
        return safe_cell(value)
    return cell_text(value)


def column(rows: Sequence[tuple[Cell, ...]], index: int) -> tuple[float | None, ...]:
    """One column of the table as chart values."""
    values: list[float | None] = []
    for row in rows:
        value = row[index]
        values.append(float(value) if isinstance(value, int | float | Decimal) else None)
    return tuple(values)
