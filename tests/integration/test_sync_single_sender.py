"""One sender among synced desks: every message reaches the patient exactly once.

Two desks of one clinic, enrolled and synced through the real relay on loopback, hold
the same outbox (the messages are made on desk A and reach desk B by sync, with the
same ids). Both run real sending passes against one loopback SMTP server and one
Twilio-like service; what arrives there is counted per recipient. Turns are seconds
long here (minutes on a desk) so the take-overs finish within the test.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.clinic import Clinic
from app.reminders.outbox import get_message
from app.reminders.sender import Channels, SendReport, send_due
from app.reminders.service import MODE_OTHER_SENDER, MODE_SENDING, run_pass
from app.reminders.settings import claim_sender, is_sender, update_settings
from app.sync import sender_lease
from app.sync.sender_lease import LeasePolicy
from app.sync.service import sync_once
from tests.support.acting import administrator_acting  # noqa: F401
from tests.support.enrolled_desks import desk_a_fixture, join  # noqa: F401
from tests.support.fake_smtp import Mailbox, running_smtp
from tests.support.fake_twilio import FakeTwilio, account_for
from tests.support.relay import relay, relay_url  # noqa: F401
from tests.support.sender_world import (
    NOW,
    appointment_rule,
    due_messages,
    email_settings_for,
    patient_with_visit,
    phone_number,
    running_twilio,
    start_sending,
)

SHORT = LeasePolicy(lease_seconds=4, renew_below=3.0, margin=1.0)
TEXTS = 8
EMAILS = 4


@dataclass
class Desks:
    a: Clinic
    b: Clinic
    ids: list[str]
    channels_a: Channels
    channels_b: Channels
    twilio: FakeTwilio
    mailbox: Mailbox


@pytest.fixture(autouse=True)
def short_turns(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(sender_lease, "POLICY", SHORT)
    yield
    with sender_lease._lock:
        sender_lease._turns.clear()
        sender_lease._take_over_wanted.clear()


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    # Each text takes about 0.3 s at the service, so a pass lasts a few seconds.
    with running_twilio(delay_s=0.15) as fake:
        yield fake


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with running_smtp() as server:
        yield server


@pytest.fixture
def world(
    desk_a: Clinic, tmp_path: Path, twilio: FakeTwilio, smtp: tuple[Mailbox, int]
) -> Iterator[Desks]:
    start_sending(desk_a)  # sending on, desk A chosen
    rule = appointment_rule(desk_a, ("sms", "email"))
    visits = [patient_with_visit(desk_a, i) for i in range(TEXTS)]
    visits += [patient_with_visit(desk_a, 100 + i, phone=None) for i in range(EMAILS)]
    ids = due_messages(desk_a, rule, visits)
    assert sync_once(desk_a).status.state == "synced"
    desk_b, _joined = join(desk_a, tmp_path / "desk-b")
    assert sync_once(desk_b).status.state == "synced"
    assert [get_message(desk_b, i).state for i in ids] == ["due"] * len(ids)
    channels_a = Channels.from_accounts(email_settings_for(smtp[1]), account_for(twilio))
    channels_b = Channels.from_accounts(email_settings_for(smtp[1]), account_for(twilio))
    yield Desks(desk_a, desk_b, ids, channels_a, channels_b, twilio, smtp[0])
    channels_a.close()
    channels_b.close()
    desk_b.close()


def arrivals(world: Desks) -> Counter[str]:
    """Every text and email that reached the loopback services, by recipient."""
    found: Counter[str] = Counter(m.to for m in world.twilio.outbound())
    for envelope in world.mailbox.envelopes:
        found.update(envelope.rcpt_tos)
    return found


def expected() -> Counter[str]:
    return Counter(
        [phone_number(i) for i in range(TEXTS)]
        + [f"patient{100 + i}@example.org" for i in range(EMAILS)]
    )


def settled(desk: Clinic, ids: list[str]) -> bool:
    return all(get_message(desk, i).state == "sent" for i in ids)


def rounds(world: Desks, pairs: list[tuple[Clinic, Channels]], limit: int = 40) -> list[int]:
    """Passes and sync rounds on each desk in turn until both outboxes say all sent;
    returns how many each desk sent."""
    sent = [0] * len(pairs)
    for _ in range(limit):
        for n, (desk, channels) in enumerate(pairs):
            sync_once(desk)
            sent[n] += send_due(desk, channels, now=NOW).sent
            sync_once(desk)
        if all(settled(desk, world.ids) for desk, _ in pairs):
            return sent
        time.sleep(0.3)
    raise AssertionError("the messages were not all sent")


def test_two_desks_that_both_believe_they_send_send_each_message_once(world: Desks) -> None:
    # B believes it sends too (its choice has not travelled yet): the worst case.
    update_settings(world.b, sender_device=world.b.store.device_id)
    sent = rounds(world, [(world.a, world.channels_a), (world.b, world.channels_b)])
    assert sum(sent) == TEXTS + EMAILS
    assert arrivals(world) == expected()
    assert settled(world.a, world.ids) and settled(world.b, world.ids)


def test_a_take_over_moves_sending_to_the_other_desk_without_a_double_send(
    world: Desks,
) -> None:
    a, b = world.a, world.b
    first = send_due(a, world.channels_a, now=NOW)  # A gains the turn: catches up first
    assert first.sent == 0 and first.refused == sender_lease.CATCHING_UP
    _next_second()
    assert sync_once(a).status.state == "synced"
    assert send_due(a, world.channels_a, now=NOW, limit=5).sent == 5
    assert sync_once(a).status.state == "synced"

    claim_sender(b)  # "Make this desk the sender" on B
    taking = send_due(b, world.channels_b, now=NOW)
    assert taking.sent == 0 and taking.refused.startswith("This computer just took over")
    stopped = send_due(a, world.channels_a, now=NOW)  # A's renewal is refused: it stops
    assert stopped.sent == 0 and stopped.refused == sender_lease.WAITING_TURN
    assert not is_sender(a)

    sent = rounds(world, [(b, world.channels_b), (a, world.channels_a)])
    assert sent == [TEXTS + EMAILS - 5, 0]
    assert arrivals(world) == expected()
    assert settled(a, world.ids)


def test_a_take_over_in_the_middle_of_a_pass_stops_the_old_sender_in_time(
    world: Desks,
) -> None:
    """A is handing texts over one by one when B takes over: A finds its renewal refused
    and stops between two messages; B waits out A's turn, catches up, sends the rest."""
    a, b = world.a, world.b
    send_due(a, world.channels_a, now=NOW, limit=0)  # gains the turn
    _next_second()
    sync_once(a)
    worker = a.fork()
    report: list[SendReport] = []
    thread = threading.Thread(
        target=lambda: report.append(send_due(worker, world.channels_a, now=NOW))
    )
    thread.start()
    try:
        while len(world.twilio.outbound()) < 2:
            time.sleep(0.02)
        claim_sender(b)
        taking = send_due(b, world.channels_b, now=NOW)
        assert taking.sent == 0 and taking.refused.startswith("This computer just took over")
    finally:
        thread.join()
        worker.close()
    assert 2 <= report[0].sent < TEXTS + EMAILS  # stopped part-way
    assert sync_once(a).status.state == "synced"  # what A sent reaches the relay

    sent = rounds(world, [(b, world.channels_b), (a, world.channels_a)])
    assert sent[0] + report[0].sent == TEXTS + EMAILS and sent[1] == 0
    assert arrivals(world) == expected()


def test_the_reminder_pass_only_plans_on_a_chosen_desk_without_the_turn(world: Desks) -> None:
    update_settings(world.b, sender_device=world.b.store.device_id)
    holder = run_pass(world.a, now=NOW, channels=world.channels_a)
    assert holder.mode == MODE_OTHER_SENDER and holder.sent == 0  # catching up first
    _next_second()
    sync_once(world.a)
    assert run_pass(world.a, now=NOW, channels=world.channels_a).mode == MODE_SENDING
    other = run_pass(world.b, now=NOW, channels=world.channels_b)
    assert other.mode == MODE_OTHER_SENDER and other.sent == 0 and not other.problems
    assert arrivals(world) == expected()


def _next_second() -> None:
    """A sync stamped in a later second than the moment the turn was gained."""
    time.sleep(1.02 - (time.time() % 1))
