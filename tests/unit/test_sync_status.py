"""What the status bar reads: the state of sync on this desk, from its own records alone."""

from __future__ import annotations

import pytest

from app.clinic import Clinic
from app.patients.model import PatientDraft
from app.patients.records import create_patient
from app.sync import state
from app.sync.service import is_enabled, sync_once, sync_status


def _connect(clinic: Clinic) -> None:
    clinic.conn.execute("BEGIN IMMEDIATE")
    state.create_setup(
        clinic.conn,
        relay_url="https://relay.example.org",
        space_id=clinic.clinic_id,
        device_token="token",
        private_key=b"\x02" * 32,
    )
    top = clinic.conn.execute("SELECT max(seq) FROM change").fetchone()[0]
    state.update_setup(clinic.conn, {"pushed_seq": top, "state": "synced"})
    clinic.conn.execute("COMMIT")


def test_sync_is_off_until_this_desk_is_connected(clinic: Clinic) -> None:
    status = sync_status(clinic)
    assert not is_enabled(clinic)
    assert status.state == "off" and "Sync is off" in status.message
    assert sync_once(clinic).status.state == "off"  # nothing to do, nothing contacted


def test_own_changes_not_yet_sent_are_counted_as_pending(clinic: Clinic) -> None:
    _connect(clinic)
    assert is_enabled(clinic)
    assert sync_status(clinic).state == "synced"
    create_patient(clinic, PatientDraft("Okafor", "Ada"))
    status = sync_status(clinic)
    assert status.state == "pending" and status.pending == 1  # one insert row
    assert status.message == "1 change is waiting to be sent to the other workstations."
    # Sealed but not acknowledged by the relay: still pending.
    top = clinic.conn.execute("SELECT max(seq) FROM change").fetchone()[0]
    clinic.conn.execute(
        "INSERT INTO local_sync_outgoing (seq, batch_id, after_seq, upto_seq, envelope, "
        "created_at) VALUES (1, 'b', ?, ?, x'00', '2026-11-29T10:00:00Z')",
        (top - 1, top),
    )
    state.update_setup(clinic.conn, {"pushed_seq": top, "batch_seq": 1})
    assert sync_status(clinic).pending == 1
    clinic.conn.execute("DELETE FROM local_sync_outgoing")
    assert sync_status(clinic).pending == 0


def test_each_state_has_words_and_a_round_left_half_done_reads_as_pending(clinic: Clinic) -> None:
    _connect(clinic)
    state.update_setup(
        clinic.conn,
        {"state": "offline", "offline_since": "2026-11-29T09:00:00Z", "last_error": "x"},
    )
    offline = sync_status(clinic)
    assert "cannot be reached" in offline.message
    assert offline.offline_since is not None and offline.offline_since.hour == 9
    state.update_setup(clinic.conn, {"state": "update_needed"})
    assert "newer Frontdesk" in sync_status(clinic).message
    state.update_setup(clinic.conn, {"state": "error", "last_error": "The relay refused it."})
    assert sync_status(clinic).message == "The relay refused it."
    state.update_setup(clinic.conn, {"state": "syncing", "last_attempt_at": "2026-01-01T00:00:00Z"})
    assert sync_status(clinic).state == "pending"


def test_a_setting_that_is_not_sync_bookkeeping_is_refused(clinic: Clinic) -> None:
    _connect(clinic)
    with pytest.raises(ValueError, match="not a sync setting"):
        state.update_setup(clinic.conn, {"space_id": "another"})
