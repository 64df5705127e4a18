"""The clinic's letterhead: logo, name, address, phone and web, drawn the same on every letter.

Prepared once per batch (the logo decoded once, its scaled size worked out once) and drawn
from a PDF form, so 1,000 letters embed and hash the image once rather than 1,000 times.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from typing import Final

from PIL import UnidentifiedImageError
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from app.clinic import ClinicSettings
from app.letters.envelopes import Envelope, Rect
from app.letters.fonts import FontSet, text_width
from app.letters.layout import INK, MUTED, RULE
from app.patients.validation import display_phone
from app.reminders import wording

LOGO_FORM: Final = "frontdesk-logo"
SIGNATURE_FORM: Final = "frontdesk-signature"
_GAP: Final = 10.0

_MONTHS_DE: Final = (
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
)


def letter_date(day: date, language: str, *, day_first: bool = False) -> str:
    """The date line in the letter's language, never the workstation's locale:
    'March 10, 2026' ('10 March 2026' for a clinic that writes the day first),
    '10 de marzo de 2026', '10. März 2026'."""
    code = wording.base_language(language)
    if code == "de":
        return f"{day.day}. {_MONTHS_DE[day.month - 1]} {day.year}"
    if code == "es":
        return f"{wording.month_day(day, 'es')} de {day.year}"
    if day_first:
        month, number = wording.month_day(day, "en").split(" ")
        return f"{number} {month} {day.year}"
    return f"{wording.month_day(day, 'en')}, {day.year}"


@dataclass(frozen=True)
class Picture:
    """An image decoded once, with the size it prints at inside its box."""

    reader: ImageReader
    width: float
    height: float
    form: str


def picture(data: bytes | None, box_w: float, box_h: float, form: str) -> Picture | None:
    """Scale the image into the box keeping its proportions; a picture that cannot be read
    (stored by an older version, damaged) prints no picture rather than no letters."""
    if not data:
        return None
    try:
        reader = ImageReader(io.BytesIO(data))
        px_w, px_h = reader.getSize()
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    if px_w <= 0 or px_h <= 0:
        return None
    scale = min(box_w / px_w, box_h / px_h)
    return Picture(reader, px_w * scale, px_h * scale, form)


def define_form(canvas: Canvas, pic: Picture) -> None:
    """Draw the picture once into a named form that every page then places with doForm."""
    canvas.beginForm(pic.form, 0, 0, pic.width, pic.height)
    canvas.drawImage(pic.reader, 0, 0, pic.width, pic.height, mask="auto")
    canvas.endForm()


def place_form(canvas: Canvas, pic: Picture, x: float, y: float) -> None:
    canvas.saveState()
    canvas.translate(x, y)
    canvas.doForm(pic.form)
    canvas.restoreState()


@dataclass(frozen=True)
class Letterhead:
    """What the top of page one shows, prepared once per batch."""

    clinic_name: str
    address_lines: tuple[str, ...]
    phone: str
    web: str
    logo: Picture | None
    area: Rect  # where the letterhead goes, above the window

    @property
    def return_line(self) -> str:
        """DIN 5008's one-line sender above the recipient: name · street · town."""
        return " · ".join(p for p in (self.clinic_name, *self.address_lines) if p)

    @property
    def contact_lines(self) -> tuple[str, ...]:
        lines = list(self.address_lines)
        if self.phone:
            lines.append(self.phone)
        if self.web:
            lines.append(self.web)
        return tuple(lines)


def prepare_letterhead(
    clinic: ClinicSettings, envelope: Envelope, logo: bytes | None, web: str
) -> Letterhead:
    width, height = envelope.page_size
    left, right, _top, _bottom = envelope.margins
    top = height - 0.4 * 72
    bottom = height - envelope.letterhead_bottom + 4
    area = Rect(left, bottom, width - left - right, top - bottom)
    pic = picture(logo, area.w * 0.4, min(area.h, 72.0), LOGO_FORM)
    lines = tuple(" ".join(line.split()) for line in clinic.address.splitlines() if line.strip())
    return Letterhead(
        clinic_name=clinic.name,
        address_lines=lines,
        phone=display_phone(clinic.phone, clinic.region) if clinic.phone else "",
        web=" ".join(web.split()),
        logo=pic,
        area=area,
    )


def _shrunk(text: str, font: str, size: float, width: float) -> float:
    """The size at which `text` fits `width` (down to 5 pt): a long clinic name shrinks
    rather than running off the page."""
    while size > 5 and text_width(text, font, size) > width:
        size -= 0.5
    return size


def draw_letterhead(canvas: Canvas, head: Letterhead, envelope: Envelope, font: FontSet) -> None:
    """Logo on the left, name and contact lines right-aligned; on DIN letters the contact
    lines go to the information block beside the address field instead (see draw_info)."""
    area = head.area
    canvas.saveState()
    text_left = area.x
    if head.logo is not None:
        place_form(canvas, head.logo, area.x, area.top - head.logo.height)
        text_left = area.x + head.logo.width + _GAP
    right = area.right
    room = right - text_left
    lines = () if envelope.return_line is not None else head.contact_lines
    name_size = _shrunk(head.clinic_name, font.bold, 13, room)
    small = 8.5
    needed = name_size * 1.25 + len(lines) * small * 1.25
    if needed > area.h:  # many address lines: make them fit the area
        small = max(5.0, (area.h - name_size * 1.25) / max(1, len(lines)) / 1.25)
    y = area.top - name_size
    canvas.setFillColor(INK)
    canvas.setFont(font.bold, name_size)
    canvas.drawRightString(right, y, head.clinic_name)
    canvas.setFillColor(MUTED)
    for line in lines:
        y -= small * 1.25
        size = _shrunk(line, font.regular, small, room)
        canvas.setFont(font.regular, size)
        canvas.drawRightString(right, y, line)
    canvas.setStrokeColor(RULE)
    canvas.setLineWidth(0.5)
    canvas.line(area.x, area.y - 2, area.right, area.y - 2)
    canvas.restoreState()


def draw_info(
    canvas: Canvas, head: Letterhead, envelope: Envelope, font: FontSet, date_text: str
) -> None:
    """The date beside the window: US letters right-aligned level with the window's top;
    DIN letters in the information block at 125 mm, below the clinic's contact lines."""
    draw_info_lines(canvas, head, envelope, font)
    draw_date(canvas, head, envelope, font, date_text)


_DIN_INFO_X: Final = 125 / 25.4 * 72
_INFO_LINE: Final = 8.5 * 1.25


def draw_info_lines(canvas: Canvas, head: Letterhead, envelope: Envelope, font: FontSet) -> None:
    """DIN's information block: the clinic's contact lines at 125 mm beside the address
    field (the same on every letter, so builders may draw it once into a form)."""
    if envelope.return_line is None:
        return
    right = envelope.page_size[0] - envelope.margins[1]
    room = right - _DIN_INFO_X
    y = envelope.window.top - 5 / 25.4 * 72
    canvas.saveState()
    canvas.setFillColor(MUTED)
    for line in head.contact_lines:
        size = _shrunk(line, font.regular, 8.5, room)
        canvas.setFont(font.regular, size)
        y -= _INFO_LINE
        canvas.drawString(_DIN_INFO_X, y, line)
    canvas.restoreState()


def draw_date(
    canvas: Canvas, head: Letterhead, envelope: Envelope, font: FontSet, date_text: str
) -> None:
    """The letter's date: beside the US window, or under DIN's information block."""
    right = envelope.page_size[0] - envelope.margins[1]
    canvas.saveState()
    canvas.setFillColor(INK)
    if envelope.return_line is None:
        canvas.setFont(font.regular, 10)
        canvas.drawRightString(right, envelope.window.top - 10, date_text)
    else:
        room = right - _DIN_INFO_X
        y = envelope.window.top - 5 / 25.4 * 72 - _INFO_LINE * (len(head.contact_lines) + 2)
        canvas.setFont(font.regular, _shrunk(date_text, font.regular, 10, room))
        canvas.drawString(_DIN_INFO_X, y, date_text)
    canvas.restoreState()
