"""Mailing labels: each address prints inside its own label on the real sheet geometry."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pypdf import PageObject, PdfReader
from reportlab.lib.units import inch, mm

from app.errors import InvalidInputError
from app.letters import fonts
from app.letters.envelopes import Rect
from app.letters.labels import SHEETS, LabelSheet, build_labels, plan_places


@dataclass(frozen=True)
class Drawn:
    text: str
    x: float
    baseline: float
    size: float
    bold: bool = False

    @property
    def width(self) -> float:
        return fonts.text_width(self.text, fonts.BOLD if self.bold else fonts.REGULAR, self.size)

    @property
    def box(self) -> Rect:
        """The ink's extent: accented capitals (É, Ά, Й) reach 0.93 em above the baseline in
        DejaVu Sans, descenders 0.24 em below."""
        return Rect(self.x, self.baseline - 0.24 * self.size, self.width, 1.17 * self.size)


def page_runs(page: PageObject) -> list[Drawn]:
    """Every text run of a page with its position (text matrix) and effective size."""
    runs: list[Drawn] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if text.strip():
            # reportlab writes each drawString as its own BT block; tm holds the place
            bold = "Bold" in str((font or {}).get("/BaseFont", ""))
            runs.append(Drawn(text.strip(), tm[4] + cm[4], tm[5] + cm[5], size * tm[3], bold))

    page.extract_text(visitor_text=visit)
    return runs


def drawn_text(pdf: bytes) -> list[list[Drawn]]:
    return [page_runs(page) for page in PdfReader(io.BytesIO(pdf)).pages]


def labels_pdf(addresses: list[list[str]], sheet: str = "5160", start: int = 1) -> bytes:
    out = io.BytesIO()
    build_labels(addresses, sheet, start, out)
    return out.getvalue()


def which_label(run: Drawn, sheet: LabelSheet) -> int | None:
    for position in range(1, sheet.per_sheet + 1):
        r = sheet.label_rect(position)
        if r.x <= run.x <= r.right and r.y <= run.baseline <= r.top:
            return position
    return None


def inside(run: Drawn, box: Rect) -> bool:
    return box.contains(run.box)


ADDRESS = ["Ada Okafor", "12 Elm St Apt 3", "Springfield IL 62701"]


def test_5160_geometry_is_averys_three_by_ten_sheet() -> None:
    sheet = SHEETS["5160"]
    first, last = sheet.label_rect(1), sheet.label_rect(30)

    assert (sheet.columns, sheet.rows) == (3, 10)
    assert (first.w, first.h) == pytest.approx((2.625 * inch, 1 * inch))
    assert first.x == pytest.approx(0.1875 * inch)  # 3/16 in side margin
    assert first.top == pytest.approx(11 * inch - 0.5 * inch)  # 1/2 in top margin
    assert sheet.label_rect(2).x - first.x == pytest.approx(2.75 * inch)  # pitch
    assert last.right == pytest.approx(8.5 * inch - 0.1875 * inch)
    assert last.y == pytest.approx(0.5 * inch)


def test_l7163_geometry_is_averys_two_by_seven_a4_sheet() -> None:
    sheet = SHEETS["l7163"]
    first, last = sheet.label_rect(1), sheet.label_rect(14)

    assert (sheet.columns, sheet.rows) == (2, 7)
    assert (first.w, first.h) == pytest.approx((99.1 * mm, 38.1 * mm))
    assert first.x == pytest.approx(4.65 * mm)
    assert first.top == pytest.approx(297 * mm - 15.1 * mm, abs=0.1)
    assert sheet.label_rect(2).x - first.x == pytest.approx(101.6 * mm)
    assert last.right == pytest.approx(210 * mm - 4.65 * mm, abs=0.1)
    assert last.y == pytest.approx(15.2 * mm, abs=0.1)


@pytest.mark.parametrize("key", ["5160", "l7163"])
def test_every_line_of_every_label_lies_inside_its_label_with_the_safe_margin(key: str) -> None:
    sheet = SHEETS[key]
    addresses = [
        [f"Patient {i}", f"{i} Long Road Name Avenue", "Springfield IL 62701"]
        for i in range(sheet.per_sheet)
    ]

    pages = drawn_text(labels_pdf(addresses, key))

    assert len(pages) == 1
    runs = pages[0]
    assert len(runs) == 3 * sheet.per_sheet
    for run in runs:
        position = which_label(run, sheet)
        assert position is not None, run
        assert inside(run, sheet.text_box(position)), run
    # across, then down: the n-th address is on the n-th label
    names = [r for r in runs if r.text.startswith("Patient ")]
    assert [which_label(r, sheet) for r in names] == list(range(1, sheet.per_sheet + 1))


def test_labels_start_at_the_first_free_position_of_a_part_used_sheet() -> None:
    sheet = SHEETS["5160"]
    addresses = [[f"Patient {i}", "1 Main St", "Springfield IL 62701"] for i in range(31)]

    pages = drawn_text(labels_pdf(addresses, "5160", start=5))

    # 26 labels fill positions 5-30 of the first sheet, the other 5 start a new one
    assert len(pages) == 2
    first_names = [r for r in pages[0] if r.text.startswith("Patient ")]
    assert first_names[0].text == "Patient 0"
    assert which_label(first_names[0], sheet) == 5
    assert len(first_names) == 26
    second_names = [r for r in pages[1] if r.text.startswith("Patient ")]
    assert [which_label(r, sheet) for r in second_names] == [1, 2, 3, 4, 5]
    assert second_names[0].text == "Patient 26"


def test_places_tell_the_print_queue_the_page_and_position_of_each_address() -> None:
    places = plan_places(16, SHEETS["l7163"], start=13)

    assert [(p.page, p.position) for p in places[:3]] == [(1, 13), (1, 14), (2, 1)]
    assert places[-1].page == 2


def test_long_name_shrinks_or_wraps_and_never_leaves_the_label() -> None:
    sheet = SHEETS["5160"]
    long_name = "Maximiliana Alexandrina Wolfeschlegelsteinhausen-Bergerdorff"
    pdf = labels_pdf(
        [[long_name, "Apartment 1204, 4550 North Lake Shore Drive", "Chicago IL 60640"]]
    )

    runs = drawn_text(pdf)[0]

    assert all(inside(r, sheet.text_box(1)) for r in runs)
    joined = " ".join(r.text for r in runs)
    for word in ("Maximiliana", "Alexandrina", "4550", "Chicago"):
        assert word in joined


def test_greek_and_cyrillic_names_print_as_themselves() -> None:
    pdf = labels_pdf(
        [
            ["Νικόλαος Παπαδόπουλος", "Οδός Αθηνάς 12", "10551 Αθήνα"],
            ["Анна Иванова", "ул. Ленина, д. 5", "190000 Санкт-Петербург"],
        ],
        "l7163",
    )

    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()

    assert "Νικόλαος Παπαδόπουλος" in text
    assert "Анна Иванова" in text
    assert "Санкт-Петербург" in text


def test_pdf_properties_name_no_patient() -> None:
    pdf = labels_pdf([ADDRESS])

    meta = PdfReader(io.BytesIO(pdf)).metadata or {}
    values = " ".join(str(v) for v in meta.values())

    assert "Okafor" not in values and "Elm" not in values
    assert meta.get("/Title") == "Mailing labels"


@pytest.mark.parametrize("start", [0, 31, -1])
def test_start_position_off_the_sheet_is_refused_with_the_range(start: int) -> None:
    with pytest.raises(InvalidInputError, match="between 1 and 30"):
        labels_pdf([ADDRESS], "5160", start)


def test_an_empty_address_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="no address"):
        labels_pdf([ADDRESS, ["  ", ""]])


def test_unknown_sheet_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(InvalidInputError, match="5160"):
        labels_pdf([ADDRESS], "9999")


def test_a_path_is_written_whole(tmp_path: Path) -> None:

    target = tmp_path / "labels.pdf"
    batch = build_labels([ADDRESS] * 15, "l7163", 1, target)

    assert batch.pages == 2
    assert len(PdfReader(target).pages) == 2
    assert [p.name for p in target.parent.iterdir()] == ["labels.pdf"]


# --- the picture in the docs --------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def render_first_page(pdf: bytes, name: str, tmp_path: Path, *, scale: float = 1.5) -> Path:
    """The first page as a PNG: in docs/screenshots/ with FRONTDESK_SCREENSHOTS=1, else in
    the test's folder. Rendered in memory with pdfium, as the print preview does."""
    import pypdfium2 as pdfium

    folder = DOCS if os.environ.get("FRONTDESK_SCREENSHOTS") else tmp_path
    target = folder / name
    document = pdfium.PdfDocument(pdf)
    try:
        image = document[0].render(scale=scale).to_pil()
    finally:
        document.close()
    # some ink on the page, and not all of it: a blank or black render fails here
    darkest, lightest = image.convert("L").getextrema()
    assert darkest < 80 and lightest > 200
    image.save(target)
    return target


def test_a_label_sheet_renders_for_the_docs(tmp_path: Path) -> None:
    addresses = [
        ["Ada Okafor", "12 Elm St Apt 3", "Springfield IL 62701"],
        ["Νικόλαος Παπαδόπουλος", "Οδός Αθηνάς 12", "10551 Αθήνα", "GREECE"],
        ["Анна Иванова", "ул. Ленина, д. 5", "190000 Санкт-Петербург", "RUSSIA"],
        ["José Ramírez-Núñez", "4550 North Lake Shore Drive, Apartment 1204", "Chicago IL 60640"],
        ["Bo Li", "1 Main St", "Springfield IL 62704"],
    ] * 3
    out = io.BytesIO()
    build_labels(addresses, "5160", 4, out, outlines=True)  # the alignment test print

    assert render_first_page(out.getvalue(), "labels.png", tmp_path).is_file()
