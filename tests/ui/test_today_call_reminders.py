"""Today's call list shows, next to each visit to confirm, what the reminder did."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.patients import records
from app.patients.model import PatientDraft
from app.scheduling import appointments
from app.store.changes import Changes
from app.today import clinic_today, clinic_zone
from tests.support.outbox_rows import make_message, make_rule
from ui.bus import DataBus
from ui.today_page import WHY_COLUMN, TodayPage


def test_the_why_column_says_the_reminder_was_texted_once_the_outbox_changes(
    qtbot: QtBot, clinic: Clinic
) -> None:
    zone = clinic_zone(clinic)
    tomorrow = clinic_today(clinic) + timedelta(days=1)
    patient = records.create_patient(clinic, PatientDraft("Okafor", "Ada")).id
    start = datetime.combine(tomorrow, time(10), tzinfo=zone)
    visit = appointments.book(clinic, patient, start, start + timedelta(minutes=20)).id
    bus = DataBus()
    page = TodayPage(clinic, bus)
    qtbot.addWidget(page)
    page.show()
    (row,) = page.calls_model.rows
    assert page.calls_model.index(0, WHY_COLUMN).data() == row.reason

    sent = datetime.combine(clinic_today(clinic), time(9, 30), tzinfo=zone)
    make_message(
        clinic, patient, make_rule(clinic), "sent", due_at=sent,
        sent_at=sent, subject_id=visit,
    )  # fmt: skip
    bus.publish(Changes(frozenset({"outbox"}), frozenset({patient})))

    why = page.calls_model.index(0, WHY_COLUMN).data()
    assert why == f"{row.reason} · Reminder texted {sent:%a} 09:30, no reply"
