"""Personalised letters into one PDF: letterhead, window address, body, closing, page numbers.

One document for a whole batch, built in one pass of reportlab's platypus. What differs per
letter (address, date, continuation header, "Page 2 of 3") is drawn by two zero-size
markers in the story, one where a letter starts and one where it ends, and by the page-end
hook; the page count of a letter is only known when it ends, so each page refers to a PDF
form named for it and the form is written when the letter ends (PDF allows the forward
reference). No second layout pass, so a thousand letters cost one layout each.

Body text comes from the rule's letter template: paragraphs separated by blank lines,
`**bold**`, lines starting "- " as a bulleted list, lines indented by spaces kept together
as an indented block (the template's appointment details).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any, BinaryIO, Final

from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    ActionFlowable,
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
)

from app.clinic import ClinicSettings
from app.errors import InvalidInputError
from app.letters import fonts as fontreg
from app.letters.envelopes import Envelope, envelope
from app.letters.fonts import FontSet, text_width
from app.letters.layout import (
    INK,
    MUTED,
    RULE,
    PlacedAddress,
    draw_fold_marks,
    draw_placed_address,
    draw_return_line,
    pdf_properties,
    place_address,
    write_atomically,
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
from app.letters.settings import LetterSettings
from app.reminders import wording

PDF_TITLE: Final = "Letters"

_PAGE_OF: Final = {
    "en": "Page {n} of {total}",
    "es": "Página {n} de {total}",
    "de": "Seite {n} von {total}",
}
_PAGE_ONE_FORM: Final = "frontdesk-page-one"
_HEADER_ROOM: Final = 30.0  # points above page two's text for the continuation header
_FOOTER_ROOM: Final = 18.0


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


@dataclass(frozen=True)
class LetterBatch:
    """The built document: its page count and the page (1-based) each letter starts on."""

    pages: int
    first_page_of: list[int]


def check_recipient(lines: Sequence[str], envelope_key: str) -> None:
    """Raise InvalidInputError with the reason when this address cannot print in the
    window of the chosen envelope (the queue checks before a message waits for print)."""
    place_address(lines, envelope(envelope_key), fontreg.register())


def page_of(n: int, total: int, language: str) -> str:
    code = wording.base_language(language)
    return _PAGE_OF.get(code, _PAGE_OF["en"]).format(n=n, total=total)


# --- body text ------------------------------------------------------------------------

_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _markup(text: str) -> str:
    """Plain template text to reportlab's mini-markup: escaped, then **bold** as <b>."""
    return _BOLD.sub(r"<b>\1</b>", html.escape(text, quote=False))


@dataclass
class _Styles:
    subject: ParagraphStyle
    body: ParagraphStyle
    indented: ParagraphStyle
    bullet: ParagraphStyle
    bullet_last: ParagraphStyle
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
    bullet = ParagraphStyle(
        "letter-bullet",
        parent=body,
        spaceAfter=2,
        leftIndent=16,
        bulletIndent=4,
        bulletFontName=font.regular,
        bulletFontSize=9,
    )
    return _Styles(
        subject=ParagraphStyle(
            "letter-subject", parent=body, fontName=font.bold, fontSize=11, spaceAfter=12
        ),
        body=body,
        indented=ParagraphStyle("letter-indented", parent=body, leftIndent=24),
        bullet=bullet,
        bullet_last=ParagraphStyle("letter-bullet-last", parent=bullet, spaceAfter=7),
        closing=ParagraphStyle("letter-closing", parent=body, spaceAfter=2),
    )


def body_flowables(text: str, styles: _Styles, font: FontSet) -> list[Flowable]:
    """Blank lines part paragraphs; '- ' lines make a list; indented lines a block."""
    out: list[Flowable] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip("\n")):
        lines = [line.rstrip() for line in block.split("\n") if line.strip()]
        for kind, run in groupby(lines, key=_line_kind):
            group = list(run)
            if kind == "item":
                out += _bullets([line.lstrip()[2:].strip() for line in group], styles)
                continue
            style = styles.indented if kind == "indented" else styles.body
            out.append(Paragraph("<br/>".join(_markup(line.strip()) for line in group), style))
    return out


def _line_kind(line: str) -> str:
    if line.lstrip().startswith("- "):
        return "item"
    return "indented" if line[:1] in (" ", "\t") else "plain"


def _bullets(items: list[str], styles: _Styles) -> list[Flowable]:
    """One paragraph per item with a bullet: reportlab's ListFlowable does the same with a
    container per list, which costs a quarter of a large batch's layout time."""
    last = len(items) - 1
    return [
        Paragraph(_markup(item), styles.bullet_last if n == last else styles.bullet, bulletText="•")
        for n, item in enumerate(items)
    ]


# --- the build ------------------------------------------------------------------------


@dataclass
class _Run:
    """What the markers and page hooks share while one batch is laid out."""

    inputs: Sequence[LetterInput]
    envelope: Envelope
    font: FontSet
    head: Letterhead
    signature: Picture | None
    addresses: list[PlacedAddress]
    current: int = -1
    first_page_of: list[int] = field(default_factory=list)
    pages_of: list[list[int]] = field(default_factory=list)
    forms_ready: bool = False

    def begin(self, index: int, canvas: Canvas) -> None:
        env, font = self.envelope, self.font
        if not self.forms_ready:
            self._define_forms(canvas)
        self.current = index
        self.first_page_of.append(canvas.getPageNumber())
        self.pages_of.append([])
        canvas.doForm(_PAGE_ONE_FORM)
        draw_placed_address(canvas, self.addresses[index], font)
        draw_date(canvas, self.head, env, font, self.inputs[index].date_text)

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

    def end(self, canvas: Canvas) -> None:
        """Write the page-number forms of the letter that just ended."""
        letter = self.inputs[self.current]
        pages = self.pages_of[self.current] + [canvas.getPageNumber()]
        total = len(pages)
        for n, page in enumerate(pages, start=1):
            # The text is right-aligned at the form's origin: the box must reach left of it.
            canvas.beginForm(f"page-number-{page}", -400, -20, 20, 40)
            if total > 1:
                canvas.setFillColor(MUTED)
                canvas.setFont(self.font.regular, 8.5)
                canvas.drawRightString(0, 0, page_of(n, total, letter.language))
            canvas.endForm()
        self.pages_of[self.current].append(-1)  # the last page: counted, not yet ended
        self.current = -2  # letter ended; its last page still has to end

    def page_end(self, canvas: Canvas, _doc: BaseDocTemplate) -> None:
        index = self.current if self.current >= 0 else len(self.pages_of) - 1
        if index < 0 or self.current == -1:
            return  # a blank back between letters
        page = canvas.getPageNumber()
        pages = self.pages_of[index]
        if pages and pages[-1] == -1:
            pages[-1] = page
            self.current = -1
        else:
            pages.append(page)
        width, _height = self.envelope.page_size
        right = width - self.envelope.margins[1]
        canvas.saveState()
        canvas.translate(right, self.envelope.margins[3] - _FOOTER_ROOM + 4)
        canvas.doForm(f"page-number-{page}")
        canvas.restoreState()
        if pages.index(page) > 0:
            self._continuation_header(canvas, self.inputs[index])

    def _continuation_header(self, canvas: Canvas, letter: LetterInput) -> None:
        width, height = self.envelope.page_size
        left, right_margin, top, _bottom = self.envelope.margins
        name = " ".join(letter.recipient_lines[0].split()) if letter.recipient_lines else ""
        text = " · ".join(p for p in (self.head.clinic_name, name, letter.date_text) if p)
        room = width - left - right_margin
        size = 8.5
        while size > 5 and text_width(text, self.font.regular, size) > room:
            size -= 0.5
        y = height - top - 10
        canvas.saveState()
        canvas.setFillColor(MUTED)
        canvas.setFont(self.font.regular, size)
        canvas.drawString(left, y, text)
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(left, y - 5, width - right_margin, y - 5)
        canvas.restoreState()


class _Marker(Flowable):  # type: ignore[misc]  # reportlab has no type hints
    """A zero-size flowable that draws on the page in page coordinates when reached."""

    def __init__(self, action: Any) -> None:
        super().__init__()
        self.action = action

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        return 0, 0

    def drawOn(self, canvas: Canvas, x: float, y: float, _sW: float = 0) -> None:  # noqa: N802, N803
        self.action(canvas)

    def draw(self) -> None:  # drawOn does the work
        return


class _OddPage(ActionFlowable):  # type: ignore[misc]
    """After a page break: with blank backs, a letter may only start on an odd page, so an
    even one is left blank (its back is the previous letter's last sheet)."""

    def apply(self, doc: BaseDocTemplate) -> None:
        if doc.canv.getPageNumber() % 2 == 0:
            doc.handle_pageBreak()


class _Signature(Flowable):  # type: ignore[misc]
    def __init__(self, pic: Picture) -> None:
        super().__init__()
        self.pic = pic

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        return self.pic.width, self.pic.height + 2

    def draw(self) -> None:
        place_form(self.canv, self.pic, 0, 2)


def _closing(
    letter: LetterInput, settings: LetterSettings, run: _Run, styles: _Styles
) -> list[Flowable]:
    closing = letter.closing or settings.closing
    signer = letter.signer or settings.signer
    parts: list[Flowable] = []
    if closing:
        parts += [Spacer(1, 6), Paragraph(_markup(closing), styles.closing)]
    if run.signature is not None:
        parts.append(_Signature(run.signature))
    elif closing and signer:
        parts.append(Spacer(1, 18))  # room to sign by hand
    if signer:
        parts.append(Paragraph(_markup(signer), styles.closing))
    return [KeepTogether(parts)] if parts else []


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
    run = _Run(inputs, env, font, head, signature, addresses)

    story: list[Flowable] = []
    for index, letter in enumerate(inputs):
        if index:
            story += [NextPageTemplate("first"), PageBreak()]
            if settings.blank_backs:
                story.append(_OddPage())
        story.append(_Marker(lambda canvas, i=index: run.begin(i, canvas)))
        story.append(NextPageTemplate("later"))
        if letter.subject.strip():
            story.append(Paragraph(_markup(" ".join(letter.subject.split())), styles.subject))
        story += body_flowables(letter.body_text, styles, font)
        story += _closing(letter, settings, run, styles)
        story.append(_Marker(run.end))

    width, height = env.page_size
    left, right, top, bottom = env.margins
    frame_w = width - left - right
    bottom_y = bottom
    first = Frame(
        left,
        bottom_y,
        frame_w,
        height - env.body_top - bottom_y,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
        id="first",
    )
    later = Frame(
        left,
        bottom_y,
        frame_w,
        height - top - _HEADER_ROOM - bottom_y,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
        id="later",
    )

    def build(handle: Any) -> None:
        doc = BaseDocTemplate(
            handle,
            pagesize=env.page_size,
            pageTemplates=[
                PageTemplate(id="first", frames=[first], onPageEnd=run.page_end),
                PageTemplate(id="later", frames=[later], onPageEnd=run.page_end),
            ],
            **pdf_properties(PDF_TITLE),
        )
        doc.build(story)

    if isinstance(out, Path):
        write_atomically(out, build)
    else:
        build(out)
    pages = max((p for pages in run.pages_of for p in pages), default=0)
    return LetterBatch(pages=max(pages, run.first_page_of[-1]), first_page_of=run.first_page_of)
