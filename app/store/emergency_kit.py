"""The Emergency Kit: a one-page printable PDF holding the clinic's recovery key."""

# The recovery key is shown on screen exactly once, when the clinic is created. The kit is
# how it survives: the manager prints it and puts it in the office safe, and on the worst
# day (passphrase forgotten, computer stolen) someone who has never read a manual picks it
# up and follows it. So the page says, in plain words, what it is, how to keep it and how to
# use it, and the key itself is large, monospaced and boxed so it can be typed back without
# mistakes.
#
# The page-size lookup, the text styles and the atomic PDF write are small functions of
# their own because printed letters to patients will share them.

from __future__ import annotations

import datetime
import html
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepInFrame,
    ListFlowable,
    ListItem,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

PageSize = Literal["letter", "a4"]

KIT_TITLE = "Frontdesk Emergency Kit"

# What the unlock window and the command line call the way in; kept here so the printed
# words can be checked against the real ones in one place.
UNLOCK_OPTION_LABEL = "Use recovery key"
UNLOCK_COMMAND = "frontdesk unlock --recovery-key"

# The PDF's standard 14 fonts need no font files, so the kit prints the same on every
# computer and the installer carries nothing extra. Their encoding covers Latin-1 (é, í, ñ,
# ü, ...), which is enough for the clinic names seen so far; a name in another script would
# show missing glyphs. Bundling a TrueType font (e.g. DejaVu Sans) is the fix if that day
# comes: register it here and the styles below pick it up.
SANS = "Helvetica"
SANS_BOLD = "Helvetica-Bold"
MONO = "Courier"
MONO_BOLD = "Courier-Bold"

MARGIN = 20 * mm
INK = colors.HexColor("#1a1a1a")
MUTED = colors.HexColor("#5f6368")
RULE = colors.HexColor("#9aa0a6")
KEY_FILL = colors.HexColor("#f3f4f6")

_KEY_FONT_MAX = 20.0
_KEY_PADDING = 12.0


@dataclass(frozen=True)
class EmergencyKit:
    """What goes on the page: who the key belongs to, the key, and where the data lived."""

    clinic_name: str
    clinic_id: str
    recovery_key: str
    created_at: datetime.datetime  # aware, in UTC
    data_folder: str
    app_version: str

    def __post_init__(self) -> None:
        # A naive time would print whatever date the local clock had, with no way to tell;
        # refusing it here catches the mistake where the kit is made, not years later.
        if self.created_at.tzinfo is None or self.created_at.utcoffset() is None:
            raise ValueError("EmergencyKit.created_at must be timezone-aware (UTC).")


def page_dimensions(page_size: PageSize) -> tuple[float, float]:
    """Width and height in points; clinics in the US print on Letter, most others on A4."""
    sizes: dict[str, tuple[float, float]] = {"letter": LETTER, "a4": A4}
    try:
        return sizes[page_size]
    except KeyError:
        raise ValueError(f"Unknown page size {page_size!r}; use 'letter' or 'a4'.") from None


def text_styles() -> dict[str, ParagraphStyle]:
    """The few paragraph styles a Frontdesk printout uses, so every page looks related.

    A fresh dict each call: reportlab styles are mutable, and one document tweaking a style
    must not change the next.
    """
    body = ParagraphStyle(
        "body", fontName=SANS, fontSize=10, leading=13.5, textColor=INK, spaceAfter=4
    )
    return {
        "title": ParagraphStyle(
            "title", parent=body, fontName=SANS_BOLD, fontSize=22, leading=26, spaceAfter=4
        ),
        "lead": ParagraphStyle("lead", parent=body, fontSize=11, leading=15, textColor=MUTED),
        "heading": ParagraphStyle(
            "heading",
            parent=body,
            fontName=SANS_BOLD,
            fontSize=11.5,
            leading=15,
            spaceBefore=10,
            spaceAfter=3,
        ),
        "body": body,
        "label": ParagraphStyle("label", parent=body, fontSize=9, textColor=MUTED, spaceAfter=0),
        "value": ParagraphStyle("value", parent=body, fontName=SANS_BOLD, spaceAfter=0),
        "mono": ParagraphStyle("mono", parent=body, fontName=MONO, fontSize=9.5, leading=12),
        "small": ParagraphStyle("small", parent=body, fontSize=8.5, leading=11, textColor=MUTED),
        "caption": ParagraphStyle(
            "caption", parent=body, fontSize=8.5, leading=11, textColor=MUTED, alignment=TA_CENTER
        ),
    }


def content_area(page_size: PageSize) -> tuple[float, float]:
    """Width and height inside the margins: what the page's flowables have to fit in."""
    width, height = page_dimensions(page_size)
    return width - 2 * MARGIN, height - 2 * MARGIN


def write_pdf_atomically(
    path: Path,
    story: Sequence[Flowable],
    *,
    page_size: PageSize,
    title: str,
    footer: str = "",
) -> None:
    """Build a PDF from flowables into `path`, replacing it only once it is complete.

    The PDF goes to a temporary file in the same folder (so the final rename stays on one
    file system), is flushed to disk, and only then replaces the target (`os.replace`). A
    full disk or a crash therefore leaves either the old file or the new one, never half a
    kit that looks fine until the day it is needed. The temporary file is private (0600)
    because the kit holds a secret, and the rename keeps that mode on the finished file.

    Metadata carries only the title and the program name: PDF properties are shown by file
    managers and search indexes, so nothing about the clinic goes there.
    """
    width, height = page_dimensions(page_size)
    area_width, area_height = content_area(page_size)
    # No frame padding, so content_area() is exactly the room the story gets and a table
    # sized to it lines up with the text above and below.
    frame = Frame(
        MARGIN,
        MARGIN,
        area_width,
        area_height,
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
        canvas.setFont(SANS, 8)
        canvas.setFillColor(MUTED)
        canvas.drawString(MARGIN, MARGIN / 2, footer)
        canvas.restoreState()

    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            doc = BaseDocTemplate(
                handle,
                pagesize=(width, height),
                pageTemplates=[PageTemplate(id="page", frames=[frame], onPage=draw_footer)],
                title=title,
                author="Frontdesk",
                creator="Frontdesk",
                subject="",
                keywords="",
            )
            doc.build(list(story))
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)  # os.replace: atomic on POSIX and Windows, overwrites the target
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_emergency_kit(
    kit: EmergencyKit, path: Path, *, page_size: Literal["letter", "a4"] = "letter"
) -> None:
    """Write the kit as a one-page PDF at `path` (atomically; an existing file is replaced)."""
    area_width, area_height = content_area(page_size)
    content = _kit_story(kit, text_styles(), area_width)
    # Shrink rather than spill: a very long clinic name or data folder must still give one
    # page, because a kit whose second sheet got separated is a kit missing half its words.
    one_page = KeepInFrame(area_width, area_height, content, mode="shrink")
    footer = f"Made by Frontdesk {kit.app_version} on {_created_date(kit)}."
    write_pdf_atomically(path, [one_page], page_size=page_size, title=KIT_TITLE, footer=footer)


def _created_date(kit: EmergencyKit) -> str:
    return kit.created_at.astimezone(datetime.UTC).date().isoformat()


def _kit_story(
    kit: EmergencyKit, styles: dict[str, ParagraphStyle], frame_width: float
) -> list[Flowable]:
    """The page top to bottom: who it is for, the key, why it matters, how to use it."""
    e = html.escape  # clinic names and paths go into reportlab's mini-markup
    body = styles["body"]
    story: list[Flowable] = [
        Paragraph(KIT_TITLE, styles["title"]),
        Paragraph(
            "Keep this page somewhere safe: it unlocks the clinic's data when nothing else can.",
            styles["lead"],
        ),
        Spacer(1, 6),
        _facts_table(
            [
                ("Clinic", e(kit.clinic_name)),
                ("Clinic ID", e(kit.clinic_id)),
                ("Date created", _created_date(kit)),
            ],
            styles,
            frame_width,
        ),
        Spacer(1, 4),
        Paragraph("Recovery key", styles["heading"]),
        _key_box(kit.recovery_key, frame_width),
        Spacer(1, 3),
        Paragraph(
            "Case and dashes do not matter when typing it. A key never contains O, I, 0 or 1.",
            styles["caption"],
        ),
        Paragraph("What this is", styles["heading"]),
        Paragraph(
            "Frontdesk keeps the clinic's data encrypted. Day to day it is unlocked with the "
            "clinic passphrase. If the passphrase is forgotten, or this computer is lost or "
            "broken, the recovery key on this page, together with a backup or the database "
            "file (<font name='Courier'>clinic.db</font> with its key file "
            "<font name='Courier'>clinic.key</font>), unlocks the clinic's data again.",
            body,
        ),
        Paragraph("Keep it safe", styles["heading"]),
        _bullets(
            [
                "Store it somewhere locked, such as the office safe or a locked cabinet.",
                "Never email it, photograph it, scan it or type it into a website. Anyone "
                "with this key and a copy of the data can read every patient record.",
                "If a new recovery key is made in Frontdesk, this page stops working. "
                "Shred it and print the new kit.",
            ],
            body,
        ),
        Paragraph("Where the data was", styles["heading"]),
        Paragraph("On the computer where this kit was made, the clinic's data folder was:", body),
        Paragraph(e(kit.data_folder), styles["mono"]),
        Paragraph("How to use it", styles["heading"]),
        _numbered(
            [
                "Open Frontdesk and, at the unlock screen, choose "
                f"<b>\u201c{e(UNLOCK_OPTION_LABEL)}\u201d</b>.<br/>"
                f"Or, from a command line: <font name='Courier'>{e(UNLOCK_COMMAND)}</font>",
                "Type the recovery key from the box above.",
                "Set a new passphrase when asked, and tell the staff who need it.",
            ],
            body,
        ),
        Spacer(1, 14),
        _sign_off_table(styles, frame_width),
    ]
    return story


def _facts_table(
    rows: list[tuple[str, str]], styles: dict[str, ParagraphStyle], frame_width: float
) -> Table:
    label_width = 30 * mm
    data = [[Paragraph(k, styles["label"]), Paragraph(v, styles["value"])] for k, v in rows]
    table = Table(data, colWidths=[label_width, frame_width - label_width], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                ("LINEABOVE", (0, 0), (-1, 0), 0.5, RULE),
                ("LINEBELOW", (0, -1), (-1, -1), 0.5, RULE),
            ]
        )
    )
    return table


def _key_box(recovery_key: str, frame_width: float) -> Table:
    """The key on one line, as large as fits: a wrapped key invites a skipped group."""
    inner = frame_width - 2 * _KEY_PADDING
    natural = stringWidth(recovery_key, MONO_BOLD, _KEY_FONT_MAX) or 1.0
    size = min(_KEY_FONT_MAX, _KEY_FONT_MAX * inner / natural)
    style = ParagraphStyle(
        "key",
        fontName=MONO_BOLD,
        fontSize=size,
        leading=size * 1.25,
        alignment=TA_CENTER,
        textColor=INK,
    )
    table = Table([[Paragraph(html.escape(recovery_key), style)]], colWidths=[frame_width])
    table.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 1.5, INK),
                ("BACKGROUND", (0, 0), (-1, -1), KEY_FILL),
                ("TOPPADDING", (0, 0), (-1, -1), _KEY_PADDING),
                ("BOTTOMPADDING", (0, 0), (-1, -1), _KEY_PADDING),
                ("LEFTPADDING", (0, 0), (-1, -1), _KEY_PADDING),
                ("RIGHTPADDING", (0, 0), (-1, -1), _KEY_PADDING),
            ]
        )
    )
    return table


def _bullets(items: list[str], style: ParagraphStyle) -> ListFlowable:
    return ListFlowable(
        [ListItem(Paragraph(text, style), leftIndent=14) for text in items],
        bulletType="bullet",
        start="\u2022",
        leftIndent=14,
        bulletFontName=SANS,
        bulletFontSize=9,
    )


def _numbered(items: list[str], style: ParagraphStyle) -> ListFlowable:
    return ListFlowable(
        [ListItem(Paragraph(text, style), leftIndent=14) for text in items],
        bulletType="1",
        leftIndent=14,
        bulletFontName=SANS,
        bulletFontSize=10,
        bulletFormat="%s.",
    )


def _sign_off_table(styles: dict[str, ParagraphStyle], frame_width: float) -> Table:
    """Blank lines to fill in by hand, so whoever finds the kit knows who put it where."""
    label_width = 22 * mm
    date_label_width = 16 * mm
    date_width = 40 * mm
    sign_width = frame_width - label_width - date_label_width - date_width
    label = styles["body"]
    data = [
        [Paragraph("Stored at:", label), "", "", ""],
        [Paragraph("Signed:", label), "", Paragraph("Date:", label), ""],
    ]
    table = Table(
        data,
        colWidths=[label_width, sign_width, date_label_width, date_width],
        rowHeights=[26, 26],
    )
    table.setStyle(
        TableStyle(
            [
                ("SPAN", (1, 0), (3, 0)),
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                ("LINEBELOW", (1, 0), (3, 0), 0.75, INK),
                ("LINEBELOW", (1, 1), (1, 1), 0.75, INK),
                ("LINEBELOW", (3, 1), (3, 1), 0.75, INK),
                ("LEFTPADDING", (2, 1), (2, 1), 8),
            ]
        )
    )
    return table
