"""The desktop records what a person sees and prints: opening a patient, printing letters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtPrintSupport import QPrinter
from pytestqt.qtbot import QtBot

from app.audit.log import head
from app.clinic import Clinic
from app.letters import queue
from app.patients import records
from app.patients.model import PatientDraft
from tests.ui.test_letters_page import (
    choose_group,
    letter_rule,
    mailable_patients,
    make_page,
    wait_for_batch,
    waiting,
)
from tests.ui.test_patient_view import make_view


def entries(clinic: Clinic, after: int) -> list[dict[str, Any]]:
    return [
        json.loads(r[0])
        for r in clinic.conn.execute(
            "SELECT body FROM audit_event WHERE seq > ? ORDER BY seq", (after,)
        )
    ]


def test_opening_a_patient_records_who_viewed_whom(qtbot: QtBot, clinic: Clinic, dana: str):
    patient = records.create_patient(clinic, PatientDraft("Okafor", "Adaeze")).id
    view = make_view(qtbot, clinic)
    before = head(clinic.conn).seq

    view.show_patient(patient)

    (entry,) = entries(clinic, before)
    assert (entry["action"], entry["patient_id"], entry["user_id"]) == (
        "patient.view",
        patient,
        dana,
    )
    assert "Okafor" not in json.dumps(entry)


def printer_to(path: Path) -> QPrinter:
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(path))
    return printer


def test_printing_a_batch_and_saving_it_as_pdf_are_recorded_with_counts(
    qtbot: QtBot, demo_clinic: Clinic, tmp_path: Path
):
    rule = letter_rule(demo_clinic, "recall", "Recall letters")
    ids = [
        waiting(demo_clinic, p, rule, 5 - n, "recall")
        for n, p in enumerate(mailable_patients(demo_clinic, 3))
    ]
    page = make_page(qtbot, demo_clinic)
    view = page.to_print
    choose_group(view, "Letters — Recall")
    wait_for_batch(qtbot, view, ids)
    before = head(demo_clinic.conn).seq

    op = view.print_to(printer_to(tmp_path / "printed.pdf"))
    assert op is not None
    qtbot.waitUntil(lambda: op.finished, timeout=30_000)
    assert view.save_to(tmp_path / "recall letters.pdf")

    printed, saved = entries(demo_clinic, before)
    assert printed["action"] == "print"
    assert printed["detail"] == {"letters": 3, "kind": "letter", "pages": 3}
    assert (saved["action"], saved["target"]) == ("print", "recall letters.pdf")
    assert saved["detail"]["to"] == "pdf" and saved["detail"]["letters"] == 3


def test_printing_one_letter_again_names_its_patient(
    qtbot: QtBot, demo_clinic: Clinic, tmp_path: Path
):
    rule = letter_rule(demo_clinic, "recall", "Recall letters")
    (patient,) = mailable_patients(demo_clinic, 1)
    message = waiting(demo_clinic, patient, rule, 4, "recall")
    queue.mark_printed(demo_clinic, [message])
    page = make_page(qtbot, demo_clinic)
    page.tabs.setCurrentIndex(1)
    before = head(demo_clinic.conn).seq

    assert page.printed.reprint_to(message, printer_to(tmp_path / "again.pdf"))

    printed = [e for e in entries(demo_clinic, before) if e["action"] == "print"]
    assert [(e["patient_id"], e["target"]) for e in printed] == [(patient, message)]
