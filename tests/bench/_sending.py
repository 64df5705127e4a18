"""Sending figures: messages per second through send_due, against the raw channel calls.

A fresh 500-patient clinic (made-up people, one due appointment reminder each: half by
text, half by email because they have no mobile) sends everything in one send_due pass
to the loopback SMTP server (aiosmtpd) and the Twilio-like service from tests/support.
Baseline, in the same run: the same number of SmsClient.send / send_email calls with the
same texts and recipients, with no outbox around them, so value / baseline is the share
of the channels' speed the outbox keeps (decide, claim and record: three transactions a
message). Target: at least 50 messages a second.
"""

from __future__ import annotations

import ssl
import tempfile
import time
from pathlib import Path

from tests.bench._common import PASSPHRASE, no_keyring
from tests.bench._report import Emit, log

MESSAGES = 500
TARGET_PER_S = 50.0


def sending_figures(emit: Emit) -> None:
    from app.clinic import create_clinic
    from app.reminders.email_channel import OutgoingEmail, send_email
    from app.reminders.outbox import list_messages
    from app.reminders.sender import Channels, send_due
    from app.reminders.sms_channel import SmsClient
    from tests.support.fake_smtp import running_smtp
    from tests.support.fake_twilio import account_for
    from tests.support.sender_world import (
        NOW,
        appointment_rule,
        due_messages,
        email_settings_for,
        patient_with_visit,
        running_twilio,
        start_sending,
    )

    no_keyring()
    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-sending-") as folder:
        home = Path(folder) / "clinic"
        clinic = create_clinic(
            "Bench Clinic", PASSPHRASE, home, timezone="America/Chicago", use_keyring=False
        ).clinic
        try:
            log(f"sending: {MESSAGES} patients with a due reminder")
            start_sending(clinic)
            rule = appointment_rule(clinic, ("sms", "email"))
            visits = [
                patient_with_visit(clinic, n, phone=None if n % 2 else "") for n in range(MESSAGES)
            ]
            due_messages(clinic, rule, visits)

            with running_smtp() as (mailbox, port), running_twilio() as fake:
                channels = Channels.from_accounts(email_settings_for(port), account_for(fake))
                started = time.perf_counter()
                report = send_due(clinic, channels, now=NOW)
                ours_s = time.perf_counter() - started
                channels.close()
                if report.sent != MESSAGES:
                    raise AssertionError(f"send_due sent {report.sent} of {MESSAGES}: {report}")
                log(f"sending: send_due {ours_s:.2f} s ({report})")
                sent = [row.message for row in list_messages(clinic, limit=MESSAGES)]

            with running_smtp() as (mailbox, port), running_twilio() as fake:
                settings = email_settings_for(port)
                context = ssl.create_default_context()  # once, as the sender does
                with SmsClient(account_for(fake)) as client:
                    started = time.perf_counter()
                    for message in sent:
                        if message.channel == "sms":
                            client.send(message.recipient, message.body, key=message.id)
                        else:
                            send_email(
                                settings,
                                OutgoingEmail(
                                    to=message.recipient,
                                    subject=message.subject,
                                    text=message.body,
                                    message_key=message.id,
                                ),
                                ssl_context=context,
                            )
                    raw_s = time.perf_counter() - started
                delivered = len(fake.outbound()) + len(mailbox.envelopes)
                if delivered != MESSAGES:
                    raise AssertionError(f"the baseline delivered {delivered} of {MESSAGES}")
                log(f"sending: raw channel calls {raw_s:.2f} s")
        finally:
            clinic.close()

    rate, raw_rate = MESSAGES / ours_s, MESSAGES / raw_s
    emit(
        "reminders_send_msgs_per_s",
        rate,
        f"messages/s ({MESSAGES} through send_due, half text half email, loopback servers; "
        f"target >= {TARGET_PER_S:.0f}; baseline: the same raw channel calls, no outbox)",
        raw_rate,
    )
