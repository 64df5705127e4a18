"""A clinic ready to send: a rule, patients with a visit, due messages, accounts on loopback.

Shared by the sender tests, the SIGKILL test and the sending benchmark. The patients are
made up; each one gets its own number and address, so what arrives at the loopback
servers can be counted per message.
"""

from __future__ import annotations

import sys
import threading
import time as clock
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from http.server import ThreadingHTTPServer
from typing import Any

from app.clinic import Clinic
from app.patients.model import AddressDraft, PatientDraft, PhoneDraft
from app.patients.records import create_patient
from app.reminders.email_channel import SmtpSettings
from app.reminders.outbox import new_row
from app.reminders.rules import Rule, Touch, save_rule
from app.reminders.settings import device_id, update_settings
from app.reminders.template_store import save_template
from app.scheduling.appointments import book
from app.store.writer import utc_text
from tests.support import fake_twilio
from tests.support.fake_twilio import FakeTwilio

# Tuesday 10 March 2026, 10:00 in Chicago (daylight time began on the 8th).
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
VISIT_DAY = date(2026, 3, 12)
SENDER_ADDRESS = "desk@maple-clinic.example"


def email_settings_for(port: int) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1",
        port=port,
        security="none",
        sender_address=SENDER_ADDRESS,
        sender_name="Lakeside Family Practice",
        timeout_s=5.0,
    )


def start_sending(clinic: Clinic) -> None:
    """Sending on, from this workstation, for a clinic whose details the templates need."""
    clinic.update_settings(phone="+13125550100", address="12 Lake Street, Springfield IL 62701")
    update_settings(clinic, enabled=True, sender_device=device_id(clinic), daily_limit=10)


def appointment_rule(
    clinic: Clinic,
    channels: tuple[str, ...] = ("sms", "email", "letter"),
    *,
    window_hours: int = 12,
) -> Rule:
    """Two days before the visit at 10:00, no quiet hours, in the given channel order."""
    rule = save_rule(
        clinic,
        Rule(
            id="",
            kind="appointment",
            name="Two days before",
            touches=(Touch(days=-2, at=time(10, 0)),),
            channels=channels,
            window_hours=window_hours,
            quiet_start=time(0, 0),
            quiet_end=time(0, 0),
        ),
    )
    # No letter template ships for appointments (the letters issue writes them).
    save_template(clinic, rule.id, "appointment", "letter", "en", LETTER.strip() + "\n")
    return rule


LETTER = """
Dear {{ patient_preferred_name }},

this is a reminder of your appointment on {{ appointment_date }} at {{ appointment_time }}.

{{ clinic_name }}
"""


def phone_number(n: int) -> str:
    return f"+1312555{n:04d}"


def patient_with_visit(
    clinic: Clinic,
    n: int,
    *,
    phone: str | None = "",
    email: str | None = "",
    address: bool = True,
    visit_day: date = VISIT_DAY,
) -> tuple[str, str]:
    """Patient number n with a visit at 9:00 local on visit_day: (patient id, visit id).
    phone/email "" = a made-up one of their own, None = none."""
    phones = () if phone is None else (PhoneDraft(phone or phone_number(n)),)
    emails = () if email is None else (email or f"patient{n}@example.org",)
    addresses = (
        (
            AddressDraft(
                line1=f"{n} Elm Street", city="Springfield", region="IL", postal_code="62701"
            ),
        )
        if address
        else ()
    )
    patient_id = create_patient(
        clinic,
        PatientDraft(
            family_name=f"Tester{n}",
            given_names="Ada",
            phones=phones,
            emails=emails,
            addresses=addresses,
        ),
    ).id
    start = datetime.combine(visit_day, time(9, 0), tzinfo=_zone(clinic))
    visit_id = book(clinic, patient_id, start, start + timedelta(minutes=20)).id
    return patient_id, visit_id


def _zone(clinic: Clinic) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(clinic.settings.timezone)


def due_messages(
    clinic: Clinic,
    rule: Rule,
    visits: list[tuple[str, str]],
    *,
    due_at: datetime = NOW,
    visit_day: date = VISIT_DAY,
) -> list[str]:
    """One due message per (patient, visit), as the planner would have made them."""
    stamp = utc_text(due_at)
    rows = []
    for patient_id, visit_id in visits:
        row = new_row(
            idem=f"{rule.id}:0:{visit_id}:{visit_day.isoformat()}",
            rule_id=rule.id,
            touch=0,
            purpose=rule.effective_purpose,
            patient_id=patient_id,
            subject_kind="appointment",
            subject_id=visit_id,
            occurrence=visit_day.isoformat(),
            due_at=stamp,
            stale_at=utc_text(due_at + timedelta(hours=rule.window_hours)),
            now=stamp,
        )
        row["state"] = "due"
        rows.append(row)
    with clinic.store.write() as tx:
        tx.insert_many("outbox", rows)
    return [str(r["id"]) for r in rows]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client killed mid-request is what the crash test does, not an error to print."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def running_twilio(*, delay_s: float = 0.0, honour_keys: bool = False) -> Iterator[FakeTwilio]:
    """The shared Twilio-like fake, tuned for the crash test and the benchmark.

    Nagle's algorithm is off: the fake writes its headers and body separately, and with
    the client's delayed ACK every answer on a kept-alive connection waited ~40 ms, which
    no real service does. `delay_s` makes each send take that long before the service
    acts and again before it answers, so kills land before and after the hand-over.
    """
    state = FakeTwilio(honour_keys=honour_keys)
    base: Any = fake_twilio._handler(state)

    class Handler(base):  # type: ignore[misc, valid-type]
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            if delay_s:
                clock.sleep(delay_s)
            super().do_POST()

        def _answer(self, *args: Any, **kwargs: Any) -> None:
            if delay_s and self.command == "POST":
                clock.sleep(delay_s)
            super()._answer(*args, **kwargs)

    server = _QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
