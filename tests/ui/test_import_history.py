"""Past imports: the list of batches, undo after confirming, and the reasons when it cannot."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.importers.session import plan_import, run_import
from app.interactions.log import log_interaction
from tests.ui.import_files import write_bundle, write_synthea_patients
from tests.ui.test_accessibility import unnamed_controls
from tests.ui.test_import_wizard import shot_folder
from ui.bus import DataBus
from ui.importing.history import PastImportsDialog


def families(clinic: Clinic) -> set[str]:
    return {str(r[0]) for r in clinic.conn.execute("SELECT family_name FROM patient")}


def two_imports(clinic: Clinic, folder: Path) -> None:
    bundle_folder = folder / "fhir"
    csv_folder = folder / "csv"
    bundle_folder.mkdir()
    csv_folder.mkdir()
    run_import(clinic, plan_import(clinic, [write_bundle(bundle_folder)]))
    run_import(clinic, plan_import(clinic, [write_synthea_patients(csv_folder)]))


def row_of(dialog: PastImportsDialog, file_name: str) -> int:
    """Two imports in the same second have no order between them: find one by its file."""
    table = dialog.table
    return next(r for r in range(table.rowCount()) if file_name in table.item(r, 2).text())


def open_history(qtbot: QtBot, clinic: Clinic) -> tuple[PastImportsDialog, list[object]]:
    bus = DataBus()
    published: list[object] = []
    bus.changed.connect(published.append)
    dialog = PastImportsDialog(clinic, bus)
    qtbot.addWidget(dialog)
    dialog.resize(1280, 720)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    return dialog, published


def test_each_import_is_listed_with_who_made_it_and_what_it_brought(
    qtbot: QtBot, clinic: Clinic, dana: str, tmp_path: Path
) -> None:
    two_imports(clinic, tmp_path)
    dialog, _ = open_history(qtbot, clinic)
    table = dialog.table
    assert table.rowCount() == 2
    synthea, fhir = row_of(dialog, "patients.csv"), row_of(dialog, "bundle.json")
    assert table.item(synthea, 1).text() == "Dana Reyes"
    assert table.item(synthea, 2).text() == "patients.csv"
    assert table.item(synthea, 3).text() == "patients: 2 new"
    assert table.item(fhir, 3).text() == "patients: 2 new; visits: 1 new"
    assert table.item(synthea, 4).text() == "Done"
    assert dialog.undo_button.isEnabled()
    assert unnamed_controls(dialog) == []
    assert dialog.grab().save(str(shot_folder(tmp_path) / "past-imports.png"))


def test_undo_after_confirming_removes_that_imports_patients_only(
    qtbot: QtBot, clinic: Clinic, tmp_path: Path
) -> None:
    two_imports(clinic, tmp_path)
    assert families(clinic) == {"Okafor", "Lindqvist", "Delgado", "Patel"}
    dialog, published = open_history(qtbot, clinic)
    dialog.table.setFocus()
    dialog.table.selectRow(row_of(dialog, "patients.csv"))
    qtbot.mouseClick(dialog.undo_button, Qt.MouseButton.LeftButton)
    box = dialog.confirm_box
    assert box is not None
    assert "2 records it added are removed" in box.informativeText()
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.No)
    dialog.answer_undo(True)
    qtbot.waitUntil(lambda: dialog.op is None, timeout=30_000)
    assert families(clinic) == {"Okafor", "Lindqvist"}
    assert published
    assert dialog.table.item(row_of(dialog, "patients.csv"), 4).text().startswith("Undone")
    assert not dialog.undo_button.isEnabled()  # already undone
    assert dialog.message.text() == "The import was undone."


def test_keeping_it_changes_nothing(qtbot: QtBot, clinic: Clinic, tmp_path: Path) -> None:
    two_imports(clinic, tmp_path)
    dialog, published = open_history(qtbot, clinic)
    dialog.ask_undo()
    dialog.answer_undo(False)
    assert dialog.op is None and dialog.confirm_box is None
    assert len(families(clinic)) == 4
    assert not published


def test_newer_work_on_an_imported_patient_blocks_undo_and_says_what(
    qtbot: QtBot, clinic: Clinic, tmp_path: Path
) -> None:
    two_imports(clinic, tmp_path)
    patel = clinic.conn.execute("SELECT id FROM patient WHERE family_name = 'Patel'").fetchone()
    log_interaction(clinic, str(patel[0]), "call", direction="out", outcome="reached")
    dialog, published = open_history(qtbot, clinic)
    dialog.table.selectRow(row_of(dialog, "patients.csv"))
    qtbot.mouseClick(dialog.undo_button, Qt.MouseButton.LeftButton)
    assert dialog.confirm_box is None  # nothing to confirm: it cannot be done
    assert dialog.blocked.isVisible()
    text = dialog.blocked.text()
    assert text.startswith("This import cannot be undone now")
    assert "call, message or note" in text
    assert len(families(clinic)) == 4
    assert not published


def test_no_imports_yet_says_so(qtbot: QtBot, clinic: Clinic) -> None:
    dialog, _ = open_history(qtbot, clinic)
    assert dialog.empty.isVisible()
    assert not dialog.table.isVisible()
    assert not dialog.undo_button.isEnabled()
