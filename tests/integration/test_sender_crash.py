"""No double send, no lost message: the sender is killed (SIGKILL) at random moments, a few
hundred times, while it sends to loopback SMTP and the Twilio-like service; afterwards
every message went at most once, every "sent" one exactly once, and none is stuck."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from app.clinic import Clinic
from app.reminders.email_channel import message_id_for
from app.reminders.outbox import get_message
from tests.conftest import PASSPHRASE
from tests.support.fake_smtp import Mailbox, running_smtp
from tests.support.fake_twilio import FakeTwilio
from tests.support.sender_world import (
    NOW,
    appointment_rule,
    due_messages,
    patient_with_visit,
    phone_number,
    running_twilio,
    start_sending,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="Windows has no SIGKILL"),
]

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "tests" / "support" / "sender_probe.py"
MESSAGES = 1000
KILLS = 250
SERVER_DELAY_S = 0.003  # a few ms per message, so kills land mid-send
SEED = 20261128


class SlowMailbox(Mailbox):
    """Takes a few ms to accept a message and a few more to say so."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(SERVER_DELAY_S)
        reply = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(SERVER_DELAY_S)
        return reply


def _start(home: Path, port: int, url: str) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env.update(
        FRONTDESK_PASSPHRASE=PASSPHRASE,
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        PYTHONPATH=str(ROOT),
    )
    return subprocess.Popen(
        [sys.executable, str(PROBE), str(home), NOW.isoformat(), str(port), url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _world(clinic: Clinic) -> list[tuple[str, str | None]]:
    """Most patients by text; some whose number takes no texts (email instead), some by
    email only, some with neither (a letter)."""
    rule = appointment_rule(clinic)
    rng = random.Random(SEED)
    visits = []
    phones: list[str | None] = []
    for n in range(MESSAGES):
        kind = rng.random()
        phone: str | None = ""
        email: str | None = ""
        if 0.70 <= kind < 0.85:
            phone = None
        elif kind >= 0.95:
            phone = email = None
        visits.append(patient_with_visit(clinic, n, phone=phone, email=email))
        phones.append(None if phone is None else phone_number(n))
    return list(zip(due_messages(clinic, rule, visits), phones, strict=True))


def _phase(clinic: Clinic, fake: FakeTwilio, mailbox: Mailbox) -> str:
    """Where the kill landed, read from what it left behind."""
    rows = clinic.conn.execute(
        "SELECT id, channel, recipient FROM outbox WHERE state = 'sending'"
    ).fetchall()
    if not rows:
        return "between messages"
    message_id, channel, recipient = rows[0]
    if channel == "sms":
        arrived = any(m.to == recipient for m in fake.outbound())
    else:
        wanted = message_id_for(message_id).encode()
        arrived = any(wanted in envelope.content for envelope in mailbox.envelopes)
    return "handed over, not recorded" if arrived else "claimed, not handed over"


def test_killing_the_sender_at_random_never_sends_twice_and_loses_nothing(
    clinic: Clinic,
) -> None:
    start_sending(clinic)
    messages = _world(clinic)
    rng = random.Random(SEED)
    phases: Counter[str] = Counter()
    with (
        running_smtp(SlowMailbox()) as (mailbox, port),
        running_twilio(delay_s=SERVER_DELAY_S) as fake,
    ):
        for n in range(MESSAGES):
            if n % 10 == 7:
                fake.refusals[phone_number(n)] = 21614
        kills = 0
        while kills < KILLS:
            probe = _start(clinic.home, port, fake.url)
            assert probe.stdout is not None
            moment = rng.random()
            if moment < 0.1:  # during start-up
                time.sleep(rng.uniform(0.0, 0.4))
            else:
                ready = "open\n" if moment < 0.25 else "recovered\n"  # recovering or sending
                while (line := probe.stdout.readline()) not in (ready, ""):
                    pass
                assert line == ready, probe.stderr.read() if probe.stderr else ""
                time.sleep(rng.uniform(0.0, 0.05))
            if probe.poll() is not None:
                break  # it finished everything before the kill
            probe.send_signal(signal.SIGKILL)
            probe.wait()
            assert probe.returncode == -signal.SIGKILL
            kills += 1
            phases[_phase(clinic, fake, mailbox)] += 1

        final = _start(clinic.home, port, fake.url)
        out, err = final.communicate(timeout=120)
        assert final.returncode == 0, err
        assert out.splitlines() == ["open", "recovered", "done"]

        sms_count = Counter(m.to for m in fake.outbound())
        email_count = Counter(str(m["Message-ID"]) for m in mailbox.messages())

    assert kills >= 150, f"the sender finished after {kills} kills; give it more to send"
    assert phases["claimed, not handed over"] and phases["handed over, not recorded"], phases
    states: Counter[str] = Counter()
    for message_id, phone in messages:
        message = get_message(clinic, message_id)
        states[message.state] += 1
        delivered = email_count[message_id_for(message_id)] + (sms_count[phone] if phone else 0)
        assert delivered <= 1, f"{message_id} went {delivered} times ({message.state})"
        assert message.state != "sending", message_id
        if message.state == "sent":
            assert delivered == 1, f"{message_id} is sent but arrived {delivered} times"
        elif message.state == "to_print":
            assert delivered == 0 and message.channel == "letter"
        else:
            assert message.state in ("due", "failed"), message.state
            assert message.reason, f"{message_id} is {message.state} without a reason"
    # Every text to a number that got one is accounted for by exactly one message.
    assert sum(sms_count.values()) == len(sms_count)
    print(f"\n{kills} kills: {dict(phases)}; states {dict(states)}")
