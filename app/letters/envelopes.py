"""Where the address goes on the page so it shows through the window of a real envelope.

Coordinates are PDF points (1/72 in) from the bottom-left corner of the page, as reportlab
draws; marks that the standards give from the top edge are converted here once.

US #10 window envelope (4 1/8 x 9 1/2 in), Letter sheet (8 1/2 x 11 in) folded in three:
  * The common window is 1 1/8 x 4 1/2 in, 7/8 in from the left and 1/2 in from the bottom
    edge of the envelope (USPS-recommended size and place; e.g. California State University
    mail services, quoted at answers.google.com/answers/threadview?id=712795).
  * The top third of the sheet (11/3 in = 264 pt) faces the window. The folded sheet rests
    on its fold at the bottom of the envelope, so the window's bottom edge is 1/2 in above
    the fold, i.e. 3 1/6 in from the top of the page, and its top edge 2 1/24 in from the
    top. The sheet is 1 in narrower than the envelope; centred, the window starts 3/8 in
    from the page's left edge. (PostalMethods' developer guide gives the same 2.042 in.)
  * USPS Domestic Mail Manual 601.6.3b: at least 1/8 in of clear space between the address
    block and every edge of the window, in all positions of the insert -> `margin`, and the
    address kept 1/2 in further in at both sides for the sheet's sideways play. Upwards
    the folded sheet can rise 0.46 in (4 1/8 - 3 2/3 in), more than a 1 1/8 in window can
    absorb with any address; like PostalMethods' guide the layout assumes the sheet at
    rest on its fold, where the last lines (town, ZIP) read even if it rises a little.
DIN 5008 (A4 business letter, Form A and Form B), the address field (Anschriftfeld):
  * 85 x 45 mm, 20 mm from the left edge, its top 27 mm (Form A) or 45 mm (Form B) below
    the top of the sheet; the field lies inside the window of a DL/C6-5 envelope (DIN 680),
    so the standard asks for no further clearance inside it (`margin` 0).
  * Its top 5 mm hold the return address (Rücksendeangabe) in small type, then 12.7 mm for
    notes (Zusatz- und Vermerkzone; 17.7 mm together), then the recipient's address zone of
    27.3 mm (six lines). Text starts at the 25 mm writing line, 5 mm into the field.
  * Fold marks 87 and 192 mm from the top (Form A) or 105 and 210 mm (Form B) and the hole
    mark at 148.5 mm, on the left edge (sprache-kompakt.de "Briefbogen - Position von
    Faltmarken"; de.wikipedia "Falzmarke", citing DIN 5008:2020-03 section 19).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.units import inch, mm


@dataclass(frozen=True)
class Rect:
    """A rectangle in points, (x, y) its bottom-left corner, as reportlab's canvas uses."""

    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def top(self) -> float:
        return self.y + self.h

    def inset(
        self,
        left: float,
        top: float | None = None,
        right: float | None = None,
        bottom: float | None = None,
    ) -> Rect:
        """Smaller by `left` on every side, or by each given side."""
        t = left if top is None else top
        r = left if right is None else right
        b = left if bottom is None else bottom
        return Rect(self.x + left, self.y + b, self.w - left - r, self.h - t - b)

    def contains(self, other: Rect, tolerance: float = 0.01) -> bool:
        return (
            other.x >= self.x - tolerance
            and other.y >= self.y - tolerance
            and other.right <= self.right + tolerance
            and other.top <= self.top + tolerance
        )


def from_top(page_height: float, x: float, top: float, w: float, h: float) -> Rect:
    """A rectangle given as the standards give it: `top` measured down from the top edge."""
    return Rect(x, page_height - top - h, w, h)


@dataclass(frozen=True)
class Envelope:
    """One envelope standard: the paper, the window and the marks that make the sheet fit.

    `window` is the area of the page seen through the envelope's window (DIN: the address
    field); the recipient's address stays `margin` inside it (and below `return_line`, if
    any) -> `address_box`. The first address line starts at `address_top` when the lines
    fit below it (DIN's address zone), higher up in the box when they need the room.
    `fold_marks` and `hole_mark` are distances from the top edge, in points.
    """

    key: str
    label: str
    page_size: tuple[float, float]
    window: Rect
    margin: float
    fold_marks: tuple[float, ...]
    return_line: Rect | None
    hole_mark: float | None = None
    indent: float = 0.0  # where the text starts inside the window's left edge
    right_indent: float = 0.0  # room kept free inside the window's right edge
    address_top: float | None = None  # preferred top of the first line (points from bottom)
    body_top: float = 0.0  # distance from the top edge where page one's text may begin
    letterhead_bottom: float = 0.0  # distance from the top edge the letterhead must end by
    margins: tuple[float, float, float, float] = (72.0, 72.0, 72.0, 72.0)  # l, r, top, bottom

    @property
    def address_box(self) -> Rect:
        """Where every address line (its whole width and height) must fall."""
        box = self.window.inset(self.margin)
        box = box.inset(self.indent, 0, self.right_indent, 0)
        if self.return_line is not None and self.return_line.y < box.top:
            box = Rect(box.x, box.y, box.w, self.return_line.y - box.y)
        return box

    @property
    def preferred_top(self) -> float:
        box = self.address_box
        return box.top if self.address_top is None else min(self.address_top, box.top)


_LW, _LH = LETTER
_AW, _AH = A4

# US #10: the numbers of the module docstring, in points.
_US_PANEL = _LH / 3  # the top third of the folded sheet
_US_WINDOW = Rect(
    x=7 / 8 * inch - (9.5 * inch - _LW) / 2,  # 3/8 in: the sheet centred in the envelope
    y=_LH - _US_PANEL + 0.5 * inch,  # 1/2 in above the fold at the envelope's bottom
    w=4.5 * inch,
    h=1.125 * inch,
)


def _din(key: str, label: str, field_top_mm: float, folds_mm: tuple[float, float]) -> Envelope:
    window = from_top(_AH, 20 * mm, field_top_mm * mm, 85 * mm, 45 * mm)
    return_line = from_top(_AH, 20 * mm, field_top_mm * mm, 85 * mm, 5 * mm)
    return Envelope(
        key=key,
        label=label,
        page_size=(_AW, _AH),
        window=window,
        margin=0.0,
        fold_marks=tuple(f * mm for f in folds_mm),
        return_line=return_line,
        hole_mark=148.5 * mm,
        indent=5 * mm,
        address_top=_AH - (field_top_mm + 17.7) * mm,
        # The information block and the subject start below the field (DIN 5008: the
        # first text line two blank lines under the field, ~8.5 mm).
        body_top=(field_top_mm + 45 + 8.46) * mm,
        letterhead_bottom=field_top_mm * mm,
        margins=(25 * mm, 20 * mm, 15 * mm, 20 * mm),
    )


ENVELOPES: Final[dict[str, Envelope]] = {
    "us10": Envelope(
        key="us10",
        label="US #10 window envelope (Letter paper, folded in three)",
        page_size=(_LW, _LH),
        window=_US_WINDOW,
        margin=inch / 8,
        # The sheet is 1 in narrower than the envelope and slides sideways: 1/2 in in from
        # each side of the centred window keeps the text inside the window (with its 1/8 in)
        # wherever the sheet sits (DMM 601.6.3: "in all positions of the insert"). The text
        # then starts at 1 in, in line with the letter's body.
        indent=0.5 * inch,
        right_indent=0.5 * inch,
        fold_marks=(),  # US letterheads print none; the thirds are folded by eye or machine
        return_line=None,  # the return address is on the letterhead, above the window
        body_top=_US_PANEL + 0.25 * inch,  # the text begins below the top third
        letterhead_bottom=_LH - _US_WINDOW.top - 6,
        margins=(inch, 0.75 * inch, 0.5 * inch, 0.75 * inch),
    ),
    "din_a": _din("din_a", "DIN 5008 Form A (A4, DL window envelope)", 27, (87, 192)),
    "din_b": _din("din_b", "DIN 5008 Form B (A4, DL window envelope)", 45, (105, 210)),
}
"""The standards a clinic can choose in Settings ▸ Letters, by key."""

DEFAULT_ENVELOPE: Final = "us10"


def envelope(key: str) -> Envelope:
    """The standard for a stored key; an unknown key (a newer version's) falls back to #10."""
    return ENVELOPES.get(key, ENVELOPES[DEFAULT_ENVELOPE])
