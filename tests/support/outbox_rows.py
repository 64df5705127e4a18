"""Outbox messages in any state for tests, made the way the planner and sender make them.

A row is inserted with outbox.new_row and walked through outbox.transition, so its
history is the one the real state machine writes; the planner and sender themselves are
not needed (and are not faked).
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from app.clinic import Clinic
from app.reminders import outbox
from app.reminders.rules import Rule, Touch, save_rule
from app.store.writer import new_id, utc_now, utc_text

# The moves from planned to each state, with the reason the test rows record.
_PATHS: dict[str, tuple[tuple[str, str], ...]] = {
    "planned": (),
    "due": (("due", "It is time"),),
    "sending": (("due", "It is time"), ("sending", "Sending")),
    "sent": (("due", "It is time"), ("sending", "Sending"), ("sent", "Delivered to the service")),
    "failed": (("due", "It is time"), ("sending", "Sending"), ("failed", "")),
    "to_print": (("due", "It is time"), ("sending", "Sending"), ("to_print", "")),
    "skipped": (("skipped", ""),),
    "cancelled": (("cancelled", "Cancelled by the planner"),),
}


def make_rule(
    clinic: Clinic, name: str = "Appointment reminders", kind: str = "appointment"
) -> str:
    """A one-touch rule; an appointment rule's touch asks the patient to confirm."""
    days = {"appointment": -2, "billing": 30, "recall": 0}.get(kind, 1)
    touch = Touch(days=days, at=time(10, 0), ask_to_confirm=kind == "appointment")
    return save_rule(clinic, Rule(id="", kind=kind, name=name, touches=(touch,))).id


def make_message(
    clinic: Clinic,
    patient_id: str,
    rule_id: str,
    state: str,
    *,
    due_at: datetime | str,
    channel: str = "sms",
    recipient: str = "+16125550134",
    subject: str = "",
    body: str = "",
    reason: str = "",
    sent_at: datetime | str | None = None,
    subject_kind: str = "appointment",
    subject_id: str = "",
    touch: int = 0,
    occurrence: str = "",
) -> str:
    """One message for `patient_id` walked to `state`; the last move carries the reason,
    and messages that got as far as sending carry the channel, recipient and text."""
    due = due_at if isinstance(due_at, str) else utc_text(due_at)
    now = utc_now()
    occurrence = occurrence or new_id()  # a new message each call unless asked otherwise
    row: dict[str, Any] = outbox.new_row(
        idem=outbox.idem_key(rule_id, touch, subject_id or patient_id, occurrence),
        rule_id=rule_id,
        touch=touch,
        purpose="appointment",
        patient_id=patient_id,
        subject_kind=subject_kind,
        subject_id=subject_id,
        occurrence=occurrence,
        due_at=due,
        stale_at=due,
        now=now,
    )
    device = clinic.store.device_id
    with clinic.store.write() as tx:
        tx.insert_many("outbox", [row])
        outbox.record_events(tx, [(row["id"], "planned", "Planned")], device)
        current = "planned"
        steps = _PATHS[state]
        for number, (to, default_reason) in enumerate(steps, start=1):
            last = number == len(steps)
            values: dict[str, Any] = {}
            if to in ("sending", "sent", "failed", "to_print"):
                values = {"channel": channel, "recipient": recipient}
            if last and to in ("sent", "failed", "to_print"):
                values.update(subject=subject, body=body, attempts=1)
            if last and to == "sent":
                stamp = sent_at if sent_at is not None else now
                values["sent_at"] = stamp if isinstance(stamp, str) else utc_text(stamp)
            moved = outbox.transition(
                tx,
                row["id"],
                to,
                (reason or default_reason) if last else default_reason,
                expect=(current,),
                device_id=device,
                values=values,
            )
            assert moved
            current = to
    return str(row["id"])
