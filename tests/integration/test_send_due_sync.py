"""`main.py send-due` on a synced desk: a real process, the real relay on loopback.

Desk A is the clinic the scheduled task opens (the test's `clinic`, connected to the
relay); desk B joined it through a real code. The task runs as the OS would run it,
in a process of its own, so it never holds the sending turn when it starts: it must
gain the turn, catch up with a sync round, send, and sync again so B learns what went.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.clinic import Clinic
from app.reminders.accounts import save_email_settings, save_sms_account
from app.reminders.outbox import count_by_state
from app.sync.service import sync_once, sync_status
from tests.integration.test_send_due_cli import EMAIL, MOBILE, _due_reminders, _send_due, _smtp
from tests.support.acting import administrator_acting  # noqa: F401
from tests.support.enrolled_desks import desk_a_fixture, join  # noqa: F401
from tests.support.fake_smtp import Mailbox, running_smtp
from tests.support.fake_twilio import FakeTwilio, account_for, running_fake_twilio
from tests.support.relay import RunningRelay, relay, relay_url  # noqa: F401


@pytest.fixture
def accounts(desk_a: Clinic) -> Iterator[tuple[Mailbox, FakeTwilio]]:
    with running_smtp() as (mailbox, port), running_fake_twilio() as fake:
        save_email_settings(desk_a, _smtp(port))
        save_sms_account(desk_a, account_for(fake))
        yield mailbox, fake


@pytest.fixture
def desk_b(desk_a: Clinic, tmp_path: Path) -> Iterator[Clinic]:
    desk, _joined = join(desk_a, tmp_path / "desk-b")
    yield desk
    desk.close()


def test_the_task_gains_the_turn_catches_up_sends_once_and_the_other_desk_learns_it(
    desk_a: Clinic,
    desk_b: Clinic,
    clinic_home: Path,
    accounts: tuple[Mailbox, FakeTwilio],
) -> None:
    mailbox, fake = accounts
    _due_reminders(desk_a)  # two reminders due two minutes ago; sending on

    first = _send_due(clinic_home)

    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.startswith("Reminders: sent 2,"), first.stdout
    assert [m.to for m in fake.outbound()] == [MOBILE]
    assert [e.rcpt_tos for e in mailbox.envelopes] == [[EMAIL]]
    assert "Traceback" not in first.stderr
    # The round after the pass left nothing of A's waiting for the relay...
    assert sync_status(desk_a).pending == 0
    # ...so B's next round brings what A sent: B would never send them again.
    assert sync_once(desk_b).status.state == "synced"
    assert count_by_state(desk_b).get("sent") == 2

    second = _send_due(clinic_home)

    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stdout.startswith("Reminders: sent 0,"), second.stdout
    assert len(fake.outbound()) == 1 and len(mailbox.envelopes) == 1


def test_a_sync_server_that_is_down_is_said_in_words_and_nothing_goes_without_the_turn(
    desk_a: Clinic,
    clinic_home: Path,
    accounts: tuple[Mailbox, FakeTwilio],
    relay: RunningRelay,  # noqa: F811 - the fixture imported above
) -> None:
    mailbox, fake = accounts
    _due_reminders(desk_a)
    relay.stop()

    result = _send_due(clinic_home)

    assert result.returncode == 1
    assert "Problem with sync:" in result.stderr
    assert "cannot hold the sending turn" in result.stderr  # the turn's rule, not a crash
    assert "Traceback" not in result.stderr
    assert "sending turn has not started, nothing sent" in result.stdout
    assert fake.outbound() == [] and mailbox.envelopes == []
    assert count_by_state(desk_a).get("sent", 0) == 0


def test_another_chosen_desk_keeps_sending_and_this_one_only_plans_and_syncs(
    desk_a: Clinic,
    desk_b: Clinic,
    clinic_home: Path,
    accounts: tuple[Mailbox, FakeTwilio],
) -> None:
    from app.reminders.settings import claim_sender

    mailbox, fake = accounts
    _due_reminders(desk_a)
    sync_once(desk_a)
    sync_once(desk_b)
    claim_sender(desk_b)  # "Send from this computer" on B
    sync_once(desk_b)

    result = _send_due(clinic_home)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "another computer sends, nothing sent from here" in result.stdout
    assert fake.outbound() == [] and mailbox.envelopes == []
    assert sync_status(desk_a).pending == 0  # what it planned reached the relay
