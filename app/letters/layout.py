"""The shared page layout of every Frontdesk printout: styles, addresses, marks, safe writing.

Letters, postcards, labels, statements and the Emergency Kit all print through here, so a
name in Greek prints the same on each, an address never runs out of its window, and every
PDF is written whole or not at all with metadata that names no patient.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal, Protocol

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import getAscentDescent
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Flowable, Frame, PageTemplate

from app.errors import InvalidInputError
from app.letters import fonts as fontreg
from app.letters.envelopes import Envelope, Rect
from app.letters.fonts import FontSet, text_width

PageSize = Literal["letter", "a4"]

INK: Final = colors.HexColor("#1a1a1a")
MUTED: Final = colors.HexColor("#5f6368")
RULE: Final = colors.HexColor("#9aa0a6")

PDF_AUTHOR: Final = "Frontdesk"
"""PDF properties are shown by file managers and indexed by desktop search: they carry the
program's name and a generic title only, never a clinic's or a patient's."""

LEADING: Final = 1.2  # line height per point of type: DejaVu's ascent+descent is 1.164 em


# --- paper and styles -----------------------------------------------------------------


def page_dimensions(page_size: PageSize) -> tuple[float, float]:
    """Width and height in points; clinics in the US print on Letter, most others on A4."""
    sizes: dict[str, tuple[float, float]] = {"letter": LETTER, "a4": A4}
    try:
        return sizes[page_size]
    except KeyError:
        raise ValueError(f"Unknown page size {page_size!r}; use 'letter' or 'a4'.") from None


def text_styles(font: FontSet | None = None) -> dict[str, ParagraphStyle]:
    """The paragraph styles a Frontdesk printout uses, so every page looks related.

    A fresh dict each call: reportlab styles are mutable, and one document tweaking a style
    must not change the next. Builders that make many pages call this once per document.
    """
    f = font or fontreg.register()
    body = ParagraphStyle(
        "body", fontName=f.regular, fontSize=10, leading=13.5, textColor=INK, spaceAfter=4
    )
    return {
        "title": ParagraphStyle(
            "title", parent=body, fontName=f.bold, fontSize=22, leading=26, spaceAfter=4
        ),
        "lead": ParagraphStyle("lead", parent=body, fontSize=11, leading=15, textColor=MUTED),
        "heading": ParagraphStyle(
            "heading",
            parent=body,
            fontName=f.bold,
            fontSize=11.5,
            leading=15,
            spaceBefore=10,
            spaceAfter=3,
        ),
        "body": body,
        "label": ParagraphStyle("label", parent=body, fontSize=9, textColor=MUTED, spaceAfter=0),
        "value": ParagraphStyle("value", parent=body, fontName=f.bold, spaceAfter=0),
        "mono": ParagraphStyle(
            "mono", parent=body, fontName=fontreg.MONO, fontSize=9.5, leading=12
        ),
        "small": ParagraphStyle("small", parent=body, fontSize=8.5, leading=11, textColor=MUTED),
        "caption": ParagraphStyle(
            "caption", parent=body, fontSize=8.5, leading=11, textColor=MUTED, alignment=TA_CENTER
        ),
    }


def pdf_properties(title: str) -> dict[str, str]:
    """Keyword arguments for a reportlab document: generic words only (see PDF_AUTHOR)."""
    return {
        "title": title,
        "author": PDF_AUTHOR,
        "creator": PDF_AUTHOR,
        "subject": "",
        "keywords": "",
    }


# --- writing ----------------------------------------------------------------------------


def write_atomically(path: Path, write: Any) -> None:
    """Call `write(handle)` on a private temporary file beside `path`, then put it in place.

    The file is flushed to disk before `os.replace`, so a full disk or a crash leaves either
    the old file or the new one, never half a PDF that looks fine until it is needed. The
    temporary file is 0600 (mkstemp) because kits hold a secret and letters hold patient
    names; its name carries neither.
    """
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".frontdesk-", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)  # os.replace: atomic on POSIX and Windows, overwrites the target
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_to(out: BinaryIO | Path, write: Callable[[BinaryIO], None]) -> None:
    """Call `write(handle)` on an open binary file (a preview's buffer, a printer's stream)
    or, for a Path, through write_atomically: every builder saves the same safe way."""
    if isinstance(out, Path):
        write_atomically(out, write)
    else:
        write(out)


def write_pdf_atomically(
    path: Path,
    story: Sequence[Flowable],
    *,
    page_size: PageSize,
    title: str,
    footer: str = "",
    margin: float = 20 * mm,
) -> None:
    """Build a simple PDF from flowables into `path`, replacing it only once it is complete."""
    font = fontreg.register()
    width, height = page_dimensions(page_size)
    # No frame padding, so the content area is exactly the room the story gets and a table
    # sized to it lines up with the text above and below.
    frame = Frame(
        margin,
        margin,
        width - 2 * margin,
        height - 2 * margin,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
        id="body",
    )

    def draw_footer(canvas: Canvas, _doc: BaseDocTemplate) -> None:
        if not footer:
            return
        canvas.saveState()
        canvas.setFont(font.regular, 8)
        canvas.setFillColor(MUTED)
        canvas.drawString(margin, margin / 2, footer)
        canvas.restoreState()

    def write(handle: Any) -> None:
        doc = BaseDocTemplate(
            handle,
            pagesize=(width, height),
            pageTemplates=[PageTemplate(id="page", frames=[frame], onPage=draw_footer)],
            **pdf_properties(title),
        )
        doc.build(list(story))

    write_atomically(path, write)


def write_canvas(
    out: BinaryIO | Path,
    draw: Callable[[Canvas], None],
    *,
    page_size: tuple[float, float],
    title: str,
) -> None:
    """A PDF drawn straight on a reportlab canvas (no flowables: labels and cards are
    placed to the point), into an open binary file or atomically to a path, with the
    generic properties of every Frontdesk PDF."""

    def write(handle: BinaryIO) -> None:
        canvas = Canvas(handle, pagesize=page_size, pageCompression=1)
        props = pdf_properties(title)
        canvas.setTitle(props["title"])
        canvas.setAuthor(props["author"])
        canvas.setCreator(props["creator"])
        canvas.setSubject(props["subject"])
        canvas.setKeywords(props["keywords"])
        draw(canvas)
        canvas.save()

    write_to(out, write)


# --- addresses --------------------------------------------------------------------------


class AddressTooLongError(InvalidInputError):
    """The address has more lines than the envelope window can show, even in small type."""


@dataclass(frozen=True)
class FittedAddress:
    """The address lines as they will print (wrapped if needed) and the type that fits."""

    lines: tuple[str, ...]
    font_size: float
    leading: float

    @property
    def height(self) -> float:
        return len(self.lines) * self.leading


@dataclass(frozen=True)
class PlacedLine:
    text: str
    x: float
    baseline: float
    width: float


@dataclass(frozen=True)
class PlacedAddress:
    """Where each line was drawn, so callers and tests can check it against the window."""

    fitted: FittedAddress
    lines: tuple[PlacedLine, ...]


_READABLE: Final = 9.0  # below this, wrapping a long line beats shrinking it further
_STEP: Final = 0.5


def _sizes(largest: float, smallest: float) -> list[float]:
    sizes: list[float] = []
    size = largest
    while size >= smallest - 1e-9:
        sizes.append(round(size, 2))
        size -= _STEP
    return sizes


def _fits(lines: Sequence[str], box: Rect, font: str, size: float) -> bool:
    if len(lines) * size * LEADING > box.h + 1e-6:
        return False
    return all(text_width(line, font, size) <= box.w + 1e-6 for line in lines)


def wrap_line(text: str, font: str, size: float, width: float) -> list[str]:
    """Break `text` at spaces to fit `width`; a single word wider than that is broken
    between letters, so nothing is ever lost off the edge."""
    out: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if text_width(candidate, font, size) <= width:
            current = candidate
            continue
        if current:
            out.append(current)
        current = ""
        while text_width(word, font, size) > width:
            cut = len(word) - 1
            while cut > 1 and text_width(word[:cut], font, size) > width:
                cut -= 1
            out.append(word[:cut])
            word = word[cut:]
        current = word
    if current:
        out.append(current)
    return out or [""]


def fit_address(
    lines: Sequence[str],
    box: Rect,
    font: FontSet,
    *,
    max_size: float = 11,
    min_size: float = 7,
) -> FittedAddress:
    """The largest type in which every line fits `box` whole: shrink, then wrap.

    First the lines as they are, from `max_size` down to a readable size (a postal line
    kept whole is easier for sorting machines than a wrapped one); then wrapped at spaces
    from `max_size` down to `min_size`. When even that is too tall the address is refused
    (AddressTooLongError): a line cut off or printed over the window's edge may send the
    letter astray.
    """
    clean = [" ".join(line.split()) for line in lines if line.strip()]
    if not clean:
        raise InvalidInputError("There is no address to print.")
    for size in _sizes(max_size, max(min_size, _READABLE)):
        if _fits(clean, box, font.regular, size):
            return FittedAddress(tuple(clean), size, size * LEADING)
    for size in _sizes(max_size, min_size):
        wrapped = [part for line in clean for part in wrap_line(line, font.regular, size, box.w)]
        if _fits(wrapped, box, font.regular, size):
            return FittedAddress(tuple(wrapped), size, size * LEADING)
    raise AddressTooLongError(
        "This address has too many lines to show in the envelope window. "
        "Shorten it on the patient's record, or print a label instead."
    )


def place_address(
    lines: Sequence[str], envelope: Envelope, font: FontSet, *, max_size: float = 11
) -> PlacedAddress:
    """Fit the address into the envelope's address box and work out each line's position.

    The first line starts at the envelope's preferred top (DIN's address zone) and moves up
    only as far as a long address needs, never out of the box.
    """
    box = envelope.address_box
    fitted = fit_address(lines, box, font, max_size=max_size)
    top = max(min(envelope.preferred_top, box.top), box.y + fitted.height)
    ascent, _descent = getAscentDescent(font.regular, fitted.font_size)
    placed = tuple(
        PlacedLine(
            text=line,
            x=box.x,
            baseline=top - i * fitted.leading - ascent,
            width=text_width(line, font.regular, fitted.font_size),
        )
        for i, line in enumerate(fitted.lines)
    )
    return PlacedAddress(fitted, placed)


def draw_address(
    canvas: Canvas, lines: Sequence[str], envelope: Envelope, font: FontSet
) -> PlacedAddress:
    """Print the recipient's address in the window (no bold, no blank line: DIN 5008 and
    USPS both ask for a plain block)."""
    placed = place_address(lines, envelope, font)
    draw_placed_address(canvas, placed, font)
    return placed


def draw_placed_address(canvas: Canvas, placed: PlacedAddress, font: FontSet) -> None:
    """Print an address fitted earlier (a batch fits all first, to refuse a bad one whole)."""
    canvas.saveState()
    canvas.setFillColor(INK)
    canvas.setFont(font.regular, placed.fitted.font_size)
    for line in placed.lines:
        canvas.drawString(line.x, line.baseline, line.text)
    canvas.restoreState()


def draw_return_line(canvas: Canvas, text: str, envelope: Envelope, font: FontSet) -> None:
    """The sender's one-line return address in the top 5 mm of a DIN address field,
    shrunk to fit its width (DIN 5008 asks for small type there)."""
    zone = envelope.return_line
    clean = " ".join(text.split())
    if zone is None or not clean:
        return
    width = zone.w - envelope.indent - envelope.margin
    size = 7.0
    while size > 4 and text_width(clean, font.regular, size) > width:
        size -= 0.25
    while text_width(clean, font.regular, size) > width and len(clean) > 1:
        clean = clean[:-2] + "…"  # the return line is the clinic's, never a patient's
    canvas.saveState()
    canvas.setFillColor(MUTED)
    canvas.setFont(font.regular, size)
    canvas.drawString(zone.x + envelope.indent + envelope.margin, zone.y + 1.5, clean)
    canvas.restoreState()


def draw_fold_marks(canvas: Canvas, envelope: Envelope) -> None:
    """Short lines at the left edge where the sheet is folded (and punched) for the
    envelope; DIN 5008 draws them 5 mm long (hole mark a little longer)."""
    if not envelope.fold_marks and envelope.hole_mark is None:
        return
    height = envelope.page_size[1]
    canvas.saveState()
    canvas.setStrokeColor(RULE)
    canvas.setLineWidth(0.5)
    for mark in envelope.fold_marks:
        canvas.line(3 * mm, height - mark, 8 * mm, height - mark)
    if envelope.hole_mark is not None:
        canvas.line(3 * mm, height - envelope.hole_mark, 10 * mm, height - envelope.hole_mark)
    canvas.restoreState()


# --- address lines from the record ------------------------------------------------------


class AddressParts(Protocol):
    """A row of the `address` table (app.patients.model.Address has these attributes)."""

    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str


# Countries that write the postal code before the town ("10115 Berlin"). Anything not
# listed is written the US way ("Springfield IL 62701"); GB and IE put it on a line of its own.
_POSTAL_FIRST: Final = frozenset(
    {
        "DE",
        "AT",
        "CH",
        "LI",
        "LU",
        "FR",
        "MC",
        "BE",
        "NL",
        "DK",
        "NO",
        "SE",
        "FI",
        "IS",
        "ES",
        "PT",
        "IT",
        "SM",
        "VA",
        "GR",
        "CY",
        "PL",
        "CZ",
        "SK",
        "HU",
        "SI",
        "HR",
        "RS",
        "BA",
        "ME",
        "MK",
        "AL",
        "BG",
        "RO",
        "RU",
        "UA",
        "BY",
        "MD",
        "EE",
        "LV",
        "LT",
        "TR",
        "IL",
    }
)
_POSTAL_OWN_LINE: Final = frozenset({"GB", "IE"})

COUNTRY_NAMES: Final = {
    "US": "UNITED STATES",
    "CA": "CANADA",
    "MX": "MEXICO",
    "GB": "UNITED KINGDOM",
    "IE": "IRELAND",
    "DE": "GERMANY",
    "AT": "AUSTRIA",
    "CH": "SWITZERLAND",
    "FR": "FRANCE",
    "ES": "SPAIN",
    "IT": "ITALY",
    "NL": "NETHERLANDS",
    "BE": "BELGIUM",
    "PL": "POLAND",
    "GR": "GREECE",
    "RU": "RUSSIA",
    "UA": "UKRAINE",
    "PT": "PORTUGAL",
}
"""The last line of a letter abroad is the country in capitals (UPU); a code not listed
prints as stored."""


def _part(address: AddressParts | Mapping[str, Any], name: str) -> str:
    value = address.get(name) if isinstance(address, Mapping) else getattr(address, name, "")
    return " ".join(str(value or "").split())


def address_lines(
    address: AddressParts | Mapping[str, Any], name: str, country_of_clinic: str
) -> list[str]:
    """The address block as it prints: name, street lines, town line, country if abroad.

    A missing postal code or city simply leaves it out (the desk may still mail to a small
    town); empty lines never print, because a blank line in a window address confuses
    sorting machines.
    """
    home = country_of_clinic.strip().upper()
    country = _part(address, "country").upper() or home
    city, region, postal = (_part(address, k) for k in ("city", "region", "postal_code"))
    lines = [" ".join(name.split()), _part(address, "line1"), _part(address, "line2")]
    if country in _POSTAL_FIRST:
        lines.append(" ".join(p for p in (postal, city or region) if p))
    elif country in _POSTAL_OWN_LINE:
        lines += [" ".join(p for p in (city, region) if p), postal]
    else:
        lines.append(" ".join(p for p in (city, region, postal) if p))
    if country != home:
        lines.append(COUNTRY_NAMES.get(country, country))
    return [line for line in lines if line]


def lines_from_postal_line(recipient: str) -> list[str]:
    """The outbox's one-line recipient ("Name, street, town") back as lines: the fallback
    when the address row has gone since the message was planned."""
    return [part.strip() for part in recipient.split(",") if part.strip()]
