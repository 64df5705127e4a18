"""New patients by source, enquiries, cost per new patient and first-year revenue, from
app/growth/acquisition.py (its definitions, its SQL; the Enquiries tab shows the same).

Acquisition counts whole calendar months and has no provider (a patient comes to the
clinic, not to one provider), so this report shows every month the range touches and
ignores the provider filter; the page says so.
"""

from __future__ import annotations

from app.clinic import Clinic
from app.growth import acquisition
from app.growth.acquisition import NewPatients, new_patients_by_source
from app.reports.figure import BARS, STACKED, Figure, Series, column, dollars, month_label, percent
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


def lead_figure(clinic: Clinic, filters: ReportFilters) -> Figure:
    rows = acquisition.lead_conversion(clinic, *whole_months(filters))
    table = tuple(
        (r.label, r.leads, r.booked, r.first_visit, r.lost, percent(r.first_visit, r.leads))
        for r in rows
    )
    return Figure(
        title="Enquiries by source",
        columns=("Source", "Enquiries", "Booked", "Came for a first visit", "Lost", "Came (%)"),
        rows=table,
        categories=tuple(r.label for r in rows),
        series=(Series("Came for a first visit", column(table, 5)),),
        kind=BARS,
        unit="%",
        axis="Source",
        note=(
            "Enquiries received in these months by how they heard of the clinic, how far they "
            "got, and the share that came for a first visit."
        ),
        empty_reason="No enquiries were received in these months.",
    )


def cost_figure(clinic: Clinic, filters: ReportFilters) -> Figure:
    rows = acquisition.cost_per_new_patient(clinic, *whole_months(filters))
    spent: dict[str, list[int]] = {}
    for r in rows:
        totals = spent.setdefault(r.label, [0, 0])
        totals[0] += r.spend_cents
        totals[1] += r.new_patients
    paid = sorted(label for label, (cents, _n) in spent.items() if cents)
    return Figure(
        title="Cost per new patient",
        columns=("Month", "Source", "Spend ($)", "New patients", "Cost per new patient ($)"),
        rows=tuple(
            (r.month, r.label, dollars(r.spend_cents), r.new_patients, dollars(r.cost_cents))
            for r in rows
            if r.spend_cents
        ),
        categories=tuple(paid),
        series=(
            Series(
                "Cost per new patient",
                tuple(spent[p][0] / 100 / spent[p][1] if spent[p][1] else None for p in paid),
            ),
        ),
        kind=BARS,
        unit="$",
        axis="Source",
        note=(
            "What was spent on each paid channel, and the spend per new patient it brought "
            "(the chart: over all the months shown). Channels without spend are left out."
        ),
        empty_reason="No spend was entered for these months (Enquiries tab, Spend).",
    )


def revenue_figure(clinic: Clinic, filters: ReportFilters, *, today: str | None = None) -> Figure:
    rows = acquisition.revenue_in_first_year(clinic, *whole_months(filters), today=today)
    table = tuple(
        (
            r.label,
            r.patients,
            dollars(r.payments_cents),
            dollars(r.average_cents),
            r.still_in_first_year,
        )
        for r in rows
    )
    return Figure(
        title="Revenue in the first year by source",
        columns=(
            "Source",
            "New patients",
            "Paid in their first year ($)",
            "Per patient ($)",
            "Still in their first year",
        ),
        rows=table,
        categories=tuple(r.label for r in rows),
        series=(Series("Paid per new patient", column(table, 3)),),
        kind=BARS,
        unit="$",
        axis="Source",
        note=(
            "Patients who started in these months, and what they paid in their first 12 "
            "months. Patients whose year is not over yet are counted; their figure grows."
        ),
        empty_reason="No new patients in these months.",
    )
