"""Reactivation rate by campaign, from app/growth/reactivation.py (its definitions).

A patient counts for the campaign that first reached them in the range, and as
reactivated when they booked within 60 days after that message. Reactivation is about
the patient, not a provider, so the provider filter does not apply.
"""

from __future__ import annotations

from app.clinic import Clinic
from app.growth.reactivation import ReactivationRate, reactivation_rates
from app.reports.figure import BARS, Figure, Series, column
from app.reports.filters import ReportFilters, check


def rates(clinic: Clinic, filters: ReportFilters) -> list[ReactivationRate]:
    check(filters)
    return reactivation_rates(clinic, first=filters.first, last=filters.last)


def reactivation_figure(rows: list[ReactivationRate]) -> Figure:
    table = tuple(
        (r.name, r.reached, r.reactivated, None if r.rate is None else 100.0 * r.rate) for r in rows
    )
    nothing = not any(r.reached for r in rows)
    return Figure(
        title="Reactivation by campaign",
        columns=("Campaign", "Patients reached", "Booked within 60 days", "Reactivation rate (%)"),
        rows=() if nothing else table,
        categories=tuple(r.name for r in rows),
        series=(Series("Reactivation rate", column(table, 3)),),
        kind=BARS,
        unit="%",
        axis="Campaign",
        note=(
            "Patients a reactivation campaign first reached in these days, and the share who "
            "booked a visit within 60 days after that message."
        ),
        empty_reason="No reactivation campaign reached anybody in these days.",
    )
