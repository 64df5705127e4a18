"""Adding a workstation end to end through the real relay on loopback.

Desk A is an encrypted clinic with an administrator signed in; desk B starts with an
empty data folder. Between them only the relay and the code the administrator reads
out (tests/support/enrolled_desks.py says how B's database is made).
"""

from __future__ import annotations

import base64
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from app.audit.log import computer_name
from app.clinic import Clinic, open_clinic
from app.errors import DeviceRevokedError, EnrollmentError, RelayError
from app.sync import keyring, state
from app.sync.devices import UNNAMED, list_devices, revoke_device
from app.sync.enrollment import (
    CODE_REFUSED,
    EXPIRED,
    PROOF_FAILED,
    EnrollmentCode,
    admit,
    claim,
    create_invite,
    parse_code,
    start_space,
    wait_for_claim,
    wait_for_package,
)
from app.sync.relay_api import RelaySession
from app.sync.service import sync_once
from tests.conftest import PASSPHRASE
from tests.support.acting import administrator_acting  # noqa: F401
from tests.support.enrolled_desks import desk_a_fixture, desk_b_fixture, join  # noqa: F401
from tests.support.relay import RunningRelay, relay, relay_url, running_relay  # noqa: F401


def test_a_second_desk_joins_and_holds_the_same_key_ring(desk_a: Clinic, tmp_path: Path) -> None:
    desk_b, joined = join(desk_a, tmp_path / "desk-b")
    with desk_b:
        assert keyring.ring(desk_b.conn) == keyring.ring(desk_a.conn)
        assert joined.data_key == desk_a.opened.data_key
        assert (joined.clinic_id, joined.clinic_name) == (
            desk_a.clinic_id,
            "Lakeside Family Practice",
        )
        setup_b = state.read_setup(desk_b.conn)
        assert setup_b is not None and setup_b.space_id == desk_a.clinic_id
        assert setup_b.private_key == joined.private_key
        assert desk_b.store.device_id == joined.device_id != desk_a.store.device_id
        # The same passphrase opens the new desk's key file (same slots as A's).
        assert (desk_b.home / "clinic.key").read_bytes() != b""
        with open_clinic(desk_b.home, passphrase=PASSPHRASE, use_keyring=False) as again:
            assert again.clinic_id == desk_a.clinic_id


def test_both_desks_are_listed_with_their_names(desk_a: Clinic, desk_b: Clinic) -> None:
    listed = list_devices(desk_a)
    assert [d.device_id for d in listed] == [desk_a.store.device_id, desk_b.store.device_id]
    assert listed[0].this_desk and not listed[1].this_desk
    assert listed[0].name.endswith(f"({desk_a.store.device_id[:8]})")
    # A knows B's public key from the claim it checked, and the name B sealed in it.
    assert listed[1].name == computer_name(desk_b.store.device_id) != UNNAMED
    assert all(d.active and d.last_seen_at for d in listed)
    from_b = {d.device_id: d for d in list_devices(desk_b)}
    assert from_b[desk_b.store.device_id].name.endswith(f"({desk_b.store.device_id[:8]})")
    # After a round each way A has B's own row too: its name, and the same public key.
    assert sync_once(desk_b).status.state == "synced"
    assert sync_once(desk_a).status.state == "synced"
    named = {d.device_id: d for d in list_devices(desk_a)}[desk_b.store.device_id]
    assert named.name == from_b[desk_b.store.device_id].name
    keys_on = [
        desk.conn.execute(
            "SELECT public_key FROM sync_device WHERE id = ?", (desk_b.store.device_id,)
        ).fetchone()[0]
        for desk in (desk_a, desk_b)
    ]
    assert keys_on[0] == keys_on[1] != ""


def test_the_relay_holds_neither_the_key_nor_the_secret(
    desk_a: Clinic,
    relay: RunningRelay,  # noqa: F811
    tmp_path: Path,
) -> None:
    invite = create_invite(desk_a)
    pending = claim(invite.code)
    admit(desk_a, invite, wait_for_claim(desk_a, invite, poll_seconds=0.05))
    # The package is still at the relay (not fetched yet): the moment it holds most.
    stored = _relay_bytes(relay)
    secret_signs = invite.code.split(" ")[1].replace("-", "")[8:]
    for secret in _forms(desk_a.opened.data_key) + _forms(invite.secret) + [secret_signs.encode()]:
        assert secret not in stored
    joined = wait_for_package(pending, poll_seconds=0.05)
    assert joined.data_key == desk_a.opened.data_key
    stored = _relay_bytes(relay)
    for secret in _forms(desk_a.opened.data_key) + _forms(invite.secret):
        assert secret not in stored


def _relay_bytes(relay: RunningRelay) -> bytes:  # noqa: F811
    assert relay.database_path is not None
    files = sorted(relay.database_path.parent.glob(relay.database_path.name + "*"))
    return b"".join(path.read_bytes() for path in files)


def _forms(secret: bytes) -> list[bytes]:
    return [
        secret,
        secret.hex().encode(),
        secret.hex().upper().encode(),
        base64.b64encode(secret),
        base64.urlsafe_b64encode(secret),
        base64.b64encode(secret).rstrip(b"="),
    ]


def test_a_claim_without_the_secret_gets_nothing_and_is_removed(
    desk_a: Clinic,
    relay_url: str,  # noqa: F811
) -> None:
    invite = create_invite(desk_a)
    right = parse_code(invite.code)
    wrong = EnrollmentCode(right.relay_url, right.invite_id, bytes(10))
    pending = claim(wrong)  # the relay cannot tell: it takes the claim
    with pytest.raises(EnrollmentError) as refused:
        wait_for_claim(desk_a, invite, poll_seconds=0.05)
    assert str(refused.value) == PROOF_FAILED
    # Nothing was sealed, and the device the claim made was removed at once.
    with pytest.raises(DeviceRevokedError):
        wait_for_package(pending, poll_seconds=0.05, timeout_seconds=0.2)
    gone = {d.device_id: d for d in list_devices(desk_a)}[pending.device_id]
    assert gone.revoked_at is not None
    answer = requests.get(
        f"{relay_url}/v1/invites/{invite.invite_id}/package",
        headers={"Authorization": f"Bearer {pending.device_token}"},
        timeout=5,
    )
    assert answer.status_code == 401


def test_a_code_used_twice_or_never_made_gets_the_same_words(desk_a: Clinic) -> None:
    invite = create_invite(desk_a)
    claim(invite.code)
    with pytest.raises(EnrollmentError) as again:
        claim(invite.code)
    assert str(again.value) == CODE_REFUSED
    made_up = parse_code(invite.code.replace(invite.code.split(" ")[1][:4], "ZZZZ"))
    with pytest.raises(EnrollmentError) as unknown:
        claim(made_up)
    assert str(unknown.value) == CODE_REFUSED


def test_an_expired_code_gets_the_same_words_and_the_desk_stops_waiting(
    clinic: Clinic, tmp_path: Path
) -> None:
    now = [time.time()]
    with running_relay(tmp_path, clock=lambda: now[0]) as timed:
        start_space(clinic, timed.url)
        invite = create_invite(clinic)
        assert invite.expires_at <= datetime.now(UTC) + timedelta(minutes=15)
        now[0] += 15 * 60 + 1  # a quarter of an hour later, by the relay's clock
        with pytest.raises(EnrollmentError) as late:
            claim(invite.code)
        assert str(late.value) == CODE_REFUSED
        expired = replace(invite, deadline=time.monotonic())
        with pytest.raises(EnrollmentError) as waited:
            wait_for_claim(clinic, expired, poll_seconds=0.05)
        assert str(waited.value) == EXPIRED


def test_guessing_codes_is_slowed_down_by_the_relay(clinic: Clinic, tmp_path: Path) -> None:
    """Claims need no login (the code is the ticket), so the relay limits them per
    address: after the first wrong guess the next is turned away as "busy"."""
    with running_relay(tmp_path, claim_rate=0.01, claim_burst=1) as strict:
        start_space(clinic, strict.url)
        invite = create_invite(clinic)
        guess = parse_code(invite.code.replace(invite.code.split(" ")[1][:4], "ZZZZ"))
        with pytest.raises(EnrollmentError):
            claim(guess)
        with pytest.raises(RelayError, match="busy") as slowed:
            claim(invite.code)
        assert not isinstance(slowed.value, EnrollmentError) and slowed.value.status == 429


def test_a_removed_desk_is_refused_at_once(desk_a: Clinic, desk_b: Clinic) -> None:
    setup_b = state.read_setup(desk_b.conn)
    assert setup_b is not None
    with RelaySession(setup_b.relay_url, setup_b.device_token) as session_b:
        session_b.call("GET", "/v1/devices")  # works before
        revoke_device(desk_a, desk_b.store.device_id)
        with pytest.raises(DeviceRevokedError) as refused:
            session_b.call("GET", "/v1/devices")
    assert "removed from the clinic's sync" in str(refused.value)
    status = sync_once(desk_b).status  # its own sync stops, and says why
    assert status.state == "error" and "removed" in status.message
    assert sync_once(desk_b).status.state == "error"  # and stays stopped
    row = desk_a.conn.execute(
        "SELECT revoked_at FROM sync_device WHERE id = ?", (desk_b.store.device_id,)
    ).fetchone()
    assert row[0] is not None
    listed = {d.device_id: d for d in list_devices(desk_a)}
    assert not listed[desk_b.store.device_id].active


def test_a_desk_cannot_remove_itself(desk_a: Clinic) -> None:
    with pytest.raises(Exception, match="the workstation you are using"):
        revoke_device(desk_a, desk_a.store.device_id)


def test_connecting_twice_is_refused_in_words(desk_a: Clinic, relay_url: str) -> None:  # noqa: F811
    with pytest.raises(EnrollmentError, match="already connected"):
        start_space(desk_a, relay_url)
