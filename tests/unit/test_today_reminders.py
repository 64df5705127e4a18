"""Today's call list says what the automatic reminder asking to confirm did for each visit."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.clinic import Clinic
from app.patients import records
from app.patients.model import PatientDraft
from app.scheduling import appointments
from app.store.writer import new_id
from app.today import _ASKED_SQL, CONFIRM_KIND, call_list
from tests.support.outbox_rows import make_message, make_rule

CHICAGO = ZoneInfo("America/Chicago")  # the `clinic` fixture's time zone
DAY = date(2026, 3, 9)  # a Monday, after the DST change on 8 March
TOMORROW = DAY + timedelta(days=1)
SENT = datetime(2026, 3, 8, 10, 0, tzinfo=CHICAGO)  # Sunday 10:00, two days before the visit


def visit_tomorrow(clinic: Clinic, family: str, hour: int = 10) -> tuple[str, str]:
    patient = records.create_patient(clinic, PatientDraft(family, "Ada")).id
    start = datetime(TOMORROW.year, TOMORROW.month, TOMORROW.day, hour, tzinfo=CHICAGO)
    visit = appointments.book(clinic, patient, start, start + timedelta(minutes=30)).id
    return patient, visit


def reminders_by_visit(clinic: Clinic) -> dict[str, str]:
    return {
        str(r.appointment_id): r.reminder for r in call_list(clinic, DAY) if r.kind == CONFIRM_KIND
    }


def reply(clinic: Clinic, patient: str, at: str) -> None:
    with clinic.store.write() as tx:
        tx.insert(
            "inbound_message",
            {
                "id": new_id(),
                "provider_ref": new_id(),
                "sender": "+16125550134",
                "body": "Can I come at 11 instead?",
                "received_at": at,
                "patient_id": patient,
                "meaning": "other",
            },
        )


def test_each_unconfirmed_visit_says_whether_the_reminder_went_and_was_answered(
    clinic: Clinic,
) -> None:
    rule = make_rule(clinic)  # its touch asks the patient to confirm
    texted, texted_visit = visit_tomorrow(clinic, "Okafor", 9)
    emailed, emailed_visit = visit_tomorrow(clinic, "Brandt", 10)
    answered, answered_visit = visit_tomorrow(clinic, "Chen", 11)
    failed, failed_visit = visit_tomorrow(clinic, "Diaz", 12)
    _nothing, nothing_visit = visit_tomorrow(clinic, "Evans", 13)
    for patient, visit, channel in (
        (texted, texted_visit, "sms"),
        (emailed, emailed_visit, "email"),
        (answered, answered_visit, "sms"),
    ):
        make_message(
            clinic, patient, rule, "sent", due_at=SENT, sent_at=SENT, channel=channel,
            subject_id=visit,
        )  # fmt: skip
    make_message(
        clinic, failed, rule, "failed", due_at=SENT, subject_id=failed_visit,
        reason="The number cannot receive texts",
    )  # fmt: skip
    reply(clinic, answered, "2026-03-08T17:30:00Z")
    reply(clinic, texted, "2026-03-07T12:00:00Z")  # before the reminder: not an answer to it

    found = reminders_by_visit(clinic)

    assert found == {
        texted_visit: "Reminder texted Sun 10:00, no reply",
        emailed_visit: "Reminder emailed Sun 10:00, no reply",
        answered_visit: "Reminder texted Sun 10:00, replied, see Messages ▸ Inbox",
        failed_visit: found[failed_visit],
        nothing_visit: "",
    }
    assert found[failed_visit].startswith("Reminder text failed ")


def test_only_reminders_that_asked_to_confirm_and_went_or_failed_count(clinic: Clinic) -> None:
    from datetime import time

    from app.reminders.rules import Rule, Touch, save_rule

    asking = make_rule(clinic)
    plain = save_rule(
        clinic,
        Rule(id="", kind="appointment", name="A week before", touches=(Touch(-7, time(10)),)),
    ).id
    patient, visit = visit_tomorrow(clinic, "Okafor")
    make_message(clinic, patient, plain, "sent", due_at=SENT, sent_at=SENT, subject_id=visit)
    for state in ("planned", "due", "cancelled", "skipped"):
        make_message(clinic, patient, asking, state, due_at=SENT, subject_id=visit)

    assert reminders_by_visit(clinic) == {visit: ""}


def test_the_newest_reminder_wins_and_an_undelivered_text_says_so(clinic: Clinic) -> None:
    rule = make_rule(clinic)
    patient, visit = visit_tomorrow(clinic, "Okafor")
    make_message(
        clinic, patient, rule, "sent", due_at=SENT - timedelta(days=1),
        sent_at=SENT - timedelta(days=1), subject_id=visit,
    )  # fmt: skip
    newest = make_message(
        clinic, patient, rule, "sent", due_at=SENT, sent_at=SENT, subject_id=visit
    )
    with clinic.store.write() as tx:
        tx.update("outbox", newest, {"delivery": "undelivered"})

    assert reminders_by_visit(clinic) == {visit: "Reminder text did not arrive (Sun 10:00)"}


def test_the_reminders_of_the_whole_list_come_from_one_indexed_query(clinic: Clinic) -> None:
    rows = clinic.conn.execute("EXPLAIN QUERY PLAN " + _ASKED_SQL, ('["a", "b"]',)).fetchall()
    plan = " | ".join(str(r[3]) for r in rows)
    assert "USING INDEX outbox_subject" in plan
