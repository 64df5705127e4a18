"""The outbox: every automatic message, its state, and the history of how it got there.

A message moves planned → due → sending → sent | failed | skipped | cancelled; a letter
waits in to_print between sending and sent until staff confirm it was printed (the
printing itself is the letters module's). Every change is a row in outbox_event with the
time, the reason in plain words and the workstation, written in the same transaction as
the state, so the history can never disagree with the message.

A change is conditional on the state the caller saw (`expect`): two workstations, or the
planner and the sender, can race for one message and only one wins; the loser learns it
from the False it gets back and does nothing. This is what makes a message go once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from app.clinic import Clinic
from app.errors import InvalidInputError, RecordNotFoundError
from app.patients.listing import fts_expression
from app.patients.validation import fold_text
from app.store.changes import Changes
from app.store.writer import Tx, new_id, utc_now, utc_text

STATES: Final = (
    "planned",
    "due",
    "sending",
    "to_print",
    "sent",
    "failed",
    "skipped",
    "cancelled",
)
STATE_LABELS: Final = {
    "planned": "Planned",
    "due": "Due",
    "sending": "Sending",
    "to_print": "Waiting for print",
    "sent": "Sent",
    "failed": "Failed",
    "skipped": "Skipped",
    "cancelled": "Cancelled",
}
SUBJECT_KINDS: Final = (
    "appointment",
    "recall",
    "balance",
    "birthday",
    "survey",
    "review",
    "education",
    "pollen",
    "reactivation",
)
"""What a message can be about (the schema leaves the column open for later kinds)."""
OPEN: Final = ("planned", "due")
"""Not yet started: the planner may still move, re-time or cancel these."""
FINISHED: Final = ("sent", "skipped", "cancelled")

_ALLOWED: Final[Mapping[str, frozenset[str]]] = {
    "planned": frozenset({"due", "skipped", "cancelled"}),
    "due": frozenset({"sending", "skipped", "cancelled", "failed"}),
    # sending → sending: a fallback to the next channel, recorded as its own event.
    # sending → due: a temporary failure to try again later, or a send the service
    # confirms never arrived.
    "sending": frozenset({"sending", "sent", "failed", "due", "to_print", "skipped"}),
    "to_print": frozenset({"sent", "cancelled", "failed"}),
    "failed": frozenset({"due", "cancelled"}),
    "sent": frozenset(),
    "skipped": frozenset(),
    "cancelled": frozenset(),
}


class OutboxStateError(InvalidInputError):
    """A message cannot go from its state to the one asked for (sending a cancelled one)."""


@dataclass(frozen=True)
class Message:
    id: str
    idem_key: str
    rule_id: str
    touch: int
    purpose: str
    patient_id: str
    subject_kind: str
    subject_id: str
    occurrence: str
    due_at: str
    stale_at: str
    state: str
    reason: str
    channel: str
    recipient: str
    subject: str
    body: str
    provider_ref: str
    delivery: str
    attempts: int
    next_try_at: str | None
    sent_at: str | None
    created_at: str
    updated_at: str

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


COLUMNS: Final = tuple(f.name for f in fields(Message))
_SELECT: Final = f"SELECT {', '.join(COLUMNS)} FROM outbox"  # noqa: S608 - field names


@dataclass(frozen=True)
class Event:
    state: str
    at: str
    reason: str
    device_id: str

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.state, self.state)


def _message(row: Sequence[Any]) -> Message:
    return Message(*row)


def idem_key(rule_id: str, touch: int, subject: str, occurrence: str) -> str:
    """The one name of a message: the same rule, touch, subject and occurrence is the same
    message however often it is planned, on whichever workstation."""
    return f"{rule_id}:{touch}:{subject}:{occurrence}"


_MESSAGE_NAMESPACE: Final = uuid.UUID("5c0f9a52-6f1e-4c1b-9a59-6f2f1b7a0c31")


def message_id_for_key(idem: str) -> str:
    """The message's id, made from its idempotency key (UUID version 5).

    Two workstations that plan the same message while apart make the same row, so when
    sync brings them together it merges one message column by column instead of meeting
    two rows that claim one key (which the unique key would refuse).
    """
    return str(uuid.uuid5(_MESSAGE_NAMESPACE, idem))


def new_row(
    *,
    idem: str,
    rule_id: str,
    touch: int,
    purpose: str,
    patient_id: str,
    subject_kind: str,
    subject_id: str,
    occurrence: str,
    due_at: str,
    stale_at: str,
    now: str,
) -> dict[str, Any]:
    """A planned message as the planner inserts it (columns in one fixed order, so the
    planner can hand many to Tx.insert_many)."""
    if subject_kind not in SUBJECT_KINDS:
        raise ValueError(f"unknown outbox subject kind: {subject_kind}")
    return {
        "id": message_id_for_key(idem),
        "idem_key": idem,
        "rule_id": rule_id,
        "touch": touch,
        "purpose": purpose,
        "patient_id": patient_id,
        "subject_kind": subject_kind,
        "subject_id": subject_id,
        "occurrence": occurrence,
        "due_at": due_at,
        "stale_at": stale_at,
        "state": "planned",
        "reason": "",
        "created_at": now,
        "updated_at": now,
    }


def record_events(tx: Tx, events: Iterable[tuple[str, str, str]], device_id: str) -> None:
    """Add history rows (message id, state, reason) at one time, e.g. for a planning run."""
    now = utc_now()
    rows = [
        {
            "id": new_id(),
            "outbox_id": message_id,
            "state": state,
            "at": now,
            "reason": reason,
            "device_id": device_id,
        }
        for message_id, state, reason in events
    ]
    tx.insert_many("outbox_event", rows)


def transition(
    tx: Tx,
    message_id: str,
    to: str,
    reason: str,
    *,
    expect: Iterable[str],
    device_id: str,
    values: Mapping[str, Any] | None = None,
) -> bool:
    """Move one message to `to` if it is still in one of the `expect` states.

    Returns False (and changes nothing) when another writer moved it first; raises
    OutboxStateError for a move the state machine does not allow.
    """
    if to not in STATES:
        raise ValueError(f"unknown outbox state: {to}")
    row = tx.conn.execute("SELECT state FROM outbox WHERE id = ?", (message_id,)).fetchone()
    if row is None:
        raise RecordNotFoundError("That message no longer exists.")
    current = str(row[0])
    if current not in set(expect):
        return False
    if to not in _ALLOWED[current]:
        raise OutboxStateError(
            f"A message that is {STATE_LABELS[current].lower()} cannot become "
            f"{STATE_LABELS[to].lower()}."
        )
    now = utc_now()
    changes: dict[str, Any] = {"state": to, "reason": reason, "updated_at": now}
    changes.update(values or {})
    tx.update("outbox", message_id, changes)
    record_events(tx, [(message_id, to, reason)], device_id)
    return True


# --- reading ----------------------------------------------------------------------------------


def get_message(clinic: Clinic, message_id: str) -> Message:
    row = clinic.conn.execute(_SELECT + " WHERE id = ?", (message_id,)).fetchone()
    if row is None:
        raise RecordNotFoundError("That message no longer exists.")
    return _message(row)


def history(clinic: Clinic, message_id: str) -> list[Event]:
    """Every state the message went through, oldest first."""
    rows = clinic.conn.execute(
        "SELECT state, at, reason, device_id FROM outbox_event WHERE outbox_id = ? "
        "ORDER BY at, rowid",
        (message_id,),
    ).fetchall()
    return [Event(*r) for r in rows]


@dataclass(frozen=True)
class MessageRow:
    """One line of Messages: the message and whom it is for."""

    message: Message
    patient_name: str
    rule_name: str


def list_messages(
    clinic: Clinic,
    *,
    states: Sequence[str] = (),
    channel: str = "",
    patient_id: str = "",
    rule_id: str = "",
    text: str = "",
    limit: int = 200,
    offset: int = 0,
) -> list[MessageRow]:
    """Messages newest due first, filtered; what the Messages page and the timeline show.

    `text` finds the patient as the patients list does (app/patients/listing.py): folded
    name words as prefixes, or a birth date, phone or email; one letter alone means
    "family name starts with". Text that can match nobody gives an empty list.
    """
    where: list[str] = []
    params: list[Any] = []
    text_filter = _patient_text_filter(text, clinic.settings.region)
    if text_filter is None:
        return []
    if text_filter[0]:
        where.append(text_filter[0])
        params.extend(text_filter[1])
    if states:
        unknown = set(states) - set(STATES)
        if unknown:
            raise ValueError(f"unknown outbox states: {sorted(unknown)}")
        where.append(f"o.state IN ({', '.join('?' for _ in states)})")
        params.extend(states)
    if channel:
        where.append("o.channel = ?")
        params.append(channel)
    if patient_id:
        where.append("o.patient_id = ?")
        params.append(patient_id)
    if rule_id:
        where.append("o.rule_id = ?")
        params.append(rule_id)
    columns = ", ".join(f"o.{c}" for c in COLUMNS)
    sql = (
        f"SELECT {columns}, "  # noqa: S608 - field names; values are parameters
        "trim(coalesce(nullif(p.preferred_name, ''), p.given_names) || ' ' || p.family_name), "
        "coalesce(r.name, '') "
        "FROM outbox o JOIN patient p ON p.id = o.patient_id "
        "LEFT JOIN reminder_rule r ON r.id = o.rule_id"
    )
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY o.due_at DESC, o.id LIMIT ? OFFSET ?"
    params.extend((limit, offset))
    rows = clinic.conn.execute(sql, params).fetchall()
    width = len(COLUMNS)
    return [MessageRow(_message(r[:width]), str(r[width]), str(r[width + 1])) for r in rows]


def _patient_text_filter(text: str, region: str) -> tuple[str, list[Any]] | None:
    """The condition for what was typed: ("", []) for no text, None when it can match
    nobody. Through the patients' search index, never a LIKE scan of names."""
    text = text.strip()
    if not text:
        return ("", [])
    letter = fold_text(text)
    if len(letter) == 1 and letter.isascii() and letter.isalpha():
        return (
            "p.family_name >= ? COLLATE NOCASE AND p.family_name < ? COLLATE NOCASE",
            [letter, chr(ord(letter) + 1)],
        )
    expression = fts_expression(text, region)
    if expression is None:
        return None
    return (
        "o.patient_id IN (SELECT d.patient_id FROM patient_search s "
        "JOIN patient_search_doc d ON d.doc = s.rowid WHERE patient_search MATCH ?)",
        [expression],
    )


def count_by_state(clinic: Clinic) -> dict[str, int]:
    rows = clinic.conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall()
    counts = dict.fromkeys(STATES, 0)
    counts.update({str(s): int(n) for s, n in rows})
    return counts


# --- what staff can do from Messages ----------------------------------------------------------


def retry(clinic: Clinic, message_id: str, *, who: str = "") -> Changes:
    """Send a failed message again at the next pass (staff decided, e.g. after fixing a
    phone number, or after checking that a "may have been sent" one did not arrive)."""
    reason = "Sent again at the desk" + (f" by {who}" if who else "")
    with clinic.store.write() as tx:
        moved = transition(
            tx,
            message_id,
            "due",
            reason,
            expect=("failed",),
            device_id=clinic.store.device_id,
            values={"next_try_at": None, "stale_at": _later_of_now_and(tx, message_id)},
        )
        if not moved:
            raise OutboxStateError("Only a failed message can be sent again.")
    return tx.changes


def _later_of_now_and(tx: Tx, message_id: str) -> str:
    """A retried message is not stale at once: staff asked for it now."""
    row = tx.conn.execute("SELECT stale_at FROM outbox WHERE id = ?", (message_id,)).fetchone()
    soon = utc_text(datetime.now(UTC) + timedelta(hours=12))
    return max(str(row[0]), soon)


def cancel(clinic: Clinic, message_id: str, *, who: str = "") -> Changes:
    """Stop a message that has not gone yet."""
    reason = "Cancelled at the desk" + (f" by {who}" if who else "")
    with clinic.store.write() as tx:
        moved = transition(
            tx,
            message_id,
            "cancelled",
            reason,
            expect=("planned", "due", "failed", "to_print"),
            device_id=clinic.store.device_id,
        )
        if not moved:
            raise OutboxStateError(
                "This message has already gone or was stopped; nothing to cancel."
            )
    return tx.changes
