"""The sender as a process of its own, for the SIGKILL test: recover, then send until done.

    python tests/support/sender_probe.py HOME NOW SMTP_PORT SMS_URL

Opens the clinic in HOME with the passphrase in FRONTDESK_PASSPHRASE (no keyring), runs
recover_interrupted as every start of the real sender does, then send_due until nothing
is due at NOW. It prints only the words "open", "recovered" and "done" (never a number,
an address or a text), so the test knows where it stands.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path


def main(argv: list[str]) -> int:
    home, now_text, smtp_port, sms_url = argv
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())

    from app.clinic import open_clinic
    from app.reminders.email_channel import SmtpSettings
    from app.reminders.sender import Channels, recover_interrupted, send_due
    from app.reminders.sms_channel import SmsAccount
    from tests.support.fake_twilio import CLINIC_NUMBER, SID, TOKEN

    now = datetime.fromisoformat(now_text)
    clinic = open_clinic(
        Path(home), passphrase=os.environ["FRONTDESK_PASSPHRASE"], use_keyring=False
    )
    print("open", flush=True)
    account = SmsAccount(SID, TOKEN, CLINIC_NUMBER, base_url=sms_url, timeout_s=5.0)
    email = SmtpSettings(
        "127.0.0.1", int(smtp_port), "none", sender_address="desk@maple-clinic.example"
    )
    channels = Channels.from_accounts(email, account)
    try:
        recover_interrupted(clinic, channels, now=now)
        print("recovered", flush=True)
        while True:
            report = send_due(clinic, channels, now=now)
            if report.refused:
                return 3
            if not (report.sent or report.failed or report.skipped or report.to_print):
                break
        print("done", flush=True)
    finally:
        channels.close()
        clinic.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
