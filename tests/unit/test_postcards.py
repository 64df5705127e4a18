"""Postcards: the address lies in the post's address area, clear of the stamp and barcode
zones; the message fits its side or is refused with how much to cut."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from pypdf import PdfReader
from reportlab.lib.units import inch, mm

from app.clinic import ClinicSettings
from app.errors import InvalidInputError
from app.letters.envelopes import Rect
from app.letters.postcards import (
    FORMATS,
    PostcardOverflowError,
    build_postcards,
    check_postcard,
)
from tests.unit.test_labels import Drawn, page_runs, render_first_page

CLINIC = ClinicSettings(
    name="Lakeside Family Practice", address="400 Lake Shore Rd\nSpringfield IL 62704"
)
RECALL = (
    "Dear Ada Okafor,\n\n"
    "Our records show that you are due for your **check-up** around April 14.\n\n"
    "Please call us at (217) 555-0142 to book a day and time that suit you.\n\n"
    "- Bring your insurance card\n- Arrive 10 minutes early\n\n"
    "Yours sincerely,\n\nLakeside Family Practice"
)
ADDRESS = ["Ada Okafor", "12 Elm St Apt 3", "Springfield IL 62701"]


@dataclass(frozen=True)
class Card:
    recipient_lines: list[str]
    body_text: str


def cards_pdf(cards: list[Card], size: str = "4x6") -> bytes:
    out = io.BytesIO()
    build_postcards(cards, None, CLINIC, size, out)
    return out.getvalue()


def box_of(run: Drawn) -> Rect:
    return run.box


def overlaps(a: Rect, b: Rect) -> bool:
    return a.x < b.right and b.x < a.right and a.y < b.top and b.y < a.top


def test_usps_zones_of_the_4x6_card_are_where_publication_28_puts_them() -> None:
    card = FORMATS["4x6"]

    assert card.page_size == pytest.approx((6 * inch, 4 * inch))
    # OCR read area: 5/8 in to 2 3/4 in from the bottom, 1/2 in from the sides
    assert card.address_area.y >= 0.625 * inch
    assert card.address_area.top <= 2.75 * inch
    assert card.address_area.right <= 5.5 * inch
    assert card.address_area.x >= 3 * inch  # the right half
    # barcode clear zone: 5/8 in high, 4 3/4 in from the right edge
    assert card.clear_zone == Rect(1.25 * inch, 0, 4.75 * inch, 0.625 * inch)
    assert not overlaps(card.address_area, card.postage_box)


@pytest.mark.parametrize("size", ["4x6", "a6"])
def test_address_side_prints_the_address_in_its_area_and_nothing_in_the_post_zones(
    size: str,
) -> None:
    card = FORMATS[size]
    pdf = cards_pdf([Card(ADDRESS, RECALL)], size)

    reader = PdfReader(io.BytesIO(pdf))
    runs = page_runs(reader.pages[0])

    recipient = [r for r in runs if r.text in ADDRESS]
    assert [r.text for r in recipient] == ADDRESS
    assert all(card.address_area.contains(box_of(r)) for r in recipient)
    for run in runs:
        assert not overlaps(box_of(run), card.clear_zone), run
        if run.text != "Postage":
            assert not overlaps(box_of(run), card.postage_box), run
    # the return address is the clinic's, top left
    clinic_name = next(r for r in runs if r.text == "Lakeside Family Practice")
    assert card.return_box.contains(box_of(clinic_name))


def test_each_card_is_an_address_side_and_a_message_side() -> None:
    pdf = cards_pdf(
        [Card(ADDRESS, RECALL), Card(["Bo Li", "1 Main St", "Chicago IL 60601"], RECALL)]
    )

    pages = PdfReader(io.BytesIO(pdf)).pages
    texts = [p.extract_text() for p in pages]

    assert len(pages) == 4
    assert "Ada Okafor" in texts[0] and "12 Elm St" in texts[0]
    assert "check-up" in texts[1] and "Lakeside Family Practice" in texts[1]
    assert "Bo Li" in texts[2]
    assert "Bring your insurance card" in texts[3]
    width, height = pages[0].mediabox.width, pages[0].mediabox.height
    assert (float(width), float(height)) == pytest.approx((432, 288))


def test_a6_card_is_148_by_105_mm() -> None:
    page = PdfReader(io.BytesIO(cards_pdf([Card(ADDRESS, RECALL)], "a6"))).pages[0]

    assert float(page.mediabox.width) == pytest.approx(148 * mm, abs=0.01)
    assert float(page.mediabox.height) == pytest.approx(105 * mm, abs=0.01)


def test_greek_and_cyrillic_names_print_on_the_address_side() -> None:
    cards = [
        Card(["Νικόλαος Παπαδόπουλος", "Οδός Αθηνάς 12", "10551 Αθήνα"], RECALL),
        Card(["Анна Иванова", "ул. Ленина, д. 5", "190000 Санкт-Петербург"], RECALL),
    ]
    pages = PdfReader(io.BytesIO(cards_pdf(cards, "a6"))).pages

    assert "Νικόλαος Παπαδόπουλος" in pages[0].extract_text()
    assert "Анна Иванова" in pages[2].extract_text()


def test_a_long_name_shrinks_or_wraps_inside_the_address_area() -> None:
    card = FORMATS["4x6"]
    name = "Maximiliana Alexandrina Wolfeschlegelsteinhausen-Bergerdorff"
    pdf = cards_pdf(
        [Card([name, "Apartment 1204", "4550 North Lake Shore Drive", "Chicago IL 60640"], RECALL)]
    )

    runs = page_runs(PdfReader(io.BytesIO(pdf)).pages[0])
    address = [r for r in runs if not card.return_box.contains(box_of(r)) and r.text != "Postage"]

    assert all(card.address_area.contains(box_of(r)) for r in address)
    assert all(r.size >= 8 for r in address)  # USPS: at least 8-point type
    assert "Wolfeschlegelsteinhausen" in " ".join(r.text for r in address)


def test_a_message_too_long_is_refused_with_how_much_to_cut() -> None:
    long_text = "\n\n".join([RECALL] + ["We look forward to seeing you at the clinic soon."] * 20)

    with pytest.raises(PostcardOverflowError) as raised:
        check_postcard(long_text, "4x6")

    reason = str(raised.value)
    assert reason.startswith("This message is too long for a postcard: shorten it by about ")
    assert reason.endswith(" words or send it as a letter.")
    cut = int(reason.split("about ")[1].split(" ")[0])
    words = len(long_text.split())
    assert 0 < cut < words
    assert isinstance(raised.value, InvalidInputError)


def test_cutting_the_words_it_asks_for_makes_the_message_fit() -> None:
    sentence = "We look forward to seeing you at the clinic soon."
    long_text = "\n\n".join([sentence] * 30)
    with pytest.raises(PostcardOverflowError) as raised:
        check_postcard(long_text, "a6")
    cut = int(str(raised.value).split("about ")[1].split(" ")[0])

    words = long_text.split(" ")
    shorter = " ".join(words[: len(words) - cut])

    check_postcard(shorter, "a6")  # does not raise


def test_the_recall_message_fits_both_sizes() -> None:
    check_postcard(RECALL, "4x6")
    check_postcard(RECALL, "a6")


def test_build_refuses_the_whole_batch_naming_the_card_that_overflows() -> None:
    too_long = "\n\n".join(["We look forward to seeing you at the clinic soon."] * 40)
    out = io.BytesIO()

    with pytest.raises(PostcardOverflowError, match=r"^Postcard 2: This message is too long"):
        build_postcards([Card(ADDRESS, RECALL), Card(ADDRESS, too_long)], None, CLINIC, "4x6", out)
    assert out.getvalue() == b""


def test_unknown_size_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="postcard size"):
        check_postcard(RECALL, "a5")


def test_pdf_properties_name_no_patient(tmp_path: Path) -> None:
    target = tmp_path / "cards.pdf"
    batch = build_postcards([Card(ADDRESS, RECALL)], None, CLINIC, "4x6", target)

    meta = PdfReader(target).metadata or {}
    values = " ".join(str(v) for v in meta.values())
    assert batch.pages == 2 and batch.first_page_of == [1]
    assert "Okafor" not in values and "Lakeside" not in values


def test_a_postcard_renders_for_the_docs(tmp_path: Path) -> None:
    cards = [Card(["Νικόλαος Παπαδόπουλος", "12 Elm St Apt 3", "Springfield IL 62701"], RECALL)]

    assert render_first_page(cards_pdf(cards, "4x6"), "postcard.png", tmp_path, scale=2).is_file()
