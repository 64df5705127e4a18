"""The outbox state machine on a real clinic: allowed moves, races, history."""

from __future__ import annotations

import pytest

from app.clinic import Clinic
from app.patients.model import PatientDraft, PhoneDraft
from app.patients.records import create_patient
from app.reminders import outbox
from app.store.writer import utc_now


def _planned(clinic: Clinic, occurrence: str = "2026-12-01") -> str:
    patient = create_patient(clinic, PatientDraft(family_name="Okafor", given_names="Ada")).id
    now = utc_now()
    row = outbox.new_row(
        idem=outbox.idem_key("rule-1", 0, "appt-1", occurrence),
        rule_id="rule-1",
        touch=0,
        purpose="appointment",
        patient_id=patient,
        subject_kind="appointment",
        subject_id="appt-1",
        occurrence=occurrence,
        due_at=now,
        stale_at=now,
        now=now,
    )
    with clinic.store.write() as tx:
        tx.insert_many("outbox", [row])
        outbox.record_events(tx, [(row["id"], "planned", "Planned")], clinic.store.device_id)
    return str(row["id"])


def _move(clinic: Clinic, message_id: str, to: str, expect: tuple[str, ...]) -> bool:
    with clinic.store.write() as tx:
        return outbox.transition(
            tx, message_id, to, f"to {to}", expect=expect, device_id=clinic.store.device_id
        )


def test_a_message_goes_its_way_and_every_step_is_in_its_history(clinic: Clinic) -> None:
    mid = _planned(clinic)
    assert _move(clinic, mid, "due", ("planned",))
    assert _move(clinic, mid, "sending", ("due",))
    assert _move(clinic, mid, "sent", ("sending",))
    assert outbox.get_message(clinic, mid).state == "sent"
    assert [e.state for e in outbox.history(clinic, mid)] == ["planned", "due", "sending", "sent"]


def test_only_one_of_two_racing_writers_moves_a_message(clinic: Clinic) -> None:
    mid = _planned(clinic)
    _move(clinic, mid, "due", ("planned",))
    assert _move(clinic, mid, "sending", ("due",))
    assert not _move(clinic, mid, "sending", ("due",))
    assert [e.state for e in outbox.history(clinic, mid)].count("sending") == 1


def test_a_sent_message_cannot_be_sent_again_or_cancelled(clinic: Clinic) -> None:
    mid = _planned(clinic)
    for to, frm in (("due", "planned"), ("sending", "due"), ("sent", "sending")):
        _move(clinic, mid, to, (frm,))
    with pytest.raises(outbox.OutboxStateError):
        _move(clinic, mid, "due", ("sent",))
    with pytest.raises(outbox.OutboxStateError, match="already gone"):
        outbox.cancel(clinic, mid)


def test_a_failed_message_can_be_retried_or_cancelled_at_the_desk(clinic: Clinic) -> None:
    mid = _planned(clinic)
    for to, frm in (("due", "planned"), ("sending", "due"), ("failed", "sending")):
        _move(clinic, mid, to, (frm,))
    outbox.retry(clinic, mid, who="Dana")
    message = outbox.get_message(clinic, mid)
    assert message.state == "due" and message.stale_at > message.due_at
    assert outbox.history(clinic, mid)[-1].reason == "Sent again at the desk by Dana"
    outbox.cancel(clinic, mid)
    assert outbox.get_message(clinic, mid).state == "cancelled"
    with pytest.raises(outbox.OutboxStateError, match="Only a failed"):
        outbox.retry(clinic, mid)


def test_messages_list_by_state_with_the_patient_name(clinic: Clinic) -> None:
    first, second = _planned(clinic), _planned(clinic, "2026-12-08")
    _move(clinic, first, "due", ("planned",))
    due = outbox.list_messages(clinic, states=("due",))
    assert [r.message.id for r in due] == [first]
    assert due[0].patient_name == "Ada Okafor"
    counts = outbox.count_by_state(clinic)
    assert counts["due"] == 1 and counts["planned"] == 1 and counts["sent"] == 0
    assert {r.message.id for r in outbox.list_messages(clinic)} == {first, second}


def test_a_message_planned_on_two_workstations_has_the_same_id_on_both(clinic: Clinic) -> None:
    key = outbox.idem_key("rule-1", 0, "appt-1", "2026-12-01")
    other = outbox.idem_key("rule-1", 1, "appt-1", "2026-12-01")
    assert outbox.message_id_for_key(key) == outbox.message_id_for_key(key)
    assert outbox.message_id_for_key(key) != outbox.message_id_for_key(other)
    assert outbox.get_message(clinic, _planned(clinic)).id == outbox.message_id_for_key(key)


def _planned_for(clinic: Clinic, family: str, given: str, phone: str = "") -> str:
    phones = (PhoneDraft(phone),) if phone else ()
    draft = PatientDraft(family_name=family, given_names=given, phones=phones)
    patient = create_patient(clinic, draft).id
    now = utc_now()
    row = outbox.new_row(
        idem=outbox.idem_key("rule-1", 0, patient, "2026-12-01"),
        rule_id="rule-1",
        touch=0,
        purpose="recall",
        patient_id=patient,
        subject_kind="recall",
        subject_id=patient,
        occurrence="2026-12-01",
        due_at=now,
        stale_at=now,
        now=now,
    )
    with clinic.store.write() as tx:
        tx.insert_many("outbox", [row])
    return str(row["id"])


def test_messages_are_found_by_the_patients_name_folded_as_the_patients_list_does(
    clinic: Clinic,
) -> None:
    jose = _planned_for(clinic, "Núñez", "José")
    ada = _planned_for(clinic, "Okafor", "Ada", phone="+16125550134")
    joseph = _planned_for(clinic, "Nakamura", "Joseph")

    def found(text: str, states: tuple[str, ...] = ()) -> set[str]:
        return {r.message.id for r in outbox.list_messages(clinic, text=text, states=states)}

    assert found("jose nunez") == {jose}  # no accents, no case, any word order
    assert found("NUÑ") == {jose}  # a prefix of a word
    assert found("ada oka") == {ada}
    assert found("612 555 0134") == {ada}  # the patients list reads phone numbers too
    assert found("o") == {ada}  # one letter: family names starting with it
    assert found("zzz") == set()
    assert found("!!") == set()  # nothing searchable matches nobody, not everybody
    assert found("jos") == {jose, joseph}
    assert found("jos", states=("due",)) == set()  # combined with the other filters
    assert len(found("")) == 3
    assert outbox.count_by_state(clinic)["planned"] == 3  # the counts ignore the text
