"""Recall postcards, 4x6 in (US) and A6: an address side the post can sort, a message side.

A postcard has no envelope to forgive a careless layout: the sorting machine reads the
address side directly, so every zone the post office keeps for itself stays empty.
"""

# Address side, US 4 x 6 in card (USPS Publication 28, appendix A1; DMM 202):
#   * the delivery address lies in the OCR read area: 5/8 in to 2-3/4 in from the bottom
#     edge, 1/2 in from the left and right edges; on a card, in its right half;
#   * the barcode clear zone, 5/8 in high along the bottom and 4-3/4 in from the right
#     edge, holds nothing: the post prints its barcode there;
#   * postage goes top right (a stamp is about 7/8 x 1 in), above the read area;
#   * the return address top left; type at least 8 points.
# Address side, A6 card (148 x 105 mm; Deutsche Post, "Automationsfähige Briefsendungen"):
#   * the stamp zone (Frankierzone) is the top 40 mm of the right half, 74 mm wide;
#   * the address goes in the right half below it, clear of the coding zone (Codierzone),
#     the bottom 15 mm, where the sorting centre prints its barcode;
#   * the return address top left; type 8 to 12 points, regular weight.
# The message side holds the clinic's name and the message, shrunk a little to fit; a
# message that does not fit even then is refused with how much to cut, because a postcard
# that loses its last sentence ("call us at ...") is worse than no postcard.

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final, Protocol

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch, mm
from reportlab.pdfbase.pdfmetrics import getAscentDescent
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Frame

from app.errors import InvalidInputError
from app.letters import fonts
from app.letters.body_text import BodyStyles, body_flowables
from app.letters.envelopes import Rect
from app.letters.labels import INK_ASCENT
from app.letters.layout import (
    INK,
    MUTED,
    RULE,
    AddressTooLongError,
    fit_address,
    write_canvas,
)

PDF_TITLE: Final = "Postcards"


class PostcardOverflowError(InvalidInputError):
    """The message does not fit on the card; the text says by about how much."""


@dataclass(frozen=True)
class PostcardFormat:
    """One card size: the zones of its address side and the room of its message side."""

    key: str
    label: str
    page_size: tuple[float, float]  # landscape: width, height
    address_area: Rect  # where the recipient's address must lie
    postage_box: Rect  # where the stamp goes: nothing else prints there
    clear_zone: Rect  # the post's barcode strip: nothing prints there
    return_box: Rect  # the clinic's return address
    message_box: Rect  # the message side's text area (below the clinic's name)
    header_top: float  # baseline area of the clinic's name on the message side
    min_address_font: float
    max_address_font: float


def _us_4x6() -> PostcardFormat:
    w, h = 6 * inch, 4 * inch
    stamp = Rect(w - 0.25 * inch - 0.875 * inch, h - 0.25 * inch - 1.0 * inch, 0.875 * inch, inch)
    return PostcardFormat(
        key="4x6",
        label="Postcard 4 × 6 in",
        page_size=(w, h),
        # right half of the OCR read area, and below the stamp with 1/8 in to spare
        address_area=Rect(3.0 * inch, 0.625 * inch, 2.5 * inch, 2.0 * inch),
        postage_box=stamp,
        clear_zone=Rect(w - 4.75 * inch, 0, 4.75 * inch, 0.625 * inch),
        return_box=Rect(0.3 * inch, h - 0.3 * inch - 1.1 * inch, 2.45 * inch, 1.1 * inch),
        message_box=Rect(0.35 * inch, 0.3 * inch, w - 0.7 * inch, h - 0.3 * inch - 0.8 * inch),
        header_top=h - 0.3 * inch,
        min_address_font=8,  # DMM 202.1.3: at least 8-point type
        max_address_font=11,
    )


def _a6() -> PostcardFormat:
    w, h = 148 * mm, 105 * mm
    return PostcardFormat(
        key="a6",
        label="Postcard A6 (148 × 105 mm)",
        page_size=(w, h),
        address_area=Rect(79 * mm, 17 * mm, 59 * mm, 45 * mm),
        postage_box=Rect(w - 5 * mm - 24 * mm, h - 5 * mm - 28 * mm, 24 * mm, 28 * mm),
        clear_zone=Rect(74 * mm, 0, 74 * mm, 15 * mm),
        return_box=Rect(7 * mm, h - 7 * mm - 27 * mm, 62 * mm, 27 * mm),
        message_box=Rect(9 * mm, 8 * mm, w - 18 * mm, h - 8 * mm - 20 * mm),
        header_top=h - 8 * mm,
        min_address_font=8,
        max_address_font=11,
    )


FORMATS: Final[dict[str, PostcardFormat]] = {"4x6": _us_4x6(), "a6": _a6()}

# The message shrinks from the first size to the last before it is refused: below 8 points
# a card is hard to read for the older patients recall cards mostly go to.
_MESSAGE_SIZES: Final = (10.0, 9.5, 9.0, 8.5, 8.0)


class PostcardText(Protocol):
    """What a card needs of a letter input (app.letters.letter.LetterInput has it)."""

    @property
    def recipient_lines(self) -> Sequence[str]: ...

    @property
    def body_text(self) -> str: ...


@dataclass(frozen=True)
class PostcardBatch:
    pages: int
    first_page_of: list[int]  # the page (1-based) of each card's address side


def postcard_format(size: str) -> PostcardFormat:
    try:
        return FORMATS[size.lower()]
    except KeyError:
        raise InvalidInputError("Choose a postcard size: 4 × 6 in or A6.") from None


# --- the message ------------------------------------------------------------------------


def _styles(size: float, face: fonts.FontSet) -> BodyStyles:
    body = ParagraphStyle(
        "card",
        fontName=face.regular,
        fontSize=size,
        leading=round(size * 1.3, 2),
        textColor=INK,
        spaceAfter=size * 0.5,
    )
    return BodyStyles.from_body(
        body, block_indent=12, list_indent=12, bullet_indent=0, bullet_size=size, item_space=1
    )


def _height(story: Sequence[Flowable], width: float, room: float) -> float:
    """The height the story takes in a frame `width` wide, spaces between flowables included
    (a frame drops the space before the first and after the last)."""
    # Some flowables measure on a canvas (wrapOn sets it); a throw-away one in memory serves.
    scratch = Canvas(io.BytesIO())
    total = 0.0
    for i, flowable in enumerate(story):
        _w, h = flowable.wrapOn(scratch, width, room)
        total += h
        if i:
            total += flowable.getSpaceBefore()
        if i < len(story) - 1:
            total += flowable.getSpaceAfter()
    return total


@dataclass(frozen=True)
class _Fit:
    size: float
    story: list[Flowable]


def _fit_message(text: str, fmt: PostcardFormat, face: fonts.FontSet) -> _Fit:
    """The largest of _MESSAGE_SIZES at which the whole message fits the message box."""
    box = fmt.message_box
    needed = 0.0
    for size in _MESSAGE_SIZES:
        story = body_flowables(text, _styles(size, face))
        needed = _height(story, box.w, box.h)
        if needed <= box.h:
            return _Fit(size, story)
    words = len(text.split())
    # Height grows about linearly with the words, so cutting the same share of words as
    # the share of height too much gets it in; rounded up to a friendly 5.
    cut = max(5, math.ceil(words * (1 - box.h / needed) / 5) * 5)
    raise PostcardOverflowError(
        f"This message is too long for a postcard: shorten it by about {cut} words "
        "or send it as a letter."
    )


def check_postcard(text: str, size: str = "4x6") -> None:
    """Raise PostcardOverflowError (with the reason) when the message does not fit the
    card's message side; the preview calls this before anything is queued."""
    if not text.strip():
        raise InvalidInputError("The postcard has no message.")
    _fit_message(text, postcard_format(size), fonts.register())


# --- drawing ----------------------------------------------------------------------------


def _clinic_lines(clinic_settings: Any) -> list[str]:
    name = str(getattr(clinic_settings, "name", "") or "")
    address = str(getattr(clinic_settings, "address", "") or "")
    return [line for line in [name, *address.splitlines()] if line.strip()]


def _draw_block(
    canvas: Canvas,
    lines: Sequence[str],
    box: Rect,
    face: fonts.FontSet,
    *,
    max_size: float,
    min_size: float,
    top_aligned: bool,
    first_bold: bool = False,
) -> None:
    fitted = fit_address(lines, box, face, max_size=max_size, min_size=min_size)
    top = box.top if top_aligned else box.y + (box.h + fitted.height) / 2
    baseline = top - INK_ASCENT * fitted.font_size
    for i, line in enumerate(fitted.lines):
        bold = (
            first_bold and i == 0 and fonts.text_width(line, face.bold, fitted.font_size) <= box.w
        )
        canvas.setFont(face.bold if bold else face.regular, fitted.font_size)
        canvas.drawString(box.x, baseline, line)
        baseline -= fitted.leading


def _address_side(
    canvas: Canvas,
    number: int,
    recipient: Sequence[str],
    clinic: Sequence[str],
    fmt: PostcardFormat,
    face: fonts.FontSet,
) -> None:
    canvas.saveState()
    canvas.setFillColor(INK)
    if clinic:
        _draw_block(
            canvas,
            clinic,
            fmt.return_box,
            face,
            max_size=8.5,
            min_size=6,
            top_aligned=True,
            first_bold=True,
        )
    # The stamp box: a light dashed outline that shows where the stamp goes.
    stamp = fmt.postage_box
    canvas.setStrokeColor(RULE)
    canvas.setLineWidth(0.5)
    canvas.setDash(2, 2)
    canvas.rect(stamp.x, stamp.y, stamp.w, stamp.h)
    canvas.setDash()
    canvas.setFillColor(MUTED)
    canvas.setFont(face.regular, 6)
    canvas.drawCentredString(stamp.x + stamp.w / 2, stamp.y + stamp.h / 2 - 2, "Postage")
    canvas.setFillColor(INK)
    try:
        _draw_block(
            canvas,
            recipient,
            fmt.address_area,
            face,
            max_size=fmt.max_address_font,
            min_size=fmt.min_address_font,
            top_aligned=False,
        )
    except AddressTooLongError:
        raise InvalidInputError(
            f"Postcard {number}: the address has too many lines for a postcard; "
            "shorten it on the patient's record or send a letter."
        ) from None
    canvas.restoreState()


def _message_side(
    canvas: Canvas, name: str, fit: _Fit, fmt: PostcardFormat, face: fonts.FontSet
) -> None:
    box = fmt.message_box
    canvas.saveState()
    if name:
        size = 13.0
        while size > 8 and fonts.text_width(name, face.bold, size) > box.w:
            size -= 0.5
        ascent, _d = getAscentDescent(face.bold, size)
        baseline = fmt.header_top - ascent
        canvas.setFillColor(INK)
        canvas.setFont(face.bold, size)
        canvas.drawString(box.x, baseline, name if size > 8 else _clip(name, face, box.w))
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.6)
        rule_y = (baseline + box.top) / 2 - 2
        canvas.line(box.x, rule_y, box.right, rule_y)
    frame = Frame(box.x, box.y, box.w, box.h, 0, 0, 0, 0, showBoundary=0)
    story = list(fit.story)
    frame.addFromList(story, canvas)
    if story:  # _fit_message measured it to fit; a leftover would be a layout bug
        raise RuntimeError("postcard message overflowed its measured frame")
    canvas.restoreState()


def _clip(text: str, face: fonts.FontSet, width: float) -> str:
    while text and fonts.text_width(text + "…", face.bold, 8) > width:
        text = text[:-1]
    return text + "…"


def build_postcards(
    inputs: Sequence[PostcardText],
    settings: Any,
    clinic_settings: Any,
    size: str = "4x6",
    out: BinaryIO | Path | None = None,
) -> PostcardBatch:
    """One PDF with two pages per card: the address side, then the message side (print
    duplex, flip on the short edge for landscape cards). A message that does not fit
    refuses the whole batch with the reason, before anything is written."""
    del settings  # the card prints no logo or signature: the space is the message's
    if out is None:
        raise ValueError("build_postcards needs `out`: a path or a binary file")
    if not inputs:
        raise InvalidInputError("There are no postcards to print.")
    fmt = postcard_format(size)
    face = fonts.register()
    fits: list[_Fit] = []
    for number, card in enumerate(inputs, start=1):
        if not card.body_text.strip():
            raise InvalidInputError(f"Postcard {number} has no message.")
        try:
            fits.append(_fit_message(card.body_text, fmt, face))
        except PostcardOverflowError as error:
            raise PostcardOverflowError(f"Postcard {number}: {error}") from None
    clinic = _clinic_lines(clinic_settings)
    name = clinic[0] if clinic else ""

    def draw(canvas: Canvas) -> None:
        for number, (card, fit) in enumerate(zip(inputs, fits, strict=True), start=1):
            _address_side(canvas, number, list(card.recipient_lines), clinic, fmt, face)
            canvas.showPage()
            _message_side(canvas, name, fit, fmt, face)
            canvas.showPage()

    write_canvas(out, draw, page_size=fmt.page_size, title=PDF_TITLE)
    return PostcardBatch(
        pages=2 * len(inputs), first_page_of=[2 * i + 1 for i in range(len(inputs))]
    )
