"""The patient's 360° timeline (app.patients.timeline) over real rows of every kind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.billing import ledger
from app.clinic import Clinic
from app.interactions.log import log_interaction
from app.patients import records
from app.patients.model import PatientDraft
from app.patients.timeline import KINDS, TimelineEntry, timeline
from app.scheduling import appointments
from tests.support.outbox_rows import make_message, make_rule

BASE = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


def at(day: int) -> str:
    return (BASE + timedelta(days=day)).isoformat().replace("+00:00", "Z")


def new_patient(clinic: Clinic, family: str = "Okafor") -> str:
    return records.create_patient(clinic, PatientDraft(family, "Ada")).id


def fill_history(clinic: Clinic, patient: str) -> dict[str, str]:
    """One row of every kind, each on its own day; returns kind -> record id."""
    made: dict[str, str] = {}
    start = BASE + timedelta(days=1)
    made["appointment"] = appointments.book(
        clinic, patient, start, start + timedelta(minutes=30), kind="checkup", reason="Physical"
    ).id
    for day, kind in enumerate(("visit", "call", "email", "sms", "letter", "note"), start=2):
        made[kind] = log_interaction(
            clinic,
            patient,
            kind,
            direction="out",
            subject=f"{kind} subject",
            occurred_at=at(day),
        ).id
    made["charge"] = ledger.post_charge(clinic, patient, 7500, "Office visit", posted_at=at(8)).id
    made["payment"] = ledger.record_payment(
        clinic, patient, 5000, "cash", "R123456", received_at=at(9)
    ).id
    made["consent"] = records.record_consent(
        clinic, patient, "sms", "appointment", True, "intake form", at=at(10)
    ).id
    rule = make_rule(clinic)
    made["message"] = make_message(clinic, patient, rule, "sent", due_at=at(11), sent_at=at(11))
    return made


def test_timeline_lists_every_kind_newest_first(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    made = fill_history(clinic, patient)

    entries = timeline(clinic, patient)

    assert [e.kind for e in entries] == [
        "message",
        "consent",
        "payment",
        "charge",
        "note",
        "letter",
        "sms",
        "email",
        "call",
        "visit",
        "appointment",
    ]
    assert {e.kind: e.record_id for e in entries} == made
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)


def test_entries_carry_title_detail_direction_and_amount(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    fill_history(clinic, patient)

    by_kind = {e.kind: e for e in timeline(clinic, patient)}

    assert by_kind["appointment"] == TimelineEntry(
        "appointment",
        at(1),
        "Appointment booked",
        "checkup Physical",
        "none",
        by_kind["appointment"].record_id,
        None,
    )
    assert by_kind["sms"].title == "Text"
    assert by_kind["sms"].detail == "sms subject"
    assert by_kind["sms"].direction == "out"
    assert by_kind["payment"].title == "Payment (cash)"
    assert by_kind["payment"].amount_cents == 5000
    assert by_kind["payment"].direction == "in"
    assert by_kind["charge"].amount_cents == 7500
    assert by_kind["consent"].title == "Consent given"
    assert by_kind["consent"].detail == "sms for appointment (intake form)"


def test_call_outcome_is_part_of_the_title(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    log_interaction(clinic, patient, "call", direction="in", outcome="voicemail", occurred_at=at(3))

    (entry,) = timeline(clinic, patient)

    assert entry.title == "Call · voicemail"
    assert entry.direction == "in"


def test_withdrawn_consent_reads_as_withdrawn(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    records.record_consent(clinic, patient, "email", "marketing", False, "phone", at=at(4))

    (entry,) = timeline(clinic, patient)

    assert entry.title == "Consent withdrawn"


def test_appointment_time_not_booking_time_places_it(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    future = BASE + timedelta(days=400)
    appointments.book(clinic, patient, future, future + timedelta(minutes=20))
    log_interaction(clinic, patient, "note", body="called", occurred_at=at(30))

    entries = timeline(clinic, patient)

    assert [e.kind for e in entries] == ["appointment", "note"]


def test_note_without_subject_shows_the_start_of_its_body(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    log_interaction(clinic, patient, "note", body="x" * 300, occurred_at=at(2))

    (entry,) = timeline(clinic, patient)

    assert entry.detail == "x" * 200


@pytest.mark.parametrize(
    "kinds",
    [{"call"}, {"sms", "email"}, {"payment", "charge"}, {"appointment", "consent", "visit"}],
)
def test_kind_filter_keeps_only_the_kinds_asked_for(clinic: Clinic, kinds: set[str]) -> None:
    patient = new_patient(clinic)
    fill_history(clinic, patient)

    entries = timeline(clinic, patient, kinds=kinds)

    assert sorted(e.kind for e in entries) == sorted(kinds)


def test_empty_kind_filter_shows_nothing(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    fill_history(clinic, patient)

    assert timeline(clinic, patient, kinds=set()) == []


def test_unknown_kind_is_refused(clinic: Clinic) -> None:
    patient = new_patient(clinic)

    with pytest.raises(ValueError, match="unknown timeline kinds"):
        timeline(clinic, patient, kinds={"call", "fax"})


def test_timeline_shows_only_this_patients_history(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    other = new_patient(clinic, "Lindqvist")
    fill_history(clinic, other)
    log_interaction(clinic, patient, "call", occurred_at=at(5))

    entries = timeline(clinic, patient)

    assert [e.kind for e in entries] == ["call"]


def test_pages_are_disjoint_and_together_cover_everything(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    fill_history(clinic, patient)
    fill_history(clinic, patient)  # same timestamps twice: ties must still page cleanly
    log_interaction(clinic, patient, "note", body="later", occurred_at=at(20))
    everything = timeline(clinic, patient, limit=1000)

    pages = [timeline(clinic, patient, limit=3, offset=offset) for offset in range(0, 27, 3)]

    flat = [e for page in pages for e in page]
    assert len(everything) == len(KINDS) * 2 + 1
    assert [len(p) for p in pages] == [3, 3, 3, 3, 3, 3, 3, 2, 0]
    assert len({e.record_id for e in flat}) == len(flat)
    assert flat == everything


def test_page_past_the_end_is_empty(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    fill_history(clinic, patient)

    assert timeline(clinic, patient, limit=50, offset=len(KINDS)) == []


def test_text_filter_keeps_entries_whose_title_or_detail_contains_it(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    log_interaction(clinic, patient, "note", subject="Asked about flu shots", occurred_at=at(1))
    log_interaction(clinic, patient, "note", subject="Parking validation", occurred_at=at(2))
    log_interaction(clinic, patient, "call", outcome="voicemail", occurred_at=at(3))
    assert [e.detail for e in timeline(clinic, patient, text="FLU")] == ["Asked about flu shots"]
    assert [e.title for e in timeline(clinic, patient, text="voicemail")] == ["Call · voicemail"]
    assert timeline(clinic, patient, text="dentist") == []


def test_text_filter_treats_like_wildcards_as_plain_characters(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    log_interaction(clinic, patient, "note", subject="Discount 50% agreed", occurred_at=at(1))
    log_interaction(clinic, patient, "note", subject="Discount 500 dollars", occurred_at=at(2))
    log_interaction(clinic, patient, "note", subject="file_name kept", occurred_at=at(3))
    log_interaction(clinic, patient, "note", subject="filename other", occurred_at=at(4))
    assert [e.detail for e in timeline(clinic, patient, text="50%")] == ["Discount 50% agreed"]
    assert [e.detail for e in timeline(clinic, patient, text="file_")] == ["file_name kept"]


def test_text_filter_combines_with_kinds_and_pages(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    for day in range(7):
        log_interaction(clinic, patient, "call", subject=f"recall {day}", occurred_at=at(day))
        log_interaction(clinic, patient, "note", subject=f"recall note {day}", occurred_at=at(day))
    calls = timeline(clinic, patient, kinds={"call"}, text="recall", limit=4)
    more = timeline(clinic, patient, kinds={"call"}, text="recall", limit=4, offset=4)
    assert [e.kind for e in calls + more] == ["call"] * 7
    assert [e.detail for e in calls + more] == [f"recall {d}" for d in range(6, -1, -1)]


def test_consent_entry_names_who_recorded_it(clinic: Clinic) -> None:
    from app.users import add_user

    patient = new_patient(clinic)
    clinic.acting_user_id = add_user(clinic, "Dana Reyes", "receptionist").id
    records.record_consent(clinic, patient, "sms", "recall", True, "at the desk", at=at(1))
    (entry,) = timeline(clinic, patient, kinds={"consent"})
    assert entry.detail == "sms for recall (at the desk) · recorded by Dana Reyes"


def test_appointment_states_read_in_desk_words(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    start = BASE + timedelta(days=1)
    seen = appointments.book(clinic, patient, start, start + timedelta(minutes=20)).id
    appointments.set_status(clinic, seen, "fulfilled")
    later = start + timedelta(days=1)
    missed = appointments.book(clinic, patient, later, later + timedelta(minutes=20)).id
    appointments.set_status(clinic, missed, "noshow")
    titles = [e.title for e in timeline(clinic, patient, kinds={"appointment"})]
    assert titles == ["Appointment missed (no-show)", "Appointment seen"]


# --- automatic messages (the outbox) ----------------------------------------------------


def test_sent_failed_skipped_and_printed_messages_show_planned_and_cancelled_do_not(
    clinic: Clinic,
) -> None:
    patient = new_patient(clinic)
    reminders = make_rule(clinic, "Appointment reminders")
    balance = make_rule(clinic, "Balance reminders", kind="billing")
    sent = make_message(
        clinic,
        patient,
        reminders,
        "sent",
        due_at=at(1),
        sent_at=at(1),
        body="Hi Ada, see you Tue 10:00.\nReply C to confirm.",
    )
    failed = make_message(
        clinic,
        patient,
        balance,
        "failed",
        due_at=at(2),
        channel="email",
        reason="The mail server refused the address",
    )
    letter = make_message(clinic, patient, balance, "to_print", due_at=at(3), channel="letter")
    skipped = make_message(
        clinic, patient, reminders, "skipped", due_at=at(4), reason="Opted out of texts"
    )
    for state in ("planned", "due", "cancelled"):
        make_message(clinic, patient, reminders, state, due_at=at(5))

    entries = {e.record_id: e for e in timeline(clinic, patient, kinds={"message"})}

    assert set(entries) == {sent, failed, letter, skipped}
    assert entries[sent].title == "Text sent · Appointment reminders"
    assert entries[sent].detail == "Hi Ada, see you Tue 10:00."
    assert (entries[sent].at, entries[sent].direction) == (at(1), "out")
    assert entries[failed].title == "Email failed · Balance reminders"
    assert entries[failed].detail == "The mail server refused the address"
    assert entries[letter].title == "Letter waiting for print · Balance reminders"
    # Skipped before a channel was chosen (the patient said no to every one).
    assert entries[skipped].title == "Message not sent · Appointment reminders"
    assert entries[skipped].detail == "Opted out of texts"
    assert {e.kind for e in entries.values()} == {"message"}


def test_a_sent_email_shows_its_subject_and_a_sent_message_sits_at_its_sending_time(
    clinic: Clinic,
) -> None:
    patient = new_patient(clinic)
    rule = make_rule(clinic)
    log_interaction(clinic, patient, "note", body="between", occurred_at=at(5))
    make_message(
        clinic,
        patient,
        rule,
        "sent",
        due_at=at(1),
        sent_at=at(9),
        channel="email",
        subject="Your visit on Tuesday",
        body="\n\nDear Ada,\n...",
    )
    make_message(
        clinic, patient, rule, "sent", due_at=at(2), sent_at=at(2), body="\n\n  Hi Ada\r\nbye"
    )

    entries = timeline(clinic, patient)

    assert [(e.kind, e.detail) for e in entries] == [
        ("message", "Your visit on Tuesday"),
        ("note", "between"),
        ("message", "Hi Ada"),
    ]


def test_messages_of_other_patients_and_deleted_rules_are_handled(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    other = new_patient(clinic, "Lindqvist")
    rule = make_rule(clinic)
    make_message(clinic, other, rule, "sent", due_at=at(1))
    mine = make_message(clinic, patient, "rule-gone", "sent", due_at=at(2), channel="email")

    (entry,) = timeline(clinic, patient)

    assert (entry.record_id, entry.title) == (mine, "Email sent")


def test_message_entries_filter_by_text_and_page_with_the_rest(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    fill_history(clinic, patient)
    rule = make_rule(clinic, "Yearly check-up recall", kind="recall")
    message = make_message(
        clinic, patient, rule, "failed", due_at=at(11), reason="Number cannot get texts"
    )

    assert [e.record_id for e in timeline(clinic, patient, text="cannot get")] == [message]
    assert [e.kind for e in timeline(clinic, patient, text="check-up")] == ["message"]
    everything = timeline(clinic, patient, limit=100)
    assert len(everything) == len(KINDS) + 1
    pages = [timeline(clinic, patient, limit=4, offset=o) for o in (0, 4, 8)]
    assert [e for page in pages for e in page] == everything
