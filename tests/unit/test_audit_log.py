"""Appending to the audit log (app.audit.log): the chain, its anchored head, change entries."""

from __future__ import annotations

import hashlib
import json

import pytest

from app.audit import actions
from app.audit.anchor import SLOT, AuditHead, anchor_path, read_anchor
from app.audit.log import genesis_hash, head, record
from app.clinic import Clinic
from app.patients import records
from app.patients.model import PatientDraft, PhoneDraft


def rows(clinic: Clinic) -> list[tuple[int, str, str, str, bytes, bytes]]:
    return [
        (r[0], r[1], r[2], r[3], bytes(r[4]), bytes(r[5]))
        for r in clinic.conn.execute(
            "SELECT seq, user_id, action, patient_id, body, hash FROM audit_event ORDER BY seq"
        )
    ]


def chain_holds(clinic: Clinic) -> bool:
    prev = genesis_hash(clinic.clinic_id)
    for expected, (seq, _user, _action, _pid, body, digest) in enumerate(rows(clinic), start=1):
        if seq != expected or hashlib.sha256(prev + body).digest() != digest:
            return False
        prev = digest
    return True


def test_an_entry_stores_its_canonical_body_and_chains_from_the_clinic(dana: str, clinic: Clinic):
    before = head(clinic.conn).seq
    seq = record(clinic, actions.EXPORT, target="patients.csv", detail={"rows": 3})

    assert seq == before + 1
    _, user_id, action, _, body, digest = rows(clinic)[-1]
    fields = json.loads(body)
    assert (user_id, action) == (dana, "export")
    assert fields["detail"] == {"rows": 3} and fields["target"] == "patients.csv"
    assert body == json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    assert fields["at"].endswith("Z") and len(fields["at"]) == len("2026-11-29T07:58:32.123Z")
    assert chain_holds(clinic)
    assert head(clinic.conn) == AuditHead(seq, digest.hex())


def test_the_first_entry_chains_from_a_value_tied_to_the_clinic(clinic: Clinic):
    # Creating the clinic saved its settings: that change is entry 1.
    seq, _, action, _, body, digest = rows(clinic)[0]
    assert (seq, action) == (1, "change")
    assert digest == hashlib.sha256(genesis_hash(clinic.clinic_id) + body).digest()
    assert digest != hashlib.sha256(genesis_hash("another clinic") + body).digest()


def test_two_connections_writing_in_turn_keep_one_gapless_chain(dana: str, clinic: Clinic):
    other = clinic.fork()
    try:
        for i in range(10):
            record(clinic if i % 2 else other, actions.PATIENT_VIEW, patient_id=f"p{i}")
            with (other if i % 2 else clinic).store.write():
                record(other if i % 2 else clinic, actions.PRINT, detail={"letters": i})
    finally:
        other.close()
    seqs = [r[0] for r in rows(clinic)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert chain_holds(clinic)


def test_the_head_outside_the_database_follows_every_entry_and_is_sealed(dana: str, clinic: Clinic):
    record(clinic, actions.SIGN_IN)
    newest = head(clinic.conn)

    reading = read_anchor(clinic.home, clinic.clinic_id, clinic.opened.data_key)
    assert reading.head == newest and reading.problem == ""

    # Someone without the key moves the head back, to hide entries removed from the end.
    data = anchor_path(clinic.home).read_bytes()
    forged = data.replace(b'"seq":%d,' % newest.seq, b'"seq":%d,' % (newest.seq - 1))
    assert forged != data
    anchor_path(clinic.home).write_bytes(forged)
    assert read_anchor(clinic.home, clinic.clinic_id, clinic.opened.data_key).problem == (
        "not sealed with this clinic's key"
    )
    assert read_anchor(clinic.home, clinic.clinic_id, b"\x01" * 32).head is None


def test_a_saved_change_leaves_one_entry_naming_the_patient_and_no_values(
    dana: str, clinic: Clinic
):
    created = records.create_patient(
        clinic, PatientDraft("Quillfeather", "Zelda", phones=(PhoneDraft("(612) 555-0142"),))
    )

    *_, (_, user_id, action, patient_id, body, _) = rows(clinic)
    assert (user_id, action, patient_id) == (dana, "change", created.id)
    detail = json.loads(body)["detail"]
    assert detail["tables"]["patient"] == 1 and detail["tables"]["contact_point"] == 1
    assert b"Quillfeather" not in body and b"Zelda" not in body and b"555" not in body
    assert chain_holds(clinic)


def test_a_save_without_edits_leaves_no_entry(dana: str, clinic: Clinic):
    created = records.create_patient(clinic, PatientDraft("Quillfeather"))
    before = head(clinic.conn)
    records.update_patient(clinic, created.id, {"family_name": "Quillfeather"})
    assert head(clinic.conn) == before


def test_a_rolled_back_change_leaves_neither_entry_nor_a_head_ahead_of_it(
    dana: str, clinic: Clinic
):
    record(clinic, actions.SIGN_IN)
    before = head(clinic.conn)

    with pytest.raises(RuntimeError), clinic.store.write() as tx:
        tx.insert(
            "patient",
            {
                "family_name": "Quillfeather",
                "created_at": "2026-01-01T00:00:00Z",
                "updated_at": "2026-01-01T00:00:00Z",
            },
        )
        record(clinic, actions.PATIENT_VIEW, patient_id="x")
        raise RuntimeError("the form's save failed half-way")

    assert head(clinic.conn) == before
    assert read_anchor(clinic.home, clinic.clinic_id, clinic.opened.data_key).head == before


def test_a_bulk_change_keeps_the_count_and_only_the_first_ids(dana: str, clinic: Clinic):
    with clinic.store.write() as tx:
        for i in range(30):
            records_row = {
                "family_name": f"Bulk{i}",
                "created_at": "2026-01-01T00:00:00Z",
                "updated_at": "2026-01-01T00:00:00Z",
            }
            tx.insert("patient", records_row)

    *_, (_, _, action, patient_id, body, _) = rows(clinic)
    detail = json.loads(body)["detail"]
    assert (action, patient_id) == ("change", "")
    assert detail["patients"] == 30 and len(detail["patient_ids"]) == 20
    assert detail["tables"]["patient"] == 30


def test_heads_alternate_between_two_slots_and_the_newest_is_read(dana: str, clinic: Clinic):
    for _ in range(3):
        record(clinic, actions.LOCK)
    newest = head(clinic.conn)
    data = anchor_path(clinic.home).read_bytes()
    assert len(data) == 2 * SLOT
    assert b'"seq":%d,' % newest.seq in data and b'"seq":%d,' % (newest.seq - 1) in data
    assert read_anchor(clinic.home, clinic.clinic_id, clinic.opened.data_key).head == newest


def test_a_torn_head_is_reported_not_trusted(dana: str, clinic: Clinic):
    record(clinic, actions.LOCK)
    data = anchor_path(clinic.home).read_bytes()
    anchor_path(clinic.home).write_bytes(data[: SLOT + 40])
    reading = read_anchor(clinic.home, clinic.clinic_id, clinic.opened.data_key)
    assert reading.head is None and reading.problem == "unreadable"
