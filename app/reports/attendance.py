"""Do reminders work? No-shows with and without a reminder, and visits confirmed by reply.

Definitions (a visit counts in the local month it was due to start):

* A visit **reached its time** when it is fulfilled, arrived or a no-show; cancelled,
  still booked or confirmed visits are left out (their outcome is not known yet).
* A visit **had a reminder** when an appointment reminder about it was SENT before it
  started (outbox subject_kind 'appointment', subject_id = the visit, state 'sent',
  sent_at < start_at). A reminder that failed or was skipped does not count: the
  patient never saw it.
* A visit was **confirmed by reply** when the SMS reply reader set it to confirmed
  (app/reminders/replies.py records the status change with the note CONFIRM_NOTE).
  A reply to a visit the desk had already confirmed changes nothing and is not counted.
  The confirmation rate is visits confirmed by reply / visits with a reminder.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.clinic import Clinic
from app.reminders.replies import CONFIRM_NOTE
from app.reports.figure import BARS, LINE, Figure, Series, column, month_label, percent
from app.reports.filters import MONTHS_CTE, ReportFilters, month_bounds, months_param
from app.scheduling.appointments import STATUSES

REACHED = ("fulfilled", "arrived", "noshow")


@dataclass(frozen=True)
class NoShowMonth:
    month: str
    reminded: int  # visits that reached their time and had a reminder sent before
    reminded_noshows: int
    not_reminded: int
    not_reminded_noshows: int

    @property
    def rate_with(self) -> float | None:
        return percent(self.reminded_noshows, self.reminded)

    @property
    def rate_without(self) -> float | None:
        return percent(self.not_reminded_noshows, self.not_reminded)


@dataclass(frozen=True)
class ConfirmationMonth:
    month: str
    reminders_sent: int  # appointment reminders sent (a visit may get two)
    visits_reminded: int
    confirmed_by_reply: int

    @property
    def rate(self) -> float | None:
        return percent(self.confirmed_by_reply, self.visits_reminded)


# One range seek per month on appointment(status, start_at), one seek per visit on
# outbox(subject_id).
_SENT_REMINDER = (
    "SELECT 1 FROM outbox o WHERE o.subject_id = a.id AND o.subject_kind = 'appointment'"
    " AND o.state = 'sent' AND o.sent_at < a.start_at"
)
_NO_SHOWS = (
    f"WITH {MONTHS_CTE}, visits(month, missed, reminded) AS ("  # noqa: S608 - constant parts
    " SELECT m.month, a.status = 'noshow', EXISTS (" + _SENT_REMINDER + ")"
    " FROM months m JOIN appointment a ON a.status IN ('fulfilled', 'arrived', 'noshow')"
    "  AND a.start_at >= m.lo AND a.start_at < m.hi"
    " WHERE :provider IS NULL OR a.provider_id = :provider) "
    "SELECT month, sum(reminded), sum(reminded AND missed), sum(NOT reminded),"
    " sum(NOT reminded AND missed) FROM visits GROUP BY month"
)


def no_shows(clinic: Clinic, filters: ReportFilters) -> list[NoShowMonth]:
    """Every month of the range (zeros where nothing happened), oldest first."""
    bounds = month_bounds(clinic, filters)
    params = {"months": months_param(bounds), "provider": filters.provider_id}
    found = {
        str(r[0]): NoShowMonth(str(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]))
        for r in clinic.conn.execute(_NO_SHOWS, params).fetchall()
    }
    return [found.get(b.month, NoShowMonth(b.month, 0, 0, 0, 0)) for b in bounds]


_ALL_STATUSES = ", ".join(f"'{status}'" for status in STATUSES)
_CONFIRMATIONS = (
    f"WITH {MONTHS_CTE}, asked(month, id, sent) AS ("  # noqa: S608 - constant parts
    " SELECT m.month, a.id, (SELECT count(*) FROM outbox o WHERE o.subject_id = a.id"
    "  AND o.subject_kind = 'appointment' AND o.state = 'sent' AND o.sent_at < a.start_at)"
    # Every status, named: the range then runs on appointment(status, start_at), the
    # index the no-show report reads too, instead of a second one.
    f" FROM months m JOIN appointment a ON a.status IN ({_ALL_STATUSES})"
    "  AND a.start_at >= m.lo AND a.start_at < m.hi"
    " WHERE :provider IS NULL OR a.provider_id = :provider) "
    "SELECT month, sum(sent), sum(sent > 0), sum(sent > 0 AND EXISTS (SELECT 1"
    " FROM appointment_status h WHERE h.appointment_id = asked.id AND h.status = 'confirmed'"
    " AND h.note = :note)) FROM asked GROUP BY month"
)


def confirmations(clinic: Clinic, filters: ReportFilters) -> list[ConfirmationMonth]:
    """Every month of the range: reminders sent, visits reminded, confirmed by reply."""
    bounds = month_bounds(clinic, filters)
    params = {"months": months_param(bounds), "provider": filters.provider_id, "note": CONFIRM_NOTE}
    found = {
        str(r[0]): ConfirmationMonth(str(r[0]), int(r[1]), int(r[2]), int(r[3]))
        for r in clinic.conn.execute(_CONFIRMATIONS, params).fetchall()
    }
    return [found.get(b.month, ConfirmationMonth(b.month, 0, 0, 0)) for b in bounds]


def no_show_figure(rows: list[NoShowMonth]) -> Figure:
    table = tuple(
        (
            r.month,
            r.reminded,
            r.reminded_noshows,
            r.rate_with,
            r.not_reminded,
            r.not_reminded_noshows,
            r.rate_without,
        )
        for r in rows
    )
    nothing = not any(r.reminded + r.not_reminded for r in rows)
    return Figure(
        title="No-shows with and without a reminder",
        columns=(
            "Month",
            "Visits with a reminder",
            "No-shows with a reminder",
            "No-show rate with a reminder (%)",
            "Visits without a reminder",
            "No-shows without a reminder",
            "No-show rate without a reminder (%)",
        ),
        rows=() if nothing else table,
        categories=tuple(month_label(r.month) for r in rows),
        series=(
            Series("With a reminder", column(table, 3)),
            Series("Without a reminder", column(table, 6)),
        ),
        kind=BARS,
        unit="%",
        note=(
            "Of the visits that reached their time (came, arrived or did not come), the share "
            "that did not come. A visit had a reminder when one was sent before it started."
        ),
        empty_reason="No visits reached their time in these months.",
    )


def confirmation_figure(rows: list[ConfirmationMonth]) -> Figure:
    table = tuple(
        (r.month, r.reminders_sent, r.visits_reminded, r.confirmed_by_reply, r.rate) for r in rows
    )
    nothing = not any(r.reminders_sent for r in rows)
    return Figure(
        title="Visits confirmed by reply",
        columns=(
            "Month",
            "Reminders sent",
            "Visits with a reminder",
            "Confirmed by reply",
            "Confirmation rate (%)",
        ),
        rows=() if nothing else table,
        categories=tuple(month_label(r.month) for r in rows),
        series=(Series("Confirmed by reply (%)", column(table, 4)),),
        kind=LINE,
        unit="%",
        note=(
            "Of the visits that were sent a reminder before they started, the share the "
            "patient confirmed by replying to the text. Counted in the month of the visit."
        ),
        empty_reason="No appointment reminders were sent for visits in these months.",
    )
