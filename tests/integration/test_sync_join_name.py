"""The small calls the sync screens use, through the real relay on loopback.

The new desk's name travels in its claim sealed under a key only the code's holder
derives, so the administrator's dialog can say "FRONT-DESK-2 wants to join" while the
relay learns nothing; a workstation is renamed through the journal; a sync server is
checked before anything is sent to it; a new desk joins in one call; and "Make this
workstation the sender" takes the sending turn over in one call.
"""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from app.clinic import Clinic
from app.errors import EnrollmentError, InvalidInputError, PermissionDeniedError, RelayError
from app.reminders.settings import is_chosen_sender, is_sender, make_sender, update_settings
from app.sync import keyring, sender_lease
from app.sync.devices import known_devices, list_devices, rename_workstation
from app.sync.enrollment import (
    JOIN_COPYING,
    JOIN_WAITING,
    PROOF_FAILED,
    EnrollmentCode,
    admit,
    claim,
    create_invite,
    join_clinic,
    open_name,
    parse_code,
    proof_for,
    seal_name,
    wait_for_claim,
)
from app.sync.relay_api import NOT_A_SYNC_SERVER, SERVER_READY, check_relay
from app.sync.service import sync_once
from app.users import add_user
from tests.support.acting import administrator_acting  # noqa: F401
from tests.support.enrolled_desks import desk_a_fixture, desk_b_fixture, join  # noqa: F401
from tests.support.relay import RunningRelay, relay, relay_url  # noqa: F401

NAME = "FRONT-DESK-2"


@pytest.fixture(autouse=True)
def no_turns_left() -> Iterator[None]:
    """Turns live in this process's memory, keyed by clinic and device ids, which the
    test clinics share: none from an earlier test, none left for a later one."""

    def forget() -> None:
        with sender_lease._lock:
            sender_lease._turns.clear()
            sender_lease._take_over_wanted.clear()
            sender_lease._no_turn.clear()

    forget()
    yield
    forget()


def _relay_bytes(relay: RunningRelay) -> bytes:  # noqa: F811
    assert relay.database_path is not None
    files = sorted(relay.database_path.parent.glob(relay.database_path.name + "*"))
    return b"".join(path.read_bytes() for path in files)


def test_the_admins_dialog_learns_the_new_desks_name_and_the_relay_does_not(
    desk_a: Clinic,
    relay: RunningRelay,  # noqa: F811
    tmp_path: Path,
) -> None:
    invite = create_invite(desk_a)
    pending = claim(invite.code, name=NAME)

    seen = wait_for_claim(desk_a, invite, poll_seconds=0.05)

    assert seen.name == pending.name == NAME
    stored = _relay_bytes(relay)
    for form in (NAME.encode(), NAME.encode("utf-16-le"), base64.b64encode(NAME.encode())):
        assert form not in stored
    admit(desk_a, invite, seen)
    # The list names it at once, before the new desk has synced anything.
    assert known_devices(desk_a.conn)[pending.device_id].name == NAME
    desk_b = join_clinic(pending, tmp_path / "desk-b")
    with desk_b:
        assert known_devices(desk_b.conn)[desk_b.store.device_id].name


def test_a_name_altered_on_the_way_is_refused_like_a_wrong_proof(
    desk_a: Clinic,
    relay_url: str,  # noqa: F811
) -> None:
    invite = create_invite(desk_a)
    code = parse_code(invite.code)
    _private, public_key = keyring.new_device_key()
    device_id = str(uuid.uuid4())
    # A claim whose proof is right but whose name was sealed by someone without the
    # code (what a relay could put in): the claim as a whole is not trusted.
    without_code = EnrollmentCode(code.relay_url, code.invite_id, bytes(10))
    requests.post(
        f"{relay_url}/v1/invites/{code.invite_id}/claim",
        json={
            "device_id": device_id,
            "public_key": base64.b64encode(public_key).decode(),
            "proof": base64.b64encode(proof_for(code, device_id, public_key)).decode(),
            "sealed_name": seal_name(without_code, device_id, public_key, "Trust me"),
        },
        timeout=5,
    ).raise_for_status()

    with pytest.raises(EnrollmentError) as refused:
        wait_for_claim(desk_a, invite, poll_seconds=0.05)

    assert str(refused.value) == PROOF_FAILED
    assert {d.device_id: d for d in list_devices(desk_a)}[device_id].revoked_at is not None


def test_a_name_sealed_for_another_device_does_not_open() -> None:
    code = parse_code("https://sync.example.org KQ7M-2XRT-9PWA-HC4N-ZEJ8-5VUS")
    _private, public_key = keyring.new_device_key()
    sealed = seal_name(code, "device-1", public_key, NAME)

    assert open_name(code.secret, code.invite_bytes, "device-1", public_key, sealed) == NAME
    with pytest.raises(ValueError):
        open_name(code.secret, code.invite_bytes, "device-2", public_key, sealed)
    with pytest.raises(ValueError):
        open_name(bytes(10), code.invite_bytes, "device-1", public_key, sealed)


def test_a_claim_without_a_name_is_let_in_as_a_new_workstation(desk_a: Clinic) -> None:
    invite = create_invite(desk_a)
    pending = claim(invite.code, name="")
    seen = wait_for_claim(desk_a, invite, poll_seconds=0.05)
    assert seen.name == "" and seen.check_code == pending.check_code


def test_join_clinic_waits_for_the_keys_then_copies_and_says_which(
    desk_a: Clinic, tmp_path: Path
) -> None:
    invite = create_invite(desk_a)
    pending = claim(invite.code, name=NAME)
    said: list[tuple[int, int, str]] = []

    def admit_when_asked() -> None:
        admit(desk_a.fork(), invite, wait_for_claim(desk_a.fork(), invite, poll_seconds=0.05))

    admitting = threading.Thread(target=admit_when_asked)
    admitting.start()
    try:
        desk_b = join_clinic(
            pending,
            tmp_path / "desk-b",
            progress=lambda done, total, what: said.append((done, total, what)),
            poll_seconds=0.05,
        )
    finally:
        admitting.join(timeout=30)
    with desk_b:
        assert desk_b.clinic_id == desk_a.clinic_id
    words = [w for _d, _t, w in said]
    assert words[0] == JOIN_WAITING and words[-1] == JOIN_COPYING
    assert set(words) == {JOIN_WAITING, JOIN_COPYING}
    assert any(total > 0 and done == total for done, total, w in said if w == JOIN_COPYING)


def test_this_workstation_is_renamed_and_the_others_learn_it_by_sync(
    desk_a: Clinic, desk_b: Clinic
) -> None:
    rename_workstation(desk_a, "  Reception\tleft  ")
    assert sync_once(desk_a).status.state == "synced"
    assert sync_once(desk_b).status.state == "synced"

    listed = {d.device_id: d.name for d in list_devices(desk_b)}

    assert listed[desk_a.store.device_id] == "Reception left"


def test_a_name_must_be_there_short_and_only_an_administrator_renames(
    desk_a: Clinic,
) -> None:
    with pytest.raises(InvalidInputError, match="Type a name"):
        rename_workstation(desk_a, " \n ")
    with pytest.raises(InvalidInputError, match="at most 60"):
        rename_workstation(desk_a, "R" * 61)
    desk_a.acting_user_id = add_user(desk_a, "Rita Reception", "receptionist").id
    with pytest.raises(PermissionDeniedError, match="rename"):
        rename_workstation(desk_a, "Reception left")


def test_a_sync_server_is_checked_in_words_before_anything_is_sent(
    relay: RunningRelay,  # noqa: F811
) -> None:
    assert check_relay(relay.url) == SERVER_READY

    with _web_server_without_sync() as other, pytest.raises(RelayError) as not_sync:
        check_relay(other)
    relay.stop()
    with pytest.raises(RelayError) as down:
        check_relay(relay.url)
    with pytest.raises(RelayError) as plain_http:
        check_relay("http://sync.example.org")

    assert str(not_sync.value) == NOT_A_SYNC_SERVER
    assert "could not be reached" in str(down.value)
    assert "must start with https://" in str(plain_http.value)
    for refused in (not_sync, down, plain_http):
        assert "relay" not in str(refused.value).lower()


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html>a web page</html>" if self.path == "/" else b"not here"
        self.send_response(200 if self.path == "/" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        return


@contextmanager
def _web_server_without_sync() -> Iterator[str]:
    """A web server that answers, but has no sync API (a mistyped address)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_make_sender_chooses_this_desk_and_takes_the_turn_over_at_once(
    desk_a: Clinic, desk_b: Clinic
) -> None:
    update_settings(desk_a, enabled=True, sender_device=desk_a.store.device_id)
    assert sender_lease.prepare_to_send(desk_a) == sender_lease.CATCHING_UP  # A holds it
    sync_once(desk_a)
    sync_once(desk_b)

    turn = make_sender(desk_b)

    assert is_chosen_sender(desk_b) and not is_sender(desk_b)  # it waits out A's turn
    assert not turn.holds and turn.wait_seconds > 0
    assert "took over sending" in turn.message
    # A's next renewal is refused: it stops.
    assert sender_lease.prepare_to_send(desk_a) == sender_lease.WAITING_TURN


def test_make_sender_without_the_sync_server_keeps_the_choice_and_says_when(
    desk_a: Clinic,
    relay: RunningRelay,  # noqa: F811
) -> None:
    relay.stop()

    turn = make_sender(desk_a)

    assert is_chosen_sender(desk_a) and not turn.holds
    assert turn.message == sender_lease.TAKE_OVER_LATER
