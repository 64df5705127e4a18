"""Merge review: an imported look-alike is merged, kept apart, or the decision undone."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QWizard
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.importers.session import plan_import, run_import
from app.patients.model import PatientDraft, PhoneDraft
from app.patients.records import create_patient
from tests.support.acting import administrator_acting  # noqa: F401
from tests.ui.import_files import write_bundle
from tests.ui.test_accessibility import unnamed_controls
from tests.ui.test_import_wizard import (
    add_and_wait,
    open_wizard,
    press_next,
    shot_folder,
    wait_preview,
    wait_summary,
)
from ui.bus import DataBus
from ui.importing.review import MergeReviewDialog


def existing_grace(clinic: Clinic) -> str:
    """Grace as the clinic typed her in, long before the import: no MRN on file."""
    draft = PatientDraft(
        family_name="Okafor",
        given_names="Grace",
        birth_date="1974-12-03",
        sex="female",
        phones=(PhoneDraft("(312) 555-0142", "home"),),
    )
    return create_patient(clinic, draft).id


def imported_grace(clinic: Clinic) -> str:
    row = clinic.conn.execute(
        "SELECT patient_id FROM merge_review WHERE status = 'open' ORDER BY created_at"
    ).fetchone()
    return str(row[0])


def visits_of(clinic: Clinic, patient_id: str) -> int:
    return int(
        clinic.conn.execute(
            "SELECT count(*) FROM appointment WHERE patient_id = ?", (patient_id,)
        ).fetchone()[0]
    )


@pytest.fixture
def queued(clinic: Clinic, tmp_path: Path) -> tuple[str, str]:
    """The bundle imported over a clinic that already has Grace: one pair to decide."""
    existing = existing_grace(clinic)
    result = run_import(clinic, plan_import(clinic, [write_bundle(tmp_path)]))
    assert result.reviews == 1
    return existing, imported_grace(clinic)


def open_review(qtbot: QtBot, clinic: Clinic) -> tuple[MergeReviewDialog, list[object]]:
    bus = DataBus()
    published: list[object] = []
    bus.changed.connect(published.append)
    dialog = MergeReviewDialog(clinic, bus)
    qtbot.addWidget(dialog)
    dialog.resize(1280, 720)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    return dialog, published


def test_the_pair_is_shown_side_by_side_with_the_reason(
    qtbot: QtBot, clinic: Clinic, queued: tuple[str, str], tmp_path: Path
) -> None:
    dialog, _ = open_review(qtbot, clinic)
    assert dialog.tabs.tabText(0) == "To decide (1)"
    compare = dialog.compare
    assert compare.item(0, 0).text() == compare.item(0, 1).text()  # the same name
    assert compare.item(0, 2).text() == "same"
    assert compare.item(1, 0).text() == "1974-12-03"
    assert "MRN-1001" in compare.item(5, 0).text()  # the import's identifier
    assert compare.item(6, 0).text() == "1"  # its visit
    assert compare.item(6, 1).text() == "0"
    assert dialog.reason.text().startswith("Why they look alike: ")
    assert unnamed_controls(dialog) == []
    image = dialog.grab()
    assert image.save(str(shot_folder(tmp_path) / "merge-review.png"))


def test_same_person_merges_after_confirming_and_undo_moves_it_all_back(
    qtbot: QtBot, clinic: Clinic, queued: tuple[str, str]
) -> None:
    existing, imported = queued
    dialog, published = open_review(qtbot, clinic)
    dialog.merge_button.setFocus()
    qtbot.keyClick(dialog.merge_button, Qt.Key.Key_Space)
    box = dialog.merge_box
    assert box is not None
    assert "undo" in box.informativeText() and "Nothing is deleted" in box.informativeText()
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.No)
    dialog.answer_merge(True)

    merged_into = clinic.conn.execute(
        "SELECT merged_into FROM patient WHERE id = ?", (imported,)
    ).fetchone()[0]
    assert merged_into == existing
    assert visits_of(clinic, existing) == 1 and visits_of(clinic, imported) == 0
    assert published
    assert dialog.tabs.tabText(0) == "To decide (0)"
    assert dialog.empty.isVisible()
    assert dialog.decided_list.item(0).text().startswith("Merged: ")

    dialog.tabs.setCurrentIndex(1)
    qtbot.mouseClick(dialog.undo_button, Qt.MouseButton.LeftButton)
    merged_into = clinic.conn.execute(
        "SELECT merged_into FROM patient WHERE id = ?", (imported,)
    ).fetchone()[0]
    assert merged_into is None
    assert visits_of(clinic, imported) == 1 and visits_of(clinic, existing) == 0
    assert dialog.tabs.tabText(0) == "To decide (1)"


def test_answering_no_merges_nothing(qtbot: QtBot, clinic: Clinic, queued: tuple[str, str]) -> None:
    _existing, imported = queued
    dialog, published = open_review(qtbot, clinic)
    dialog.ask_merge()
    dialog.answer_merge(False)
    assert dialog.merge_box is None
    row = clinic.conn.execute("SELECT merged_into FROM patient WHERE id = ?", (imported,))
    assert row.fetchone()[0] is None
    assert not published


def test_different_people_are_kept_apart_and_can_be_reopened(
    qtbot: QtBot, clinic: Clinic, queued: tuple[str, str]
) -> None:
    existing, imported = queued
    dialog, _ = open_review(qtbot, clinic)
    qtbot.mouseClick(dialog.apart_button, Qt.MouseButton.LeftButton)
    status = clinic.conn.execute(
        "SELECT status FROM merge_review WHERE patient_id = ?", (imported,)
    ).fetchone()[0]
    assert status == "kept-apart"
    assert visits_of(clinic, imported) == 1  # nothing moved
    assert dialog.decided_list.item(0).text().startswith("Kept apart: ")
    qtbot.mouseClick(dialog.undo_button, Qt.MouseButton.LeftButton)
    status = clinic.conn.execute(
        "SELECT status FROM merge_review WHERE patient_id = ?", (imported,)
    ).fetchone()[0]
    assert status == "open"
    assert existing != imported


def test_a_decision_made_elsewhere_is_shown_inline_not_as_a_crash(
    qtbot: QtBot, clinic: Clinic, queued: tuple[str, str]
) -> None:
    from app.importers.merge_review import keep_apart, open_reviews

    dialog, _ = open_review(qtbot, clinic)
    keep_apart(clinic, open_reviews(clinic)[0].id)  # another window decided meanwhile
    dialog.ask_merge()
    dialog.answer_merge(True)
    assert dialog.error.isVisible()
    assert dialog.error.text()
    assert dialog.tabs.tabText(0) == "To decide (0)"


def test_the_summary_links_to_the_review_of_the_pairs_it_queued(
    qtbot: QtBot, clinic: Clinic, tmp_path: Path
) -> None:
    existing_grace(clinic)
    wizard, _bus = open_wizard(qtbot, clinic)
    add_and_wait(qtbot, wizard, [write_bundle(tmp_path)])
    press_next(qtbot, wizard)
    wait_preview(qtbot, wizard)
    press_next(qtbot, wizard)
    wait_summary(qtbot, wizard)
    button = wizard.summary_page.review_button
    assert button.isVisible()
    assert button.text().replace("&", "") == "Review 1 possible duplicate"
    assert not wizard.button(QWizard.WizardButton.BackButton).isVisible()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = wizard.summary_page.review_dialog
    assert isinstance(dialog, MergeReviewDialog)
    QApplication.processEvents()
    assert dialog.isVisible()
    assert len(dialog.open_items) == 1
    dialog.close()


def test_the_main_window_says_when_pairs_wait_and_opens_the_import_screens(
    qtbot: QtBot, clinic: Clinic, queued: tuple[str, str]
) -> None:
    from ui.importing.history import PastImportsDialog
    from ui.importing.wizard import ImportWizard
    from ui.main_window import MainWindow

    window = MainWindow(clinic)
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    assert window.reviews_button.isVisible()
    assert window.reviews_button.text() == "1 possible duplicate to review"
    assert window.reviews_action.text() == "Review possible duplicates (1)…"
    texts = [a.text() for a in window._menus["&File"].actions()]
    assert "Import from your EMR…" in texts and "Past imports…" in texts

    qtbot.mouseClick(window.reviews_button, Qt.MouseButton.LeftButton)
    dialog = window.import_dialog
    assert isinstance(dialog, MergeReviewDialog) and dialog.isVisible()
    dialog.keep_apart_current()  # published on the window's bus: the hint goes away
    assert not window.reviews_button.isVisible()
    assert window.reviews_action.text() == "Review possible duplicates…"
    dialog.close()

    window.past_imports()
    assert isinstance(window.import_dialog, PastImportsDialog)
    window.import_dialog.close()
    next(a for a in window._menus["&File"].actions() if a.text().startswith("Import")).trigger()
    assert isinstance(window.import_dialog, ImportWizard)
    assert window.import_dialog.isVisible()
    window.import_dialog.reject()
