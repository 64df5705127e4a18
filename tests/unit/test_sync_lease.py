"""The sending turn with sync on: a lease at the real relay, counted on this computer.

Desks A and B are enrolled in one clinic through the relay on loopback; both are chosen
senders in their own settings at some point, as happens while the setting travels.
A finished sync round is what the sync engine records in local_sync.last_synced_at.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from app.clinic import Clinic
from app.reminders.settings import claim_sender, is_sender, update_settings
from app.store.writer import utc_now
from app.sync import sender_lease, state
from app.sync.devices import removed_here, revoke_device
from app.sync.relay_api import REMOVED
from app.sync.sender_lease import (
    CATCHING_UP,
    NOT_REACHED,
    WAITING_TURN,
    LeasePolicy,
    prepare_to_send,
    release,
    sender_turn,
    still_may_send,
)
from tests.support.acting import administrator_acting  # noqa: F401
from tests.support.enrolled_desks import desk_a_fixture, desk_b_fixture  # noqa: F401
from tests.support.relay import RunningRelay, relay, relay_url  # noqa: F401

SHORT = LeasePolicy(lease_seconds=4, renew_below=3.0, margin=1.0)


@pytest.fixture(autouse=True)
def forget_turns() -> Iterator[None]:
    """Each test starts with no turn held in this process (as a new process would)."""
    yield
    with sender_lease._lock:
        sender_lease._turns.clear()
        sender_lease._take_over_wanted.clear()


def synced(desk: Clinic) -> None:
    """A sync round finishing now, stamped in a later second than anything before."""
    time.sleep(1.02 - datetime.now(UTC).microsecond / 1e6)
    state.update_setup(desk.conn, {"last_synced_at": utc_now(), "state": "synced"})


def chosen(desk: Clinic) -> None:
    update_settings(desk, enabled=True, sender_device=desk.store.device_id)


def take_turn(desk: Clinic) -> None:
    """The chosen desk's first passes: the turn granted, then a sync round, then sending."""
    chosen(desk)
    assert prepare_to_send(desk) == CATCHING_UP
    synced(desk)
    assert prepare_to_send(desk) == ""


def test_without_sync_nothing_changes(clinic: Clinic) -> None:
    chosen(clinic)
    assert is_sender(clinic)
    assert prepare_to_send(clinic) == "" and still_may_send(clinic)
    update_settings(clinic, sender_device="another-desk")
    assert not is_sender(clinic)


def test_the_chosen_desk_sends_once_it_holds_the_turn_and_has_caught_up(desk_a: Clinic) -> None:
    chosen(desk_a)
    assert not is_sender(desk_a)  # chosen, but no turn yet: nothing asked of the network
    assert prepare_to_send(desk_a) == CATCHING_UP
    assert not is_sender(desk_a)
    synced(desk_a)
    assert prepare_to_send(desk_a) == ""
    assert is_sender(desk_a) and still_may_send(desk_a)
    turn = sender_turn(desk_a)
    assert turn.holds and turn.holder == desk_a.store.device_id and turn.seconds_left > 60


def test_a_second_desk_waits_while_the_first_holds_the_turn(desk_a: Clinic, desk_b: Clinic) -> None:
    take_turn(desk_a)
    chosen(desk_b)  # B believes it sends too (the setting has not reached it)
    synced(desk_b)
    assert prepare_to_send(desk_b) == WAITING_TURN
    assert not is_sender(desk_b) and is_sender(desk_a)


def test_a_take_over_waits_out_the_old_turn_and_the_old_holder_stops(
    desk_a: Clinic, desk_b: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sender_lease, "POLICY", SHORT)
    take_turn(desk_a)

    claim_sender(desk_b)  # "Make this desk the sender" on B: no network on the click
    assert prepare_to_send(desk_b).startswith("This computer just took over sending")
    assert not is_sender(desk_b)
    assert sender_turn(desk_b).wait_seconds > 0

    # A learns at its next renewal that the turn is gone, and stops (until then its own
    # turn still runs, and B does not start before that turn's end).
    assert prepare_to_send(desk_a) == WAITING_TURN
    assert not is_sender(desk_a) and not still_may_send(desk_a)

    time.sleep(sender_turn(desk_b).wait_seconds)
    # B's next pass renews its turn; the old holder's last sends must arrive first.
    assert prepare_to_send(desk_b) == CATCHING_UP
    synced(desk_b)
    assert prepare_to_send(desk_b) == ""
    assert is_sender(desk_b)


def test_a_holder_cut_off_from_the_relay_sends_only_until_its_turn_ends(
    desk_a: Clinic,
    relay: RunningRelay,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sender_lease, "POLICY", SHORT)
    take_turn(desk_a)
    relay.stop()
    assert prepare_to_send(desk_a) == ""  # the turn held so far still counts
    assert still_may_send(desk_a)
    time.sleep(SHORT.lease_seconds - SHORT.margin)
    assert not still_may_send(desk_a)
    assert prepare_to_send(desk_a) == NOT_REACHED
    relay.start()
    assert prepare_to_send(desk_a) in ("", CATCHING_UP)


def test_a_desk_without_a_turn_that_cannot_reach_the_relay_says_so(
    desk_a: Clinic,
    relay: RunningRelay,  # noqa: F811
) -> None:
    chosen(desk_a)
    relay.stop()
    # Not "another computer holds the turn": nobody may know, the server is not there.
    assert prepare_to_send(desk_a) == NOT_REACHED
    assert "sync server cannot be reached" in NOT_REACHED
    assert not is_sender(desk_a)


def test_a_new_process_continues_a_turn_its_desk_already_holds(desk_a: Clinic) -> None:
    """The scheduled task after the app (or the app after a restart): the relay says
    this device holds the lease, so nobody else sent meanwhile: no catch-up needed."""
    take_turn(desk_a)
    with sender_lease._lock:
        sender_lease._turns.clear()  # what a new process starts with
    assert prepare_to_send(desk_a) == ""


def test_a_released_turn_goes_to_the_next_desk_at_once(desk_a: Clinic, desk_b: Clinic) -> None:
    take_turn(desk_a)
    release(desk_a)
    assert not is_sender(desk_a)
    take_turn(desk_b)  # granted at once; catches up first
    assert is_sender(desk_b)


def test_a_removed_desk_stops_sending_and_says_why(desk_a: Clinic, desk_b: Clinic) -> None:
    take_turn(desk_b)
    revoke_device(desk_a, desk_b.store.device_id)
    assert prepare_to_send(desk_b) == REMOVED
    assert removed_here(desk_b.conn) and not is_sender(desk_b)
    assert not still_may_send(desk_b)
