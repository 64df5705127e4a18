"""Replies to the clinic's texts: what each one means, what Frontdesk did, and the Inbox.

A reply is stored once (inbound_message.provider_ref is unique) before anything is done
about it, with an empty `action`; the action is filled in when it is done. A crash in
between leaves a row with no action, which the next poll finishes: every step is safe
to repeat (a confirmed visit stays confirmed, a second STOP consent row changes nothing,
the HELP answer goes with a key derived from the reply, so the service sends it once).
The cursor ("reminders.inbound_since") moves on only after the rows are committed, and
each poll looks back a little before it, so a reply listed late is still seen.

Replies Frontdesk acted on by itself are stored already handled; the rest (a question,
CANCEL, a confirm with nothing to confirm) wait in the Inbox for a person.

A reply to a satisfaction survey (the newest text to the number was one) that plainly reads
as a score (app/engagement/nps.parse_score: "10!", "ten", "9/10") is recorded as the answer,
with the rest of the text as its comment, and stored handled; anything in doubt stays in the
Inbox. STOP, HELP and confirm keep their meaning first, as for any other text.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from app.clinic import Clinic, put_setting
from app.engagement import nps, surveys
from app.errors import FrontdeskError, InvalidInputError, RecordNotFoundError
from app.interactions.log import log_interaction
from app.patients import model
from app.patients.records import record_consent
from app.patients.validation import display_phone
from app.reminders.sms_channel import InboundSms, SmsClient, SmsDeliveryError
from app.reminders.sms_text import (
    REPLY_CONFIRM,
    REPLY_HELP,
    REPLY_OTHER,
    REPLY_STOP,
    classify_reply,
)
from app.scheduling import appointments
from app.store.changes import Changes
from app.store.writer import new_id, utc_now, utc_text

log = logging.getLogger(__name__)

CURSOR_SETTING: Final = "reminders.inbound_since"
FIRST_LOOK_BACK: Final = timedelta(days=3)
# The service lists by day and may show a reply a little after its time stamp: each poll
# asks again from a while before the cursor, and the unique provider_ref drops repeats.
OVERLAP: Final = timedelta(minutes=10)
# A reply answers the newest text sent to the number within this long before it.
ANSWER_WINDOW: Final = timedelta(days=14)
# Our clock and the service's may differ a little; a reply stamped just before our
# sent_at still answers that text.
_CLOCK_SLACK: Final = timedelta(minutes=5)
# A HELP answer that could not go for a day is no longer an answer: a person calls.
HELP_GIVE_UP: Final = timedelta(hours=24)
STOP_SOURCE: Final = "sms-stop"
CONFIRM_NOTE: Final = "Confirmed by text reply"
SUBJECT_CHARACTERS: Final = 200

MEANING_LABELS: Final = {
    REPLY_CONFIRM: "Confirm",
    REPLY_STOP: "Stop texts",
    REPLY_HELP: "Help",
    REPLY_OTHER: "Message",
}

NOTHING_TO_CONFIRM: Final = "Nothing to confirm: no upcoming visit was asked about"
STOPPED: Final = "Texts stopped for this number (the patient replied STOP)"
STOPPED_UNKNOWN: Final = (
    "Texts stopped: this number is on no patient's record, and the SMS service will not "
    "deliver more texts to it"
)
CANCEL_STOPPED: Final = (
    "The patient replied CANCEL, which the phone companies treat as stop: texts stopped. "
    "They may have meant the visit — call them."
)
HELPED: Final = "Sent the clinic's phone number (the patient replied HELP)"
NO_HELP_ACCOUNT: Final = (
    "The patient asked for help; no answer was sent because text messages are not set up: call them"
)
HELP_NOT_SENT: Final = "The patient asked for help; the answer could not be sent: call them."
FOR_A_PERSON: Final = "Waiting for a person to read it"
SURVEY_ANSWER: Final = "Survey answer: {score}"
SURVEY_FOLLOW_UP: Final = " (a follow-up for the manager is on Today's call list)"
SECOND_ANSWER: Final = "The survey was already answered: waiting for a person to read it"
UNFINISHED: Final = ""


@dataclass(frozen=True)
class ReplyReport:
    """What one poll did; `changes` is for the bus of a desktop that ran it."""

    received: int = 0
    confirmed: int = 0
    opted_out: int = 0
    helped: int = 0
    to_inbox: int = 0
    changes: Changes = field(default_factory=Changes)
    survey_answers: int = 0


@dataclass(frozen=True)
class InboxItem:
    """One reply as the Inbox shows it; `sender` is the number written the clinic's way."""

    id: str
    received_at: str
    sender: str
    patient_id: str | None
    patient_name: str
    body: str
    meaning: str
    action: str
    handled_at: str | None
    sender_number: str = ""  # E.164, as it came
    survey_score: int | None = None  # the survey answer read from this reply, if any

    @property
    def meaning_label(self) -> str:
        if self.survey_score is not None:
            return SURVEY_ANSWER.format(score=self.survey_score)
        return MEANING_LABELS.get(self.meaning, self.meaning)

    @property
    def handled(self) -> bool:
        return self.handled_at is not None


# --- reading ----------------------------------------------------------------------------------

_ITEM_SQL: Final = (
    "SELECT i.id, i.received_at, i.sender, i.patient_id, p.family_name, p.given_names, "
    "p.preferred_name, i.body, i.meaning, i.action, i.handled_at, s.score "
    "FROM inbound_message i LEFT JOIN patient p ON p.id = i.patient_id "
    "LEFT JOIN survey_response s ON s.reply_id = i.id"
)


def _item(row: tuple[Any, ...], region: str) -> InboxItem:
    name = (
        model.display_name(row[4] or "", row[5] or "", row[6] or "") if row[3] is not None else ""
    )
    return InboxItem(
        id=str(row[0]),
        received_at=str(row[1]),
        sender=display_phone(str(row[2]), region),
        patient_id=None if row[3] is None else str(row[3]),
        patient_name=name,
        body=str(row[7]),
        meaning=str(row[8]),
        action=str(row[9]),
        handled_at=None if row[10] is None else str(row[10]),
        sender_number=str(row[2]),
        survey_score=None if row[11] is None else int(row[11]),
    )


def get_item(clinic: Clinic, item_id: str) -> InboxItem:
    row = clinic.conn.execute(_ITEM_SQL + " WHERE i.id = ?", (item_id,)).fetchone()
    if row is None:
        raise RecordNotFoundError("That reply is no longer on file.")
    return _item(tuple(row), clinic.settings.region)


def inbox(clinic: Clinic, *, include_handled: bool = False, limit: int = 200) -> list[InboxItem]:
    """Replies newest first: the ones waiting for a person, or every one."""
    where = "" if include_handled else " WHERE i.handled_at IS NULL"
    rows = clinic.conn.execute(
        _ITEM_SQL + where + " ORDER BY i.received_at DESC, i.id DESC LIMIT ?", (limit,)
    ).fetchall()
    region = clinic.settings.region
    return [_item(tuple(r), region) for r in rows]


def open_count(clinic: Clinic) -> int:
    row = clinic.conn.execute(
        "SELECT count(*) FROM inbound_message WHERE handled_at IS NULL"
    ).fetchone()
    return int(row[0])


def replies_for_patient(clinic: Clinic, patient_id: str, limit: int = 50) -> list[InboxItem]:
    """A patient's replies, newest first (for the patient's page)."""
    rows = clinic.conn.execute(
        _ITEM_SQL + " WHERE i.patient_id = ? ORDER BY i.received_at DESC, i.id DESC LIMIT ?",
        (patient_id, limit),
    ).fetchall()
    region = clinic.settings.region
    return [_item(tuple(r), region) for r in rows]


def mark_handled(clinic: Clinic, item_id: str) -> Changes:
    """A person dealt with the reply: it leaves the Inbox (it stays under "handled")."""
    with clinic.store.write() as tx:
        row = tx.conn.execute(
            "SELECT handled_at FROM inbound_message WHERE id = ?", (item_id,)
        ).fetchone()
        if row is None:
            raise RecordNotFoundError("That reply is no longer on file.")
        if row[0] is None:
            tx.update(
                "inbound_message",
                item_id,
                {"handled_at": utc_now(), "handled_by": clinic.acting_user_id},
            )
    return tx.changes


def mark_open(clinic: Clinic, item_id: str) -> Changes:
    """Put a handled reply back in the Inbox (marked done by mistake)."""
    with clinic.store.write() as tx:
        row = tx.conn.execute(
            "SELECT handled_at FROM inbound_message WHERE id = ?", (item_id,)
        ).fetchone()
        if row is None:
            raise RecordNotFoundError("That reply is no longer on file.")
        if row[0] is not None:
            tx.update("inbound_message", item_id, {"handled_at": None, "handled_by": ""})
    return tx.changes


# --- polling ----------------------------------------------------------------------------------


def _parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _aware(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise InvalidInputError("The time to poll replies at must carry its time zone.")
    return now.astimezone(UTC)


def read_cursor(clinic: Clinic) -> str | None:
    """The newest reply time already stored (UTC text), or None before the first reply."""
    row = clinic.conn.execute(
        "SELECT value FROM setting WHERE id = ?", (CURSOR_SETTING,)
    ).fetchone()
    if row is None:
        return None
    value = json.loads(row[0])
    return value if isinstance(value, str) and value else None


def _known(clinic: Clinic, refs: list[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(refs), 500):
        chunk = refs[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        rows = clinic.conn.execute(
            f"SELECT provider_ref FROM inbound_message WHERE provider_ref IN ({marks})",  # noqa: S608
            chunk,
        ).fetchall()
        known.update(str(r[0]) for r in rows)
    return known


def poll_replies(clinic: Clinic, sms: SmsClient, *, now: datetime | None = None) -> ReplyReport:
    """Fetch the replies since the cursor, store and act on each new one, move the cursor.

    Raises SmsDeliveryError when the service cannot be asked (nothing is stored then and
    the cursor stays, so the next poll asks for the same span).
    """
    moment = _aware(now)
    cursor = read_cursor(clinic)
    since = _parse_utc(cursor) if cursor else moment - FIRST_LOOK_BACK
    replies = sms.inbound(utc_text(since - OVERLAP))
    counts = dict.fromkeys(
        ("received", "confirmed", "opted_out", "helped", "to_inbox", "survey_answers"), 0
    )
    changes = Changes()

    # Rows a crash left half done are finished first (their reply is already past the cursor).
    for item_id in _unfinished(clinic):
        item, done = _finish(clinic, item_id, sms, moment)
        changes |= done
        _count(counts, item)

    known = _known(clinic, [r.provider_id for r in replies])
    for reply in replies:
        if reply.provider_id in known:
            continue
        stored, done = _handle(clinic, reply, sms, moment)
        changes |= done
        if stored is not None:
            counts["received"] += 1
            _count(counts, stored)

    newest = max((r.received_at for r in replies), default=None)
    if newest is not None and (cursor is None or newest > cursor):
        with clinic.store.write() as tx:
            put_setting(tx, CURSOR_SETTING, json.dumps(newest))
        changes |= tx.changes
    log.info(
        "SMS replies polled: %s new, %s confirmed, %s opted out, %s helped, %s survey "
        "answers, %s to the inbox",
        counts["received"],
        counts["confirmed"],
        counts["opted_out"],
        counts["helped"],
        counts["survey_answers"],
        counts["to_inbox"],
    )
    return ReplyReport(changes=changes, **counts)


def _count(counts: dict[str, int], item: InboxItem) -> None:
    if item.action == UNFINISHED:
        return
    if item.meaning == REPLY_CONFIRM and item.handled:
        counts["confirmed"] += 1
    elif item.meaning == REPLY_STOP:
        counts["opted_out"] += 1
    elif item.meaning == REPLY_HELP and item.handled:
        counts["helped"] += 1
    elif item.survey_score is not None:
        counts["survey_answers"] += 1
    if not item.handled:
        counts["to_inbox"] += 1


def _unfinished(clinic: Clinic) -> list[str]:
    rows = clinic.conn.execute(
        "SELECT id FROM inbound_message WHERE action = '' AND handled_at IS NULL "
        "ORDER BY received_at, id"
    ).fetchall()
    return [str(r[0]) for r in rows]


def handle_inbound(
    clinic: Clinic, reply: InboundSms, sms: SmsClient | None, *, now: datetime
) -> InboxItem:
    """Store one reply (once) and do what it asks; returns it as the Inbox shows it.

    A reply already stored is not acted on again, unless a crash left it unfinished.
    """
    item, _changes = _handle(clinic, reply, sms, _aware(now))
    if item is not None:
        return item
    row = clinic.conn.execute(
        "SELECT id FROM inbound_message WHERE provider_ref = ?", (reply.provider_id,)
    ).fetchone()
    return get_item(clinic, str(row[0]))


def _handle(
    clinic: Clinic, reply: InboundSms, sms: SmsClient | None, now: datetime
) -> tuple[InboxItem | None, Changes]:
    """(the item, changes) for a new reply; (None, changes) when it was already stored."""
    item_id, stored_changes = _store(clinic, reply)
    if item_id is None:
        row = clinic.conn.execute(
            "SELECT id, action, handled_at FROM inbound_message WHERE provider_ref = ?",
            (reply.provider_id,),
        ).fetchone()
        if row is not None and row[1] == UNFINISHED and row[2] is None:
            _item_done, changes = _finish(clinic, str(row[0]), sms, now)
            return None, changes
        return None, Changes()
    item, changes = _finish(clinic, item_id, sms, now)
    return item, stored_changes | changes


def _store(clinic: Clinic, reply: InboundSms) -> tuple[str | None, Changes]:
    """Insert the reply with its patient and the text it answers; no id if already there."""
    body = reply.body
    meaning = classify_reply(body)
    with clinic.store.write() as tx:
        # BEGIN IMMEDIATE orders the writers, so this check and the insert are one step
        # even with the Settings window or a second poll writing at the same time.
        exists = tx.conn.execute(
            "SELECT 1 FROM inbound_message WHERE provider_ref = ?", (reply.provider_id,)
        ).fetchone()
        if exists:
            return None, Changes()
        answered = _answered(clinic, reply.from_number, reply.received_at)
        patient_id = answered[1] if answered else _patient_for(clinic, reply.from_number)
        item_id = new_id()
        tx.insert(
            "inbound_message",
            {
                "id": item_id,
                "provider_ref": reply.provider_id,
                "channel": "sms",
                "sender": reply.from_number,
                "body": body,
                "received_at": reply.received_at,
                "patient_id": patient_id,
                "outbox_id": answered[0] if answered else None,
                "meaning": meaning,
                "action": UNFINISHED,
                "handled_at": None,
                "handled_by": "",
            },
        )
    return item_id, tx.changes


def _live(clinic: Clinic, patient_id: str | None) -> str | None:
    """The patient still on file, following a merge to the record that was kept."""
    if patient_id is None:
        return None
    row = clinic.conn.execute(
        "SELECT coalesce(merged_into, id) FROM patient WHERE id = ?", (patient_id,)
    ).fetchone()
    return None if row is None else str(row[0])


def _answered(clinic: Clinic, number: str, received_at: str) -> tuple[str, str | None] | None:
    """(outbox id, patient id) of the newest text sent to the number shortly before."""
    received = _parse_utc(received_at)
    row = clinic.conn.execute(
        "SELECT id, patient_id FROM outbox WHERE channel = 'sms' AND recipient = ? "
        "AND sent_at >= ? AND sent_at <= ? ORDER BY sent_at DESC, id DESC LIMIT 1",
        (number, utc_text(received - ANSWER_WINDOW), utc_text(received + _CLOCK_SLACK)),
    ).fetchone()
    if row is None:
        return None
    return str(row[0]), _live(clinic, str(row[1]))


def _holders(clinic: Clinic, number: str) -> list[str]:
    """Patients with this phone on their record, first listed first (merges followed)."""
    rows = clinic.conn.execute(
        "SELECT coalesce(p.merged_into, p.id) FROM contact_point c "
        "JOIN patient p ON p.id = c.patient_id WHERE c.kind = 'phone' AND c.value = ? "
        "ORDER BY p.deceased, c.rank, p.created_at, p.id",
        (number,),
    ).fetchall()
    return list(dict.fromkeys(str(r[0]) for r in rows))


def _texted(clinic: Clinic, number: str) -> list[str]:
    """Patients the clinic texted at this number, most recent first (a child reached on a
    parent's phone has no contact point of their own with it)."""
    rows = clinic.conn.execute(
        "SELECT patient_id FROM outbox WHERE channel = 'sms' AND recipient = ? "
        "AND sent_at IS NOT NULL ORDER BY sent_at DESC, id DESC",
        (number,),
    ).fetchall()
    live = (_live(clinic, str(r[0])) for r in rows)
    return list(dict.fromkeys(p for p in live if p is not None))


def _patient_for(clinic: Clinic, number: str) -> str | None:
    """A family sharing one phone: the one texted most recently, else the first on file."""
    texted = _texted(clinic, number)
    if texted:
        return texted[0]
    holders = _holders(clinic, number)
    return holders[0] if holders else None


# --- acting on a reply ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stored:
    id: str
    provider_ref: str
    sender: str
    body: str
    received_at: str
    patient_id: str | None
    outbox_id: str | None
    meaning: str


def _load(clinic: Clinic, item_id: str) -> _Stored:
    row = clinic.conn.execute(
        "SELECT id, provider_ref, sender, body, received_at, patient_id, outbox_id, meaning "
        "FROM inbound_message WHERE id = ?",
        (item_id,),
    ).fetchone()
    if row is None:
        raise RecordNotFoundError("That reply is no longer on file.")
    return _Stored(
        id=str(row[0]),
        provider_ref=str(row[1]),
        sender=str(row[2]),
        body=str(row[3]),
        received_at=str(row[4]),
        patient_id=None if row[5] is None else str(row[5]),
        outbox_id=None if row[6] is None else str(row[6]),
        meaning=str(row[7]),
    )


def _finish(
    clinic: Clinic, item_id: str, sms: SmsClient | None, now: datetime
) -> tuple[InboxItem, Changes]:
    """Do what the reply asks and record what was done; safe to run again after a crash."""
    stored = _load(clinic, item_id)
    changes = Changes()
    appointment_id: str | None = None
    if stored.meaning == REPLY_CONFIRM:
        action, handled, appointment_id, done = _confirm(clinic, stored, now)
    elif stored.meaning == REPLY_STOP:
        action, handled, done = _stop(clinic, stored)
    elif stored.meaning == REPLY_HELP:
        action, handled, done = _help(clinic, stored, sms, now)
    elif stored.meaning == REPLY_OTHER and _survey_asked(clinic, stored.outbox_id) is not None:
        action, handled, done = _survey_answer(clinic, stored)
    else:
        action, handled, done = FOR_A_PERSON, False, Changes()
    changes |= done
    if action == UNFINISHED:
        # The HELP answer could not go yet: try again at the next poll.
        return get_item(clinic, item_id), changes
    if stored.patient_id is not None:
        changes |= _log_on_timeline(clinic, stored, appointment_id)
    with clinic.store.write() as tx:
        tx.update(
            "inbound_message",
            item_id,
            {"action": action, "handled_at": utc_now() if handled else None},
        )
    return get_item(clinic, item_id), changes | tx.changes


def _log_on_timeline(clinic: Clinic, stored: _Stored, appointment_id: str | None) -> Changes:
    subject = stored.body.strip()[:SUBJECT_CHARACTERS] or "(empty text)"
    # A rerun after a crash must not log the same text twice.
    already = clinic.conn.execute(
        "SELECT 1 FROM interaction WHERE patient_id = ? AND kind = 'sms' AND direction = 'in' "
        "AND occurred_at = ? AND subject = ?",
        (stored.patient_id, stored.received_at, subject),
    ).fetchone()
    if already or stored.patient_id is None:
        return Changes()
    try:
        created = log_interaction(
            clinic,
            stored.patient_id,
            "sms",
            direction="in",
            subject=subject,
            body=stored.body if len(stored.body) > SUBJECT_CHARACTERS else "",
            occurred_at=stored.received_at,
            appointment_id=appointment_id,
            recorded_by="",
        )
    except FrontdeskError as exc:
        log.warning("SMS reply %s not put on the timeline: %s", stored.id, type(exc).__name__)
        return Changes()
    return created.changes


def visit_text(clinic: Clinic, start_at: str) -> str:
    """'Tue 1 Dec at 9:00' (or 'Tue Dec 1 at 9:00'), in the clinic's time zone."""
    local = _parse_utc(start_at).astimezone(ZoneInfo(clinic.settings.timezone))
    day = (
        f"{local:%a} {local.day} {local:%b}"
        if clinic.settings.day_first
        else f"{local:%a} {local:%b} {local.day}"
    )
    return f"{day} at {local.hour}:{local.minute:02d}"


def _confirm(
    clinic: Clinic, stored: _Stored, now: datetime
) -> tuple[str, bool, str | None, Changes]:
    appointment = _asked_about(clinic, stored.outbox_id)
    if appointment is None:
        return NOTHING_TO_CONFIRM, False, None, Changes()
    appointment_id, start_at, status = appointment
    if status not in ("booked", "confirmed") or start_at <= utc_text(now):
        return NOTHING_TO_CONFIRM, False, None, Changes()
    try:
        changes = appointments.set_status(clinic, appointment_id, "confirmed", note=CONFIRM_NOTE)
    except FrontdeskError as exc:  # closed or removed since we looked
        log.info("SMS confirm %s found no open visit: %s", stored.id, type(exc).__name__)
        return NOTHING_TO_CONFIRM, False, None, Changes()
    return f"Confirmed the visit on {visit_text(clinic, start_at)}", True, appointment_id, changes


def _asked_about(clinic: Clinic, outbox_id: str | None) -> tuple[str, str, str] | None:
    """(id, start, status) of the visit the answered text was about, if it was one."""
    if outbox_id is None:
        return None
    row = clinic.conn.execute(
        "SELECT a.id, a.start_at, a.status FROM outbox o JOIN appointment a "
        "ON a.id = o.subject_id WHERE o.id = ? AND o.subject_kind = 'appointment'",
        (outbox_id,),
    ).fetchone()
    return None if row is None else (str(row[0]), str(row[1]), str(row[2]))


def _is_cancel(body: str) -> bool:
    return "cancel" in body.casefold()


def stop_patients(clinic: Clinic, number: str) -> list[str]:
    """Everyone a STOP from this number speaks for: its holders and whoever was texted on it."""
    return list(dict.fromkeys([*_holders(clinic, number), *_texted(clinic, number)]))


def _stop(clinic: Clinic, stored: _Stored) -> tuple[str, bool, Changes]:
    changes = Changes()
    patients = stop_patients(clinic, stored.sender)
    for patient_id in patients:
        changes |= _refuse_sms(clinic, patient_id, stored.received_at)
    if _is_cancel(stored.body):
        # The carriers stop texts on CANCEL, but the patient may have meant the visit.
        return CANCEL_STOPPED, False, changes
    return (STOPPED if patients else STOPPED_UNKNOWN), True, changes


def _refuse_sms(clinic: Clinic, patient_id: str, at: str) -> Changes:
    changes = Changes()
    # Recorded at the time of the reply, so a consent the desk recorded after it (the
    # patient called to say "text me after all") stays in force.
    current = {
        (r[0], bool(r[1]), str(r[2]))
        for r in clinic.conn.execute(
            "SELECT purpose, granted, recorded_at FROM consent "
            "WHERE patient_id = ? AND channel = 'sms' AND source = ?",
            (patient_id, STOP_SOURCE),
        )
    }
    for purpose in model.PURPOSES:
        if (purpose, False, at) in current:
            continue  # a rerun after a crash
        changes |= record_consent(
            clinic, patient_id, "sms", purpose, False, STOP_SOURCE, at=at, recorded_by=""
        ).changes
    return changes


def help_text(clinic: Clinic) -> str:
    settings = clinic.settings
    name = settings.name or "The clinic"
    if settings.phone:
        return (
            f"{name}: for help call {display_phone(settings.phone, settings.region)}. "
            "Reply STOP to stop texts."
        )
    return f"{name}: for help call the clinic. Reply STOP to stop texts."


def _help(
    clinic: Clinic, stored: _Stored, sms: SmsClient | None, now: datetime
) -> tuple[str, bool, Changes]:
    if sms is None:
        return NO_HELP_ACCOUNT, False, Changes()
    text = help_text(clinic)
    try:
        sms.send(stored.sender, text, key=f"help-{stored.provider_ref}")
    except SmsDeliveryError as exc:
        late = now - _parse_utc(stored.received_at) > HELP_GIVE_UP
        if exc.permanent or late:
            log.warning("HELP answer %s not sent: %s", stored.id, exc.kind)
            return f"{HELP_NOT_SENT} {exc}", False, Changes()
        log.info("HELP answer %s waits for the next poll: %s", stored.id, exc.kind)
        return UNFINISHED, False, Changes()
    changes = Changes()
    # A rerun after a crash sends with the same key (one text) and must not log it twice.
    logged = clinic.conn.execute(
        "SELECT 1 FROM interaction WHERE patient_id = ? AND kind = 'sms' AND direction = 'out' "
        "AND subject = ? AND occurred_at >= ?",
        (stored.patient_id, text, stored.received_at),
    ).fetchone()
    if stored.patient_id is not None and not logged:
        changes = log_interaction(
            clinic,
            stored.patient_id,
            "sms",
            direction="out",
            subject=text,
            occurred_at=utc_text(now),
            recorded_by="",
        ).changes
    return HELPED, True, changes


# --- survey answers ---------------------------------------------------------------------------


def _survey_asked(clinic: Clinic, outbox_id: str | None) -> tuple[str, str] | None:
    """(patient, visit) of the survey the answered text was, if it was one."""
    if outbox_id is None:
        return None
    row = clinic.conn.execute(
        "SELECT patient_id, subject_id FROM outbox WHERE id = ? AND subject_kind = 'survey'",
        (outbox_id,),
    ).fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


def _survey_answer(clinic: Clinic, stored: _Stored) -> tuple[str, bool, Changes]:
    """Record the score the reply gives; a reply that is not plainly one is for a person.
    A second score for the same survey (from another reply) is for a person too: which of
    the two the patient meant is theirs to say."""
    score = nps.parse_score(stored.body)
    asked = _survey_asked(clinic, stored.outbox_id)
    if score is None or asked is None or stored.patient_id is None:
        return FOR_A_PERSON, False, Changes()
    earlier = clinic.conn.execute(
        "SELECT reply_id FROM survey_response WHERE patient_id = ? AND outbox_id = ? LIMIT 1",
        (stored.patient_id, stored.outbox_id),
    ).fetchone()
    if earlier is not None and earlier[0] != stored.id:
        return SECOND_ANSWER, False, Changes()
    visit = clinic.conn.execute(
        "SELECT id FROM appointment WHERE id = ? AND patient_id = ?",
        (asked[1], stored.patient_id),
    ).fetchone()
    created = surveys.record_answer(
        clinic,
        score=score,
        comment=nps.comment_of(stored.body, score)[: surveys.MAX_COMMENT_CHARS],
        channel="sms",
        patient_id=stored.patient_id,
        appointment_id=None if visit is None else str(visit[0]),
        outbox_id=stored.outbox_id,
        reply_id=stored.id,
        at=_parse_utc(stored.received_at),
    )
    action = SURVEY_ANSWER.format(score=score)
    if nps.category(score) == nps.DETRACTOR:
        action += SURVEY_FOLLOW_UP
    return action, True, created.changes
