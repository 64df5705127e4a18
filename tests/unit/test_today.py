"""The desk's day (app.today): agenda, calls to make and birthdays, in the clinic's time zone."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.clinic import Clinic
from app.demo.generator import generate
from app.directory import add_location, add_provider
from app.errors import InvalidInputError
from app.patients import records
from app.patients.model import PatientDraft, PhoneDraft
from app.patients.timeline import timeline
from app.scheduling import appointments
from app.tasks import add_task, complete_task, open_tasks
from app.today import (
    CALL_OUTCOMES,
    CONFIRM_KIND,
    TASK_KIND,
    CallRow,
    agenda,
    birthdays,
    call_list,
    clinic_today,
    complete_call,
    next_open_day,
)

CHICAGO = ZoneInfo("America/Chicago")  # the `clinic` fixture's time zone
DAY = date(2026, 3, 10)  # a Tuesday, clear of the DST change on 8 March


def new_patient(
    clinic: Clinic, family: str = "Okafor", given: str = "Ada", born: str = "", phone: str = ""
) -> str:
    phones = (PhoneDraft(phone, "mobile"),) if phone else ()
    draft = PatientDraft(family, given, birth_date=born, phones=phones)
    return records.create_patient(clinic, draft).id


def book_at(clinic: Clinic, patient: str, day: date, hour: int, minute: int = 0, **kw: Any) -> str:
    start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=CHICAGO)
    return appointments.book(clinic, patient, start, start + timedelta(minutes=30), **kw).id


def call_for(rows: list[CallRow], *, appointment_id: str = "", task_id: str = "") -> CallRow:
    for row in rows:
        if appointment_id and row.appointment_id == appointment_id:
            return row
        if task_id and row.task_id == task_id:
            return row
    raise AssertionError("the call is not on the list")


def plan(clinic: Clinic, sql: str, params: tuple[object, ...]) -> str:
    rows = clinic.conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    return " | ".join(str(r[3]) for r in rows)


# --- the agenda ------------------------------------------------------------------------


def test_a_visit_late_in_the_evening_belongs_to_that_local_day(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    late = book_at(clinic, patient, DAY, 23, 30)  # 04:30 UTC on the 11th (CDT)
    early = book_at(clinic, patient, DAY + timedelta(days=1), 0, 15)  # 05:15 UTC on the 11th

    today = [r.appointment_id for r in agenda(clinic, DAY)]
    tomorrow = [r.appointment_id for r in agenda(clinic, DAY + timedelta(days=1))]

    assert appointments.get(clinic, late).start_at == "2026-03-11T04:30:00Z"
    assert today == [late]
    assert tomorrow == [early]


def test_agenda_rows_say_who_when_with_whom_and_where(clinic: Clinic) -> None:
    patient = records.create_patient(
        clinic,
        PatientDraft(
            "Okafor", "Ada", preferred_name="Addie", phones=(PhoneDraft("612-555-0134", "mobile"),)
        ),
    ).id
    provider = add_provider(clinic, "Ortiz", "Elena", title="Dr.").id
    location = add_location(clinic, "Lakeside Clinic").id
    book_at(
        clinic,
        patient,
        DAY,
        9,
        45,
        provider_id=provider,
        location_id=location,
        kind="checkup",
        reason="Annual physical",
    )

    (row,) = agenda(clinic, DAY)

    assert row.patient_id == patient
    assert row.patient_name == "Okafor, Ada (Addie)"
    assert row.time_text == "09:45"
    assert row.starts_at.tzinfo == CHICAGO
    assert row.provider == "Dr. Elena Ortiz"
    assert row.location == "Lakeside Clinic"
    assert (row.kind, row.reason) == ("checkup", "Annual physical")
    assert row.phone == "(612) 555-0134"
    assert row.confirmation == "Not confirmed"


def test_agenda_is_in_time_order(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    ids = [book_at(clinic, patient, DAY, hour) for hour in (15, 8, 11)]

    assert [r.appointment_id for r in agenda(clinic, DAY)] == [ids[1], ids[2], ids[0]]


def test_every_status_reads_as_a_word_the_desk_uses(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    words = {
        "booked": "Not confirmed",
        "confirmed": "Confirmed",
        "arrived": "Arrived",
        "fulfilled": "Seen",
        "noshow": "No-show",
        "cancelled": "Cancelled",
    }
    made = {}
    for hour, status in enumerate(words, start=8):
        appointment = book_at(clinic, patient, DAY, hour)
        appointments.set_status(clinic, appointment, status)
        made[appointment] = status

    rows = agenda(clinic, DAY)

    assert {r.appointment_id: r.confirmation for r in rows} == {
        a: words[s] for a, s in made.items()
    }
    assert {r.status for r in rows if r.closed} == {"noshow", "cancelled"}


def test_agenda_reads_only_the_day_through_the_start_time_index(clinic: Clinic) -> None:
    from app import today

    assert "USING INDEX appointment_start" in plan(
        clinic, today._AGENDA_SQL, ("2026-03-10T05:00:00Z", "2026-03-11T05:00:00Z")
    )


def test_clinic_today_is_the_date_on_the_clinics_wall(clinic: Clinic) -> None:
    # 03:00 UTC on the 11th is still the evening of the 10th in Chicago.
    assert clinic_today(clinic, datetime(2026, 3, 11, 3, 0, tzinfo=ZoneInfo("UTC"))) == DAY


# --- the call list ---------------------------------------------------------------------


def test_call_list_has_unconfirmed_visits_of_tomorrow_and_tasks_due(clinic: Clinic) -> None:
    ada = new_patient(clinic, "Okafor", "Ada", phone="612-555-0134")
    ben = new_patient(clinic, "Brandt", "Ben")
    tomorrow = DAY + timedelta(days=1)
    unconfirmed = book_at(clinic, ada, tomorrow, 10)
    confirmed = book_at(clinic, ben, tomorrow, 11)
    appointments.set_status(clinic, confirmed, "confirmed")
    today_visit = book_at(clinic, ben, DAY, 14)
    later_visit = book_at(clinic, ben, DAY + timedelta(days=2), 9)
    overdue = add_task(clinic, ben, DAY - timedelta(days=3), note="Lab results").id
    due_today = add_task(clinic, ada, DAY, kind="follow-up", note="New medication").id
    future = add_task(clinic, ada, DAY + timedelta(days=1), note="Not yet").id
    done = add_task(clinic, ben, DAY - timedelta(days=1), note="Done already").id
    complete_task(clinic, done)

    rows = call_list(clinic, DAY)

    assert [(r.kind, r.task_id or r.appointment_id) for r in rows] == [
        (TASK_KIND, overdue),
        (TASK_KIND, due_today),
        (CONFIRM_KIND, unconfirmed),
    ]
    first, second, confirm = rows
    assert (first.reason, first.due_text, first.patient_name) == (
        "Call back: Lab results",
        "3 days overdue",
        "Brandt, Ben",
    )
    assert (second.reason, second.due_text) == ("Follow up: New medication", "Today")
    assert confirm.reason.startswith("Confirm the visit (Wed 11 Mar, 10:00")
    assert confirm.phone == "(612) 555-0134"
    assert confirm.patient_id == ada
    assert {today_visit, later_visit, confirmed, future}.isdisjoint(
        {r.appointment_id for r in rows} | {r.task_id for r in rows}
    )


def test_a_task_note_that_already_says_call_back_is_not_prefixed_twice(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    add_task(clinic, patient, DAY, note="Call back (last call: voicemail): about the bill")
    add_task(clinic, patient, DAY, kind="follow-up")

    reasons = [r.reason for r in call_list(clinic, DAY)]

    assert reasons == ["Call back (last call: voicemail): about the bill", "Follow up"]


def test_no_confirmation_calls_to_deceased_or_do_not_contact_patients(clinic: Clinic) -> None:
    tomorrow = DAY + timedelta(days=1)
    gone = new_patient(clinic, "Lind", "Oskar")
    private = new_patient(clinic, "Moreau", "Claire")
    book_at(clinic, gone, tomorrow, 9)
    book_at(clinic, private, tomorrow, 10)
    records.mark_deceased(clinic, gone)
    records.update_patient(clinic, private, {"do_not_contact": True})

    assert call_list(clinic, DAY) == []
    assert len(agenda(clinic, tomorrow)) == 2  # still on tomorrow's book


def test_completing_a_task_call_logs_it_on_the_timeline_and_clears_it(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    task = add_task(clinic, patient, DAY, note="Lab results").id
    row = call_for(call_list(clinic, DAY), task_id=task)

    changes = complete_call(clinic, row, "reached", "Went over the results")

    entry = timeline(clinic, patient, kinds={"call"})[0]
    assert (entry.title, entry.detail, entry.direction) == (
        "Call · reached",
        "Lab results",
        "out",
    )
    assert call_list(clinic, DAY) == []
    assert open_tasks(clinic, DAY) == []
    assert changes.touches("task", "interaction")
    assert patient in changes.patient_ids


def test_a_call_already_marked_done_elsewhere_is_not_logged_twice(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    task = add_task(clinic, patient, DAY).id
    row = call_for(call_list(clinic, DAY), task_id=task)
    complete_call(clinic, row, "voicemail")

    with pytest.raises(InvalidInputError, match="already marked done"):
        complete_call(clinic, row, "reached")
    assert len(timeline(clinic, patient, kinds={"call"})) == 1


def test_a_confirmation_call_that_reached_the_patient_confirms_the_visit(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    visit = book_at(clinic, patient, DAY + timedelta(days=1), 10)
    row = call_for(call_list(clinic, DAY), appointment_id=visit)

    changes = complete_call(clinic, row, "reached", "See you at ten", confirmed=True)

    assert appointments.get(clinic, visit).status == "confirmed"
    assert agenda(clinic, DAY + timedelta(days=1))[0].confirmation == "Confirmed"
    assert call_list(clinic, DAY) == []
    call = timeline(clinic, patient, kinds={"call"})[0]
    assert call.title == "Call · reached"
    assert changes.touches("appointment", "interaction")


def test_a_voicemail_logs_the_call_and_leaves_the_visit_unconfirmed(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    visit = book_at(clinic, patient, DAY + timedelta(days=1), 10)
    row = call_for(call_list(clinic, DAY), appointment_id=visit)

    complete_call(clinic, row, "voicemail", "Left a message")

    assert appointments.get(clinic, visit).status == "booked"
    assert agenda(clinic, DAY + timedelta(days=1))[0].confirmation == "Not confirmed"
    assert call_list(clinic, DAY) == []  # called today: off the list
    assert timeline(clinic, patient, kinds={"call"})[0].title == "Call · voicemail"


def test_only_a_call_that_reached_someone_can_confirm_a_visit(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    visit = book_at(clinic, patient, DAY + timedelta(days=1), 10)
    row = call_for(call_list(clinic, DAY), appointment_id=visit)

    with pytest.raises(InvalidInputError, match="reached"):
        complete_call(clinic, row, "no answer", confirmed=True)

    assert appointments.get(clinic, visit).status == "booked"
    assert timeline(clinic, patient, kinds={"call"}) == []


def test_confirming_a_visit_cancelled_meanwhile_saves_nothing(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    visit = book_at(clinic, patient, DAY + timedelta(days=1), 10)
    row = call_for(call_list(clinic, DAY), appointment_id=visit)
    appointments.set_status(clinic, visit, "cancelled")

    with pytest.raises(InvalidInputError, match="Nothing was saved"):
        complete_call(clinic, row, "reached", confirmed=True)

    assert timeline(clinic, patient, kinds={"call"}) == []


def test_a_call_needs_one_of_the_known_outcomes(clinic: Clinic) -> None:
    patient = new_patient(clinic)
    task = add_task(clinic, patient, DAY).id
    row = call_for(call_list(clinic, DAY), task_id=task)

    with pytest.raises(InvalidInputError, match="how the call went"):
        complete_call(clinic, row, "")

    assert CALL_OUTCOMES == ("reached", "voicemail", "no answer", "wrong number")
    assert open_tasks(clinic, DAY)[0].id == task


def test_the_demo_clinic_gives_the_desk_calls_to_make(clinic: Clinic) -> None:
    generate(clinic, 300, seed=5, today=DAY)

    rows = call_list(clinic, DAY)
    tasks = [r for r in rows if r.kind == TASK_KIND]

    assert len(tasks) >= 4
    assert any(r.overdue_days > 0 for r in tasks)
    assert any(r.overdue_days == 0 for r in tasks)
    assert all(r.phone for r in tasks)  # demo call-backs go to people with a phone
    assert len(open_tasks(clinic, DAY + timedelta(days=30))) > len(tasks)  # some lie ahead


# --- birthdays -------------------------------------------------------------------------


def test_birthdays_list_living_patients_with_the_age_they_turn(clinic: Clinic) -> None:
    ada = new_patient(clinic, "Okafor", "Ada", born="1990-03-10", phone="612-555-0134")
    private = new_patient(clinic, "Moreau", "Claire", born="1961-03-10")
    records.update_patient(clinic, private, {"do_not_contact": True})
    gone = new_patient(clinic, "Lind", "Oskar", born="1940-03-10")
    records.mark_deceased(clinic, gone)
    new_patient(clinic, "Brandt", "Ben", born="1990-03-11")

    rows = birthdays(clinic, DAY)

    assert [(r.patient_id, r.turns) for r in rows] == [(private, 65), (ada, 36)]
    assert rows[1].phone == "(612) 555-0134"
    assert rows[1].birth_date == date(1990, 3, 10)


def test_leap_day_birthdays_are_kept_on_28_february_in_common_years(clinic: Clinic) -> None:
    leapling = new_patient(clinic, "Okafor", "Ada", born="2000-02-29")
    born_28th = new_patient(clinic, "Brandt", "Ben", born="2000-02-28")

    common = {r.patient_id: r.turns for r in birthdays(clinic, date(2027, 2, 28))}
    leap_28 = {r.patient_id for r in birthdays(clinic, date(2028, 2, 28))}
    leap_29 = {r.patient_id for r in birthdays(clinic, date(2028, 2, 29))}

    assert common == {leapling: 27, born_28th: 27}
    assert leap_28 == {born_28th}
    assert leap_29 == {leapling}
    assert birthdays(clinic, date(2027, 3, 1)) == []


def test_partial_birth_dates_never_have_a_birthday(clinic: Clinic) -> None:
    new_patient(clinic, "Okafor", "Ada", born="1974")
    new_patient(clinic, "Brandt", "Ben", born="1974-12")
    new_patient(clinic, "Lind", "Oskar")  # no birth date at all

    for day in (date(2026, 1, 1), date(2026, 12, 1), date(2026, 7, 1), date(2026, 12, 19)):
        assert birthdays(clinic, day) == []


def test_birthdays_are_read_through_the_birthday_index(clinic: Clinic) -> None:
    from app import today

    assert "USING INDEX patient_birthday" in plan(clinic, today._BIRTHDAYS_SQL, ("03-10", "03-10"))


def test_on_a_friday_the_desk_confirms_the_next_open_day(clinic: Clinic) -> None:
    """Nothing is booked on the weekend: Monday's unconfirmed visits are Friday's calls."""
    friday = date(2026, 3, 13)
    ada = records.create_patient(clinic, PatientDraft("Okafor", "Ada")).id
    monday = book_at(clinic, ada, friday + timedelta(days=3), 9)
    book_at(clinic, ada, friday + timedelta(days=10), 9)  # beyond the week: not looked at
    assert next_open_day(clinic, friday) == friday + timedelta(days=3)
    confirms = [r for r in call_list(clinic, friday) if r.kind == CONFIRM_KIND]
    assert [r.appointment_id for r in confirms] == [monday]
    assert confirms[0].reason.startswith("Confirm the visit (Mon 16 Mar, 09:00")


def test_with_an_empty_book_the_next_open_day_is_tomorrow(clinic: Clinic) -> None:
    assert next_open_day(clinic, DAY) == DAY + timedelta(days=1)


def test_a_child_without_a_phone_is_reached_on_the_household_payers_phone(
    clinic: Clinic,
) -> None:
    from app.patients.households import add_member, create_household

    parent = records.create_patient(
        clinic, PatientDraft("Okafor", "Ngozi", phones=(PhoneDraft("(612) 555-0177"),))
    ).id
    child = records.create_patient(clinic, PatientDraft("Okafor", "Chidi")).id
    home = create_household(clinic, "Okafor", parent).id
    add_member(clinic, home, child, "child")
    book_at(clinic, child, DAY, 9)
    (row,) = agenda(clinic, DAY)
    assert row.phone == "(612) 555-0177 (household)"
    book_at(clinic, parent, DAY, 10)
    assert [r.phone for r in agenda(clinic, DAY)] == [
        "(612) 555-0177 (household)",
        "(612) 555-0177",
    ]
