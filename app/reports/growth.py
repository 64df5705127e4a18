"""New patients by source, from app/growth/acquisition.py (its definitions, its SQL).

Acquisition counts whole calendar months and has no provider (a patient comes to the
clinic, not to one provider), so this report shows every month the range touches and
ignores the provider filter; the page says so.
"""

from __future__ import annotations

from app.clinic import Clinic
from app.growth.acquisition import NewPatients, new_patients_by_source
from app.reports.figure import STACKED, Figure, Series, month_label
from app.reports.filters import ReportFilters, whole_months

MOST_SERIES = 8  # the Okabe–Ito palette has eight colours
OTHERS = "All other sources"


def new_patients(clinic: Clinic, filters: ReportFilters) -> list[NewPatients]:
    first, last = whole_months(filters)
    return new_patients_by_source(clinic, first, last)


def months_of(filters: ReportFilters) -> list[str]:
    """Every month the range touches, oldest first."""
    first, last = whole_months(filters)
    year, month = int(first[:4]), int(first[5:])
    months = []
    while f"{year:04d}-{month:02d}" <= last:
        months.append(f"{year:04d}-{month:02d}")
        year, month = year + month // 12, month % 12 + 1
    return months


def new_patients_figure(rows: list[NewPatients], months: list[str]) -> Figure:
    totals: dict[str, int] = {}
    for r in rows:
        totals[r.label] = totals.get(r.label, 0) + r.count
    # Biggest channels first, so the stacks read the same way every month.
    channels = sorted(totals, key=lambda label: (-totals[label], label))
    counts: dict[tuple[str, str], int] = {}
    if len(channels) > MOST_SERIES:
        # More colours than eight cannot be told apart: the smallest share one stack.
        kept = set(channels[: MOST_SERIES - 1])
        channels = [*channels[: MOST_SERIES - 1], OTHERS]
    else:
        kept = set(channels)
    for r in rows:
        key = (r.month, r.label if r.label in kept else OTHERS)
        counts[key] = counts.get(key, 0) + r.count
    return Figure(
        title="New patients by source",
        columns=("Month", "Source", "New patients"),
        rows=tuple((r.month, r.label, r.count) for r in rows),
        categories=tuple(month_label(m) for m in months),
        series=tuple(
            Series(c, tuple(float(counts.get((m, c), 0)) for m in months)) for c in channels
        ),
        kind=STACKED,
        unit="patients",
        note=(
            "Patients counted in the month of their first visit (or when their record was "
            "made, if they have not come yet), by how they heard of the clinic."
        ),
        empty_reason="No new patients in these months.",
    )
