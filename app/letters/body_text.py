"""Template text to flowables: the one reading of a message body that every printout shares.

The same letter template prints as a letter, a postcard or a statement's note, so the
rules of the text (blank lines part paragraphs, `**bold**`, "- " lines make a list, an
indented line keeps its own indented block, a single line break stays a line break) live
here once; each printout only passes the styles of its own page.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from itertools import groupby
from typing import Final

from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Flowable, Paragraph

_BOLD: Final = re.compile(r"\*\*(.+?)\*\*")
_PARAGRAPH_BREAK: Final = re.compile(r"\n\s*\n")


def markup(text: str) -> str:
    """Plain template text to reportlab's mini-markup: escaped (a patient's "<" or "&"
    prints as typed), then **bold** as <b>."""
    return _BOLD.sub(r"<b>\1</b>", html.escape(text, quote=False))


@dataclass(frozen=True)
class BodyStyles:
    """The paragraph styles one printout gives the body text."""

    body: ParagraphStyle
    indented: ParagraphStyle
    bullet: ParagraphStyle
    bullet_last: ParagraphStyle  # the last item of a list takes the paragraph's space after

    @classmethod
    def from_body(
        cls,
        body: ParagraphStyle,
        *,
        block_indent: float = 24,
        list_indent: float = 16,
        bullet_indent: float = 4,
        bullet_size: float = 9,
        item_space: float = 2,
    ) -> BodyStyles:
        """The indented-block and list styles derived from the body style, so a list reads
        as part of the text around it (same type, tighter spacing between items)."""
        bullet = ParagraphStyle(
            f"{body.name}-bullet",
            parent=body,
            spaceAfter=item_space,
            leftIndent=list_indent,
            bulletIndent=bullet_indent,
            bulletFontName=body.fontName,
            bulletFontSize=bullet_size,
        )
        return cls(
            body=body,
            indented=ParagraphStyle(f"{body.name}-indented", parent=body, leftIndent=block_indent),
            bullet=bullet,
            bullet_last=ParagraphStyle(
                f"{body.name}-bullet-last", parent=bullet, spaceAfter=body.spaceAfter
            ),
        )


def body_flowables(text: str, styles: BodyStyles) -> list[Flowable]:
    """Blank lines part paragraphs; '- ' lines make a list; indented lines a block; the
    lines of a paragraph keep their breaks (a template puts the time, the place and the
    address on lines of their own)."""
    out: list[Flowable] = []
    for block in _PARAGRAPH_BREAK.split(text.replace("\r\n", "\n").strip("\n")):
        lines = [line.rstrip() for line in block.split("\n") if line.strip()]
        for kind, run in groupby(lines, key=_line_kind):
            group = list(run)
            if kind == "item":
                out += _bullets([line.lstrip()[2:].strip() for line in group], styles)
                continue
            style = styles.indented if kind == "indented" else styles.body
            out.append(Paragraph("<br/>".join(markup(line.strip()) for line in group), style))
    return out


def _line_kind(line: str) -> str:
    if line.lstrip().startswith("- "):
        return "item"
    return "indented" if line[:1] in (" ", "\t") else "plain"


def _bullets(items: list[str], styles: BodyStyles) -> list[Flowable]:
    """One paragraph per item with a bullet: reportlab's ListFlowable does the same with a
    container per list, which costs a quarter of a large batch's layout time."""
    last = len(items) - 1
    return [
        Paragraph(markup(item), styles.bullet_last if n == last else styles.bullet, bulletText="•")
        for n, item in enumerate(items)
    ]
