"""The lock screen inside the main window: patient data hidden, work kept, sign-in by keyboard,
switching user, the growing wait, temporary passwords and emergency access."""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
)
from pytestqt.qtbot import QtBot

from app.audit import actions
from app.clinic import Clinic
from app.security import accounts
from app.users import add_user, get_user
from tests.conftest import Template
from ui.main_window import MainWindow
from ui.security.sign_in import CHANGE_PAGE, EMERGENCY_PAGE, FIRST_PAGE, FORGOT_PAGE, SIGN_IN_PAGE

REPO = Path(__file__).resolve().parents[2]
MARIA_PASSWORD = "orchard ladders in april"
DANA_PASSWORD = "blue heron over the weir"


def people(clinic: Clinic) -> tuple[str, str]:
    """Maria (administrator, signed in) and Dana (receptionist with her own password)."""
    maria = accounts.set_first_password(clinic, MARIA_PASSWORD, name="Maria Lopez").id
    dana = accounts.add_person(clinic, "Dana Reyes", "receptionist", "KQ7M-R2XD-P9TA").id
    accounts.sign_in(clinic, dana, "KQ7M-R2XD-P9TA")
    accounts.change_own_password(clinic, "KQ7M-R2XD-P9TA", DANA_PASSWORD)
    accounts.sign_in(clinic, maria, MARIA_PASSWORD)
    return maria, dana


def open_window(qtbot: QtBot, clinic: Clinic) -> MainWindow:
    window = MainWindow(clinic)
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    return window


def a_patient(clinic: Clinic) -> tuple[str, str, str]:
    rows = clinic.conn.execute(
        "SELECT id, family_name, given_names FROM patient WHERE deceased = 0 ORDER BY rowid"
    ).fetchall()
    row = next(r for r in rows if (r[1] + r[2]).isascii() and len(r[1]) > 3)
    return str(row[0]), str(row[1]), str(row[2])


def visible_texts() -> list[str]:
    """Every piece of text a person could read on screen right now."""
    texts: list[str] = []
    for widget in QApplication.allWidgets():
        if not widget.isVisible():
            continue
        texts += [widget.windowTitle(), widget.toolTip(), widget.accessibleName()]
        if isinstance(widget, (QLabel, QAbstractButton, QLineEdit)):
            texts.append(widget.text())
        if isinstance(widget, QPlainTextEdit):
            texts.append(widget.toPlainText())
        if isinstance(widget, QComboBox):
            texts.append(widget.currentText())
        if isinstance(widget, QAbstractItemView) and widget.model() is not None:
            model = widget.model()
            root = widget.rootIndex()
            for row in range(min(model.rowCount(root), 300)):
                for column in range(30):  # list models keep columnCount private
                    index = model.index(row, column, root)
                    if not index.isValid():
                        break
                    texts.append(str(model.data(index) or ""))
    return texts


def sign_in_as(qtbot: QtBot, window: MainWindow, user_id: str, password: str) -> None:
    screen = window.sign_in_screen
    screen.select_person(user_id)
    screen.password.setFocus()
    qtbot.keyClicks(screen.password, password)
    qtbot.keyClick(screen.password, Qt.Key.Key_Return)


def open_patient_with_a_note(
    qtbot: QtBot, window: MainWindow, clinic: Clinic
) -> tuple[str, str, QWidget]:
    patient_id, family, _given = a_patient(clinic)
    window.open_patient(patient_id)
    window.patient_view.add_note()
    dialog = window.patient_view.dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    qtbot.keyClicks(dialog.text, "Asked about the new hours")  # type: ignore[attr-defined]
    return patient_id, family, dialog


def test_locking_hides_every_trace_of_the_open_patient_and_keeps_the_form(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    people(demo_clinic)
    window = open_window(qtbot, demo_clinic)
    _patient_id, family, dialog = open_patient_with_a_note(qtbot, window, demo_clinic)
    window.finder.field.setText(family)
    assert any(family in text for text in visible_texts())

    window.lock_screen("idle")
    window.lock_screen("idle")  # a second trigger changes nothing

    assert window.is_locked()
    assert window.sign_in_screen.isVisible() and not window.work.isVisible()
    assert not dialog.isVisible() and window.kept_windows(demo_clinic.acting_user_id) == [dialog]
    assert not any(family in text for text in visible_texts())
    assert "without use" in window.sign_in_screen.message.text()
    assert not window.find_action.isEnabled()  # Ctrl+K cannot reach the finder
    locks = demo_clinic.conn.execute(
        "SELECT COUNT(*) FROM audit_event WHERE action = ?", (actions.LOCK,)
    ).fetchone()[0]
    assert locks == 1


def test_the_same_person_signing_in_gets_the_patient_and_the_half_typed_note_back(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    maria, _dana = people(demo_clinic)
    window = open_window(qtbot, demo_clinic)
    patient_id, _family, dialog = open_patient_with_a_note(qtbot, window, demo_clinic)
    window.lock_screen("switch")
    assert window.sign_in_screen.selected_id() == maria  # the one who locked, chosen
    with qtbot.waitSignal(window.screen_unlocked):
        sign_in_as(qtbot, window, maria, MARIA_PASSWORD)
    assert not window.is_locked()
    assert window.stack.currentWidget() is window.patient_view
    assert window.patient_view.patient_id == patient_id
    assert dialog.isVisible()
    assert dialog.text.toPlainText() == "Asked about the new hours"  # type: ignore[attr-defined]
    assert window.find_action.isEnabled()


def test_another_person_does_not_see_the_previous_persons_patient_or_form(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    maria, dana = people(demo_clinic)
    window = open_window(qtbot, demo_clinic)
    _patient_id, family, dialog = open_patient_with_a_note(qtbot, window, demo_clinic)
    window.lock_screen("switch")
    sign_in_as(qtbot, window, dana, DANA_PASSWORD)
    assert demo_clinic.acting_user_id == dana
    assert not dialog.isVisible()
    assert window.stack.currentWidget() is not window.patient_view
    assert not any(family in text for text in visible_texts())
    assert window.kept_label.text() == (
        "Maria Lopez has work open; it is kept until they sign in again."
    )
    assert window.user_label.text() == "Dana Reyes (receptionist)"
    switch = demo_clinic.conn.execute(
        "SELECT body FROM audit_event WHERE action = ? ORDER BY seq DESC LIMIT 1",
        (actions.SIGN_OUT,),
    ).fetchone()
    assert json.loads(bytes(switch[0]))["user_id"] == maria

    window.lock_screen("switch")
    assert "Maria Lopez has work open" in window.sign_in_screen.kept.text()
    sign_in_as(qtbot, window, maria, MARIA_PASSWORD)
    assert dialog.isVisible()
    assert dialog.text.toPlainText() == "Asked about the new hours"  # type: ignore[attr-defined]
    assert not window.kept_label.isVisible()


def test_sign_in_by_keyboard_only_with_the_same_words_for_any_wrong_try_and_a_wait(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    _maria, dana = people(demo_clinic)
    window = open_window(qtbot, demo_clinic)
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.AltModifier)  # the File menu
    menu = QApplication.activePopupWidget()
    if menu is not None:
        menu.close()
    window.lock_action.trigger()
    screen = window.sign_in_screen
    screen.people.setFocus()
    qtbot.keyClicks(screen.people, "D")  # typing the first letter finds Dana
    assert screen.selected_id() == dana
    qtbot.keyClick(screen.people, Qt.Key.Key_Tab)
    assert screen.password.hasFocus()
    for attempt in range(4):
        qtbot.keyClicks(screen.password, f"not her password {attempt}")
        qtbot.keyClick(screen.password, Qt.Key.Key_Return)
        assert screen.error.text().startswith("That name and password do not match.")
        screen.password.clear()
    assert screen.waiting and screen.wait.isVisible()
    assert "try again in 2 seconds" in screen.wait.text()
    assert window.is_locked()
    qtbot.waitUntil(lambda: not screen.waiting, timeout=5000)
    qtbot.keyClicks(screen.password, DANA_PASSWORD)
    qtbot.keyClick(screen.password, Qt.Key.Key_Return)
    assert not window.is_locked() and demo_clinic.acting_user_id == dana


def test_a_temporary_password_is_replaced_before_the_desk_opens(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    people(demo_clinic)
    sam = accounts.add_person(demo_clinic, "Sam Ortiz", "manager", "ZX9P-4KMW-TT3Q").id
    window = open_window(qtbot, demo_clinic)
    window.lock_screen("switch")
    sign_in_as(qtbot, window, sam, "ZX9P-4KMW-TT3Q")
    screen = window.sign_in_screen
    assert screen.pages.currentIndex() == CHANGE_PAGE and window.is_locked()
    assert screen.change_fields.password.hasFocus()
    qtbot.keyClicks(screen.change_fields.password, "short one")
    qtbot.keyClicks(screen.change_fields.repeat, "short one")
    qtbot.keyClick(screen.change_fields.repeat, Qt.Key.Key_Return)
    assert "12 characters" in screen.change_fields.password_error.text()
    screen.change_fields.clear()
    qtbot.keyClicks(screen.change_fields.password, "copper kettles by the mill")
    qtbot.keyClicks(screen.change_fields.repeat, "copper kettles by the mill")
    qtbot.keyClick(screen.change_fields.repeat, Qt.Key.Key_Return)
    assert not window.is_locked()
    person = get_user(demo_clinic, sam)
    assert person is not None and not person.must_change_password


def test_emergency_access_with_the_recovery_key_from_the_sign_in_screen(
    qtbot: QtBot, demo_clinic: Clinic, demo_template: Template
) -> None:
    maria, _dana = people(demo_clinic)
    window = open_window(qtbot, demo_clinic)
    window.lock_screen("switch")
    screen = window.sign_in_screen
    qtbot.mouseClick(screen.forgot_button, Qt.MouseButton.LeftButton)
    assert screen.pages.currentIndex() == FORGOT_PAGE
    screen._open_emergency()
    assert screen.pages.currentIndex() == EMERGENCY_PAGE
    assert screen.admin_choice.currentData() == maria
    qtbot.keyClicks(screen.recovery_key, "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH")
    qtbot.keyClicks(screen.emergency_fields.password, "lanterns along the canal")
    qtbot.keyClicks(screen.emergency_fields.repeat, "lanterns along the canal")
    qtbot.keyClick(screen.emergency_fields.repeat, Qt.Key.Key_Return)
    assert "does not unlock" in screen.key_error.text() and window.is_locked()
    screen.recovery_key.clear()
    qtbot.keyClicks(screen.recovery_key, demo_template.recovery_key)
    qtbot.keyClick(screen.emergency_fields.repeat, Qt.Key.Key_Return)
    assert not window.is_locked() and demo_clinic.acting_user_id == maria
    window.lock_screen("switch")
    assert screen.pages.currentIndex() == SIGN_IN_PAGE
    assert screen.notice.isVisible() and "Emergency access was used" in screen.notice.text()


def test_a_clinic_without_passwords_asks_for_its_administrators_first(
    qtbot: QtBot, clinic: Clinic
) -> None:
    maria = add_user(clinic, "Maria Lopez", "administrator").id
    window = open_window(qtbot, clinic)
    clinic.acting_user_id = ""
    window.lock_screen("start")
    screen = window.sign_in_screen
    assert screen.pages.currentIndex() == FIRST_PAGE
    assert screen.first_heading.text() == "Set a password for Maria Lopez"
    assert not screen.first_name.isVisible()
    qtbot.keyClicks(screen.first_fields.password, MARIA_PASSWORD)
    qtbot.keyClicks(screen.first_fields.repeat, MARIA_PASSWORD)
    qtbot.keyClick(screen.first_fields.repeat, Qt.Key.Key_Return)
    assert not window.is_locked() and clinic.acting_user_id == maria
    assert window.user_label.text() == "Maria Lopez (administrator)"


def test_screenshot_of_the_sign_in_screen(
    qtbot: QtBot, demo_clinic: Clinic, tmp_path: Path
) -> None:
    """FRONTDESK_SCREENSHOTS=1 also writes it to docs/screenshots/ for the user guide."""
    out = REPO / "docs" / "screenshots" if os.environ.get("FRONTDESK_SCREENSHOTS") else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    _maria, dana = people(demo_clinic)
    window = open_window(qtbot, demo_clinic)
    window.lock_screen("idle")
    window.sign_in_screen.select_person(dana)
    QApplication.processEvents()
    path = out / "sign-in.png"
    assert window.grab().save(str(path))
    assert path.stat().st_size > 10_000


def test_the_patients_kiosk_keeps_taking_answers_while_the_desk_is_locked(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    from ui.kiosk.window import KioskWindow

    people(demo_clinic)
    window = open_window(qtbot, demo_clinic)
    kiosk = KioskWindow(demo_clinic, window.bus, window)
    kiosk.show()
    qtbot.waitUntil(kiosk.isVisible)
    window.lock_screen("idle")
    assert kiosk.isVisible() and window.is_locked()
    kiosk.close()
