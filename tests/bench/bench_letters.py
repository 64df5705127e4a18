"""Printed letters (issue 8): 1,000 personalised letters with letterhead into one PDF.

Figures, one function each, called from `run` in order:

* letters: build_letters for 1,000 letters (letterhead with a logo, window address in
  Latin, Greek and Cyrillic names, date, subject, a three-paragraph body with a list,
  closing), written to memory. Baseline, in the same run: a bare reportlab document of
  the same pages and the same text (the same embedded font, plain platypus paragraphs,
  one page break per letter, no letterhead, window fitting or page numbering), so the
  ratio is the price of the layout logic. Targets: <= 2 s, ratio <= 2.

Other figures of the group (labels, postcards, ...) go below, one function each.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

from tests.bench._report import Emit, log

LETTERS = 1_000
REPEATS = 3  # the best of three: the figure is the work, not the machine's hiccups

_NAMES = (
    "Ada Okafor",
    "Ελένη Παπαδόπουλος",
    "Анна Сергеевна Иванова",
    "José Ramírez-Núñez",
    "Maximiliana Alejandra Fernández-Castellanos de la Santísima Trinidad",
)
_BODY = (
    "Dear {name},\n\n"
    "This letter is a reminder of your appointment with **Dr. Lena Fischer**:\n\n"
    "    Tuesday, March 10 at 9:30 AM\n    Lakeside Family Clinic, 200 Lake Shore Dr\n\n"
    "Please bring:\n\n- your insurance card\n- a list of the medicines you take\n\n"
    "If you need to change or cancel it, please call us at (312) 555-0100, so we can "
    "offer the time to another patient. We look forward to seeing you.\n\n"
    "Yours sincerely,\n\nLakeside Family Clinic"
)


def _best(fn: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(REPEATS):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def _inputs() -> list[Any]:
    from app.letters.letter import LetterInput

    out = []
    for i in range(LETTERS):
        name = f"{_NAMES[i % len(_NAMES)]} {i}"
        out.append(
            LetterInput(
                recipient_lines=(name, f"{100 + i} Elm Street", "Apt 3", "Springfield IL 62701"),
                subject="Your appointment on Tuesday, March 10",
                body_text=_BODY.format(name=name),
                date_text="March 1, 2026",
                closing="",
                signer="",
            )
        )
    return out


def _logo() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (1200, 400), (30, 80, 160)).save(out, format="PNG")
    return out.getvalue()


def bare_reportlab(inputs: list[Any]) -> int:
    """The same text on the same number of pages with nothing but platypus: each letter's
    address, date, subject and body paragraphs, then a page break."""
    import html

    from reportlab.lib.pagesizes import LETTER
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    from app.letters import fonts

    font = fonts.register()
    body = ParagraphStyle("b", fontName=font.regular, fontSize=10.5, leading=14)
    story: list[Any] = []
    for n, letter in enumerate(inputs):
        if n:
            story.append(PageBreak())
        story.append(Paragraph("<br/>".join(map(html.escape, letter.recipient_lines)), body))
        story.append(Paragraph(letter.date_text, body))
        story.append(Paragraph(html.escape(letter.subject), body))
        for block in letter.body_text.split("\n\n"):
            story.append(Paragraph(html.escape(block).replace("\n", "<br/>"), body))
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=LETTER)
    doc.build(story)
    return len(out.getvalue())


def letters_thousand(emit: Emit) -> None:
    from app.clinic import ClinicSettings
    from app.letters.letter import build_letters
    from app.letters.settings import LetterSettings

    inputs = _inputs()
    settings = LetterSettings(logo_png=_logo(), web="www.lakeside.example", closing="")
    clinic = ClinicSettings(
        name="Lakeside Family Clinic",
        address="200 Lake Shore Dr\nSuite 4\nChicago IL 60601",
        phone="(312) 555-0100",
    )

    def ours() -> tuple[int, int]:
        out = io.BytesIO()
        batch = build_letters(inputs, settings, clinic, out)
        return batch.pages, len(out.getvalue())

    bare_reportlab(inputs[:5])  # fonts registered, modules imported: not part of either
    baseline, bare_bytes = _best(lambda: bare_reportlab(inputs))
    seconds, (pages, size) = _best(ours)
    log(
        f"letters: {LETTERS:,} letters, {pages:,} pages, {size / 1e6:.1f} MB in {seconds:.2f} s; "
        f"bare reportlab {baseline:.2f} s ({bare_bytes / 1e6:.1f} MB)"
    )
    emit("letters: 1,000 letters with letterhead into one PDF", seconds, "s", baseline)


def labels_thousand(emit: Emit) -> None:
    """1,000 mailing labels (Avery 5160, from position 5, 34 sheets) into one PDF, written
    to memory. Baseline, in the same run: a bare reportlab canvas drawing the same strings
    in the same font at fixed positions on as many pages (no fitting, no sheet geometry).
    Target: <= 0.5 s."""
    from reportlab.lib.pagesizes import LETTER
    from reportlab.pdfgen.canvas import Canvas

    from app.letters import fonts
    from app.letters.labels import build_labels

    addresses = [
        (f"{_NAMES[i % len(_NAMES)]} {i}", f"{100 + i} Elm Street", "Apt 3", "Springfield IL 62701")
        for i in range(LETTERS)
    ]

    def ours() -> tuple[int, int]:
        out = io.BytesIO()
        batch = build_labels(addresses, "5160", 5, out)
        return batch.pages, len(out.getvalue())

    def bare() -> int:
        font = fonts.register()
        out = io.BytesIO()
        canvas = Canvas(out, pagesize=LETTER)
        for i, lines in enumerate(addresses):
            if i and i % 30 == 0:
                canvas.showPage()
            x, y = 20 + (i % 3) * 198, 760 - (i % 30 // 3) * 72
            canvas.setFont(font.regular, 9)
            for n, line in enumerate(lines):
                canvas.drawString(x, y - n * 11, line)
        canvas.showPage()
        canvas.save()
        return len(out.getvalue())

    build_labels(addresses[:5], "5160", 1, io.BytesIO())  # fonts registered, modules imported
    baseline, bare_bytes = _best(bare)
    seconds, (pages, size) = _best(ours)
    log(
        f"labels: {LETTERS:,} labels on {pages} sheets, {size / 1e6:.2f} MB in {seconds:.3f} s; "
        f"bare reportlab canvas {baseline:.3f} s ({bare_bytes / 1e6:.2f} MB)"
    )
    emit("labels: 1,000 mailing labels into one PDF", seconds, "s", baseline)


def run(emit: Emit) -> None:
    letters_thousand(emit)
    labels_thousand(emit)
