"""Conflicts for a manager: listed in words on every desk, settled once for all desks;
a deleted patient changed afterwards can come back as a new record with the change."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.clinic import Clinic
from app.errors import InvalidInputError, PermissionDeniedError
from app.patients.model import PatientDraft
from app.patients.records import add_phone, create_patient, update_patient
from app.store.keyring_store import SERVICE
from app.sync.conflicts import open_conflicts, resolve
from app.users import add_user
from tests.conftest import Template
from tests.support.memory_keyring import MemoryKeyring
from tests.support.sync_desks import copy_desk, deliver, domain_state, open_desk, outgoing


@pytest.fixture
def desks(
    tmp_path: Path, clinic_template: Template, memory_keyring: MemoryKeyring
) -> Iterator[tuple[Clinic, Clinic]]:
    memory_keyring.set_password(SERVICE, clinic_template.clinic_id, clinic_template.data_key.hex())
    front, back = (
        open_desk(copy_desk(clinic_template.home, tmp_path / name, clinic_template.data_key))
        for name in ("front", "back")
    )
    yield front, back
    front.close()
    back.close()


def _exchange(*desks: Clinic) -> None:
    for sender in desks:
        _, batches = outgoing(sender)
        for receiver in desks:
            if receiver is not sender:
                for data in batches:
                    deliver(receiver, data, sender.store.device_id)


def _deleted_while_edited(front: Clinic, back: Clinic) -> str:
    made = create_patient(front, PatientDraft("Okafor", "Ada"))
    _exchange(front, back)
    with front.store.write() as tx:
        tx.delete("patient", made.id)
    update_patient(back, made.id, {"preferred_name": "Addie"})
    _exchange(front, back)
    return made.id


def test_an_edit_after_a_delete_is_listed_on_both_desks_in_words(
    desks: tuple[Clinic, Clinic],
) -> None:
    front, back = desks
    patient_id = _deleted_while_edited(front, back)
    for desk in desks:
        found = {c.column: c for c in open_conflicts(desk)}
        edit = found["preferred_name"]
        assert edit.kind == "edited_after_delete" and edit.value == "Addie"
        assert edit.patient_id == patient_id and edit.device_id == back.store.device_id
        assert "It stays deleted" in edit.words and "Addie" not in edit.words
        assert edit.made_at is not None


def test_a_manager_brings_the_patient_back_with_the_late_edit_and_every_desk_sees_it_settled(
    desks: tuple[Clinic, Clinic],
) -> None:
    front, back = desks
    patient_id = _deleted_while_edited(front, back)
    front.acting_user_id = add_user(front, "Morgan Manager", "manager").id
    edit = next(c for c in open_conflicts(front) if c.column == "preferred_name")
    changes = resolve(front, edit.key, "restored")
    assert changes.touches("patient")
    restored = front.conn.execute("SELECT id, family_name, preferred_name FROM patient").fetchall()
    assert len(restored) == 1 and restored[0][0] != patient_id
    assert restored[0][1:] == ("Okafor", "Addie")
    for other in open_conflicts(front):
        resolve(front, other.key, "dismissed")
    _exchange(front, back)
    assert open_conflicts(front) == [] and open_conflicts(back) == []
    assert domain_state(front) == domain_state(back)
    with pytest.raises(InvalidInputError, match="settled already"):
        resolve(front, edit.key, "dismissed")


def test_a_receptionist_cannot_settle_a_conflict(desks: tuple[Clinic, Clinic]) -> None:
    front, back = desks
    _deleted_while_edited(front, back)
    front.acting_user_id = add_user(front, "Dana Reyes", "receptionist").id
    key = open_conflicts(front)[0].key
    with pytest.raises(PermissionDeniedError, match="manager or administrator"):
        resolve(front, key, "dismissed")


def test_a_phone_of_a_deleted_patient_is_listed_and_can_only_be_dismissed(
    desks: tuple[Clinic, Clinic],
) -> None:
    front, back = desks
    made = create_patient(front, PatientDraft("Okafor", "Ada"))
    _exchange(front, back)
    with front.store.write() as tx:
        tx.delete("patient", made.id)
    add_phone(back, made.id, "(312) 555-0142")
    _exchange(front, back)
    front.acting_user_id = add_user(front, "Morgan Manager", "manager").id
    (orphan,) = [c for c in open_conflicts(front) if c.kind == "parent_missing"]
    assert orphan.table == "contact_point" and orphan.patient_id == made.id
    assert "deleted on another workstation" in orphan.words
    with pytest.raises(InvalidInputError, match="Only a deleted record"):
        resolve(front, orphan.key, "restored")
    resolve(front, orphan.key, "dismissed")
    assert [c for c in open_conflicts(front) if c.kind == "parent_missing"] == []
