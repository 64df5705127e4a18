"""The whole desktop, offscreen, on a real encrypted demo clinic, driven by the keyboard."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.ops import OperationCancelledError
from app.patients.records import get_patient
from app.reminders.rules import KINDS, load_rules
from app.users import act_as_default_user, add_user
from ui.application import add_demo_patients
from ui.main_window import AREAS, MainWindow

REPO = Path(__file__).resolve().parents[2]


def open_window(qtbot: QtBot, clinic: Clinic) -> MainWindow:
    window = MainWindow(clinic)
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    return window


def some_patient(clinic: Clinic) -> tuple[str, str]:
    """A living patient with history whose name QTest can type (it types ASCII only)."""
    rows = clinic.conn.execute(
        "SELECT p.id, p.family_name, p.given_names FROM patient p WHERE p.deceased = 0 AND "
        "EXISTS (SELECT 1 FROM interaction i WHERE i.patient_id = p.id) ORDER BY p.rowid"
    ).fetchall()
    row = next(r for r in rows if (r[1] + r[2]).isascii())
    return str(row[0]), str(row[1])


def find_by_keyboard(qtbot: QtBot, window: MainWindow, text: str) -> None:
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert window.finder.field.hasFocus()
    qtbot.keyClicks(window.finder.field, text)
    qtbot.waitUntil(lambda: window.finder.shown_text == text)


def test_find_a_patient_by_keyboard_only_and_open_them(qtbot: QtBot, demo_clinic: Clinic) -> None:
    patient_id, family = some_patient(demo_clinic)
    given = get_patient(demo_clinic, patient_id).given_names
    window = open_window(qtbot, demo_clinic)
    window.nav.setFocus()
    find_by_keyboard(qtbot, window, f"{family} {given}")
    ids = window.finder.patient_ids()
    assert patient_id in ids
    for _ in range(ids.index(patient_id)):
        qtbot.keyClick(window.finder.field, Qt.Key.Key_Down)
    qtbot.keyClick(window.finder.field, Qt.Key.Key_Return)
    assert window.stack.currentWidget() is window.patient_view
    assert window.patient_view.patient_id == patient_id
    assert window.patient_view.header.name.text().startswith(family)
    assert window.patient_view.timeline.model.rowCount() > 0


def test_ctrl_i_opens_the_import_window(qtbot: QtBot, clinic: Clinic) -> None:
    from ui.importing.wizard import ImportWizard

    clinic.acting_user_id = add_user(clinic, "Mel Manager", "manager").id
    window = open_window(qtbot, clinic)
    qtbot.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: isinstance(window.import_dialog, ImportWizard))
    dialog = window.import_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.reject()


def test_ctrl_number_keys_switch_areas_and_ctrl_w_returns(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    window = open_window(qtbot, demo_clinic)
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.stack.currentWidget() is window.patients
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.stack.currentWidget() is window.today
    window.open_patient(some_patient(demo_clinic)[0])
    window.patient_view.timeline.list.setFocus()
    qtbot.keyClick(
        window.patient_view.timeline.list, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier
    )
    assert window.stack.currentWidget() is window.today


def test_every_area_has_its_own_page(qtbot: QtBot, clinic: Clinic) -> None:
    window = open_window(qtbot, clinic)
    for row, area in enumerate(AREAS):
        window.nav.setCurrentRow(row)
        assert window.stack.currentWidget() is window.pages[area]
    assert window.pages["Campaigns"] is window.campaigns
    assert window.pages["Reports"] is window.reports


def test_status_bar_names_clinic_user_and_data_folder_state(qtbot: QtBot, clinic: Clinic) -> None:
    clinic.acting_user_id = add_user(clinic, "Dana Reyes", "administrator").id
    act_as_default_user(clinic)
    window = open_window(qtbot, clinic)
    assert window.clinic_label.text().startswith("Lakeside Family Practice")
    assert window.user_label.text() == "Dana Reyes (administrator)"
    assert "Data folder OK" in window.folder_label.text()
    assert window.windowTitle() == "Frontdesk"


def test_help_lists_the_shortcuts(qtbot: QtBot, clinic: Clinic) -> None:
    from ui.help_dialogs import ShortcutsDialog

    window = open_window(qtbot, clinic)
    qtbot.keyClick(window, Qt.Key.Key_F1)
    dialogs = window.findChildren(ShortcutsDialog)
    assert dialogs and dialogs[-1].isVisible()
    dialogs[-1].close()


def test_window_stays_responsive_during_a_long_operation_and_cancel_changes_nothing(
    qtbot: QtBot, clinic: Clinic
) -> None:
    window = open_window(qtbot, clinic)
    changes_before = clinic.conn.execute("SELECT count(*) FROM change").fetchone()[0]
    ticks: list[int] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)
    op = add_demo_patients(window, patients=20_000)
    qtbot.waitUntil(window.tray.isVisible, timeout=10_000)
    seen = len(ticks)
    qtbot.waitUntil(lambda: len(ticks) > seen + 5, timeout=5_000)  # the event loop runs
    qtbot.keyClicks(window.finder.field, "a")  # and typing still works
    qtbot.waitUntil(lambda: window.finder.shown_text == "a")
    window.tray.cancel_button.click()
    qtbot.waitUntil(lambda: op.finished, timeout=60_000)
    timer.stop()
    assert isinstance(op.error, OperationCancelledError)
    assert not window.tray.isVisible()
    assert clinic.conn.execute("SELECT count(*) FROM patient").fetchone()[0] == 0
    assert clinic.conn.execute("SELECT count(*) FROM change").fetchone()[0] == changes_before


def test_demo_patients_added_in_the_background_show_up_in_the_views(
    qtbot: QtBot, clinic: Clinic
) -> None:
    window = open_window(qtbot, clinic)
    op = add_demo_patients(window, patients=40)
    qtbot.waitUntil(lambda: op.finished, timeout=60_000)
    assert op.error is None
    qtbot.keyClicks(window.finder.field, "a")
    qtbot.waitUntil(lambda: window.finder.shown_text == "a")
    assert window.finder.patient_ids()
    # The demo comes with the ready-made reminder rules, already planned (sending off).
    campaigns = {"education", "allergy", "reactivation"}  # set up by the clinic itself
    assert {r.kind for r in load_rules(clinic)} == set(KINDS) - campaigns
    assert clinic.conn.execute("SELECT count(*) FROM outbox").fetchone()[0] > 0


@pytest.mark.parametrize("scale", [1])
def test_screenshots_of_the_main_screens(
    qtbot: QtBot, demo_clinic: Clinic, tmp_path: Path, scale: int
) -> None:
    """Renders Today, the patient view and the finder. FRONTDESK_SCREENSHOTS=1 also
    writes them to docs/screenshots/ for the user guide."""
    out = REPO / "docs" / "screenshots" if os.environ.get("FRONTDESK_SCREENSHOTS") else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    add_user(demo_clinic, "Dana Reyes", "receptionist")
    act_as_default_user(demo_clinic)
    window = open_window(qtbot, demo_clinic)
    QApplication.processEvents()
    shots = {"main-today.png": window.grab()}
    patient_id, family = some_patient(demo_clinic)
    find_by_keyboard(qtbot, window, family[:4])
    shots["finder.png"] = window.grab()
    qtbot.keyClick(window.finder.field, Qt.Key.Key_Escape)
    window.open_patient(patient_id)
    QApplication.processEvents()
    shots["patient-view.png"] = window.grab()
    for name, image in shots.items():
        assert image.width() >= 1280 * scale
        assert image.save(str(out / name))
        assert (out / name).stat().st_size > 10_000


def test_the_window_opens_on_the_chosen_start_page(qtbot: QtBot, clinic: Clinic) -> None:
    window = MainWindow(clinic, start_page="Patients")
    qtbot.addWidget(window)
    assert window.stack.currentWidget() is window.patients


def test_log_a_call_by_keyboard_and_see_it_on_the_timeline(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    from ui.forms.call import LogCallDialog

    patient_id, _family = some_patient(demo_clinic)
    window = open_window(qtbot, demo_clinic)
    window.open_patient(patient_id)
    view = window.patient_view
    qtbot.keyClick(view.timeline.list, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    dialog = view.dialog
    assert isinstance(dialog, LogCallDialog)
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    reached = dialog.outcome_buttons["reached"]
    for _ in range(6):  # Tab from "I called them" to the outcome choices
        if reached.hasFocus():
            break
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert reached.hasFocus()
    qtbot.keyClick(reached, Qt.Key.Key_Space)
    assert dialog.outcome() == "reached"
    qtbot.keyClicks(dialog.note, "Confirmed Tuesday")
    qtbot.keyClick(dialog.note, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: view.dialog is None)
    top = view.timeline.model.entries[0]
    assert (top.kind, top.title) == ("call", "Call · reached")
    assert view.timeline.model.rowCount() > 1


def test_edit_consent_in_the_details_form_and_see_the_badge_change(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    from ui.forms.details import DetailsDialog

    patient_id, _family = some_patient(demo_clinic)
    window = open_window(qtbot, demo_clinic)
    window.open_patient(patient_id)
    view = window.patient_view
    badge = view.header.badges[("email", "survey")]
    before = badge.state
    qtbot.keyClick(view.timeline.list, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    dialog = view.dialog
    assert isinstance(dialog, DetailsDialog)
    box = dialog.consent_boxes[("email", "survey")]
    box.click()
    dialog.consent_source.setCurrentText("Told us at the desk")
    assert dialog.save()
    qtbot.waitUntil(lambda: view.dialog is None)
    assert badge.state != before
    assert badge.state in ("granted", "withdrawn")
    assert view.timeline.model.entries[0].kind == "consent"


def test_a_receptionist_has_no_import_or_research_export_in_the_menu(
    qtbot: QtBot, clinic: Clinic
) -> None:
    clinic.acting_user_id = add_user(clinic, "Dana Reyes", "receptionist").id
    window = open_window(qtbot, clinic)
    assert not window.import_action.isVisible()
    assert not window.research_action.isVisible()
    qtbot.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)
    assert getattr(window, "import_dialog", None) is None
    window.lock_screen("switch")
    # What the sign-in screen does after a good password: the person acts, then its signal.
    clinic.acting_user_id = add_user(clinic, "Mel Manager", "manager").id
    window._signed_in(clinic.acting_user_id)
    assert window.import_action.isVisible() and window.research_action.isVisible()
