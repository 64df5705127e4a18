"""Writes are all-or-nothing, journalled, and refused cleanly when the disk says no."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.clinic import Clinic, open_clinic
from app.errors import (
    InvalidPhoneError,
    MigrationError,
    NewerSchemaError,
    StoreWriteError,
)
from app.patients.model import PatientDraft, PhoneDraft
from app.patients.records import create_patient, update_patient
from app.store import migrations


def _count(clinic: Clinic, table: str) -> int:
    return int(clinic.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_insert_update_and_delete_each_leave_change_rows(clinic: Clinic) -> None:
    created = create_patient(
        clinic, PatientDraft("Okafor", "Ada", phones=(PhoneDraft("6125550142"),))
    )
    rows = clinic.conn.execute(
        "SELECT tbl, col, value, device_id FROM change WHERE row_id = ?", (created.id,)
    ).fetchall()
    assert [(r[0], r[1]) for r in rows] == [("patient", "*")]
    assert json.loads(rows[0][2])["family_name"] == "Okafor"
    assert rows[0][3] == clinic.store.device_id

    update_patient(clinic, created.id, {"preferred_name": "Addie", "family_name": "Okafor"})
    cols = [
        r[0]
        for r in clinic.conn.execute(
            "SELECT col FROM change WHERE row_id = ? ORDER BY seq", (created.id,)
        )
    ]
    # family_name was "changed" to what it already was: not written, not journalled.
    assert cols[:2] == ["*", "preferred_name"]
    assert "family_name" not in cols

    phone_id = clinic.conn.execute(
        "SELECT id FROM contact_point WHERE patient_id = ?", (created.id,)
    ).fetchone()[0]
    with clinic.store.write() as tx:
        tx.delete("contact_point", phone_id)
    last = clinic.conn.execute(
        "SELECT tbl, col, value FROM change ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    assert last == ("contact_point", "-", None)
    assert tx.changes.patient_ids == {created.id}


def test_change_clocks_increase_with_every_write(clinic: Clinic) -> None:
    for name in ("A", "B", "C"):
        create_patient(clinic, PatientDraft(name))
    clocks = [r[0] for r in clinic.conn.execute("SELECT hlc FROM change ORDER BY seq")]
    assert clocks == sorted(clocks)
    assert len(set(clocks)) == len(clocks)


def test_a_failing_write_rolls_back_data_and_journal_together(clinic: Clinic) -> None:
    before = (_count(clinic, "patient"), _count(clinic, "change"))
    with pytest.raises(RuntimeError), clinic.store.write() as tx:
        tx.insert("patient", {"family_name": "Half", "created_at": "x", "updated_at": "x"})
        raise RuntimeError("power cut")
    assert (_count(clinic, "patient"), _count(clinic, "change")) == before


def test_invalid_input_writes_nothing(clinic: Clinic) -> None:
    before = (_count(clinic, "patient"), _count(clinic, "change"))
    with pytest.raises(InvalidPhoneError):
        create_patient(clinic, PatientDraft("Okafor", phones=(PhoneDraft("12"),)))
    assert (_count(clinic, "patient"), _count(clinic, "change")) == before


def test_full_disk_rolls_back_and_says_why(clinic: Clinic) -> None:
    before = _count(clinic, "patient")
    pages = clinic.conn.execute("PRAGMA page_count").fetchone()[0]
    clinic.conn.execute(f"PRAGMA max_page_count = {pages}")  # the "disk" is now full
    with pytest.raises(StoreWriteError, match="disk is full"), clinic.store.write() as tx:
        rows = [
            {"id": f"p{i}", "family_name": "Filler" * 50, "created_at": "t", "updated_at": "t"}
            for i in range(2000)
        ]
        tx.insert_many("patient", rows)
    clinic.conn.execute("PRAGMA max_page_count = 1073741823")
    assert _count(clinic, "patient") == before
    create_patient(clinic, PatientDraft("Afterwards"))  # and the clinic still works


def test_read_only_database_refuses_writes_plainly(clinic: Clinic) -> None:
    clinic.conn.execute("PRAGMA query_only = ON")
    with pytest.raises(StoreWriteError, match="read-only"):
        create_patient(clinic, PatientDraft("Okafor"))
    clinic.conn.execute("PRAGMA query_only = OFF")
    assert _count(clinic, "patient") == 0


def test_duplicate_identifier_is_refused_and_nothing_is_half_saved(clinic: Clinic) -> None:
    from app.patients.model import IdentifierDraft

    ident = (IdentifierDraft("urn:emr:mrn", "123"),)
    create_patient(clinic, PatientDraft("First", identifiers=ident))
    before = (_count(clinic, "patient"), _count(clinic, "change"))
    with pytest.raises(StoreWriteError, match="already used"):
        create_patient(clinic, PatientDraft("Second", identifiers=ident))
    assert (_count(clinic, "patient"), _count(clinic, "change")) == before


def test_a_database_from_a_newer_version_is_refused_untouched(clinic_home: Path) -> None:
    clinic = open_clinic(clinic_home)
    clinic.conn.execute("PRAGMA user_version = 99")
    clinic.close()
    with pytest.raises(NewerSchemaError, match="newer version"):
        open_clinic(clinic_home)
    from app.store import database

    conn = database.connect(clinic_home / "clinic.db", _template_key(clinic_home))
    assert migrations.schema_version(conn) == 99
    conn.close()


def _template_key(home: Path) -> bytes:
    import keyring

    from app.store.keyring_store import SERVICE
    from app.store.keys import read_key_file

    stored = keyring.get_password(SERVICE, read_key_file(home / "clinic.key").clinic_id)
    assert stored is not None
    return bytes.fromhex(stored)


def test_a_failing_migration_leaves_the_previous_version(clinic: Clinic, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(migrations.migrations_dir(), folder)
    latest = migrations.latest_version()
    (folder / f"{latest + 1:04d}_add_thing.sql").write_text(
        "CREATE TABLE thing (id TEXT PRIMARY KEY);\nINSERT INTO no_such_table VALUES (1);\n"
    )
    with pytest.raises(MigrationError, match="nothing was lost"):
        migrations.upgrade(clinic.conn, folder)
    assert migrations.schema_version(clinic.conn) == latest
    tables = {r[0] for r in clinic.conn.execute("SELECT name FROM sqlite_master")}
    assert "thing" not in tables


def test_a_new_migration_applies_once_in_order(clinic: Clinic, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(migrations.migrations_dir(), folder)
    latest = migrations.latest_version()
    (folder / f"{latest + 1:04d}_add_thing.sql").write_text(
        "CREATE TABLE thing (id TEXT PRIMARY KEY);"
    )
    assert migrations.upgrade(clinic.conn, folder) == [latest + 1]
    assert migrations.upgrade(clinic.conn, folder) == []
    assert migrations.schema_version(clinic.conn) == latest + 1


def test_deleting_a_row_others_point_at_is_refused_so_no_cascade_goes_unjournalled(
    clinic: Clinic,
) -> None:
    created = create_patient(clinic, PatientDraft("Okafor", phones=(PhoneDraft("6125550142"),)))
    with pytest.raises(ValueError, match="contact_point"), clinic.store.write() as tx:
        tx.delete("patient", created.id)
    assert _count(clinic, "contact_point") == 1
    with clinic.store.write() as tx:
        for (contact_id,) in tx.conn.execute(
            "SELECT id FROM contact_point WHERE patient_id = ?", (created.id,)
        ).fetchall():
            tx.delete("contact_point", contact_id)
        tx.delete("patient", created.id)
    tombstones = clinic.conn.execute(
        "SELECT tbl FROM change WHERE col = '-' ORDER BY seq"
    ).fetchall()
    assert [t[0] for t in tombstones] == ["contact_point", "patient"]


def test_new_ids_are_version_7_uuids_that_sort_by_creation_time() -> None:
    import time
    import uuid

    from app.store.writer import new_id

    first = new_id()
    time.sleep(0.002)
    later = new_id()
    assert uuid.UUID(first).version == 7
    assert uuid.UUID(first).variant == uuid.RFC_4122
    assert first[:13] < later[:13]  # the millisecond prefix orders them
    assert len({new_id() for _ in range(10_000)}) == 10_000


def test_search_index_is_refreshed_only_by_writes_to_its_source_tables(clinic: Clinic) -> None:
    from app.interactions.log import log_interaction
    from app.patients.records import add_phone

    created = create_patient(clinic, PatientDraft("Okafor"))

    def doc() -> int:
        row = clinic.conn.execute(
            "SELECT doc FROM patient_search_doc WHERE patient_id = ?", (created.id,)
        ).fetchone()
        return int(row[0])

    first = doc()
    log_interaction(clinic, created.id, "call", direction="in", outcome="reached")
    assert doc() == first  # a logged call does not touch the index
    add_phone(clinic, created.id, "(612) 555-0142")
    assert doc() != first  # a new phone does
