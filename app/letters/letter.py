"""Personalised letters into one PDF: letterhead, window address, body, closing, page numbers.

One document for a whole batch, built in one pass of reportlab's platypus (app.letters.paged
runs the pages: page numbers and the continuation header from page two, the same as
statements); this module draws page one and writes the letter's text. No second layout
pass, so a thousand letters cost one layout each.

Body text comes from the rule's letter template, read by app.letters.body_text (the same
reading postcards and statements use).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final, TypeAlias

from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer

from app.clinic import ClinicSettings
from app.errors import InvalidInputError
from app.letters import fonts as fontreg
from app.letters.body_text import BodyStyles, body_flowables, markup
from app.letters.envelopes import Envelope, envelope
from app.letters.fonts import FontSet
from app.letters.layout import (
    INK,
    PlacedAddress,
    draw_fold_marks,
    draw_placed_address,
    draw_return_line,
    place_address,
)
from app.letters.letterhead import (
    SIGNATURE_FORM,
    Letterhead,
    Picture,
    define_form,
    draw_date,
    draw_info_lines,
    draw_letterhead,
    picture,
    place_form,
    prepare_letterhead,
)
from app.letters.paged import PagedBatch, PageRun, build_paged
from app.letters.settings import LetterSettings

PDF_TITLE: Final = "Letters"

_PAGE_ONE_FORM: Final = "frontdesk-page-one"


@dataclass(frozen=True)
class LetterInput:
    """One letter: already rendered text, nothing left to look up while printing."""

    recipient_lines: Sequence[str]
    subject: str
    body_text: str
    date_text: str
    language: str = "en"
    closing: str = ""  # "" = settings.closing; both empty = the template's own closing only
    signer: str = ""  # "" = settings.signer


LetterBatch: TypeAlias = PagedBatch
"""The built document: its page count and the page (1-based) each letter starts on."""


def check_recipient(lines: Sequence[str], envelope_key: str) -> None:
    """Raise InvalidInputError with the reason when this address cannot print in the
    window of the chosen envelope (the queue checks before a message waits for print)."""
    place_address(lines, envelope(envelope_key), fontreg.register())


# --- styles ---------------------------------------------------------------------------


@dataclass
class _Styles:
    subject: ParagraphStyle
    text: BodyStyles
    closing: ParagraphStyle


def _styles(font: FontSet) -> _Styles:
    body = ParagraphStyle(
        "letter-body",
        fontName=font.regular,
        fontSize=10.5,
        leading=14,
        textColor=INK,
        spaceAfter=7,
    )
    return _Styles(
        subject=ParagraphStyle(
            "letter-subject", parent=body, fontName=font.bold, fontSize=11, spaceAfter=12
        ),
        text=BodyStyles.from_body(body),
        closing=ParagraphStyle("letter-closing", parent=body, spaceAfter=2),
    )


# --- the build ------------------------------------------------------------------------


@dataclass
class _PageOne:
    """Page one of each letter: the shared form, then the letter's address and date."""

    inputs: Sequence[LetterInput]
    envelope: Envelope
    font: FontSet
    head: Letterhead
    signature: Picture | None
    addresses: list[PlacedAddress]
    forms_ready: bool = field(default=False)

    def __call__(self, index: int, canvas: Canvas) -> None:
        if not self.forms_ready:
            self._define_forms(canvas)
        canvas.doForm(_PAGE_ONE_FORM)
        draw_placed_address(canvas, self.addresses[index], self.font)
        draw_date(canvas, self.head, self.envelope, self.font, self.inputs[index].date_text)

    def _define_forms(self, canvas: Canvas) -> None:
        """What every first page shares (letterhead, return line, contact lines, fold
        marks) is drawn once into a form: a batch of 1,000 letters then carries it once."""
        env, font = self.envelope, self.font
        for pic in (self.head.logo, self.signature):
            if pic is not None:
                define_form(canvas, pic)
        canvas.beginForm(_PAGE_ONE_FORM)
        draw_letterhead(canvas, self.head, env, font)
        draw_return_line(canvas, self.head.return_line, env, font)
        draw_info_lines(canvas, self.head, env, font)
        draw_fold_marks(canvas, env)
        canvas.endForm()
        self.forms_ready = True


class _Signature(Flowable):  # type: ignore[misc]  # reportlab has no type hints
    def __init__(self, pic: Picture) -> None:
        super().__init__()
        self.pic = pic

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        return self.pic.width, self.pic.height + 2

    def draw(self) -> None:
        place_form(self.canv, self.pic, 0, 2)


def _closing(
    letter: LetterInput, settings: LetterSettings, signature: Picture | None, styles: _Styles
) -> list[Flowable]:
    closing = letter.closing or settings.closing
    signer = letter.signer or settings.signer
    parts: list[Flowable] = []
    if closing:
        parts += [Spacer(1, 6), Paragraph(markup(closing), styles.closing)]
    if signature is not None:
        parts.append(_Signature(signature))
    elif closing and signer:
        parts.append(Spacer(1, 18))  # room to sign by hand
    if signer:
        parts.append(Paragraph(markup(signer), styles.closing))
    return [KeepTogether(parts)] if parts else []


def _content(
    letter: LetterInput, settings: LetterSettings, signature: Picture | None, styles: _Styles
) -> list[Flowable]:
    story: list[Flowable] = []
    if letter.subject.strip():
        story.append(Paragraph(markup(" ".join(letter.subject.split())), styles.subject))
    story += body_flowables(letter.body_text, styles.text)
    story += _closing(letter, settings, signature, styles)
    return story


def _place_addresses(
    inputs: Sequence[LetterInput], env: Envelope, font: FontSet
) -> list[PlacedAddress]:
    """Fit every address before laying anything out, so a batch with one that cannot print
    is refused whole; the message names the letter's number, never the patient."""
    placed: list[PlacedAddress] = []
    for number, letter in enumerate(inputs, start=1):
        try:
            placed.append(place_address(letter.recipient_lines, env, font))
        except InvalidInputError as exc:
            raise InvalidInputError(f"Letter {number} of {len(inputs)}: {exc}") from None
    return placed


def build_letters(
    inputs: Sequence[LetterInput],
    settings: LetterSettings,
    clinic_settings: ClinicSettings,
    out: BinaryIO | Path,
) -> LetterBatch:
    """Lay out every letter into one PDF written to `out` (a Path is written atomically).

    Each letter starts on a new page, on an odd page when settings.blank_backs (duplex).
    Raises InvalidInputError (with the letter's number and the reason) when an address
    does not fit the envelope's window, before anything is written.
    """
    if not inputs:
        raise InvalidInputError("There are no letters to print.")
    font = fontreg.register()
    env = envelope(settings.envelope)
    addresses = _place_addresses(inputs, env, font)
    styles = _styles(font)
    head = prepare_letterhead(clinic_settings, env, settings.logo_png, settings.web)
    signature = picture(settings.signature_png, 144.0, 45.0, SIGNATURE_FORM)
    page_one = _PageOne(inputs, env, font, head, signature, addresses)
    run = PageRun(inputs, env, font, head.clinic_name, page_one)
    contents = (_content(letter, settings, signature, styles) for letter in inputs)
    return build_paged(run, contents, blank_backs=settings.blank_backs, title=PDF_TITLE, out=out)
