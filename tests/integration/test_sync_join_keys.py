"""Key rotation between enrolled desks through the relay's key mailbox.

Desk A replaces its database key (issue 10's rekey, finished at the next start). The
new key reaches desk B sealed to B's public key; a removed desk C is sent nothing.
Afterwards new envelopes are sealed with the new key and open on B, and envelopes
sealed before the change still open there.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.clinic import Clinic, open_clinic
from app.errors import DeviceRevokedError, RelayError
from app.store.keys import key_fingerprint
from app.store.rekey import finish_rekey, prepare_rekey
from app.sync import keyring
from app.sync.devices import revoke_device
from app.sync.envelope import open_envelope, read_header, seal
from app.sync.relay_api import session_for
from app.sync.rotation import (
    collect_key_packages,
    exchange_keys,
    keys_for_opening,
    needs_sharing,
    sealing_key,
)
from app.sync.service import sync_once
from app.sync.snapshot import send_snapshot
from tests.conftest import PASSPHRASE
from tests.support.acting import administrator_acting  # noqa: F401
from tests.support.enrolled_desks import desk_a_fixture, desk_b_fixture, join  # noqa: F401
from tests.support.relay import RunningRelay, relay, relay_url  # noqa: F401


def _envelope(desk: Clinic, seq: int, text: bytes) -> bytes:
    return seal(
        sealing_key(desk), desk.clinic_id, desk.store.device_id, seq, str(uuid.uuid4()), text
    )


def _replace_key(desk: Clinic, backups: Path) -> Clinic:
    """Issue 10's key replacement: prepared now, put in place when the clinic reopens."""
    backups.mkdir(exist_ok=True)
    home = desk.home
    prepared = prepare_rekey(desk, PASSPHRASE, backups)
    desk.close()
    finish_rekey(prepared, home, desk.clinic_id)
    reopened = open_clinic(home)
    assert reopened.opened.data_key == prepared.new_key
    return reopened


@pytest.fixture
def desk_c(desk_a: Clinic, tmp_path: Path) -> Iterator[Clinic]:
    desk, _joined = join(desk_a, tmp_path / "desk-c")
    yield desk
    desk.close()


def test_a_replaced_key_reaches_the_other_desk_and_old_batches_still_open(
    desk_a: Clinic, desk_b: Clinic, desk_c: Clinic, tmp_path: Path
) -> None:
    old_key = desk_a.opened.data_key
    before = _envelope(desk_a, 1, b"sealed before the key change")
    revoke_device(desk_a, desk_c.store.device_id)

    desk_a = _replace_key(desk_a, tmp_path / "backups")
    try:
        new_key = desk_a.opened.data_key
        assert needs_sharing(desk_a)
        assert sealing_key(desk_a) == old_key  # nobody else could open the new one yet

        shared = exchange_keys(desk_a)
        assert shared.shared_to == 1  # B only: C was removed
        assert not needs_sharing(desk_a) and sealing_key(desk_a) == new_key
        after = _envelope(desk_a, 2, b"sealed after the key change")
        assert read_header(after).key_id == key_fingerprint(new_key)

        received = exchange_keys(desk_b)
        assert (received.received, received.refused) == (1, 0)
        assert sealing_key(desk_b) == new_key  # B seals with the newest from now on
        opening = keys_for_opening(desk_b)
        assert set(opening) == {key_fingerprint(old_key), key_fingerprint(new_key)}
        assert open_envelope(after, opening, clinic_id=desk_b.clinic_id)[1] == (
            b"sealed after the key change"
        )
        assert open_envelope(before, opening, clinic_id=desk_b.clinic_id)[1] == (
            b"sealed before the key change"
        )
        assert exchange_keys(desk_b).received == 0  # a key already held is not added again

        # The removed desk holds only the old key and the relay refuses it anyway.
        assert key_fingerprint(new_key) not in keys_for_opening(desk_c)
        with pytest.raises(DeviceRevokedError):
            exchange_keys(desk_c)
    finally:
        desk_a.close()


def test_sync_rounds_carry_the_new_key_and_the_changes_sealed_with_it(
    desk_a: Clinic,
    desk_b: Clinic,
    relay: RunningRelay,  # noqa: F811
    tmp_path: Path,
) -> None:
    desk_a.update_settings(phone="+13125550100")  # before the change: sealed with the old key
    assert sync_once(desk_a).status.state == "synced"
    desk_a = _replace_key(desk_a, tmp_path / "backups")
    try:
        desk_a.update_settings(address="12 Lake Street")  # after it
        assert sync_once(desk_a).status.state == "synced"  # shares the key, then pushes
        assert sealing_key(desk_a) == desk_a.opened.data_key
        new_id = key_fingerprint(desk_a.opened.data_key)
        assert new_id in _key_ids_at(relay)  # the relay routes by key id, nothing more

        result = sync_once(desk_b)  # takes the key from the mailbox, then pulls both
        assert result.status.state == "synced", result.status.message
        desk_b.reload_settings()
        assert (desk_b.settings.phone, desk_b.settings.address) == (
            "+13125550100",
            "12 Lake Street",
        )
        assert sealing_key(desk_b) == desk_a.opened.data_key
    finally:
        desk_a.close()


def _key_ids_at(relay: RunningRelay) -> set[str]:  # noqa: F811
    assert relay.database_path is not None
    conn = sqlite3.connect(relay.database_path)
    try:
        rows = conn.execute("SELECT envelope FROM batches").fetchall()
    finally:
        conn.close()
    return {read_header(bytes(r[0])).key_id for r in rows}


def test_an_interrupted_share_is_tried_again_at_the_next_round(
    desk_a: Clinic,
    desk_b: Clinic,
    relay: RunningRelay,  # noqa: F811
    tmp_path: Path,
) -> None:
    desk_a = _replace_key(desk_a, tmp_path / "backups")
    try:
        relay.stop()
        with pytest.raises(RelayError):
            exchange_keys(desk_a)
        assert needs_sharing(desk_a)  # still sealing with the shared key
        assert sealing_key(desk_a) != desk_a.opened.data_key
        relay.start()
        assert exchange_keys(desk_a).shared_to == 1
        assert exchange_keys(desk_b).received == 1
        assert keyring.ring(desk_b.conn)[-1].data_key == desk_a.opened.data_key
    finally:
        desk_a.close()


def test_a_key_from_a_desk_not_on_record_is_not_taken(
    desk_a: Clinic, desk_b: Clinic, tmp_path: Path
) -> None:
    """A package in B's mailbox from a desk B has no row for waits (its row may come with
    a later batch); one from a removed desk is refused."""
    desk_a = _replace_key(desk_a, tmp_path / "backups")
    try:
        exchange_keys(desk_a)
        me_a = desk_a.store.device_id
        with desk_b.store.write() as tx:
            tx.delete("sync_device", me_a)
        with session_for(desk_b) as session:
            assert collect_key_packages(desk_b, session) == (0, 0)
            with desk_b.store.write() as tx:
                tx.insert(
                    "sync_device",
                    {
                        "id": me_a,
                        "name": "A",
                        "public_key": _public_of(desk_a),
                        "enrolled_at": "2026-01-01T00:00:00Z",
                        "revoked_at": "2026-02-01T00:00:00Z",
                    },
                )
            assert collect_key_packages(desk_b, session) == (0, 1)
        assert desk_a.opened.data_key not in keys_for_opening(desk_b).values()
    finally:
        desk_a.close()


def _public_of(desk: Clinic) -> str:
    row = desk.conn.execute(
        "SELECT public_key FROM sync_device WHERE id = ?", (desk.store.device_id,)
    ).fetchone()
    return str(row[0])


def test_a_desk_joins_through_an_old_key_desk_from_a_new_key_snapshot(
    desk_a: Clinic, desk_b: Clinic, tmp_path: Path
) -> None:
    desk_a = _replace_key(desk_a, tmp_path / "backups")
    try:
        assert sync_once(desk_a).status.state == "synced"  # shares the new key
        assert sync_once(desk_b).status.state == "synced"  # B holds it; B's file: old key
        with session_for(desk_a) as session:
            send_snapshot(desk_a, session, sealing_key(desk_a))  # a copy under the new key
        desk_b.acting_user_id = desk_b.conn.execute(  # the same administrator, at B
            "SELECT id FROM app_user WHERE role = 'administrator'"
        ).fetchone()[0]
        desk_c, joined = join(desk_b, tmp_path / "desk-c")  # B admits C: B's key file
        with desk_c:
            assert joined.data_key != desk_a.opened.data_key
            assert sync_once(desk_c).status.state == "synced"
    finally:
        desk_a.close()
