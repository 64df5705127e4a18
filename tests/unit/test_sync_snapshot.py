"""Starting snapshots: pieces sealed so the relay can neither read, alter, swap nor
reorder them; the copy stripped of what is one desk's alone; the digest it carries."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.clinic import Clinic
from app.errors import EnvelopeError, SyncError
from app.patients.model import PatientDraft
from app.patients.records import create_patient
from app.store import database
from app.store.keys import key_fingerprint, new_data_key
from app.sync import digest, state
from app.sync.snapshot import SnapshotManifest, open_piece, seal_piece, take_snapshot

KEY = new_data_key()
KEYS = {key_fingerprint(KEY): KEY}
SNAPSHOT = "a" * 32


def _sealed(clinic_id: str = "clinic-1", snapshot_id: str = SNAPSHOT, index: int = 2) -> bytes:
    return seal_piece(KEY, clinic_id, snapshot_id, index, 5, b"page bytes")


def _open(sealed: bytes, keys: dict[str, bytes] = KEYS, count: int = 5) -> bytes:
    return open_piece(
        sealed, keys, clinic_id="clinic-1", snapshot_id=SNAPSHOT, index=2, count=count
    )


def test_a_sealed_piece_opens_to_its_bytes_only_where_it_belongs() -> None:
    sealed = _sealed()
    assert b"page bytes" not in sealed
    assert _open(sealed) == b"page bytes"


@pytest.mark.parametrize(
    "sealed",
    [
        _sealed(index=3),  # swapped with another piece
        _sealed(snapshot_id="b" * 32),  # a piece of another snapshot
        _sealed(clinic_id="clinic-2"),  # another clinic's
    ],
    ids=["another index", "another snapshot", "another clinic"],
)
def test_a_piece_out_of_place_is_refused(sealed: bytes) -> None:
    with pytest.raises(SyncError, match="damaged"):
        _open(sealed)


def test_a_piece_of_a_longer_snapshot_is_refused() -> None:
    with pytest.raises(SyncError, match="damaged"):
        _open(_sealed(), count=6)


def test_an_altered_piece_is_refused() -> None:
    sealed = bytearray(_sealed())
    sealed[-5] ^= 1
    with pytest.raises(SyncError, match="damaged"):
        _open(bytes(sealed))


def test_a_piece_under_a_key_this_desk_lacks_is_refused_in_words() -> None:
    with pytest.raises(EnvelopeError, match="key this workstation does not have"):
        _open(_sealed(), keys={})


def test_a_manifest_that_is_not_one_is_refused() -> None:
    with pytest.raises(SyncError, match="damaged"):
        SnapshotManifest.decode(b'{"clinic_id": 1}')


def test_the_copy_keeps_the_clinic_and_drops_this_desks_secrets_imports_and_audit_chain(
    clinic: Clinic, tmp_path: Path
) -> None:
    folder = tmp_path / "snap"
    folder.mkdir()
    create_patient(clinic, PatientDraft("Okafor", "Ada"))
    clinic.conn.execute("BEGIN IMMEDIATE")
    state.create_setup(
        clinic.conn,
        relay_url="https://relay.example.org",
        space_id=clinic.clinic_id,
        device_token="secret-token-value",
        private_key=b"\x01" * 32,
        cursor=7,
    )
    state.set_peer_seq(clinic.conn, "other-desk", 4)
    state.update_setup(clinic.conn, {"batch_seq": 3})
    # An import run of this desk: its undo list names this desk's own change numbers.
    clinic.conn.execute(
        "INSERT INTO import_batch (id, started_at, status, first_seq, last_seq) "
        "VALUES ('run-1', '2026-11-29T10:00:00Z', 'done', 1, 2)"
    )
    clinic.conn.execute(
        "INSERT INTO import_file (id, batch_id, name, sha256, size, format) "
        "VALUES ('file-1', 'run-1', 'export.csv', 'ab', 10, 'csv')"
    )
    clinic.conn.execute("COMMIT")
    path, manifest = take_snapshot(clinic, folder)
    assert manifest.cursor == 7 and manifest.created_by == clinic.store.device_id
    assert manifest.peers == {"other-desk": 4, clinic.store.device_id: 3}
    assert not (folder / "clinic.db-wal").exists()
    raw = path.read_bytes()
    assert b"secret-token-value" not in raw and b"Okafor" not in raw  # encrypted besides
    copy = database.connect(path, clinic.opened.data_key)
    try:
        assert copy.execute("SELECT count(*) FROM patient").fetchone()[0] == 1
        for table in (
            "local_sync",
            "local_sync_peer",
            "audit_event",
            "import_batch",
            "import_file",
        ):
            assert copy.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
        triggers = copy.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_event'"
        ).fetchone()[0]
        assert triggers == 2  # the audit log stays append-only in the copy
        held = digest.advance(copy, clinic.opened.data_key, None)
        assert manifest.digest_seq == held.seq
        assert manifest.digest_sum == held.total.to_bytes(32, "big").hex()
    finally:
        copy.close()
    assert clinic.conn.execute("SELECT count(*) FROM audit_event").fetchone()[0] > 0
    assert clinic.conn.execute("SELECT count(*) FROM import_batch").fetchone()[0] == 1


def test_the_digest_grows_by_the_new_rows_and_is_the_same_from_scratch(clinic: Clinic) -> None:
    key = clinic.opened.data_key
    create_patient(clinic, PatientDraft("Okafor", "Ada"))
    early = digest.advance(clinic.conn, key, None)
    create_patient(clinic, PatientDraft("Lindqvist", "Ben"))
    grown = digest.advance(clinic.conn, key, early)
    assert grown == digest.advance(clinic.conn, key, None)
    assert grown.total != early.total
    counts = digest.table_counts(clinic.conn, clinic.store.schema)
    text = digest.finish(key, grown, counts)
    assert text == digest.finish(key, grown, dict(reversed(counts.items())))
    assert text != digest.finish(key, grown, {**counts, "patient": counts["patient"] + 1})
    assert text != digest.finish(new_data_key(), grown, counts)
