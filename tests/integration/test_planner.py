"""The planner on real clinics: rules and the schedule become outbox rows, once, on time,
and the rows follow the data (moved, cancelled, paid, booked, paused) until they are sent."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.billing.ledger import post_charge, record_payment
from app.clinic import Clinic
from app.patients.model import PatientDraft
from app.patients.records import create_patient, mark_deceased, update_patient
from app.reminders import outbox
from app.reminders.planner import PlanReport, plan
from app.reminders.rules import Rule, Touch, install_default_rules, save_rule, set_active
from app.reminders.settings import update_settings
from app.scheduling.appointments import book, move, set_status
from app.store.writer import utc_text

CHICAGO = ZoneInfo("America/Chicago")


def _at(day: date, hour: int, minute: int = 0, zone: ZoneInfo = CHICAGO) -> datetime:
    return datetime.combine(day, time(hour, minute)).replace(tzinfo=zone)


def _patient(clinic: Clinic, name: str = "Okafor", born: str = "1980-05-17") -> str:
    return create_patient(
        clinic, PatientDraft(family_name=name, given_names="Ada", birth_date=born)
    ).id


def _visit(clinic: Clinic, patient: str, day: date, hour: int = 14, **details: str) -> str:
    start = _at(day, hour)
    return book(clinic, patient, start, start + timedelta(minutes=30), **details).id


def _reminders(clinic: Clinic, **terms: object) -> Rule:
    rule = Rule(
        id="",
        kind="appointment",
        name="Reminders",
        touches=(Touch(days=-2, at=time(10, 0)), Touch(days=0, at=time(8, 0))),
        window_hours=6,
    )
    return save_rule(clinic, replace(rule, **terms))  # type: ignore[arg-type]


def _rule(clinic: Clinic, kind: str, touches: tuple[Touch, ...], **terms: object) -> Rule:
    rule = Rule(id="", kind=kind, name=f"{kind} rule", touches=touches, window_hours=24)
    return save_rule(clinic, replace(rule, **terms))  # type: ignore[arg-type]


def _messages(clinic: Clinic, **where: str) -> list[outbox.Message]:
    rows = outbox.list_messages(clinic, limit=1000, **where)  # type: ignore[arg-type]
    return sorted((r.message for r in rows), key=lambda m: (m.due_at, m.touch, m.idem_key))


def _journal(clinic: Clinic, table: str) -> int:
    return int(
        clinic.conn.execute("SELECT count(*) FROM change WHERE tbl = ?", (table,)).fetchone()[0]
    )


VISIT_DAY = date(2027, 1, 20)  # a Wednesday, CST (UTC-6)
BEFORE = _at(VISIT_DAY - timedelta(days=2), 9)  # Monday 09:00, an hour before the first touch


# --- appointment reminders -----------------------------------------------------------------------


def test_each_touch_of_a_visit_is_planned_at_its_local_time(clinic: Clinic) -> None:
    rule = _reminders(clinic)
    patient = _patient(clinic)
    visit = _visit(clinic, patient, VISIT_DAY)

    report = plan(clinic, now=BEFORE)

    assert report == PlanReport(planned=2)
    first, morning = _messages(clinic)
    assert (first.due_at, morning.due_at) == ("2027-01-18T16:00:00Z", "2027-01-20T14:00:00Z")
    assert first.stale_at == "2027-01-18T22:00:00Z"  # 6 hours later
    assert morning.stale_at == "2027-01-20T20:00:00Z"  # capped at the visit's start, 14:00
    assert {m.state for m in (first, morning)} == {"planned"}
    assert first.idem_key == outbox.idem_key(rule.id, 0, visit, "2027-01-20")
    assert (first.subject_kind, first.subject_id, first.patient_id) == (
        "appointment",
        visit,
        patient,
    )
    assert first.purpose == "appointment"
    assert [e.reason for e in outbox.history(clinic, first.id)] == ["Planned"]


def test_planning_twice_writes_nothing_the_second_time(clinic: Clinic) -> None:
    _reminders(clinic)
    _visit(clinic, _patient(clinic), VISIT_DAY)
    plan(clinic, now=BEFORE)
    rows = [(m.id, m.idem_key, m.due_at) for m in _messages(clinic)]
    journal = _journal(clinic, "outbox"), _journal(clinic, "outbox_event")

    assert plan(clinic, now=BEFORE) == PlanReport()
    assert plan(clinic, now=BEFORE + timedelta(minutes=5)) == PlanReport()

    assert [(m.id, m.idem_key, m.due_at) for m in _messages(clinic)] == rows
    assert (_journal(clinic, "outbox"), _journal(clinic, "outbox_event")) == journal


def test_a_second_workstation_copy_plans_the_same_keys(clinic: Clinic) -> None:
    _reminders(clinic)
    _visit(clinic, _patient(clinic), VISIT_DAY)
    other = clinic.fork()
    try:
        plan(clinic, now=BEFORE)
        assert plan(other, now=BEFORE).planned == 0
    finally:
        other.close()
    assert len(_messages(clinic)) == 2


def test_a_message_becomes_due_when_its_time_comes(clinic: Clinic) -> None:
    _reminders(clinic)
    _visit(clinic, _patient(clinic), VISIT_DAY)
    plan(clinic, now=BEFORE)

    report = plan(clinic, now=_at(VISIT_DAY - timedelta(days=2), 10, 30))

    assert report.made_due == 1
    first, morning = _messages(clinic)
    assert (first.state, morning.state) == ("due", "planned")
    assert [e.state for e in outbox.history(clinic, first.id)] == ["planned", "due"]


def test_a_visit_booked_after_its_touch_time_is_planned_due_when_still_in_the_window(
    clinic: Clinic,
) -> None:
    _reminders(clinic)
    _visit(clinic, _patient(clinic), VISIT_DAY)

    report = plan(clinic, now=_at(VISIT_DAY - timedelta(days=2), 13))  # 3 h after 10:00

    assert (report.planned, report.made_due) == (2, 1)
    assert [m.state for m in _messages(clinic)] == ["due", "planned"]


def test_a_touch_older_than_its_window_is_never_planned(clinic: Clinic) -> None:
    _reminders(clinic)
    _visit(clinic, _patient(clinic), VISIT_DAY)

    report = plan(clinic, now=_at(VISIT_DAY - timedelta(days=2), 17))  # 7 h after 10:00

    assert report.planned == 1
    assert [m.touch for m in _messages(clinic)] == [1]


def test_after_the_computer_was_off_old_messages_are_skipped_with_the_reason(
    clinic: Clinic,
) -> None:
    update_settings(clinic, enabled=True)
    _reminders(clinic)
    _visit(clinic, _patient(clinic), VISIT_DAY, hour=11)
    plan(clinic, now=BEFORE)

    # Back on the morning of the visit at 09:30: the 08:00 reminder is within its window.
    report = plan(clinic, now=_at(VISIT_DAY, 9, 30))

    assert (report.stale, report.made_due) == (1, 1)
    first, morning = _messages(clinic)
    assert (first.state, morning.state) == ("skipped", "due")
    assert first.reason == (
        "Not sent: it was due at 10:00 on Mon 18 Jan and the computer was off until later "
        "than the rule allows (6 hours)"
    )
    assert outbox.history(clinic, first.id)[-1].reason == first.reason


def test_while_sending_is_off_old_messages_are_skipped_saying_so(clinic: Clinic) -> None:
    _reminders(clinic)
    _visit(clinic, _patient(clinic), VISIT_DAY)
    plan(clinic, now=BEFORE)

    plan(clinic, now=_at(VISIT_DAY - timedelta(days=1), 9))

    assert _messages(clinic)[0].reason == (
        "Not sent: it was due at 10:00 on Mon 18 Jan while sending was switched off, "
        "and it is now later than the rule allows (6 hours)"
    )


def test_a_clock_jumping_forward_makes_no_burst_of_old_messages(clinic: Clinic) -> None:
    _reminders(clinic)
    patient = _patient(clinic)
    for offset in range(3):
        _visit(clinic, patient, VISIT_DAY + timedelta(days=offset))
    plan(clinic, now=BEFORE)
    planned_before = len(_messages(clinic))

    report = plan(clinic, now=BEFORE + timedelta(days=400))

    assert report.made_due == 0 and report.stale == planned_before
    assert report.planned == 0
    assert {m.state for m in _messages(clinic)} == {"skipped"}


def test_a_cancelled_visit_cancels_its_open_reminders(clinic: Clinic) -> None:
    _reminders(clinic)
    visit = _visit(clinic, _patient(clinic), VISIT_DAY)
    plan(clinic, now=BEFORE)
    set_status(clinic, visit, "cancelled", "patient called")

    report = plan(clinic, now=BEFORE + timedelta(minutes=1))

    assert report.cancelled == 2
    assert {(m.state, m.reason) for m in _messages(clinic)} == {
        ("cancelled", "The visit was cancelled")
    }


def test_a_visit_moved_to_another_day_gets_reminders_for_the_new_day(clinic: Clinic) -> None:
    _reminders(clinic)
    visit = _visit(clinic, _patient(clinic), VISIT_DAY)
    plan(clinic, now=BEFORE)
    new_day = VISIT_DAY + timedelta(days=1)
    move(clinic, visit, _at(new_day, 15), _at(new_day, 15, 30))

    report = plan(clinic, now=BEFORE + timedelta(minutes=1))

    assert (report.cancelled, report.planned) == (2, 2)
    old = [m for m in _messages(clinic) if m.occurrence == VISIT_DAY.isoformat()]
    new = [m for m in _messages(clinic) if m.occurrence == new_day.isoformat()]
    assert {(m.state, m.reason) for m in old} == {
        ("cancelled", "The visit was moved to another day")
    }
    assert [m.due_at for m in new] == ["2027-01-19T16:00:00Z", "2027-01-21T14:00:00Z"]


def test_a_visit_moved_within_its_day_keeps_its_messages_retimed(clinic: Clinic) -> None:
    _reminders(clinic)
    visit = _visit(clinic, _patient(clinic), VISIT_DAY, hour=14)
    plan(clinic, now=BEFORE)
    move(clinic, visit, _at(VISIT_DAY, 9), _at(VISIT_DAY, 9, 30))

    report = plan(clinic, now=BEFORE + timedelta(minutes=1))

    assert (report.retimed, report.cancelled, report.planned) == (1, 0, 0)
    morning = _messages(clinic)[1]
    assert (morning.state, morning.due_at) == ("planned", "2027-01-20T14:00:00Z")
    assert morning.stale_at == "2027-01-20T15:00:00Z"  # the visit now starts at 09:00


def test_a_visit_moved_before_its_morning_reminder_cancels_that_reminder(clinic: Clinic) -> None:
    _reminders(clinic)
    visit = _visit(clinic, _patient(clinic), VISIT_DAY)
    plan(clinic, now=BEFORE)
    move(clinic, visit, _at(VISIT_DAY, 7, 30), _at(VISIT_DAY, 8))

    plan(clinic, now=BEFORE + timedelta(minutes=1))

    first, morning = _messages(clinic)
    assert first.state == "planned"
    assert (morning.state, morning.reason) == (
        "cancelled",
        "The visit was moved to before this reminder's time",
    )


def test_a_visit_moved_away_and_back_is_reminded_again(clinic: Clinic) -> None:
    _reminders(clinic)
    visit = _visit(clinic, _patient(clinic), VISIT_DAY)
    plan(clinic, now=BEFORE)
    elsewhere = VISIT_DAY + timedelta(days=1)
    move(clinic, visit, _at(elsewhere, 14), _at(elsewhere, 15))
    plan(clinic, now=BEFORE + timedelta(minutes=1))
    move(clinic, visit, _at(VISIT_DAY, 14), _at(VISIT_DAY, 15))

    report = plan(clinic, now=BEFORE + timedelta(minutes=2))

    assert (report.planned, report.cancelled) == (2, 2)
    open_ = [m for m in _messages(clinic) if m.state == "planned"]
    assert [m.occurrence for m in open_] == [VISIT_DAY.isoformat()] * 2
    assert all(m.idem_key.endswith("#2") for m in open_)
    assert plan(clinic, now=BEFORE + timedelta(minutes=3)) == PlanReport()


def test_a_paused_rule_cancels_its_messages_and_resuming_plans_them_again(clinic: Clinic) -> None:
    rule = _reminders(clinic)
    _visit(clinic, _patient(clinic), VISIT_DAY)
    plan(clinic, now=BEFORE)

    set_active(clinic, rule.id, False)
    paused = plan(clinic, now=BEFORE + timedelta(minutes=1))
    set_active(clinic, rule.id, True)
    resumed = plan(clinic, now=BEFORE + timedelta(minutes=2))

    assert (paused.cancelled, paused.planned) == (2, 0)
    assert resumed.planned == 2
    states = sorted((m.state, m.reason) for m in _messages(clinic))
    assert states == [("cancelled", "The rule was paused")] * 2 + [("planned", "")] * 2


def test_a_deleted_rule_cancels_its_messages(clinic: Clinic) -> None:
    rule = _reminders(clinic)
    _visit(clinic, _patient(clinic), VISIT_DAY)
    plan(clinic, now=BEFORE)
    with clinic.store.write() as tx:
        tx.delete("reminder_rule", rule.id)

    assert plan(clinic, now=BEFORE).cancelled == 2
    assert {m.reason for m in _messages(clinic)} == {"The rule was deleted"}


def test_visit_filters_choose_the_visits_a_rule_covers(clinic: Clinic) -> None:
    from app.directory import add_location, add_provider

    doctor = add_provider(clinic, "Lindqvist").id
    other_doctor = add_provider(clinic, "Moreau").id
    annex = add_location(clinic, "Annex").id
    _reminders(clinic, appointment_kinds=("checkup",), provider_ids=(doctor,))
    patient = _patient(clinic)
    covered = _visit(clinic, patient, VISIT_DAY, kind="checkup", provider_id=doctor)
    _visit(clinic, patient, VISIT_DAY, hour=15, kind="sick", provider_id=doctor)
    _visit(clinic, patient, VISIT_DAY, hour=16, kind="checkup", provider_id=other_doctor)
    by_place = _reminders(clinic, name="Annex only", location_ids=(annex,))
    at_annex = _visit(clinic, patient, VISIT_DAY + timedelta(days=1), location_id=annex)

    plan(clinic, now=BEFORE)

    by_rule = {(m.rule_id, m.subject_id) for m in _messages(clinic)}
    assert {subject for rule_id, subject in by_rule if rule_id != by_place.id} == {covered}
    assert {subject for rule_id, subject in by_rule if rule_id == by_place.id} == {at_annex}


def test_a_visit_no_longer_covered_by_its_rule_is_cancelled(clinic: Clinic) -> None:
    rule = _reminders(clinic, appointment_kinds=("checkup",))
    _visit(clinic, _patient(clinic), VISIT_DAY, kind="checkup")
    plan(clinic, now=BEFORE)
    save_rule(clinic, replace(rule, appointment_kinds=("sick",)))

    assert plan(clinic, now=BEFORE).cancelled == 2
    assert {m.reason for m in _messages(clinic)} == {"The rule no longer covers this visit"}


def test_a_changed_touch_time_retimes_the_open_messages(clinic: Clinic) -> None:
    rule = _reminders(clinic)
    _visit(clinic, _patient(clinic), VISIT_DAY)
    plan(clinic, now=BEFORE)
    touches = (Touch(days=-2, at=time(11, 0)), Touch(days=0, at=time(8, 0)))
    save_rule(clinic, replace(rule, touches=touches))

    assert plan(clinic, now=BEFORE).retimed == 1
    assert _messages(clinic)[0].due_at == "2027-01-18T17:00:00Z"


# --- who is never planned for -------------------------------------------------------------------


def test_deceased_merged_and_do_not_contact_patients_get_nothing(clinic: Clinic) -> None:
    _reminders(clinic)
    reachable = _patient(clinic, "Reachable")
    died = _patient(clinic, "Died")
    quiet = _patient(clinic, "Quiet")
    merged = _patient(clinic, "Merged")
    for patient in (reachable, died, quiet, merged):
        _visit(clinic, patient, VISIT_DAY)
    mark_deceased(clinic, died)
    update_patient(clinic, quiet, {"do_not_contact": True})
    with clinic.store.write() as tx:
        tx.update("patient", merged, {"merged_into": reachable})

    plan(clinic, now=BEFORE)

    assert {m.patient_id for m in _messages(clinic)} == {reachable}


def test_open_messages_of_a_patient_who_can_no_longer_be_contacted_are_cancelled(
    clinic: Clinic,
) -> None:
    _reminders(clinic)
    died, quiet = _patient(clinic, "Died"), _patient(clinic, "Quiet")
    _visit(clinic, died, VISIT_DAY)
    _visit(clinic, quiet, VISIT_DAY)
    plan(clinic, now=BEFORE)
    mark_deceased(clinic, died)
    update_patient(clinic, quiet, {"do_not_contact": True})

    assert plan(clinic, now=BEFORE).cancelled == 4
    reasons = {(m.patient_id, m.reason) for m in _messages(clinic)}
    assert reasons == {
        (died, "The patient has died"),
        (quiet, "The patient asked not to be contacted"),
    }


def test_messages_the_sender_has_taken_are_never_touched(clinic: Clinic) -> None:
    _reminders(clinic)
    visit = _visit(clinic, _patient(clinic), VISIT_DAY)
    plan(clinic, now=_at(VISIT_DAY - timedelta(days=2), 10, 30))
    first = _messages(clinic)[0]
    with clinic.store.write() as tx:
        outbox.transition(
            tx, first.id, "sending", "Sending", expect=("due",), device_id=clinic.store.device_id
        )
    set_status(clinic, visit, "cancelled")

    report = plan(clinic, now=_at(VISIT_DAY + timedelta(days=5), 10))

    assert report.cancelled == 1  # the other, still planned
    taken = outbox.get_message(clinic, first.id)
    assert (taken.state, taken.due_at, taken.stale_at) == ("sending", first.due_at, first.stale_at)


# --- the other rule kinds ------------------------------------------------------------------------


def test_a_missed_visit_gets_a_follow_up_the_next_day_unless_booked_again(clinic: Clinic) -> None:
    _rule(clinic, "no_show", (Touch(days=1, at=time(10, 0)),))
    patient = _patient(clinic)
    visit = _visit(clinic, patient, VISIT_DAY)
    set_status(clinic, visit, "noshow")

    plan(clinic, now=_at(VISIT_DAY, 18))

    (follow_up,) = _messages(clinic)
    assert (follow_up.due_at, follow_up.subject_id) == ("2027-01-21T16:00:00Z", visit)
    assert (follow_up.subject_kind, follow_up.occurrence) == ("appointment", "2027-01-20")

    _visit(clinic, patient, VISIT_DAY + timedelta(days=9))
    assert plan(clinic, now=_at(VISIT_DAY, 19)).cancelled == 1
    assert outbox.get_message(clinic, follow_up.id).reason == "Already booked"


def test_a_recall_is_due_months_after_the_last_visit_clamped_to_the_month_end(
    clinic: Clinic,
) -> None:
    rule = _rule(
        clinic,
        "recall",
        (Touch(days=-1, at=time(10, 0)), Touch(days=0, at=time(10, 0))),
        recall_months=1,
        recall_visit_kinds=("checkup",),
    )
    patient = _patient(clinic)
    seen = _visit(clinic, patient, date(2027, 1, 31), kind="checkup")
    set_status(clinic, seen, "fulfilled")
    later_sick = _visit(clinic, patient, date(2027, 2, 10), kind="sick")
    set_status(clinic, later_sick, "fulfilled")  # not a checkup: does not reset the recall

    report = plan(clinic, now=_at(date(2027, 2, 27), 8))

    assert report.planned == 2
    due_day = next(m for m in _messages(clinic) if m.touch == 1)
    assert due_day.occurrence == "2027-02-28"
    assert due_day.due_at == "2027-02-28T16:00:00Z"
    assert (due_day.subject_kind, due_day.subject_id) == ("recall", "")
    assert due_day.idem_key == outbox.idem_key(rule.id, 1, patient, "2027-02-28")


def test_a_recall_is_cancelled_once_the_patient_books(clinic: Clinic) -> None:
    _rule(clinic, "recall", (Touch(days=0, at=time(10, 0)),), recall_months=12)
    patient = _patient(clinic)
    set_status(clinic, _visit(clinic, patient, date(2026, 3, 3)), "fulfilled")
    plan(clinic, now=_at(date(2027, 3, 2), 12))
    assert len(_messages(clinic)) == 1

    booking = _visit(clinic, patient, date(2027, 3, 20))
    assert plan(clinic, now=_at(date(2027, 3, 2), 13)).cancelled == 1
    assert _messages(clinic)[0].reason == "Already booked"

    # The booking falls through: the recall is wanted again.
    set_status(clinic, booking, "cancelled")
    assert plan(clinic, now=_at(date(2027, 3, 2), 14)).planned == 1


def test_a_newer_visit_moves_the_recall(clinic: Clinic) -> None:
    _rule(clinic, "recall", (Touch(days=-2, at=time(10, 0)),), recall_months=12)
    patient = _patient(clinic)
    set_status(clinic, _visit(clinic, patient, date(2026, 3, 3)), "fulfilled")
    plan(clinic, now=_at(date(2027, 3, 1), 8))
    set_status(clinic, _visit(clinic, patient, date(2026, 9, 3)), "fulfilled")

    assert plan(clinic, now=_at(date(2027, 3, 1), 9)).cancelled == 1
    assert _messages(clinic)[0].reason == "A newer visit changed when the patient is due"


def test_billing_notices_count_from_the_oldest_unpaid_charge(clinic: Clinic) -> None:
    _rule(
        clinic,
        "billing",
        (Touch(days=30, at=time(10, 0)), Touch(days=60, at=time(10, 0))),
        min_balance_cents=1000,
        channels=("email", "letter"),
    )
    patient = _patient(clinic)
    post_charge(clinic, patient, 4000, "Visit", posted_at=utc_text(_at(date(2027, 1, 2), 11)))
    post_charge(clinic, patient, 6000, "Visit", posted_at=utc_text(_at(date(2027, 1, 9), 11)))
    record_payment(clinic, patient, 5000, "card", received_at=utc_text(_at(date(2027, 1, 10), 9)))
    small = _patient(clinic, "Small")
    post_charge(clinic, small, 900, "Copay", posted_at=utc_text(_at(date(2027, 1, 9), 11)))

    report = plan(clinic, now=_at(date(2027, 2, 8), 8))

    # $40 was paid in full by the $50: the $60 charge of Jan 9 is the oldest unpaid.
    assert report.planned == 1
    (notice,) = _messages(clinic)
    assert (notice.patient_id, notice.occurrence, notice.touch) == (patient, "2027-01-09", 0)
    assert notice.due_at == "2027-02-08T16:00:00Z"
    assert (notice.subject_kind, notice.purpose) == ("balance", "billing")

    record_payment(clinic, patient, 5000, "cash")
    assert plan(clinic, now=_at(date(2027, 2, 8), 9)).cancelled == 1
    assert outbox.get_message(clinic, notice.id).reason == "The balance was paid"


def test_a_birthday_greeting_goes_on_the_day_and_feb_29_on_feb_28(clinic: Clinic) -> None:
    _rule(clinic, "birthday", (Touch(days=0, at=time(9, 0)),), window_hours=10)
    leap = _patient(clinic, "Leap", born="1992-02-29")
    _patient(clinic, "Partial", born="1992")
    _patient(clinic, "Other", born="1992-03-01")

    plan(clinic, now=_at(date(2027, 2, 28), 7), horizon=timedelta(hours=6))

    (greeting,) = _messages(clinic)  # 1 March is beyond the horizon
    assert (greeting.patient_id, greeting.occurrence) == (leap, "2027")
    assert greeting.due_at == "2027-02-28T15:00:00Z"
    assert (greeting.subject_kind, greeting.purpose) == ("birthday", "marketing")


# --- time zones ----------------------------------------------------------------------------------


def test_reminders_keep_their_wall_clock_time_across_the_spring_change(clinic: Clinic) -> None:
    _reminders(clinic)
    # Visit on Monday 15 March 2027; the clocks go forward on Sunday the 14th.
    _visit(clinic, _patient(clinic), date(2027, 3, 15))

    plan(clinic, now=_at(date(2027, 3, 12), 12))

    first, morning = _messages(clinic)
    assert first.due_at == "2027-03-13T16:00:00Z"  # Saturday 10:00 CST
    assert morning.due_at == "2027-03-15T13:00:00Z"  # Monday 08:00 CDT
    for message, hour in ((first, 10), (morning, 8)):
        due = datetime.fromisoformat(message.due_at.replace("Z", "+00:00"))
        assert due.astimezone(CHICAGO).time() == time(hour, 0)


def test_reminders_keep_their_wall_clock_time_across_berlins_autumn_change(
    clinic: Clinic,
) -> None:
    clinic.update_settings(timezone="Europe/Berlin")
    berlin = ZoneInfo("Europe/Berlin")
    _reminders(clinic)
    patient = _patient(clinic)
    start = _at(date(2027, 11, 1), 14, zone=berlin)  # Monday; clocks went back Sunday 31 Oct
    book(clinic, patient, start, start + timedelta(minutes=30))

    plan(clinic, now=_at(date(2027, 10, 29), 12, zone=berlin))

    first, morning = _messages(clinic)
    assert first.due_at == "2027-10-30T08:00:00Z"  # Saturday 10:00 CEST
    assert morning.due_at == "2027-11-01T07:00:00Z"  # Monday 08:00 CET


def test_a_touch_in_the_skipped_hour_goes_just_after_the_change(clinic: Clinic) -> None:
    _rule(clinic, "birthday", (Touch(days=0, at=time(2, 30), channels=("letter",)),))
    _patient(clinic, born="1980-03-14")

    plan(clinic, now=_at(date(2027, 3, 13), 12))

    (greeting,) = _messages(clinic)
    assert greeting.due_at == "2027-03-14T08:30:00Z"  # 03:30 CDT


def test_a_late_evening_visit_is_on_the_clinics_day_not_utcs(clinic: Clinic) -> None:
    _reminders(clinic)
    # 19:00 in Chicago on the 20th is 01:00 UTC on the 21st.
    visit = _visit(clinic, _patient(clinic), VISIT_DAY, hour=19)

    plan(clinic, now=BEFORE)

    first, morning = _messages(clinic)
    assert {m.occurrence for m in (first, morning)} == {"2027-01-20"}
    assert morning.due_at == "2027-01-20T14:00:00Z"
    assert first.subject_id == visit


def test_now_must_say_its_time_zone(clinic: Clinic) -> None:
    with pytest.raises(ValueError, match="aware"):
        plan(clinic, now=datetime(2027, 1, 1, 9))


def test_now_is_read_as_the_moment_whatever_zone_it_is_given_in(clinic: Clinic) -> None:
    _reminders(clinic)
    _visit(clinic, _patient(clinic), VISIT_DAY)
    assert plan(clinic, now=BEFORE.astimezone(ZoneInfo("Asia/Tokyo"))).planned == 2
    assert plan(clinic, now=BEFORE.astimezone(UTC)) == PlanReport()


# --- a clinic in use -----------------------------------------------------------------------------


def test_the_demo_clinic_with_default_rules_plans_once_and_only_for_reachable_patients(
    demo_clinic: Clinic,
) -> None:
    install_default_rules(demo_clinic)
    now = datetime.now(UTC)

    first = plan(demo_clinic, now=now)
    second = plan(demo_clinic, now=now)

    assert first.planned > 0
    assert second == PlanReport()
    unreachable = demo_clinic.conn.execute(
        "SELECT count(*) FROM outbox o JOIN patient p ON p.id = o.patient_id "
        "WHERE p.deceased = 1 OR p.do_not_contact = 1 OR p.merged_into IS NOT NULL"
    ).fetchone()[0]
    assert unreachable == 0
    kinds = {r[0] for r in demo_clinic.conn.execute("SELECT DISTINCT subject_kind FROM outbox")}
    assert "appointment" in kinds
