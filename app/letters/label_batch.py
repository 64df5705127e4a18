"""Mailing labels for a batch of queued letters, addressed exactly as the letters are.

A clinic that prints on plain paper and posts in plain envelopes, or sends a statement in
a larger envelope, sticks a label on instead of using the window. The label must carry the
same address the letter does, so the lines come from the print queue itself (the patient's
address on file now, laid out for the post by `layout.address_lines`): nothing here reads
addresses on its own, and a message the queue would refuse to print gets no label either.

Printing labels changes nothing: the letters are still confirmed printed in the Letters
area, the labels are only paper for the envelopes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final

from app.clinic import Clinic
from app.errors import InvalidInputError, RecordNotFoundError
from app.letters import fonts, queue
from app.letters.labels import build_labels, sheet_for
from app.letters.layout import AddressTooLongError, fit_address
from app.letters.settings import load_settings
from app.reminders import outbox

STATES: Final = ("to_print", "sent")
"""Labels for letters waiting, or for printed ones going out again."""
SHEET_OF_ENVELOPE: Final = {"us10": "5160"}
"""US clinics buy Letter-size Avery 5160; the rest of the world A4 L7163."""

GONE: Final = "This letter was cancelled or removed meanwhile, so it needs no label."
TOO_LONG: Final = "This address has too many lines to fit on a label; shorten it on the patient."
NOTHING: Final = "None of the chosen letters can have a label: "


@dataclass(frozen=True)
class LabelAddresses:
    """The address of each chosen message that can have a label, in the order chosen, and
    the ones left out with the reason (in words for the desk, without patient data)."""

    lines: list[list[str]] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (message id, reason)


@dataclass(frozen=True)
class LabelSheetResult:
    """What was written: sheets, labels on them, and the messages that got none (and why)."""

    pages: int
    labels: int
    left_out: list[tuple[str, str]]
    sheet: str = "5160"
    start: int = 1


def default_sheet(clinic: Clinic) -> str:
    """The sheet that goes with Settings ▸ Letters' envelope: 5160 for US #10, else L7163."""
    return SHEET_OF_ENVELOPE.get(load_settings(clinic).envelope, "l7163")


def _recipients(batch: queue.Batch) -> dict[str, list[str]]:
    inputs: Sequence[Any] = batch.inputs  # LetterInput or StatementInput: both have the lines
    return {
        message_id: list(made.recipient_lines)
        for message_id, made in zip(batch.message_ids, inputs, strict=True)
    }


def _one(clinic: Clinic, message_id: str, known: dict[str, queue.QueuedMessage]) -> list[str]:
    """The lines of a single message; InvalidInputError with the reason when it has none."""
    item = known.get(message_id)
    if item is not None and item.problem:
        raise InvalidInputError(item.problem)
    try:
        message = outbox.get_message(clinic, message_id)
    except RecordNotFoundError:
        raise InvalidInputError(GONE) from None
    if message.channel != "letter" or message.state not in STATES:
        raise InvalidInputError(GONE)
    batch = queue.prepare(clinic, [message_id], states=STATES)
    return _recipients(batch)[message_id]


def label_addresses(clinic: Clinic, message_ids: Sequence[str]) -> LabelAddresses:
    """The recipient lines of the chosen letters waiting to print (or printed), as the
    queue prints them on the letters; those that cannot print are left out with the reason.

    The common case (the ticked letters of one kind, all printable) is one read through
    the queue. Only when that is refused (a mixed choice, a letter that lost its address)
    is each kind, then each letter, read on its own to find which ones and why.
    """
    wanted = list(dict.fromkeys(message_ids))
    if not wanted:
        raise InvalidInputError("Choose at least one letter to print labels for.")
    try:
        found = _recipients(queue.prepare(clinic, wanted, states=STATES))
        return LabelAddresses([found[m] for m in wanted], wanted, [])
    except InvalidInputError:
        pass  # some of them cannot print: find out which, below

    known = {m.id: m for group in queue.waiting(clinic) for m in group.messages}
    lines: dict[str, list[str]] = {}
    reasons: dict[str, str] = {}
    kinds: dict[str, list[str]] = {}
    for message_id in wanted:
        item = known.get(message_id)
        if item is not None and item.problem:
            reasons[message_id] = item.problem
        else:  # printed ones are not in the waiting list: read together, kind unknown
            kinds.setdefault(item.print_as if item else "", []).append(message_id)
    for ids in kinds.values():
        try:
            lines.update(_recipients(queue.prepare(clinic, ids, states=STATES)))
            continue
        except InvalidInputError:
            pass  # one of these cannot print; read them one by one
        for message_id in ids:
            try:
                lines[message_id] = _one(clinic, message_id, known)
            except InvalidInputError as exc:
                reasons[message_id] = _reason(exc)
    kept = [m for m in wanted if m in lines]
    return LabelAddresses(
        [lines[m] for m in kept], kept, [(m, reasons[m]) for m in wanted if m in reasons]
    )


def _reason(exc: InvalidInputError) -> str:
    """The queue's refusal of one letter, without its count ("1 letter cannot be printed:")."""
    text = str(exc)
    head, colon, rest = text.partition(": ")
    if colon and head[:1].isdigit():
        return rest
    if head[:1].isdigit():
        return GONE  # "1 letter of the chosen ones was printed or cancelled meanwhile."
    return text


def build_label_sheet(
    clinic: Clinic,
    message_ids: Sequence[str],
    out: BinaryIO | Path,
    *,
    sheet: str | None = None,
    start: int = 1,
    outlines: bool = False,
) -> LabelSheetResult:
    """One PDF of label sheets for the chosen letters, the first label at `start` (to use
    up a part-used sheet). `sheet` is "5160" or "l7163"; None follows the envelope setting.
    Nothing changes in the clinic: the labels go with letters confirmed printed as before.
    """
    key = sheet or default_sheet(clinic)
    found = label_addresses(clinic, message_ids)
    return write_label_sheet(found, out, sheet=key, start=start, outlines=outlines)


def write_label_sheet(
    found: LabelAddresses,
    out: BinaryIO | Path,
    *,
    sheet: str,
    start: int = 1,
    outlines: bool = False,
) -> LabelSheetResult:
    """Lay out addresses already read (no database): the labels dialog reads once and
    lays out again, at once, whenever the sheet, start or outlines change.

    An address too long for a label (it fits an envelope window, but a label is smaller)
    is left out with the reason rather than refusing the whole sheet.
    """
    spec = sheet_for(sheet)
    face = fonts.register()
    box = spec.text_box(1)  # every label of a sheet is the same size
    lines: list[list[str]] = []
    left_out = list(found.left_out)
    for message_id, address in zip(found.message_ids, found.lines, strict=True):
        try:
            fit_address(address, box, face, max_size=spec.max_font, min_size=spec.min_font)
        except AddressTooLongError:
            left_out.append((message_id, TOO_LONG))
            continue
        lines.append(address)
    if not lines:
        reason = left_out[0][1] if left_out else "there are no addresses."
        raise InvalidInputError(NOTHING + reason)
    made = build_labels(lines, spec.key, start, out, outlines=outlines)
    return LabelSheetResult(made.pages, len(lines), left_out, spec.key, start)
