"""The print queue: letter-channel messages waiting to be printed, one PDF per batch, and
the receptionist's word that they printed.

The sender leaves a letter in `to_print` with its text already written; what it prints as
(a letter, a postcard, or a statement for a billing notice) is the rule's choice. Nothing
here decides whether to write to a patient: that was decided when the message was sent.
What can have changed since is checked again, because paper cannot be called back: an
address removed, a patient who died or asked not to be contacted, a bill paid. Such a
message stays in the queue with the reason, and the rest print.

Building a batch is two steps on purpose. `prepare` reads the clinic (on the caller's
thread, with the caller's connection); `Batch.write` only lays out pages, so the GUI can run
it on a worker thread without sharing the database connection. Printing is confirmed, not
assumed: a printer can jam, so the messages become sent only when staff say so
(`mark_printed`), and two desks confirming at once mark each message once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO, Final

from app.billing.ledger import balance
from app.clinic import Clinic
from app.errors import InvalidInputError, RecordNotFoundError
from app.letters import layout
from app.letters.letter import LetterInput, build_letters, check_recipient
from app.letters.letterhead import letter_date
from app.letters.postcards import build_postcards, check_postcard
from app.letters.settings import LetterSettings
from app.letters.settings import load_settings as load_letter_settings
from app.letters.statements import StatementInput, build_statements, statement_lines
from app.ops import CancelToken, Progress, no_progress
from app.patients.model import Address
from app.reminders import outbox
from app.reminders.rules import KIND_LABELS, KINDS, Rule, load_rules
from app.reminders.settings import load_settings as load_reminder_settings
from app.reminders.template_store import template_for
from app.store.changes import Changes
from app.store.writer import utc_now
from app.today import clinic_today
from app.users import get_user

PRINT_AS: Final = ("letter", "postcard", "statement")
PRINT_AS_LABELS: Final = {"letter": "Letters", "postcard": "Postcards", "statement": "Statements"}
POSTCARD_SIZES: Final = {"us10": "4x6"}
"""The postcard that goes with the clinic's envelope standard; A6 everywhere else."""

NO_ADDRESS: Final = (
    "No postal address on file any more. Add one to the patient, or cancel this letter "
    "in Messages and reach the patient another way."
)
DECEASED: Final = "The patient has died since this letter was written. Cancel it in Messages."
DO_NOT_CONTACT: Final = (
    "The patient asked not to be contacted since this letter was written. Cancel it in Messages."
)
PAID: Final = "The bill has been paid since this notice was written. Cancel it in Messages."
NO_TEXT: Final = "This letter has no text. Cancel it in Messages."
MIXED: Final = "Print letters, postcards and statements as separate batches."


@dataclass(frozen=True)
class QueuedMessage:
    """One letter of the queue (or one printed already), as the Letters area lists it."""

    id: str
    patient_id: str
    patient_name: str
    rule_id: str
    rule_name: str
    rule_kind: str  # a rules.KINDS value; "" when the rule was deleted
    print_as: str  # letter | postcard | statement
    due_at: str  # UTC ISO
    recipient: str  # the one-line postal address the sender chose
    state: str
    sent_at: str | None
    problem: str = ""  # why it cannot print now; "" when it can

    @property
    def printable(self) -> bool:
        return not self.problem


@dataclass(frozen=True)
class PrintGroup:
    """The messages that print the same way: "Letters — Recall", "Postcards", "Statements"."""

    kind: str  # "letter:recall", "postcard", "statement": stable across refreshes
    label: str
    print_as: str
    messages: tuple[QueuedMessage, ...]

    @property
    def printable(self) -> tuple[QueuedMessage, ...]:
        return tuple(m for m in self.messages if m.printable)

    @property
    def title(self) -> str:
        """ "Letters — Recall (12)"."""
        return f"{self.label} ({len(self.messages):,})"


@dataclass(frozen=True)
class BatchResult:
    """What was written: the page count and the page (1-based) each message starts on."""

    pages: int
    first_page_of: dict[str, int]
    changes: Changes = field(default_factory=Changes)


# --- reading the queue ---------------------------------------------------------------------

_COLUMNS: Final = (
    "o.id, o.patient_id, o.rule_id, o.due_at, o.recipient, o.state, o.sent_at, o.subject_kind, "
    "o.subject, o.body, "
    "trim(coalesce(nullif(p.preferred_name, ''), p.given_names) || ' ' || p.family_name), "
    "p.given_names, p.family_name, p.language, p.deceased, p.do_not_contact"
)
_FROM: Final = "FROM outbox o JOIN patient p ON p.id = o.patient_id WHERE o.channel = 'letter'"
_KIND_OF_SUBJECT: Final = {"balance": "billing", "recall": "recall", "birthday": "birthday"}


@dataclass(frozen=True)
class _Row:
    """A queued message with what printing it needs; not shown outside this module."""

    item: QueuedMessage
    subject: str
    body: str
    name: str  # the full name for the envelope: given and family, not the preferred name
    language: str
    address: Address | None


def _print_as(rule: Rule | None, rule_kind: str) -> str:
    if rule_kind == "billing":
        return "statement"  # a billing notice prints with the open charges, whatever the rule
    if rule is not None and rule.print_format == "postcard":
        return "postcard"
    return "letter"


def _mailable(address: Address) -> bool:
    """The same test the sender used to choose the letter (reach.postal_line)."""
    return bool(address.line1.strip() and (address.postal_code.strip() or address.city.strip()))


def _addresses(clinic: Clinic, patient_ids: set[str]) -> dict[str, Address]:
    """Each patient's first mailable address by rank: where the letter goes today."""
    found: dict[str, Address] = {}
    ids = sorted(patient_ids)
    for start in range(0, len(ids), 500):  # SQLite's parameter limit
        chunk = ids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        sql = (
            "SELECT patient_id, id, use, line1, line2, city, region, postal_code, country, "  # noqa: S608 - placeholders only
            f"rank FROM address WHERE patient_id IN ({marks}) "
            "ORDER BY patient_id, rank, rowid"
        )
        rows = clinic.conn.execute(sql, chunk).fetchall()
        for patient_id, *values in rows:
            address = Address(*values)
            if patient_id not in found and _mailable(address):
                found[str(patient_id)] = address
    return found


def _read(clinic: Clinic, where: str, params: Sequence[Any], order: str) -> list[_Row]:
    rows = clinic.conn.execute(f"SELECT {_COLUMNS} {_FROM} AND {where} ORDER BY {order}", params)
    raw = rows.fetchall()
    rules = {r.id: r for r in load_rules(clinic)}
    addresses = _addresses(clinic, {str(r[1]) for r in raw})
    result: list[_Row] = []
    for r in raw:
        (mid, pid, rule_id, due_at, recipient, state, sent_at, subject_kind, subject, body) = r[:10]
        shown, given, family, language, deceased, do_not_contact = r[10:]
        rule = rules.get(rule_id)
        kind = rule.kind if rule else _KIND_OF_SUBJECT.get(subject_kind, "")
        print_as = _print_as(rule, kind)
        address = addresses.get(pid)
        problem = ""
        if deceased:
            problem = DECEASED
        elif do_not_contact:
            problem = DO_NOT_CONTACT
        elif address is None:
            problem = NO_ADDRESS
        elif print_as != "statement" and not str(body).strip():
            problem = NO_TEXT
        item = QueuedMessage(
            id=mid,
            patient_id=pid,
            patient_name=str(shown),
            rule_id=rule_id,
            rule_name=rule.name if rule else "",
            rule_kind=kind,
            print_as=print_as,
            due_at=due_at,
            recipient=recipient,
            state=state,
            sent_at=sent_at,
            problem=problem,
        )
        name = " ".join(p for p in (str(given), str(family)) if p.strip())
        result.append(_Row(item, str(subject), str(body), name, str(language), address))
    return result


def _check_state_now(clinic: Clinic, rows: list[_Row]) -> list[_Row]:
    """What only the present can tell: an address that no longer fits the envelope's
    window, a statement whose bill was paid, a postcard whose words do not fit (the
    clinic edited the template since)."""
    checked: list[_Row] = []
    settings = load_letter_settings(clinic) if rows else None
    size = _postcard_size(clinic, settings)
    region = clinic.settings.region
    for row in rows:
        item = row.item
        problem = item.problem or _problem_now(clinic, row, settings, size, region)
        if problem != item.problem:
            row = replace(row, item=replace(item, problem=problem))
        checked.append(row)
    return checked


def _problem_now(
    clinic: Clinic, row: _Row, settings: LetterSettings | None, size: str, region: str
) -> str:
    item = row.item
    try:
        if item.print_as == "postcard":
            check_postcard(row.body, size)
        elif row.address is not None and settings is not None:
            check_recipient(
                layout.address_lines(asdict(row.address), row.name, region), settings.envelope
            )
    except InvalidInputError as exc:
        return str(exc)
    if item.print_as == "statement" and balance(clinic, item.patient_id).due_cents <= 0:
        return PAID
    return ""


def _group_key(item: QueuedMessage) -> tuple[int, int, str]:
    order = PRINT_AS.index(item.print_as)
    kind_order = KINDS.index(item.rule_kind) if item.rule_kind in KINDS else len(KINDS)
    return order, kind_order if item.print_as == "letter" else 0, item.rule_kind


def _group_of(item: QueuedMessage) -> tuple[str, str]:
    """(kind, label) of the group a message belongs to."""
    if item.print_as != "letter":
        return item.print_as, PRINT_AS_LABELS[item.print_as]
    words = KIND_LABELS.get(item.rule_kind, "Other")
    return f"letter:{item.rule_kind or 'other'}", f"Letters — {words}"


def waiting(clinic: Clinic) -> list[PrintGroup]:
    """The queue, grouped by what the messages print as; letters by their rule's kind.

    Oldest due first within a group (the one waiting longest prints first); a message that
    cannot print now carries its reason (`problem`) and stays in its group.
    """
    rows = _check_state_now(clinic, _read(clinic, "o.state = 'to_print'", (), "o.due_at, o.rowid"))
    grouped: dict[tuple[str, str], list[QueuedMessage]] = {}
    for row in sorted(rows, key=lambda r: _group_key(r.item)):
        grouped.setdefault(_group_of(row.item), []).append(row.item)
    return [
        PrintGroup(kind, label, messages[0].print_as, tuple(messages))
        for (kind, label), messages in grouped.items()
    ]


def printed(clinic: Clinic, *, limit: int = 200) -> list[QueuedMessage]:
    """Letters confirmed printed, newest first: where one is found to print again."""
    rows = _read(clinic, "o.state = 'sent'", (limit,), "o.sent_at DESC, o.rowid DESC LIMIT ?")
    return [r.item for r in rows]


def count_waiting(clinic: Clinic) -> int:
    """How many letters wait, for a badge; cheap (no checks)."""
    row = clinic.conn.execute(
        "SELECT count(*) FROM outbox WHERE state = 'to_print' AND channel = 'letter'"
    ).fetchone()
    return int(row[0])


# --- building one PDF -----------------------------------------------------------------------


def letter_language(
    clinic: Clinic, rule_id: str, rule_kind: str, patient_language: str, clinic_language: str
) -> str:
    """The language the letter's text was written in, so its date line, page numbers and
    continuation header match it: the patient's when the rule has a letter template in it,
    else the clinic's. The same order app.reminders.compose chose the template in when the
    letter was written (the outbox keeps the text, not its language)."""
    own = patient_language.strip() or clinic_language
    if own == clinic_language or not rule_kind:
        return own
    if template_for(clinic, rule_id, rule_kind, "letter", own) is not None:
        return own
    return clinic_language


def _postcard_size(clinic: Clinic, settings: LetterSettings | None = None) -> str:
    """4×6 in for a clinic on US envelopes, A6 for the rest."""
    chosen = settings or load_letter_settings(clinic)
    return POSTCARD_SIZES.get(chosen.envelope, "a6")


@dataclass(frozen=True)
class Batch:
    """Everything one PDF needs, read from the clinic: writing it touches no database."""

    print_as: str
    message_ids: tuple[str, ...]
    inputs: tuple[Any, ...]  # LetterInput or StatementInput, in print order
    settings: LetterSettings
    clinic_settings: Any
    postcard_size: str = "4x6"

    def write(
        self,
        out: BinaryIO | Path,
        *,
        progress: Progress = no_progress,
        cancel: CancelToken | None = None,
    ) -> BatchResult:
        """Lay out the pages into `out` (a file or an in-memory buffer)."""
        token = cancel or CancelToken()
        total = len(self.inputs)
        progress(0, total, f"Laying out {_count(total, self.print_as)}")
        token.raise_if_cancelled()
        pages, firsts = _BUILDERS[self.print_as](self, out)
        token.raise_if_cancelled()
        progress(total, total, f"Laid out {_count(total, self.print_as)}")
        return BatchResult(pages, dict(zip(self.message_ids, firsts, strict=True)))


def _count(number: int, print_as: str) -> str:
    noun = {"letter": "letter", "postcard": "postcard", "statement": "statement"}[print_as]
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _letters(batch: Batch, out: BinaryIO | Path) -> tuple[int, list[int]]:
    made = build_letters(batch.inputs, batch.settings, batch.clinic_settings, out)
    return made.pages, list(made.first_page_of)


def _postcards(batch: Batch, out: BinaryIO | Path) -> tuple[int, list[int]]:
    made = build_postcards(
        batch.inputs, batch.settings, batch.clinic_settings, size=batch.postcard_size, out=out
    )
    return made.pages, list(made.first_page_of)


def _statements(batch: Batch, out: BinaryIO | Path) -> tuple[int, list[int]]:
    made = build_statements(batch.inputs, batch.settings, batch.clinic_settings, out)
    return made.pages, list(made.first_page_of)


_BUILDERS: Final[dict[str, Callable[[Batch, BinaryIO | Path], tuple[int, list[int]]]]] = {
    "letter": _letters,
    "postcard": _postcards,
    "statement": _statements,
}


def prepare(
    clinic: Clinic,
    message_ids: Sequence[str],
    *,
    blank_backs: bool | None = None,
    states: tuple[str, ...] = ("to_print",),
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> Batch:
    """Read what the chosen messages print: recipient lines from the patient's address as
    it is now, the text the sender wrote, today's date in the language of that text (see
    letter_language), which the page numbers and continuation header follow too.

    Raises InvalidInputError when a message cannot print (with the reason), was printed
    or cancelled meanwhile, or when the choice mixes letters, postcards and statements.
    """
    if not message_ids:
        raise InvalidInputError("Choose at least one letter to print.")
    token = cancel or CancelToken()
    wanted = list(dict.fromkeys(message_ids))
    marks = ", ".join("?" for _ in wanted)
    state_marks = ", ".join("?" for _ in states)
    rows = _check_state_now(
        clinic,
        _read(
            clinic,
            f"o.id IN ({marks}) AND o.state IN ({state_marks})",
            [*wanted, *states],
            "o.rowid",
        ),
    )
    by_id = {r.item.id: r for r in rows}
    missing = [m for m in wanted if m not in by_id]
    if missing:
        raise InvalidInputError(
            f"{_count(len(missing), 'letter').capitalize()} of the chosen ones "
            f"{'was' if len(missing) == 1 else 'were'} printed or cancelled meanwhile. "
            "The list is up to date again; choose again."
        )
    kinds = {by_id[m].item.print_as for m in wanted}
    if len(kinds) > 1:
        raise InvalidInputError(MIXED)
    (print_as,) = kinds
    problems = [by_id[m].item.problem for m in wanted if by_id[m].item.problem]
    if problems:
        raise InvalidInputError(
            f"{_count(len(problems), print_as).capitalize()} cannot be printed: {problems[0]}"
        )
    settings = load_letter_settings(clinic)
    if blank_backs is not None and blank_backs != settings.blank_backs:
        settings = replace(settings, blank_backs=blank_backs)
    clinic_language = load_reminder_settings(clinic).language or "en"
    today = clinic_today(clinic)
    languages: dict[tuple[str, str, str], str] = {}
    dates: dict[str, str] = {}
    region = clinic.settings.region
    inputs: list[Any] = []
    for number, message_id in enumerate(wanted, start=1):
        if number % 50 == 0:
            token.raise_if_cancelled()
            progress(number, len(wanted), f"Reading {_count(len(wanted), print_as)}")
        row = by_id[message_id]
        assert row.address is not None  # a message without one has a problem, refused above
        lines = layout.address_lines(asdict(row.address), row.name, region)
        choice = (row.item.rule_id, row.item.rule_kind, row.language)
        if choice not in languages:
            languages[choice] = letter_language(clinic, *choice, clinic_language)
        language = languages[choice]
        if language not in dates:
            dates[language] = letter_date(today, language, day_first=clinic.settings.day_first)
        day = dates[language]
        if print_as == "statement":
            inputs.append(
                StatementInput(
                    recipient_lines=lines,
                    date_text=day,
                    language=language,
                    statement=statement_lines(clinic, row.item.patient_id),
                )
            )
        else:
            inputs.append(
                LetterInput(
                    recipient_lines=lines,
                    subject=row.subject,
                    body_text=row.body,
                    date_text=day,
                    language=language,
                    closing=settings.closing,
                    signer=settings.signer,
                )
            )
    return Batch(
        print_as=print_as,
        message_ids=tuple(wanted),
        inputs=tuple(inputs),
        settings=settings,
        clinic_settings=clinic.settings,
        postcard_size=_postcard_size(clinic, settings),
    )


def build_batch(
    clinic: Clinic,
    message_ids: Sequence[str],
    out: BinaryIO | Path,
    *,
    blank_backs: bool | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> BatchResult:
    """One PDF of the chosen waiting messages, each starting on its own page (on an odd
    page when blank backs are on, so a duplex printer never prints two patients on one
    sheet)."""
    batch = prepare(clinic, message_ids, blank_backs=blank_backs, progress=progress, cancel=cancel)
    return batch.write(out, progress=progress, cancel=cancel)


# --- confirming ------------------------------------------------------------------------------


def _who(clinic: Clinic) -> str:
    user = get_user(clinic, clinic.acting_user_id) if clinic.acting_user_id else None
    return f" by {user.name}" if user else ""


def mark_printed(clinic: Clinic, message_ids: Sequence[str]) -> Changes:
    """Staff saw the letters come out: each waiting one becomes sent, now, in one write.

    A message another desk confirmed (or cancelled) first is left as it is, so confirming
    twice marks each letter once and writes one history row.
    """
    reason = "Printed" + _who(clinic)
    now = utc_now()
    with clinic.store.write() as tx:
        for message_id in dict.fromkeys(message_ids):
            try:
                outbox.transition(
                    tx,
                    message_id,
                    "sent",
                    reason,
                    expect=("to_print",),
                    device_id=clinic.store.device_id,
                    values={"sent_at": now},
                )
            except RecordNotFoundError:
                continue  # removed with its patient meanwhile: nothing to mark
    return tx.changes


def reprint(
    clinic: Clinic, message_id: str, out: BinaryIO | Path, *, blank_backs: bool | None = None
) -> BatchResult:
    """One printed letter again (lost in the post, spoiled in the printer), to the address
    on file now. Logged in the message's history; its state stays sent."""
    message = outbox.get_message(clinic, message_id)
    if message.channel != "letter" or message.state != "sent":
        raise InvalidInputError("Only a letter that was printed can be printed again.")
    batch = prepare(clinic, [message_id], blank_backs=blank_backs, states=("sent",))
    result = batch.write(out)
    with clinic.store.write() as tx:
        outbox.record_events(
            tx, [(message_id, "sent", "Printed again" + _who(clinic))], clinic.store.device_id
        )
    return BatchResult(result.pages, result.first_page_of, tx.changes)
