"""Every report's figures equal an independent count, on a clinic built with the app's own
functions: visits booked and closed, reminders moved through the outbox states, visits
confirmed the way the SMS reply reader does it, survey answers recorded as the kiosk and
replies do. The test's own counts use plain SQL over month bounds it works out itself
from the clinic's time zone (America/Chicago), so a visit late on 31 January local time
(already February in UTC) is January's."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.clinic import Clinic
from app.directory import add_provider
from app.engagement import surveys
from app.errors import InvalidInputError
from app.patients.model import PatientDraft
from app.patients.records import create_patient
from app.reminders import outbox
from app.reminders.replies import CONFIRM_NOTE
from app.reports import attendance, catalogue, growth, messages, satisfaction
from app.reports.filters import ReportFilters, default_filters, month_bounds
from app.scheduling import appointments

ZONE = ZoneInfo("America/Chicago")
FIRST, LAST = date(2026, 1, 1), date(2026, 3, 31)
MONTHS = ("2026-01", "2026-02", "2026-03")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bounds(month: str) -> tuple[str, str]:
    """The test's own reading of a local month as UTC bounds."""
    year, number = int(month[:4]), int(month[5:])
    start = datetime(year, number, 1, tzinfo=ZONE)
    after = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=ZONE)
    return _utc(start), _utc(after)


def _message(
    clinic: Clinic,
    patient_id: str,
    *,
    kind: str,
    subject: str,
    at: datetime,
    channel: str,
    state: str = "sent",
    touch: int = 0,
) -> str:
    """A message moved through the outbox's own states to sent (or failed) at `at`."""
    key = outbox.idem_key(f"rule-{kind}", touch, subject or patient_id, _utc(at))
    row = outbox.new_row(
        idem=key,
        rule_id=f"rule-{kind}",
        touch=touch,
        purpose="appointment" if kind == "appointment" else "recall",
        patient_id=patient_id,
        subject_kind=kind,
        subject_id=subject,
        occurrence=_utc(at)[:10],
        due_at=_utc(at - timedelta(hours=1)),
        stale_at=_utc(at + timedelta(days=1)),
        now=_utc(at - timedelta(days=3)),
    )
    with clinic.store.write() as tx:
        message_id = tx.insert("outbox", row)
        outbox.transition(tx, message_id, "due", "", expect=("planned",), device_id="t")
        outbox.transition(tx, message_id, "sending", "", expect=("due",), device_id="t")
        values = {"channel": channel, "updated_at": _utc(at)}
        if state == "sent":
            values["sent_at"] = _utc(at)
        outbox.transition(
            tx, message_id, state, "", expect=("sending",), device_id="t", values=values
        )
    return message_id


@dataclass(frozen=True)
class Built:
    providers: tuple[str, str]


def _build(clinic: Clinic, seed: int = 3) -> Built:
    rng = random.Random(seed)
    doctors = (
        add_provider(clinic, "Okafor", "Ada", title="Dr.").id,
        add_provider(clinic, "Lindqvist", "Sven", title="Dr.").id,
    )
    patients = [
        create_patient(clinic, PatientDraft(family_name=f"Tester{n}", given_names="Pat")).id
        for n in range(8)
    ]
    starts = [datetime(2026, 1, 31, 23, 30, tzinfo=ZONE), datetime(2026, 3, 31, 23, 0, tzinfo=ZONE)]
    starts += [
        datetime(2025, 12, 20, 9, tzinfo=ZONE)
        + timedelta(days=rng.randrange(120), hours=rng.randrange(8))
        for _ in range(150)
    ]
    for n, start in enumerate(starts):
        patient = rng.choice(patients)
        visit = appointments.book(
            clinic, patient, start, start + timedelta(minutes=20), provider_id=rng.choice(doctors)
        ).id
        reminder = rng.choice(("sent", "sent", "late", "failed", "none"))
        if reminder == "sent":
            _message(
                clinic,
                patient,
                kind="appointment",
                subject=visit,
                at=start - timedelta(days=1),
                channel="sms",
            )
            if rng.random() < 0.3:
                _message(
                    clinic,
                    patient,
                    kind="appointment",
                    subject=visit,
                    at=start - timedelta(days=7),
                    channel="email",
                    touch=1,
                )
            if rng.random() < 0.5:
                appointments.set_status(clinic, visit, "confirmed", note=CONFIRM_NOTE)
        elif reminder == "late":  # sent after the visit started: no reminder at all
            _message(
                clinic,
                patient,
                kind="appointment",
                subject=visit,
                at=start + timedelta(hours=1),
                channel="sms",
            )
        elif reminder == "failed":
            _message(
                clinic,
                patient,
                kind="appointment",
                subject=visit,
                at=start - timedelta(days=1),
                channel="sms",
                state="failed",
            )
        if rng.random() < 0.15:
            appointments.set_status(clinic, visit, "confirmed", note="")  # the desk, by phone
        status = rng.choice(("fulfilled", "fulfilled", "noshow", "arrived", "cancelled", "booked"))
        if status != "booked":
            appointments.set_status(clinic, visit, status)
        if status == "fulfilled" and rng.random() < 0.7:
            surveys.record_answer(
                clinic,
                score=rng.randrange(11),
                channel=rng.choice(("sms", "kiosk")),
                appointment_id=visit,
                at=start + timedelta(hours=rng.randrange(1, 40)),
            )
        if n % 3 == 0:
            state = rng.choice(("sent", "sent", "failed"))
            _message(
                clinic,
                patient,
                kind="recall",
                subject="",
                at=start,
                channel=rng.choice(("sms", "email", "letter", "call")),
                state=state,
            )
    return Built(doctors)


@pytest.fixture
def built(clinic: Clinic) -> Built:
    return _build(clinic)


_REACHED = "status IN ('fulfilled', 'arrived', 'noshow')"
_HAD_REMINDER = (
    "EXISTS (SELECT 1 FROM outbox o WHERE o.subject_id = a.id AND o.subject_kind = 'appointment'"
    " AND o.state = 'sent' AND o.sent_at < a.start_at)"
)


def _count(clinic: Clinic, sql: str, *args: object) -> int:
    return int(clinic.conn.execute(sql, args).fetchone()[0])


@pytest.mark.parametrize("by_provider", [False, True])
def test_no_show_figures_equal_an_independent_count(
    clinic: Clinic, built: Built, by_provider: bool
) -> None:
    provider = built.providers[0] if by_provider else None
    rows = attendance.no_shows(clinic, ReportFilters(FIRST, LAST, provider))
    assert [r.month for r in rows] == list(MONTHS)
    where = " AND (? IS NULL OR a.provider_id = ?)"
    for row in rows:
        lo, hi = _bounds(row.month)
        base = (
            f"SELECT count(*) FROM appointment a WHERE a.{_REACHED}"
            f" AND a.start_at >= ? AND a.start_at < ?{where}"
        )
        args = (lo, hi, provider, provider)
        assert row.reminded == _count(clinic, f"{base} AND {_HAD_REMINDER}", *args)
        assert row.reminded_noshows == _count(
            clinic, f"{base} AND {_HAD_REMINDER} AND a.status = 'noshow'", *args
        )
        assert row.not_reminded == _count(clinic, f"{base} AND NOT {_HAD_REMINDER}", *args)
        assert row.not_reminded_noshows == _count(
            clinic, f"{base} AND NOT {_HAD_REMINDER} AND a.status = 'noshow'", *args
        )
    # The data has every case the figures tell apart.
    assert sum(r.reminded_noshows for r in rows) > 0
    assert sum(r.not_reminded_noshows for r in rows) > 0


def test_a_visit_late_on_the_last_local_day_of_a_month_counts_in_that_month(
    clinic: Clinic, built: Built
) -> None:
    late = clinic.conn.execute(
        "SELECT status FROM appointment WHERE start_at = ?",
        (_utc(datetime(2026, 1, 31, 23, 30, tzinfo=ZONE)),),
    ).fetchone()
    assert late is not None
    january = ReportFilters(date(2026, 1, 1), date(2026, 1, 31))
    visits = attendance.confirmations(clinic, january)[0]
    whole = _count(
        clinic,
        "SELECT count(*) FROM appointment WHERE start_at >= ? AND start_at < ?",
        *_bounds("2026-01"),
    )
    utc_january = _count(
        clinic,
        "SELECT count(*) FROM appointment"
        " WHERE start_at >= '2026-01-01' AND start_at < '2026-02-01'",
    )
    assert whole != utc_january  # the clinic's month is not UTC's
    rows = attendance.no_shows(clinic, january)
    reached = _count(
        clinic,
        f"SELECT count(*) FROM appointment WHERE {_REACHED} AND start_at >= ? AND start_at < ?",
        *_bounds("2026-01"),
    )
    assert rows[0].reminded + rows[0].not_reminded == reached
    assert visits.month == "2026-01"


def test_confirmation_figures_equal_an_independent_count(clinic: Clinic, built: Built) -> None:
    rows = attendance.confirmations(clinic, ReportFilters(FIRST, LAST))
    sent = (
        "(SELECT count(*) FROM outbox o WHERE o.subject_id = a.id"
        " AND o.subject_kind = 'appointment'"
        " AND o.state = 'sent' AND o.sent_at < a.start_at)"
    )
    by_reply = (
        "EXISTS (SELECT 1 FROM appointment_status h WHERE h.appointment_id = a.id"
        " AND h.status = 'confirmed' AND h.note = ?)"
    )
    for row in rows:
        lo, hi = _bounds(row.month)
        span = "FROM appointment a WHERE a.start_at >= ? AND a.start_at < ?"
        assert row.reminders_sent == _count(
            clinic, f"SELECT coalesce(sum({sent}), 0) {span}", lo, hi
        )
        assert row.visits_reminded == _count(
            clinic, f"SELECT count(*) {span} AND {sent} > 0", lo, hi
        )
        assert row.confirmed_by_reply == _count(
            clinic, f"SELECT count(*) {span} AND {sent} > 0 AND {by_reply}", lo, hi, CONFIRM_NOTE
        )
    assert sum(r.confirmed_by_reply for r in rows) > 0
    assert sum(r.reminders_sent for r in rows) > sum(
        r.visits_reminded for r in rows
    )  # second touches


@pytest.mark.parametrize("by_provider", [False, True])
def test_nps_figures_equal_an_independent_count(
    clinic: Clinic, built: Built, by_provider: bool
) -> None:
    provider = built.providers[1] if by_provider else None
    rows = satisfaction.nps_by_month(clinic, ReportFilters(FIRST, LAST, provider))
    for row in rows:
        lo, hi = _bounds(row.month)
        found = clinic.conn.execute(
            "SELECT score FROM survey_response WHERE answered_at >= ? AND answered_at < ?"
            " AND (? IS NULL OR provider_id = ?)",
            (lo, hi, provider, provider),
        ).fetchall()
        scores = [s for (s,) in found]
        assert row.promoters == sum(s >= 9 for s in scores)
        assert row.passives == sum(s in (7, 8) for s in scores)
        assert row.detractors == sum(s <= 6 for s in scores)
        if scores:
            expected = 100 * (row.promoters - row.detractors) / len(scores)
            assert row.nps == pytest.approx(expected)
        else:
            assert row.nps is None
    assert sum(r.answers for r in rows) > 0


def test_message_volume_equals_an_independent_count(clinic: Clinic, built: Built) -> None:
    rows = messages.message_volume(clinic, ReportFilters(FIRST, LAST))
    found = {(r.month, r.channel): (r.sent, r.failed) for r in rows}
    expected: dict[tuple[str, str], tuple[int, int]] = {}
    for month in MONTHS:
        lo, hi = _bounds(month)
        for channel, sent, failed in clinic.conn.execute(
            "SELECT channel, sum(state = 'sent' AND sent_at >= ? AND sent_at < ?),"
            " sum(state = 'failed' AND updated_at >= ? AND updated_at < ?)"
            " FROM outbox GROUP BY channel",
            (lo, hi, lo, hi),
        ).fetchall():
            if sent or failed:
                expected[(month, channel)] = (sent, failed)
    assert found == expected
    assert {"sms", "email"} <= {c for _m, c in found}


def test_new_patients_report_is_the_acquisition_figure_for_the_months_touched(
    clinic: Clinic, built: Built
) -> None:
    from app.growth.acquisition import new_patients_by_source

    rows = growth.new_patients(clinic, ReportFilters(date(2025, 12, 15), date(2026, 11, 2)))
    assert rows == new_patients_by_source(clinic, "2025-12", "2026-11")


def test_a_provider_narrows_the_figures(clinic: Clinic, built: Built) -> None:
    everyone = attendance.no_shows(clinic, ReportFilters(FIRST, LAST))
    one = attendance.no_shows(clinic, ReportFilters(FIRST, LAST, built.providers[0]))
    other = attendance.no_shows(clinic, ReportFilters(FIRST, LAST, built.providers[1]))
    for a, b, c in zip(everyone, one, other, strict=True):
        assert a.reminded == b.reminded + c.reminded
        assert a.not_reminded_noshows == b.not_reminded_noshows + c.not_reminded_noshows
    assert one != everyone


def test_a_range_cuts_its_first_and_last_months_to_its_days(clinic: Clinic) -> None:
    bounds = month_bounds(clinic, ReportFilters(date(2026, 3, 15), date(2026, 4, 2)))
    assert [b.month for b in bounds] == ["2026-03", "2026-04"]
    assert bounds[0].lo == _utc(datetime(2026, 3, 15, tzinfo=ZONE))
    assert bounds[1].hi == _utc(datetime(2026, 4, 3, tzinfo=ZONE))


def test_the_default_range_is_the_last_twelve_months_to_today() -> None:
    filters = default_filters(date(2026, 11, 29))
    assert (filters.first, filters.last, filters.provider_id) == (
        date(2025, 12, 1),
        date(2026, 11, 29),
        None,
    )


def test_a_backwards_range_is_refused_in_plain_words(clinic: Clinic) -> None:
    with pytest.raises(InvalidInputError, match="before its start"):
        attendance.no_shows(clinic, ReportFilters(date(2026, 3, 1), date(2026, 2, 1)))


def test_every_report_runs_on_an_empty_clinic_and_says_why_it_is_empty(clinic: Clinic) -> None:
    for report in catalogue.REPORTS:
        figure = report.run(clinic, ReportFilters(FIRST, LAST))
        assert figure.is_empty, report.key
        assert figure.empty_reason


def test_a_message_counts_in_the_local_month_it_was_sent_even_days_after_it_fell_due(
    clinic: Clinic,
) -> None:
    patient = create_patient(clinic, PatientDraft(family_name="Edge", given_names="Eve")).id
    late_january = datetime(2026, 1, 31, 23, 50, tzinfo=ZONE)  # 1 Feb in UTC
    early_february = datetime(2026, 2, 1, 0, 10, tzinfo=ZONE)
    _message(clinic, patient, kind="recall", subject="", at=late_january, channel="letter")
    _message(clinic, patient, kind="recall", subject="", at=early_february, channel="letter")
    printed_late = _message(
        clinic,
        patient,
        kind="recall",
        subject="",
        at=datetime(2026, 3, 10, 9, tzinfo=ZONE),
        channel="letter",
    )
    with clinic.store.write() as tx:  # fell due in December, printed and sent in March
        tx.update("outbox", printed_late, {"due_at": "2025-12-20T15:00:00Z"})
    rows = messages.message_volume(clinic, ReportFilters(FIRST, LAST))
    assert [(r.month, r.channel, r.sent) for r in rows] == [
        ("2026-01", "letter", 1),
        ("2026-02", "letter", 1),
        ("2026-03", "letter", 1),
    ]


def test_enquiry_cost_and_revenue_reports_show_the_acquisition_figures(
    clinic: Clinic, built: Built
) -> None:
    from decimal import Decimal

    from app.growth import acquisition
    from app.growth.acquisition import LeadDraft

    acquisition.set_spend(clinic, "search", "2026-02", 45_050)
    lead = acquisition.add_lead(
        clinic,
        LeadDraft(family_name="Asker", phone="(612) 555-0142", source="search"),
        at=datetime(2026, 2, 3, 10, tzinfo=ZONE),
    ).id
    acquisition.move_lead(clinic, lead, "booked")
    filters = ReportFilters(FIRST, LAST)
    leads = growth.lead_figure(clinic, filters)
    assert len(leads.rows) == 1
    assert [row[:5] for row in leads.rows] == [
        (r.label, r.leads, r.booked, r.first_visit, r.lost)
        for r in acquisition.lead_conversion(clinic, "2026-01", "2026-03")
    ]
    cost = growth.cost_figure(clinic, filters)
    assert [(row[0], row[2]) for row in cost.rows] == [("2026-02", Decimal("450.50"))]
    revenue = growth.revenue_figure(clinic, filters, today="2026-04-01")
    assert [row[1] for row in revenue.rows] == [
        r.patients
        for r in acquisition.revenue_in_first_year(clinic, "2026-01", "2026-03", today="2026-04-01")
    ]
