"""The reports the Reports page offers, in its order: what each is called and how it runs.

`run` does the SQL and shapes the figure in one call, so the page runs it whole off
the GUI thread on a forked clinic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.clinic import Clinic
from app.reports import attendance, growth, messages, reactivation, satisfaction
from app.reports.figure import Figure
from app.reports.filters import ReportFilters, month_bounds


@dataclass(frozen=True)
class Report:
    key: str
    title: str
    by_provider: bool  # False: the provider filter does not apply (the page says so)
    run: Callable[[Clinic, ReportFilters], Figure]


def _no_shows(clinic: Clinic, filters: ReportFilters) -> Figure:
    return attendance.no_show_figure(attendance.no_shows(clinic, filters))


def _confirmations(clinic: Clinic, filters: ReportFilters) -> Figure:
    return attendance.confirmation_figure(attendance.confirmations(clinic, filters))


def _nps(clinic: Clinic, filters: ReportFilters) -> Figure:
    return satisfaction.nps_figure(satisfaction.nps_by_month(clinic, filters))


def _new_patients(clinic: Clinic, filters: ReportFilters) -> Figure:
    rows = growth.new_patients(clinic, filters)
    return growth.new_patients_figure(rows, growth.months_of(filters))


def _messages(clinic: Clinic, filters: ReportFilters) -> Figure:
    months = [b.month for b in month_bounds(clinic, filters)]
    return messages.message_figure(messages.message_volume(clinic, filters), months)


def _reactivation(clinic: Clinic, filters: ReportFilters) -> Figure:
    return reactivation.reactivation_figure(reactivation.rates(clinic, filters))


REPORTS: tuple[Report, ...] = (
    Report("no_shows", "No-shows and reminders", True, _no_shows),
    Report("confirmations", "Confirmations by reply", True, _confirmations),
    Report("nps", "Patient satisfaction (NPS)", True, _nps),
    Report("new_patients", "New patients by source", False, _new_patients),
    Report("leads", "Enquiries by source", False, growth.lead_figure),
    Report("cost", "Cost per new patient", False, growth.cost_figure),
    Report("revenue", "Revenue in the first year", False, growth.revenue_figure),
    Report("reactivation", "Reactivation by campaign", False, _reactivation),
    Report("messages", "Messages by channel", False, _messages),
)


def report(key: str) -> Report:
    return next(r for r in REPORTS if r.key == key)
