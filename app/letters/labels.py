"""Mailing labels on Avery 5160 (US Letter) and L7163 (A4) sheets, from any start position.

A label sheet is expensive and a batch of twelve leaves eighteen labels unused: the start
position lets the desk feed the same sheet again and begin on the first free label
(numbered across, then down, as on the sheet's packaging and in word processors).
"""

# Sheet geometry (all from the top-left corner of the page, as the makers publish it):
#
# Avery 5160 (US Letter, 8.5 x 11 in): 3 columns x 10 rows of 2-5/8 x 1 in labels; top
# margin 1/2 in, side margin 3/16 in, horizontal pitch 2-3/4 in (1/8 in gap), vertical
# pitch 1 in. Source: Avery's template specification for 5160 as tabulated in the
# "Avery label sheets" dimensions CSV (gist.github.com/armadsen/5084458: top 0.5, left
# 0.188, gutter 0.125) and gLabels' avery-us-templates.xml (which rounds the side margin
# to 5/32 in with a 2-25/32 in pitch; both put the columns inside 1/32 in of each other,
# the 3/16 in figure is Avery's own and adds up to the page: 2 x 3/16 + 3 x 2-5/8 +
# 2 x 1/8 = 8.5 in).
#
# Avery/Zweckform L7163 (A4, 210 x 297 mm): 2 columns x 7 rows of 99.1 x 38.1 mm labels;
# top margin 15.1 mm, side margin 4.65 mm, horizontal pitch 101.6 mm (2.5 mm gap),
# vertical pitch 38.1 mm (no gap). Source: Avery UK's L7163 template data (as used by the
# label presets of several open tools found by search; they add up to A4: 2 x 4.65 +
# 101.6 + 99.1 = 210 mm, 15.1 + 7 x 38.1 + 15.2 = 297 mm). gLabels' avery-iso-templates.xml
# has the same label size with a 3.4 mm side margin; the printed address keeps a 4 mm
# safe margin inside the label, which absorbs that difference.
#
# Printers feed paper up to about 1 mm off, and label corners are rounded: text keeps a
# safe inner margin so a shifted sheet still prints every line on its own label.

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.units import inch, mm
from reportlab.pdfgen.canvas import Canvas

from app.errors import InvalidInputError
from app.letters import fonts
from app.letters.envelopes import Rect
from app.letters.layout import RULE, AddressTooLongError, fit_address, write_canvas


@dataclass(frozen=True)
class LabelSheet:
    """One kind of label sheet: where each label sits and the safe margin inside it."""

    key: str
    label: str
    page_size: tuple[float, float]
    columns: int
    rows: int
    label_width: float
    label_height: float
    left: float  # page's left edge to the first column's left edge
    top: float  # page's top edge to the first row's top edge
    h_pitch: float  # left edge of one column to the left edge of the next
    v_pitch: float  # top edge of one row to the top edge of the next
    pad_x: float  # safe margin inside the label, left and right
    pad_y: float  # and top and bottom
    max_font: float
    min_font: float

    @property
    def per_sheet(self) -> int:
        return self.columns * self.rows

    def label_rect(self, position: int) -> Rect:
        """The label at a 1-based position on the sheet (across, then down), in points from
        the bottom-left of the page, as reportlab draws."""
        if not 1 <= position <= self.per_sheet:
            raise ValueError(f"position {position} is not on a {self.per_sheet}-label sheet")
        row, column = divmod(position - 1, self.columns)
        x = self.left + column * self.h_pitch
        top = self.page_size[1] - self.top - row * self.v_pitch
        return Rect(x, top - self.label_height, self.label_width, self.label_height)

    def text_box(self, position: int) -> Rect:
        """Where the address may print inside the label: the label less the safe margin."""
        r = self.label_rect(position)
        return Rect(r.x + self.pad_x, r.y + self.pad_y, r.w - 2 * self.pad_x, r.h - 2 * self.pad_y)


SHEETS: Final[dict[str, LabelSheet]] = {
    "5160": LabelSheet(
        key="5160",
        label="Avery 5160 (Letter, 30 labels)",
        page_size=LETTER,
        columns=3,
        rows=10,
        label_width=2.625 * inch,
        label_height=1 * inch,
        left=0.1875 * inch,
        top=0.5 * inch,
        h_pitch=2.75 * inch,
        v_pitch=1 * inch,
        pad_x=0.125 * inch,
        pad_y=0.08 * inch,
        max_font=11,
        min_font=7,
    ),
    "l7163": LabelSheet(
        key="l7163",
        label="Avery L7163 (A4, 14 labels)",
        page_size=A4,
        columns=2,
        rows=7,
        label_width=99.1 * mm,
        label_height=38.1 * mm,
        left=4.65 * mm,
        top=15.1 * mm,
        h_pitch=101.6 * mm,
        v_pitch=38.1 * mm,
        pad_x=5 * mm,
        pad_y=3 * mm,
        max_font=12,
        min_font=7,
    ),
}

PDF_TITLE: Final = "Mailing labels"

INK_ASCENT: Final = 0.93
"""How far above the baseline DejaVu Sans inks, in em: accented capitals (É, Ά, Й) reach
0.93 em, well above the font's nominal ascent of 0.76; the first line hangs this far below
the top of its box so an accent never prints on the label's edge."""


@dataclass(frozen=True)
class LabelPlace:
    """Where one address went: the page (1-based) and the position on that sheet."""

    page: int
    position: int


@dataclass(frozen=True)
class LabelBatch:
    pages: int
    places: tuple[LabelPlace, ...]  # one per address, in the order given


def sheet_for(key: str) -> LabelSheet:
    try:
        return SHEETS[key.lower()]
    except KeyError:
        names = ", ".join(s.label for s in SHEETS.values())
        raise InvalidInputError(f"Unknown label sheet; choose one of {names}.") from None


def plan_places(count: int, sheet: LabelSheet, start: int = 1) -> tuple[LabelPlace, ...]:
    """Page and position of each of `count` labels, the first at `start` on page 1."""
    if not 1 <= start <= sheet.per_sheet:
        raise InvalidInputError(
            f"The first free label must be between 1 and {sheet.per_sheet} on this sheet."
        )
    return tuple(
        LabelPlace(
            page=1 + (start - 1 + i) // sheet.per_sheet,
            position=1 + (start - 1 + i) % sheet.per_sheet,
        )
        for i in range(count)
    )


def build_labels(
    addresses: Sequence[Sequence[str]],
    sheet: str = "5160",
    start: int = 1,
    out: BinaryIO | Path | None = None,
    *,
    outlines: bool = False,
) -> LabelBatch:
    """One PDF of label sheets: each address fitted (shrunk, then wrapped) into its label.

    `out` is a file opened for writing or a path (written whole or not at all).
    `outlines` draws each label's edge in light grey: a test print on plain paper, held
    against a sheet of labels to the light, shows whether the printer lines up.
    """
    if out is None:
        raise ValueError("build_labels needs `out`: a path or a binary file")
    spec = sheet_for(sheet)
    cleaned = [[line.strip() for line in lines if line.strip()] for lines in addresses]
    if not cleaned:
        raise InvalidInputError("There are no addresses to print on labels.")
    if any(not lines for lines in cleaned):
        raise InvalidInputError("One of the labels has no address; remove it or add the address.")
    places = plan_places(len(cleaned), spec, start)
    face = fonts.register()

    def draw(canvas: Canvas) -> None:
        page = 1
        if outlines:
            _draw_outlines(canvas, spec)
        for number, (lines, place) in enumerate(zip(cleaned, places, strict=True), 1):
            if place.page != page:
                canvas.showPage()
                page = place.page
                if outlines:
                    _draw_outlines(canvas, spec)
            _draw_address(canvas, number, lines, spec.text_box(place.position), spec, face)
        canvas.showPage()

    write_canvas(out, draw, page_size=spec.page_size, title=PDF_TITLE)
    return LabelBatch(pages=places[-1].page, places=places)


def _draw_outlines(canvas: Canvas, spec: LabelSheet) -> None:
    canvas.saveState()
    canvas.setStrokeColor(RULE)
    canvas.setLineWidth(0.4)
    for position in range(1, spec.per_sheet + 1):
        r = spec.label_rect(position)
        canvas.roundRect(r.x, r.y, r.w, r.h, 0.0625 * inch)
    canvas.restoreState()


def _draw_address(
    canvas: Canvas,
    number: int,
    lines: Sequence[str],
    box: Rect,
    spec: LabelSheet,
    face: fonts.FontSet,
) -> None:
    """The fitted lines, left-aligned and centred top to bottom in the label's text box."""
    try:
        fitted = fit_address(lines, box, face, max_size=spec.max_font, min_size=spec.min_font)
    except AddressTooLongError:
        raise InvalidInputError(
            f"Label {number}: this address has too many lines to fit on a label; "
            "shorten it on the patient's record."
        ) from None
    # The block (ascent of the first line to the descent of the last is under
    # lines x leading) is centred top to bottom in the text box.
    top = box.y + (box.h + fitted.height) / 2
    baseline = top - INK_ASCENT * fitted.font_size
    canvas.setFont(face.regular, fitted.font_size)
    for line in fitted.lines:
        canvas.drawString(box.x, baseline, line)
        baseline -= fitted.leading
