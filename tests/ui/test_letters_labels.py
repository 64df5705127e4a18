"""Mailing labels from the Letters area on a real demo clinic: Labels… opens the dialog for
the ticked letters, the sheet and the start position change the picture and the pages
(read back with pypdf: the first label's text lies in the chosen label's rectangle), Save
as PDF writes a valid PDF under a name without patients, a letter that cannot have a label
is named with the reason, nothing is marked printed, and every control is named."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from PySide6.QtCore import QPoint, Qt
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import QAbstractSpinBox, QFileDialog, QWidget
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.letters import queue
from app.letters.labels import SHEETS
from app.letters.settings import update_settings
from app.reminders import outbox
from tests.ui.test_accessibility import unnamed_controls
from tests.ui.test_letters_page import choose_group, letters, make_page, wait_for_batch
from ui.letters.labels_dialog import LabelsDialog, default_file_name
from ui.letters.page import ToPrintView

__all__ = ["letters"]  # the fixture, shared with the Letters page tests

REPO = Path(__file__).resolve().parents[2]


def open_labels(qtbot: QtBot, view: ToPrintView, ids: list[str]) -> LabelsDialog:
    wait_for_batch(qtbot, view, ids)
    assert view.labels_button.isEnabled()
    view.labels_button.click()
    dialog = view.labels_dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    return dialog


def first_lines(pdf: bytes) -> list[tuple[str, float, float]]:
    """(text, x, baseline) of each run on the first page, top to bottom."""
    runs: list[tuple[str, float, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], _font: Any, _size: float) -> None:
        if text.strip():
            runs.append((text.strip(), tm[4] + cm[4], tm[5] + cm[5]))

    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    return runs


def label_of(run: tuple[str, float, float], sheet: str) -> int | None:
    spec = SHEETS[sheet]
    for position in range(1, spec.per_sheet + 1):
        r = spec.label_rect(position)
        if r.x <= run[1] <= r.right and r.y <= run[2] <= r.top:
            return position
    return None


def patient_name(clinic: Clinic, message_id: str) -> str:
    row = clinic.conn.execute(
        "SELECT p.given_names || ' ' || p.family_name FROM outbox o "
        "JOIN patient p ON p.id = o.patient_id WHERE o.id = ?",
        (message_id,),
    ).fetchone()
    return str(row[0])


def test_labels_opens_for_the_ticked_letters_with_the_envelopes_sheet(
    qtbot: QtBot, demo_clinic: Clinic, letters: dict[str, list[str]]
) -> None:
    page = make_page(qtbot, demo_clinic)
    view = page.to_print
    choose_group(view, "Letters — Recall")
    view.tick(letters["recall"][1], False)
    ticked = [m for m in letters["recall"] if m != letters["recall"][1]]

    dialog = open_labels(qtbot, view, ticked)

    assert dialog.message_ids == tuple(ticked)
    assert dialog.sheet.key == "5160"  # US #10 envelopes: Letter-size labels
    assert dialog.start_box.maximum() == 30
    assert dialog.made is not None and dialog.made.labels == 4
    assert dialog.preview.pages == 1
    assert dialog.picture.describe() == (
        "This batch prints on labels 1 to 4 of the first sheet; labels 5 to 30 left free."
    )
    # the labels are the letters' addresses, first one first
    runs = first_lines(dialog.pdf or b"")
    assert runs[0][0] == patient_name(demo_clinic, ticked[0])
    assert label_of(runs[0], "5160") == 1
    dialog.close()


def test_changing_sheet_and_start_moves_the_first_label_there(
    qtbot: QtBot, demo_clinic: Clinic, letters: dict[str, list[str]]
) -> None:
    page = make_page(qtbot, demo_clinic)
    view = page.to_print
    choose_group(view, "Letters — Recall")
    dialog = open_labels(qtbot, view, letters["recall"])

    dialog.start_box.setValue(28)  # three left on this sheet, two go on a second one
    qtbot.waitUntil(lambda: dialog.made is not None and dialog.made.start == 28)
    assert dialog.made is not None
    assert (dialog.made.pages, dialog.preview.pages) == (2, 2)
    assert label_of(first_lines(dialog.pdf or b"")[0], "5160") == 28
    assert dialog.counts.text() == "5 labels on 2 sheets, from label 28."
    assert dialog.picture.describe() == (
        "Labels 1 to 27 already used, skipped; this batch prints on labels 28 to 30 of the "
        "first sheet; 2 more on a new sheet."
    )

    dialog.sheet_box.setCurrentIndex(dialog.sheet_box.findData("l7163"))
    assert dialog.start_box.maximum() == 14
    assert dialog.start_box.value() == 14  # clamped onto the smaller sheet
    dialog.start_box.setValue(6)
    qtbot.waitUntil(lambda: dialog.made is not None and dialog.made.sheet == "l7163")
    qtbot.waitUntil(lambda: dialog.made is not None and dialog.made.start == 6)
    pdf = dialog.pdf or b""
    assert float(PdfReader(io.BytesIO(pdf)).pages[0].mediabox.height) == pytest.approx(
        SHEETS["l7163"].page_size[1], abs=0.5
    )
    assert label_of(first_lines(pdf)[0], "l7163") == 6
    assert dialog.preview.pages == 1

    # a click on the sheet's picture starts there too
    picture = dialog.picture
    target = picture._label_rect(picture._page_rect(), 3).center()
    qtbot.mouseClick(
        picture, Qt.MouseButton.LeftButton, pos=QPoint(int(target.x()), int(target.y()))
    )
    assert dialog.start_box.value() == 3
    dialog.close()


def test_the_sheet_follows_din_envelopes(
    qtbot: QtBot, demo_clinic: Clinic, letters: dict[str, list[str]]
) -> None:
    update_settings(demo_clinic, envelope="din_a")
    dialog = LabelsDialog(demo_clinic, letters["appointment"])
    qtbot.addWidget(dialog)
    assert dialog.sheet.key == "l7163"
    assert dialog.sheet_box.currentText() == "Avery L7163 — 14 labels, A4"
    assert dialog.start_box.maximum() == 14


def test_save_as_pdf_writes_the_labels_under_a_name_without_patients(
    qtbot: QtBot,
    demo_clinic: Clinic,
    letters: dict[str, list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = make_page(qtbot, demo_clinic)
    view = page.to_print
    choose_group(view, "Letters — Recall")
    dialog = open_labels(qtbot, view, letters["recall"])
    dialog.outline_box.setChecked(True)
    qtbot.waitUntil(lambda: dialog.made is not None and not dialog._timer.isActive())
    suggested: list[str] = []

    def save_dialog(_parent: QWidget, _title: str, where: str, _filter: str) -> tuple[str, str]:
        suggested.append(where)
        return str(tmp_path / "labels"), "PDF files (*.pdf)"

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_dialog)
    dialog.save_button.click()

    name = Path(suggested[0]).name
    assert name == default_file_name(name.removeprefix("Frontdesk labels ")[:10])
    for message_id in letters["recall"]:
        for word in patient_name(demo_clinic, message_id).split():
            assert word not in name
    saved = tmp_path / "labels.pdf"
    reader = PdfReader(saved)
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert patient_name(demo_clinic, letters["recall"][0]) in text
    assert "Saved 5 labels on 1 sheet" in dialog.status.text()
    # labels mark nothing: the letters still wait to be confirmed printed
    states = {outbox.get_message(demo_clinic, m).state for m in letters["recall"]}
    assert states == {"to_print"}
    dialog.close()


def test_print_sends_the_label_sheets_to_the_printer(
    qtbot: QtBot, demo_clinic: Clinic, letters: dict[str, list[str]], tmp_path: Path
) -> None:
    dialog = LabelsDialog(demo_clinic, letters["recall"])
    qtbot.addWidget(dialog)
    dialog.start_box.setValue(29)
    dialog.lay_out()
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(tmp_path / "printed.pdf"))

    op = dialog.print_to(printer)

    assert op is not None
    qtbot.waitUntil(lambda: op.finished, timeout=15_000)
    assert op.error is None
    assert len(PdfReader(tmp_path / "printed.pdf").pages) == 2
    assert "Sent to the printer: 5 labels on 2 sheets, from label 29" in dialog.status.text()


def test_a_letter_without_an_address_is_named_with_the_reason(
    qtbot: QtBot, demo_clinic: Clinic, letters: dict[str, list[str]]
) -> None:
    lost = letters["recall"][2]
    patient_id = outbox.get_message(demo_clinic, lost).patient_id
    with demo_clinic.store.write() as tx:
        for (address_id,) in demo_clinic.conn.execute(
            "SELECT id FROM address WHERE patient_id = ?", (patient_id,)
        ).fetchall():
            tx.delete("address", address_id)
    names = {lost: "Pat Example"}

    dialog = LabelsDialog(demo_clinic, letters["recall"], names)
    qtbot.addWidget(dialog)
    dialog.show()

    assert dialog.made is not None and dialog.made.labels == 4
    assert dialog.left_out.isVisible()
    assert dialog.left_out.text() == f"1 letter gets no label:\n• Pat Example: {queue.NO_ADDRESS}"


def test_every_control_is_named_and_the_keyboard_reaches_them(
    qtbot: QtBot, demo_clinic: Clinic, letters: dict[str, list[str]], tmp_path: Path
) -> None:
    """FRONTDESK_SCREENSHOTS=1 also writes docs/screenshots/labels-dialog.png for the guide."""
    page = make_page(qtbot, demo_clinic)
    view = page.to_print
    choose_group(view, "Letters — Recall")
    assert view.labels_button.accessibleName() == "Print mailing labels for the ticked letters"
    dialog = open_labels(qtbot, view, letters["recall"])
    assert unnamed_controls(dialog) == []
    # Tab from the sheet walks the controls in reading order
    order = [dialog.sheet_box]
    widget = dialog.sheet_box.nextInFocusChain()
    while widget is not dialog.close_button and len(order) < 40:
        inner = isinstance(widget.parent(), QAbstractSpinBox)  # the spin box's own text field
        if (
            widget.focusPolicy() & Qt.FocusPolicy.TabFocus
            and widget.isVisibleTo(dialog)
            and not inner
        ):
            order.append(widget)
        widget = widget.nextInFocusChain()
    names = [w.accessibleName() for w in order]
    assert names[:3] == ["Label sheet", "Start at label", "Outline the labels"]
    assert names.index("Print the labels") < names.index("Save the labels as a PDF file")

    dialog.start_box.setValue(5)
    dialog.lay_out()
    dialog.resize(1280, 720)
    qtbot.wait(250)  # the preview settles to its width
    out = REPO / "docs" / "screenshots" if os.environ.get("FRONTDESK_SCREENSHOTS") else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    image = dialog.grab()
    assert image.save(str(out / "labels-dialog.png"))
    assert (out / "labels-dialog.png").stat().st_size > 10_000
    dialog.close()
