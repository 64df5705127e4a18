"""Applying other workstations' changes: exactly once, merged per row, references kept whole,
nothing an edit said lost (three real encrypted desks exchanging payloads directly)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.clinic import Clinic
from app.patients.model import IdentifierDraft, PatientDraft, PhoneDraft
from app.patients.records import add_phone, create_patient, update_patient
from app.patients.search import PatientSearch
from app.store.hlc import Hlc
from app.store.keyring_store import SERVICE
from app.sync import payload
from app.sync.apply import apply_changes, unknown_to
from app.sync.merge import ChangeRow
from tests.conftest import Template
from tests.support.memory_keyring import MemoryKeyring
from tests.support.sync_desks import (
    copy_desk,
    deliver,
    domain_state,
    journal_rows,
    lost_edits,
    open_desk,
    outgoing,
)


@pytest.fixture
def desks(
    tmp_path: Path, clinic_template: Template, memory_keyring: MemoryKeyring
) -> Iterator[list[Clinic]]:
    memory_keyring.set_password(SERVICE, clinic_template.clinic_id, clinic_template.data_key.hex())
    opened = [
        open_desk(copy_desk(clinic_template.home, tmp_path / f"desk{n}", clinic_template.data_key))
        for n in range(3)
    ]
    yield opened
    for desk in opened:
        desk.close()


def _send(source: Clinic, *targets: Clinic) -> int:
    """Everything `source` ever wrote (what the targets hold already changes nothing)."""
    reached, batches = outgoing(source)
    for target in targets:
        for data in batches:
            deliver(target, data, source.store.device_id)
    return reached


def test_a_patient_made_on_one_desk_appears_on_another_and_is_found_by_search(
    desks: list[Clinic],
) -> None:
    front, back, _ = desks
    made = create_patient(
        front, PatientDraft("Okafor", "Ada", phones=(PhoneDraft("(312) 555-0142"),))
    )
    _send(front, back)
    row = back.conn.execute("SELECT family_name FROM patient WHERE id = ?", (made.id,)).fetchone()
    assert row == ("Okafor",)
    assert [hit.patient_id for hit in PatientSearch(back.conn).search("okafor")] == [made.id]
    assert domain_state(front) == domain_state(back)


def test_a_batch_delivered_twice_changes_nothing_the_second_time(desks: list[Clinic]) -> None:
    front, back, _ = desks
    create_patient(front, PatientDraft("Okafor", "Ada"))
    _, batches = outgoing(front)
    first = deliver(back, batches[0], front.store.device_id)
    journal_before = back.conn.execute("SELECT count(*) FROM change").fetchone()[0]
    audit_before = back.conn.execute("SELECT count(*) FROM audit_event").fetchone()[0]
    again = deliver(back, batches[0], front.store.device_id)
    assert first.new_rows > 0 and first.changes.touches("patient")
    assert again.new_rows == 0 and not again.changes
    assert back.conn.execute("SELECT count(*) FROM change").fetchone()[0] == journal_before
    assert back.conn.execute("SELECT count(*) FROM audit_event").fetchone()[0] == audit_before


def test_the_later_edit_of_a_column_wins_on_every_desk_whatever_the_order(
    desks: list[Clinic],
) -> None:
    front, back, side = desks
    made = create_patient(front, PatientDraft("Okafor", "Ada"))
    _send(front, back, side)
    update_patient(front, made.id, {"preferred_name": "Addie"})
    update_patient(back, made.id, {"preferred_name": "Adaeze", "language": "ig"})
    # side hears back first, front hears it later: both end with back's later edit.
    _send(back, side)
    _send(front, side, back)
    _send(back, front)
    for desk in desks:
        row = desk.conn.execute(
            "SELECT preferred_name, language FROM patient WHERE id = ?", (made.id,)
        ).fetchone()
        assert row == ("Adaeze", "ig")
    assert domain_state(front) == domain_state(back) == domain_state(side)


def test_an_edit_made_after_a_delete_elsewhere_stays_deleted_and_is_kept_as_a_conflict(
    desks: list[Clinic],
) -> None:
    front, back, _ = desks
    made = create_patient(front, PatientDraft("Okafor", "Ada"))
    _send(front, back)
    with front.store.write() as tx:
        tx.delete("patient", made.id)
    update_patient(back, made.id, {"preferred_name": "Addie"})  # later, not seeing the delete
    _send(front, back)
    _send(back, front)
    for desk in (front, back):
        assert desk.conn.execute("SELECT count(*) FROM patient").fetchone()[0] == 0
        conflicts = desk.conn.execute(
            "SELECT kind, row_id, col FROM local_sync_conflict WHERE kind = 'edited_after_delete'"
        ).fetchall()
        assert ("edited_after_delete", made.id, "preferred_name") in conflicts
        assert lost_edits(desk) == []
    assert domain_state(front) == domain_state(back)


def test_a_phone_arriving_before_its_patient_waits_then_appears(desks: list[Clinic]) -> None:
    front, back, _ = desks
    made = create_patient(front, PatientDraft("Okafor", "Ada"))
    patient_upto, patient_batches = outgoing(front)
    phone = add_phone(front, made.id, "(312) 555-0142")
    _, phone_batches = outgoing(front, patient_upto)
    deliver(back, phone_batches[0], front.store.device_id)
    assert back.conn.execute("SELECT count(*) FROM contact_point").fetchone()[0] == 0
    assert back.conn.execute(
        "SELECT kind FROM local_sync_conflict WHERE row_id = ?", (phone.id,)
    ).fetchone() == ("parent_missing",)
    deliver(back, patient_batches[0], front.store.device_id)
    assert back.conn.execute("SELECT id FROM contact_point").fetchall() == [(phone.id,)]
    assert back.conn.execute("SELECT count(*) FROM local_sync_conflict").fetchone()[0] == 0
    assert back.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert domain_state(front) == domain_state(back)


def test_a_phone_added_to_a_patient_deleted_elsewhere_is_removed_and_listed(
    desks: list[Clinic],
) -> None:
    front, back, _ = desks
    made = create_patient(front, PatientDraft("Okafor", "Ada"))
    _send(front, back)
    with front.store.write() as tx:
        tx.delete("patient", made.id)
    phone = add_phone(back, made.id, "(312) 555-0142")
    _send(front, back)
    _send(back, front)
    for desk in (front, back):
        assert desk.conn.execute("SELECT count(*) FROM contact_point").fetchone()[0] == 0
        kind, detail = desk.conn.execute(
            "SELECT kind, detail FROM local_sync_conflict WHERE row_id = ?", (phone.id,)
        ).fetchone()
        assert kind == "parent_missing" and '"parent_deleted": true' in detail
        assert desk.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert domain_state(front) == domain_state(back)


def test_one_record_number_given_on_two_desks_stays_with_the_patient_made_first(
    desks: list[Clinic],
) -> None:
    front, back, _ = desks
    mrn = (IdentifierDraft("urn:emr:mrn", "12-345"),)
    first = create_patient(front, PatientDraft("Okafor", "Ada", identifiers=mrn))
    second = create_patient(back, PatientDraft("Nwosu", "Ben", identifiers=mrn))
    _send(back, front)
    _send(front, back)
    for desk in (front, back):
        owners = desk.conn.execute("SELECT patient_id FROM patient_identifier").fetchall()
        assert owners == [(first.id,)]
        assert desk.conn.execute(
            "SELECT kind FROM local_sync_conflict WHERE tbl = 'patient_identifier'"
        ).fetchall() == [("duplicate",)]
    assert second.id  # the second patient itself stays, without the number
    assert domain_state(front) == domain_state(back)


def test_a_desk_whose_clock_is_an_hour_behind_stamps_after_what_it_has_seen(
    tmp_path: Path, clinic_template: Template, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.set_password(SERVICE, clinic_template.clinic_id, clinic_template.data_key.hex())
    now = 1_800_000_000_000
    ahead = open_desk(
        copy_desk(clinic_template.home, tmp_path / "a", clinic_template.data_key), lambda: now
    )
    behind = open_desk(
        copy_desk(clinic_template.home, tmp_path / "b", clinic_template.data_key),
        lambda: now - 3_600_000,
    )
    try:
        made = create_patient(ahead, PatientDraft("Okafor", "Ada"))
        _send(ahead, behind)
        update_patient(behind, made.id, {"preferred_name": "Addie"})
        _send(behind, ahead)
        for desk in (ahead, behind):
            row = desk.conn.execute(
                "SELECT preferred_name FROM patient WHERE id = ?", (made.id,)
            ).fetchone()
            assert row == ("Addie",)
        # Reopened, the lagging desk still stamps after what it saw (meta hlc_floor).
        home = behind.home
        seen = behind.store.clock.last
        behind.close()
        again = open_desk(home, lambda: now - 3_600_000)
        assert again.store.clock.now() > seen
        again.close()
    finally:
        ahead.close()


def test_a_change_naming_a_column_this_desk_does_not_know_is_recognised(
    desks: list[Clinic],
) -> None:
    stamp = Hlc(1, 0).encode()
    newer = [ChangeRow(stamp, "d", "patient", "p", "nickname", '"Al"')]
    newer_table = [ChangeRow(stamp, "d", "pet", "p", "*", '{"id": "p"}')]
    newer_insert = [ChangeRow(stamp, "d", "patient", "p", "*", '{"id": "p", "nickname": "x"}')]
    schema = desks[0].store.schema
    assert unknown_to(schema, newer) and unknown_to(schema, newer_table)
    assert unknown_to(schema, newer_insert)
    known = [ChangeRow(stamp, "d", "patient", "p", "language", '"en"')]
    assert not unknown_to(schema, known)


def test_the_journal_and_the_cursor_move_in_one_transaction(desks: list[Clinic]) -> None:
    front, back, _ = desks
    create_patient(front, PatientDraft("Okafor", "Ada"))
    _, batches = outgoing(front)
    rows = payload.decode(batches[0], front.store.device_id).changes
    before = journal_rows(back)

    def fail(_conn: object) -> None:
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        apply_changes(back.store, rows, then=fail)
    assert journal_rows(back) == before
    assert back.conn.execute("SELECT count(*) FROM patient").fetchone()[0] == 0
    assert back.conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
