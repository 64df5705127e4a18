"""Letters built into one PDF and read back with pypdf: pages, addresses, fonts, metadata."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pypdf import PdfReader
from pypdf.generic import ContentStream
from reportlab.pdfbase.pdfmetrics import getAscentDescent

from app.clinic import ClinicSettings
from app.errors import InvalidInputError
from app.letters import fonts
from app.letters.envelopes import ENVELOPES, Rect
from app.letters.letter import LetterInput, build_letters, check_recipient
from app.letters.letterhead import letter_date, picture
from app.letters.paged import page_of
from app.letters.settings import LetterSettings

FONT = fonts.register()
CLINIC = ClinicSettings(
    name="Lakeside Family Clinic",
    address="200 Lake Shore Dr\nChicago IL 60601",
    phone="(312) 555-0100",
)
SHORT = "Dear patient,\n\nThis is a **reminder** of your visit.\n\nYours sincerely,\n\nLakeside"
LONG = "Dear patient,\n\n" + "\n\n".join(["Words of a long letter. " * 60] * 6)
NAMES = ["Ελένη Παπαδόπουλος", "Анна Сергеевна Иванова", "Zoë Ågren-Núñez", "Jürgen Groß"]


def png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 80, 160)).save(out, format="PNG")
    return out.getvalue()


def letter(name: str = "Ada Okafor", body: str = SHORT, **extra: Any) -> LetterInput:
    lines = (name, "12 Elm St", "Springfield IL 62701")
    values: dict[str, Any] = {
        "recipient_lines": lines,
        "subject": "Your appointment",
        "body_text": body,
        "date_text": "March 1, 2026",
    }
    values.update(extra)
    return LetterInput(**values)


def build(inputs: list[LetterInput], **settings: Any) -> tuple[PdfReader, Any]:
    out = io.BytesIO()
    batch = build_letters(inputs, LetterSettings(**settings), CLINIC, out)
    return PdfReader(io.BytesIO(out.getvalue())), batch


def texts_at(reader: PdfReader, page: int) -> list[tuple[str, float, float, str]]:
    found: list[tuple[str, float, float, str]] = []

    def visit(text: str, cm: list[float], tm: list[float], fd: Any, size: float) -> None:
        if text.strip():
            font = str(fd.get("/BaseFont", "")) if fd else ""
            found.append((text.strip(), tm[4] * cm[0] + cm[4], tm[5] * cm[3] + cm[5], font))

    reader.pages[page].extract_text(visitor_text=visit)
    return found


def test_each_letter_starts_on_a_new_page() -> None:
    reader, batch = build([letter(), letter(body=LONG), letter()])
    assert batch.pages == len(reader.pages)
    assert batch.first_page_of[0] == 1
    assert batch.first_page_of[1] == 2
    assert batch.first_page_of[2] > 3  # the long letter took more than one page
    for first in batch.first_page_of:
        assert "Your appointment" in reader.pages[first - 1].extract_text()


def test_with_blank_backs_every_letter_starts_on_an_odd_page() -> None:
    reader, batch = build([letter(), letter(body=LONG), letter(), letter()], blank_backs=True)
    assert all(first % 2 == 1 for first in batch.first_page_of)
    assert len(reader.pages) % 2 == 0 or batch.pages == len(reader.pages)
    assert reader.pages[1].extract_text().strip() == ""  # the back of a one-page letter


def test_a_long_letter_has_page_numbers_and_a_continuation_header() -> None:
    reader, batch = build([letter("Ελένη Παπαδόπουλος", body=LONG)])
    total = batch.pages
    assert total >= 2
    for n in range(total):
        text = reader.pages[n].extract_text()
        assert f"Page {n + 1} of {total}" in text
        header = "Lakeside Family Clinic · Ελένη Παπαδόπουλος · March 1, 2026"
        assert (header in text) == (n > 0)


def test_a_one_page_letter_has_no_page_number() -> None:
    reader, _ = build([letter()])
    assert "Page 1" not in reader.pages[0].extract_text()


def test_page_numbers_speak_the_letter_language() -> None:
    reader, _ = build([letter(body=LONG, language="es")])
    assert "Página 1 de" in reader.pages[0].extract_text()
    assert page_of(2, 3, "de") == "Seite 2 von 3"


@pytest.mark.parametrize("key", sorted(ENVELOPES))
def test_every_address_line_lies_inside_the_window_with_its_margin(key: str) -> None:
    env = ENVELOPES[key]
    long_name = "Maximiliana Alejandra Fernández-Castellanos de la Santísima Trinidad y Ruiz"
    inputs = [letter(name) for name in [*NAMES, long_name]]
    inputs.append(
        LetterInput(("Rosa Díaz", "Rancho El Sauz", "San Miguel GTO"), "", SHORT, "1 March 2026")
    )
    reader, batch = build(inputs, envelope=key)
    inner = env.window.inset(env.margin)
    for item, first in zip(inputs, batch.first_page_of, strict=True):
        drawn = texts_at(reader, first - 1)
        words = " ".join(item.recipient_lines).split()
        inside = [t for t in drawn if env.address_box.contains(Rect(t[1], t[2], 0.1, 0.1))]
        assert " ".join(t[0] for t in inside).split() == words  # every word, none cut
        size = _size_of(reader, first - 1, inside[0][0])
        ascent, descent = getAscentDescent(FONT.regular, size)
        for text, x, baseline, _font in inside:
            width = fonts.text_width(text, FONT.regular, size)
            ink = Rect(x, baseline + descent, width, ascent - descent)
            assert inner.contains(ink), (key, text)
            assert env.address_box.contains(ink), (key, text)


def _size_of(reader: PdfReader, page: int, text: str) -> float:
    sizes: list[float] = []

    def visit(t: str, cm: list[float], tm: list[float], fd: Any, size: float) -> None:
        if t.strip() == text:
            sizes.append(size * tm[0])

    reader.pages[page].extract_text(visitor_text=visit)
    return sizes[0]


def test_names_in_greek_cyrillic_and_accented_latin_read_back_unchanged() -> None:
    reader, batch = build([letter(name) for name in NAMES])
    for name, first in zip(NAMES, batch.first_page_of, strict=True):
        assert name in reader.pages[first - 1].extract_text()


def test_bold_and_lists_from_the_template_print_as_such() -> None:
    body = "Please bring:\n\n- your **insurance card**\n- a list of medicines"
    reader, _ = build([letter(body=body)])
    drawn = texts_at(reader, 0)
    bold = [t for t in drawn if t[0] == "insurance card"]
    assert bold and "Bold" in bold[0][3]
    text = reader.pages[0].extract_text()
    assert "•" in text and "a list of medicines" in text


def test_pdf_properties_name_no_patient() -> None:
    reader, _ = build([letter("Ελένη Παπαδόπουλος"), letter("Jürgen Groß")])
    meta = reader.metadata or {}
    values = " ".join(
        str(meta.get(k, ""))
        for k in ("/Title", "/Author", "/Subject", "/Keywords", "/Creator", "/Producer")
    )
    for word in ("Παπαδόπουλος", "Groß", "Elm", "Springfield", "Lakeside", "appointment"):
        assert word not in values
    assert meta.get("/Title") == "Letters"


def test_an_address_too_long_for_the_window_refuses_the_batch_before_writing(
    tmp_path: Path,
) -> None:
    target = tmp_path / "letters.pdf"
    bad = LetterInput(tuple(f"Line {i}" for i in range(14)), "", SHORT, "March 1, 2026")
    with pytest.raises(InvalidInputError, match=r"Letter 2 of 2: .*too many lines"):
        build_letters([letter(), bad], LetterSettings(), CLINIC, target)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind
    with pytest.raises(InvalidInputError):
        check_recipient(bad.recipient_lines, "din_a")


def test_written_to_a_path_the_pdf_is_complete(tmp_path: Path) -> None:
    target = tmp_path / "letters.pdf"
    batch = build_letters([letter(), letter()], LetterSettings(), CLINIC, target)
    assert len(PdfReader(target).pages) == batch.pages == 2


def test_a_huge_logo_is_scaled_into_its_box_and_a_broken_one_left_out() -> None:
    pic = picture(png((5000, 2500)), 200, 72, "logo")
    assert pic is not None
    assert pic.width <= 200 and pic.height <= 72
    assert pic.width / pic.height == pytest.approx(2)
    assert picture(b"not an image", 200, 72, "logo") is None
    reader, _ = build([letter()], logo_png=png((5000, 2500)))
    assert "Lakeside Family Clinic" in reader.pages[0].extract_text()
    reader, _ = build([letter()], logo_png=b"not an image")
    assert "Your appointment" in reader.pages[0].extract_text()


def test_signature_image_and_signer_print_after_the_body() -> None:
    reader, _ = build(
        [letter(body="Dear patient,\n\nSee you soon.")],
        closing="Kind regards,",
        signer="Dr. Lena Fischer",
        signature_png=png((400, 120)),
    )
    text = reader.pages[0].extract_text()
    assert (
        text.index("See you soon.") < text.index("Kind regards,") < text.index("Dr. Lena Fischer")
    )


def _line_starts(reader: PdfReader, page: Any) -> list[tuple[float, float]]:
    """Where every path starts on the page, including inside the forms it places (the
    letterhead, return line and marks are one form shared by every letter)."""
    streams: list[Any] = [page.get_contents()]
    xobjects = page["/Resources"].get("/XObject", {})
    streams += [x.get_object() for x in xobjects.values() if x.get_object()["/Subtype"] == "/Form"]
    return [
        (float(ops[0]), float(ops[1]))
        for stream in streams
        for ops, op in ContentStream(stream, reader).operations
        if op == b"m"
    ]


@pytest.mark.parametrize(
    ("key", "marks_mm"), [("din_a", (87, 192, 148.5)), ("din_b", (105, 210, 148.5))]
)
def test_din_letters_carry_fold_and_hole_marks(key: str, marks_mm: tuple[float, ...]) -> None:
    reader, _ = build([letter()], envelope=key)
    page = reader.pages[0]
    height = float(page.mediabox.height)
    starts = _line_starts(reader, page)
    for mark in marks_mm:
        y = height - mark * 72 / 25.4
        assert any(abs(x - 3 * 72 / 25.4) < 0.1 and abs(sy - y) < 0.1 for x, sy in starts), mark


def test_us_letters_have_no_fold_marks() -> None:
    reader, _ = build([letter()], envelope="us10")
    starts = _line_starts(reader, reader.pages[0])
    assert starts  # the letterhead's rule is found, so the search looks in the right place
    assert all(x > 20 for x, _y in starts)


def test_dates_in_the_letter_language_without_the_os_locale() -> None:
    day = date(2026, 3, 10)
    assert letter_date(day, "en") == "March 10, 2026"
    assert letter_date(day, "en", day_first=True) == "10 March 2026"
    assert letter_date(day, "es", day_first=True) == "10 de marzo de 2026"
    assert letter_date(day, "es-MX") == "10 de marzo de 2026"
    assert letter_date(day, "de") == "10. März 2026"


def test_no_letters_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="no letters"):
        build_letters([], LetterSettings(), CLINIC, io.BytesIO())


def test_indented_lines_print_as_an_indented_block_apart_from_the_text_after() -> None:
    body = "Your visit:\n\n    Tuesday, March 10 at 9:30 AM\n    Main Street office\nPlease call."
    reader, _ = build([letter(body=body)])
    drawn = {t[0]: t[1] for t in texts_at(reader, 0)}
    assert drawn["Tuesday, March 10 at 9:30 AM"] == pytest.approx(drawn["Main Street office"])
    assert drawn["Tuesday, March 10 at 9:30 AM"] > drawn["Please call."] + 10
    assert drawn["Please call."] == pytest.approx(drawn["Your visit:"])
