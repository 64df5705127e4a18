"""The Emergency Kit: a one-page printable PDF holding the clinic's recovery key."""

# The recovery key is shown on screen exactly once, when the clinic is created. The kit is
# how it survives: the manager prints it and puts it in the office safe, and on the worst
# day (passphrase forgotten, computer stolen) someone who has never read a manual picks it
# up and follows it. So the page says, in plain words, what it is, how to keep it and how to
# use it, and the key itself is large, monospaced and boxed so it can be typed back without
# mistakes.
#
# The page size, the text styles, the embedded font and the atomic PDF write come from
# app.letters.layout, which printed letters, labels and statements share: one look, and a
# clinic name in Greek or Cyrillic prints on the kit as on a letter.

from __future__ import annotations

import datetime
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    Flowable,
    KeepInFrame,
    ListFlowable,
    ListItem,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from app.letters import fonts
from app.letters.layout import (
    INK,
    RULE,
    page_dimensions,
    text_styles,
    write_pdf_atomically,
)

PageSize = Literal["letter", "a4"]

KIT_TITLE = "Frontdesk Emergency Kit"

# What the unlock window and the command line call the way in; kept here so the printed
# words can be checked against the real ones in one place.
UNLOCK_OPTION_LABEL = "Use recovery key"
UNLOCK_COMMAND = "frontdesk unlock --recovery-key"

# The recovery key is ASCII only and prints in the standard Courier (no file to embed);
# everything else in DejaVu Sans, embedded, so any clinic name prints.
MONO = fonts.MONO
MONO_BOLD = fonts.MONO_BOLD

MARGIN = 20 * mm
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


def content_area(page_size: PageSize) -> tuple[float, float]:
    """Width and height inside the margins: what the page's flowables have to fit in."""
    width, height = page_dimensions(page_size)
    return width - 2 * MARGIN, height - 2 * MARGIN


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
    # The kit holds a secret: write_pdf_atomically writes it through a private (0600)
    # temporary file and renames it into place only when complete.
    write_pdf_atomically(
        path, [one_page], page_size=page_size, title=KIT_TITLE, footer=footer, margin=MARGIN
    )


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
                "Keep it apart from the clinic's backups (folders named \u201cFrontdesk "
                "backup \u2026.fdbackup\u201d): a backup with this key opens every record; "
                "without this page or the passphrase a backup opens nothing.",
                "If a new recovery key is made in Frontdesk, or the database key is "
                "replaced, this page stops working. Shred it and print the new kit.",
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
                "On a new computer, restore the latest backup with this key: "
                "<font name='Courier'>frontdesk restore --recovery-key "
                "\u201c&lt;backup folder&gt;\u201d</font>",
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
        bulletFontName=fonts.register().regular,
        bulletFontSize=9,
    )


def _numbered(items: list[str], style: ParagraphStyle) -> ListFlowable:
    return ListFlowable(
        [ListItem(Paragraph(text, style), leftIndent=14) for text in items],
        bulletType="1",
        leftIndent=14,
        bulletFontName=fonts.register().regular,
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
