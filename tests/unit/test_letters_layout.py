"""Address fitting and address lines (app.letters.layout) against the envelope standards."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from reportlab.pdfbase.pdfmetrics import getAscentDescent
from reportlab.pdfgen.canvas import Canvas

from app.letters import fonts
from app.letters.envelopes import ENVELOPES, Envelope, Rect
from app.letters.layout import (
    AddressTooLongError,
    address_lines,
    draw_address,
    fit_address,
    lines_from_postal_line,
    place_address,
)
from app.patients.model import Address

FONT = fonts.register()
INCH = 72.0
MM = 72 / 25.4


def addr(**parts: str) -> Address:
    values = {"line1": "", "line2": "", "city": "", "region": "", "postal_code": "", "country": ""}
    values.update(parts)
    return Address(id="a", use="home", rank=0, **values)


def test_us10_window_is_where_the_folded_letter_meets_the_envelope_window() -> None:
    us = ENVELOPES["us10"]
    # 11 in sheet in thirds; window 1/2 in above the fold, 1 1/8 in tall: 2.042-3.167 in
    # from the top. 7/8 in from the envelope's left, sheet centred (1/2 in each side).
    assert us.page_size == (612, 792)
    assert 792 - us.window.top == pytest.approx(2.0417 * INCH, abs=0.1)
    assert 792 - us.window.y == pytest.approx(3.1667 * INCH, abs=0.1)
    assert us.window.x == pytest.approx(0.375 * INCH)
    assert (us.window.w, us.window.h) == pytest.approx((4.5 * INCH, 1.125 * INCH))
    assert us.margin == pytest.approx(INCH / 8)  # USPS DMM 601.6.3
    assert us.window.contains(us.address_box)
    # Text at 1 in and no further right than 4 1/4 in: inside the window with 1/8 in to
    # spare whether the 8 1/2 in sheet sits left, centred or right in the 9 1/2 in envelope.
    for shift in (-0.5 * INCH, 0, 0.5 * INCH):
        seen = us.window.inset(us.margin)
        assert seen.x + shift <= us.address_box.x
        assert us.address_box.right <= seen.right + shift


@pytest.mark.parametrize(
    ("key", "top_mm", "folds_mm"), [("din_a", 27, (87, 192)), ("din_b", 45, (105, 210))]
)
def test_din_address_field_and_marks_follow_din_5008(
    key: str, top_mm: float, folds_mm: tuple[float, float]
) -> None:
    env = ENVELOPES[key]
    height = env.page_size[1]
    assert env.page_size == pytest.approx((210 * MM, 297 * MM))
    assert env.window.x == pytest.approx(20 * MM)
    assert height - env.window.top == pytest.approx(top_mm * MM)
    assert (env.window.w, env.window.h) == pytest.approx((85 * MM, 45 * MM))
    assert env.return_line is not None
    assert env.return_line.h == pytest.approx(5 * MM)
    assert env.fold_marks == pytest.approx(tuple(f * MM for f in folds_mm))
    assert env.hole_mark == pytest.approx(148.5 * MM)
    # The text starts at the 25 mm writing line, below the return line; the first line at
    # the address zone, 17.7 mm into the field.
    assert env.address_box.x == pytest.approx(25 * MM)
    assert env.address_box.top <= env.return_line.y + 0.01
    assert height - env.preferred_top == pytest.approx((top_mm + 17.7) * MM)


def test_short_address_keeps_the_largest_size() -> None:
    fitted = fit_address(
        ["Ada Okafor", "12 Elm St", "Springfield IL 62701"], ENVELOPES["us10"].address_box, FONT
    )
    assert fitted.font_size == 11
    assert fitted.lines == ("Ada Okafor", "12 Elm St", "Springfield IL 62701")


def test_long_name_shrinks_before_it_wraps() -> None:
    box = ENVELOPES["us10"].address_box
    name = "Maximiliana Alejandra Fernández-Castellanos"
    fitted = fit_address([name, "12 Elm St", "Springfield IL 62701"], box, FONT)
    assert fitted.lines[0] == name
    assert 9 <= fitted.font_size < 11
    assert fonts.text_width(name, FONT.regular, fitted.font_size) <= box.w


def test_very_long_name_wraps_and_keeps_every_letter() -> None:
    box = ENVELOPES["us10"].address_box
    name = "Bartholomew Maximilian Alexander Konstantin Papadopoulos-Wolfeschlegelsteinhausen"
    lines = [name, "12 Elm St", "Springfield IL 62701"]
    fitted = fit_address(lines, box, FONT)
    assert len(fitted.lines) > 3
    assert "".join(fitted.lines).replace(" ", "") == "".join(lines).replace(" ", "")
    for line in fitted.lines:
        assert fonts.text_width(line, FONT.regular, fitted.font_size) <= box.w + 1e-6
    assert fitted.height <= box.h + 1e-6


def test_a_word_wider_than_the_box_is_broken_not_cut() -> None:
    box = Rect(0, 0, 60, 200)
    fitted = fit_address(["Wolfeschlegelsteinhausenbergerdorff"], box, FONT)
    assert "".join(fitted.lines) == "Wolfeschlegelsteinhausenbergerdorff"
    assert all(fonts.text_width(x, FONT.regular, fitted.font_size) <= 60 for x in fitted.lines)


def test_an_address_too_tall_for_the_window_is_refused_with_the_reason() -> None:
    box = ENVELOPES["us10"].address_box
    with pytest.raises(AddressTooLongError, match="too many lines"):
        fit_address([f"Line {i}" for i in range(12)], box, FONT)


def test_no_lines_at_all_is_refused() -> None:
    with pytest.raises(ValueError, match="no address"):
        fit_address(["  ", ""], ENVELOPES["us10"].address_box, FONT)


def test_us_address_lines_put_the_zip_after_the_state_and_leave_out_the_home_country() -> None:
    a = addr(
        line1="12 Elm St",
        line2="Apt 3",
        city="Springfield",
        region="IL",
        postal_code="62701",
        country="US",
    )
    assert address_lines(a, "Ada  Okafor", "US") == [
        "Ada Okafor",
        "12 Elm St",
        "Apt 3",
        "Springfield IL 62701",
    ]


def test_german_address_lines_put_the_postal_code_first_and_name_the_country_abroad() -> None:
    a = addr(line1="Hauptstraße 5", city="Berlin", postal_code="10115", country="DE")
    assert address_lines(a, "Jürgen Groß", "DE") == ["Jürgen Groß", "Hauptstraße 5", "10115 Berlin"]
    assert address_lines(a, "Jürgen Groß", "US")[-1] == "GERMANY"


def test_address_without_postal_code_prints_the_town_alone() -> None:
    a = addr(line1="Rancho El Sauz", city="San Miguel", region="GTO")
    assert address_lines(a, "Rosa Díaz", "US") == ["Rosa Díaz", "Rancho El Sauz", "San Miguel GTO"]


def test_address_lines_accept_a_mapping_row() -> None:
    row = {
        "line1": "1 Main",
        "line2": None,
        "city": "Austin",
        "region": "TX",
        "postal_code": "78701",
        "country": "us",
    }
    assert address_lines(row, "Li Wei", "US") == ["Li Wei", "1 Main", "Austin TX 78701"]


def test_postal_line_from_the_outbox_splits_back_into_lines() -> None:
    assert lines_from_postal_line("Ada Okafor, 12 Elm St, Springfield IL 62701") == [
        "Ada Okafor",
        "12 Elm St",
        "Springfield IL 62701",
    ]


def _drawn_lines(pdf: bytes) -> list[tuple[str, float, float]]:
    found: list[tuple[str, float, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], _fd: object, size: float) -> None:
        if text.strip():
            found.append((text.strip(), tm[4], tm[5]))

    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    return found


@pytest.mark.parametrize("key", sorted(ENVELOPES))
@pytest.mark.parametrize(
    "name",
    [
        "Ελένη Παπαδόπουλος",
        "Анна Сергеевна Иванова",
        "Zoë Ågren-Núñez",
        "Maximiliana Alejandra Fernández-Castellanos de la Santísima Trinidad",
    ],
)
def test_drawn_address_reads_back_inside_the_window_with_its_margin(key: str, name: str) -> None:
    env: Envelope = ENVELOPES[key]
    lines = [name, "Οδός Ερμού 12", "улица Ленина 5", "Springfield IL 62701"]
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=env.page_size)
    placed = draw_address(canvas, lines, env, FONT)
    canvas.showPage()
    canvas.save()

    drawn = _drawn_lines(buffer.getvalue())
    assert [t for t, _, _ in drawn] == list(placed.fitted.lines)
    assert "".join(placed.fitted.lines).replace(" ", "") == "".join(lines).replace(" ", "")
    inner = env.window.inset(env.margin)
    ascent, descent = getAscentDescent(FONT.regular, placed.fitted.font_size)
    for text, x, baseline in drawn:
        width = fonts.text_width(text, FONT.regular, placed.fitted.font_size)
        ink = Rect(x, baseline + descent, width, ascent - descent)
        assert inner.contains(ink), (key, text)
        assert env.address_box.contains(ink), (key, text)


def test_din_address_starts_in_the_address_zone_when_it_fits() -> None:
    env = ENVELOPES["din_a"]
    placed = place_address(["Jürgen Groß", "Hauptstraße 5", "10115 Berlin"], env, FONT)
    ascent, _ = getAscentDescent(FONT.regular, placed.fitted.font_size)
    assert placed.lines[0].baseline + ascent == pytest.approx(env.preferred_top)
