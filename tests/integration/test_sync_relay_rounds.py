"""Desks syncing through the real relay on loopback: starting from a snapshot, converging,
recovering from a relay that is down, slow or talking nonsense, and saying so in words."""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.clinic import Clinic
from app.patients.model import PatientDraft
from app.patients.records import create_patient, update_patient
from app.patients.search import PatientSearch
from app.sync.client import run_round
from app.sync.devices import revoke_device
from app.sync.service import sync_once, sync_status
from app.users import add_user
from tests.support.acting import administrator_acting  # noqa: F401
from tests.support.relay import RunningRelay, relay, relay_url  # noqa: F401
from tests.support.sync_desks import domain_state, lost_edits
from tests.support.sync_relay_desks import first_desk, join_desk, push_as, settle, sync


@pytest.fixture
def desk_a(clinic: Clinic, relay_url: str) -> Clinic:  # noqa: F811
    return first_desk(clinic, relay_url)


@pytest.fixture
def desk_b(desk_a: Clinic, tmp_path: Path) -> Iterator[Clinic]:
    desk = join_desk(desk_a, tmp_path / "desk-b")
    yield desk
    desk.close()


def test_a_new_desk_starts_from_the_snapshot_with_its_own_id_and_no_one_elses_secrets(
    desk_a: Clinic, desk_b: Clinic
) -> None:
    assert desk_b.store.device_id != desk_a.store.device_id
    assert desk_b.clinic_id == desk_a.clinic_id
    assert domain_state(desk_b)["setting"] == domain_state(desk_a)["setting"]
    own = desk_b.conn.execute("SELECT private_key, device_token FROM local_sync").fetchone()
    theirs = desk_a.conn.execute("SELECT private_key, device_token FROM local_sync").fetchone()
    assert own != theirs
    assert desk_b.conn.execute("SELECT count(*) FROM local_sync_outgoing").fetchone()[0] == 0
    # B's audit chain is its own: it starts with B's own entries, not A's.
    workstations = {w for (w,) in desk_b.conn.execute("SELECT workstation FROM audit_event")}
    assert all(desk_b.store.device_id[:8] in w for w in workstations)
    assert sync_status(desk_b).state == "synced"


def test_two_desks_converge_through_the_relay(desk_a: Clinic, desk_b: Clinic) -> None:
    made = create_patient(desk_a, PatientDraft("Okafor", "Ada"))
    create_patient(desk_b, PatientDraft("Lindqvist", "Ben"))
    assert sync_status(desk_a).state == "pending" and sync_status(desk_a).pending > 0
    settle(desk_a, desk_b)
    update_patient(desk_b, made.id, {"preferred_name": "Addie"})
    result = sync(desk_b)
    assert result.pushed == 1
    pulled = sync(desk_a)
    assert pulled.changes.touches("patient") and made.id in pulled.changes.patient_ids
    assert [h.patient_id for h in PatientSearch(desk_a.conn).search("addie")] == [made.id]
    settle(desk_a, desk_b)
    assert domain_state(desk_a) == domain_state(desk_b)
    for desk in (desk_a, desk_b):
        status = sync_status(desk)
        assert status.state == "synced" and status.pending == 0 and status.last_synced_at
        assert lost_edits(desk) == []
        digest = desk.conn.execute("SELECT digest_status FROM local_sync").fetchone()[0]
        assert digest in ("recorded", "match")


def test_sync_once_on_a_fork_reports_what_changed(desk_a: Clinic, desk_b: Clinic) -> None:
    create_patient(desk_a, PatientDraft("Okafor", "Ada"))
    sync(desk_a)
    desk_b.acting_user_id = add_user(desk_b, "Dana Reyes", "receptionist").id
    fork = desk_b.fork()
    try:
        result = sync_once(fork)
    finally:
        fork.close()
    assert result.pulled >= 1 and result.changes.touches("patient")
    assert desk_b.conn.execute("SELECT count(*) FROM patient").fetchone()[0] == 1
    # The audit entry for what came from A is its own kind, names A's workstation and
    # not the person signed in at B.
    user, body = desk_b.conn.execute(
        "SELECT user_id, body FROM audit_event WHERE action = 'sync.received' "
        "ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    assert user == "" and b'"patient":1' in body
    assert desk_a.store.device_id.encode() in body
    assert desk_b.store.device_id.encode() not in body


def test_a_relay_that_is_down_leaves_the_work_here_and_says_offline(
    desk_a: Clinic,
    relay: RunningRelay,  # noqa: F811
) -> None:
    relay.stop()
    create_patient(desk_a, PatientDraft("Okafor", "Ada"))
    result = sync(desk_a)
    assert result.status.state == "offline"
    assert result.status.offline_since is not None
    assert "cannot be reached" in result.status.message
    since = result.status.offline_since
    assert sync(desk_a).status.offline_since == since  # offline since the first failure
    relay.start()
    back = sync(desk_a)
    assert back.status.state == "synced" and back.pushed == 1
    assert back.status.offline_since is None


def _silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers (a relay hanging)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


@pytest.fixture
def silent_url() -> Iterator[str]:
    yield from _silent_server()


def test_a_relay_that_never_answers_times_out_as_offline(desk_a: Clinic, silent_url: str) -> None:
    desk_a.conn.execute("UPDATE local_sync SET relay_url = ?", (silent_url,))
    result = run_round(desk_a, timeout_s=0.5)
    assert result.status.state == "offline"


def test_a_relay_answering_garbage_is_an_error_in_words(desk_a: Clinic, tmp_path: Path) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Garbage(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html>captive portal</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET  # noqa: N815
        do_PUT = do_GET  # noqa: N815

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        desk_a.conn.execute(
            "UPDATE local_sync SET relay_url = ?", (f"http://127.0.0.1:{server.server_port}",)
        )
        create_patient(desk_a, PatientDraft("Okafor", "Ada"))
        result = sync(desk_a)
    finally:
        server.shutdown()
        thread.join()
    assert result.status.state == "error"
    assert "does not understand" in result.status.message
    assert "Traceback" not in result.status.message
    assert sync_status(desk_a).pending > 0  # kept for a relay that works


def test_a_removed_desk_is_told_in_words_and_stops(desk_a: Clinic, desk_b: Clinic) -> None:
    revoke_device(desk_a, desk_b.store.device_id)
    create_patient(desk_b, PatientDraft("Okafor", "Ada"))
    result = sync(desk_b)
    assert result.status.state == "error"
    assert "removed" in result.status.message
    assert desk_a.conn.execute("SELECT count(*) FROM patient").fetchone()[0] == 0


def test_a_batch_under_a_key_this_desk_lacks_is_refused_in_words_and_nothing_applied(
    desk_a: Clinic, desk_b: Clinic
) -> None:
    from app.store.keys import new_data_key
    from app.store.migrations import latest_version
    from app.sync import journal, payload

    create_patient(desk_a, PatientDraft("Okafor", "Ada"))
    batch = journal.next_batch(desk_a.conn, desk_a.store.device_id, 0, latest_version())
    assert batch is not None
    push_as(desk_a, batch.payload, data_key=new_data_key())  # a key in no desk's ring
    cursor_before = desk_b.conn.execute("SELECT cursor FROM local_sync").fetchone()[0]
    result = sync(desk_b)
    assert result.status.state == "error"
    assert "key this workstation does not have" in result.status.message
    assert desk_b.conn.execute("SELECT count(*) FROM patient").fetchone()[0] == 0
    assert desk_b.conn.execute("SELECT cursor FROM local_sync").fetchone()[0] == cursor_before
    assert payload  # the payload was a real one: only the key was wrong
    assert base64


def test_an_old_snapshot_from_the_relay_is_caught_up_by_the_batches_after_it(
    desk_a: Clinic, tmp_path: Path
) -> None:
    for n in range(5):
        create_patient(desk_a, PatientDraft(f"Family{n}", "Given"))
        sync(desk_a)  # five batches after the only (founding) snapshot
    late = join_desk(desk_a, tmp_path / "late")
    try:
        assert late.conn.execute("SELECT count(*) FROM patient").fetchone()[0] == 5
        settle(desk_a, late)  # A hears the new desk's own sync_device row
        assert domain_state(late) == domain_state(desk_a)
    finally:
        late.close()


def test_a_desk_whose_digest_disagrees_repairs_itself_from_the_snapshot_and_batches(
    desk_a: Clinic, desk_b: Clinic
) -> None:
    made = create_patient(desk_a, PatientDraft("Okafor", "Ada", tags=("vip",)))
    settle(desk_a, desk_b)
    # Damage on B that no write of Frontdesk makes: a row gone from a table and one of
    # the journal's change rows gone with no trace.
    desk_b.conn.execute("DELETE FROM patient_tag")
    desk_b.conn.execute(
        "DELETE FROM change WHERE tbl = 'patient' AND row_id = ? AND col = '*'", (made.id,)
    )
    update_patient(desk_a, made.id, {"preferred_name": "Addie"})
    sync(desk_a)  # A reports the digest at the new position first: the reference
    sync(desk_b)
    flagged = desk_b.conn.execute("SELECT digest_status, bootstrap_needed FROM local_sync")
    assert flagged.fetchone() == ("mismatch", 1)
    repaired = sync(desk_b)
    assert repaired.status.state == "synced", repaired.status.message
    assert desk_b.conn.execute("SELECT count(*) FROM patient_tag").fetchone()[0] == 1
    assert (
        desk_b.conn.execute(
            "SELECT count(*) FROM change WHERE row_id = ? AND col = '*'", (made.id,)
        ).fetchone()[0]
        == 1
    )
    assert desk_b.conn.execute(
        "SELECT digest_status, bootstrap_needed FROM local_sync"
    ).fetchone() == ("match", 0)
    assert domain_state(desk_a) == domain_state(desk_b)


def test_a_desk_put_back_from_an_old_copy_catches_up_with_its_own_later_work(
    desk_a: Clinic, desk_b: Clinic, tmp_path: Path
) -> None:
    import shutil

    from app.clinic import open_clinic

    first = create_patient(desk_b, PatientDraft("Okafor", "Ada"))
    sync(desk_b)
    home = desk_b.home
    desk_b.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    old = tmp_path / "old-clinic.db"
    shutil.copyfile(home / "clinic.db", old)
    second = create_patient(desk_b, PatientDraft("Lindqvist", "Ben"))
    assert sync(desk_b).pushed == 1  # batch 2, which the old copy knows nothing of
    desk_b.close()
    for suffix in ("-wal", "-shm"):
        (home / f"clinic.db{suffix}").unlink(missing_ok=True)
    shutil.copyfile(old, home / "clinic.db")  # as a restore of an old backup would
    again = open_clinic(home)
    try:
        third = create_patient(again, PatientDraft("Nwosu", "Chi"))
        result = sync(again)  # the relay says it expects batch 3: B fetches its batch 2 first
        assert result.status.state == "synced", result.status.message
        settle(desk_a, again)
        for desk in (desk_a, again):
            ids = {r[0] for r in desk.conn.execute("SELECT id FROM patient")}
            assert ids == {first.id, second.id, third.id}
        assert domain_state(desk_a) == domain_state(again)
        assert again.conn.execute("SELECT batch_seq FROM local_sync").fetchone()[0] >= 3
    finally:
        again.close()
