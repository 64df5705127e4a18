"""Starting Frontdesk: an existing clinic opens on the sign-in screen, before any patient data."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.clinic import open_clinic
from app.security import accounts
from app.users import get_user
from ui.application import run_gui
from ui.main_window import MainWindow


def test_the_window_starts_locked_with_nobody_acting_until_someone_signs_in(
    qtbot: QtBot, clinic_home: Path, app_looks: QApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # run_gui sets its own
    with open_clinic(clinic_home) as clinic:
        maria = accounts.set_first_password(clinic, "orchard ladders in april", name="Maria").id
    seen: dict[str, object] = {}

    def look() -> None:
        window = next(
            (w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)), None
        )
        if window is None or not window.isVisible():
            QTimer.singleShot(20, look)
            return
        seen["locked"] = window.is_locked()
        seen["work shown"] = window.work.isVisible()
        seen["acting"] = window.clinic.acting_user_id
        seen["chosen"] = window.sign_in_screen.selected_id()
        window.sign_in_screen.password.setText("orchard ladders in april")
        window.sign_in_screen.sign_in()
        seen["after"] = window.clinic.acting_user_id
        window.reminders.stop()
        window.hide()
        QApplication.quit()

    QTimer.singleShot(0, look)
    assert run_gui(clinic_home) == 0
    assert seen == {
        "locked": True,
        "work shown": False,
        "acting": "",
        "chosen": maria,  # the only person is chosen already: type and press Enter
        "after": maria,
    }
    with open_clinic(clinic_home) as clinic:
        actions = [
            r[0]
            for r in clinic.conn.execute(
                "SELECT action FROM audit_event WHERE action LIKE 'sign%' ORDER BY seq"
            )
        ]
    assert actions[-2:] == ["signin", "signout"]  # quitting signs out


def test_the_first_run_wizard_leaves_its_administrator_signed_in_with_a_password(
    qtbot: QtBot, tmp_path: Path
) -> None:
    from tests.ui.test_first_run import ADMIN_PASSWORD, open_wizard, to_kit_page

    wizard = open_wizard(qtbot, tmp_path / "clinic")
    to_kit_page(qtbot, wizard)
    clinic = wizard.clinic
    assert clinic is not None
    maria = get_user(clinic, clinic.acting_user_id)
    assert maria is not None and maria.name == "Maria Lopez" and maria.has_password
    assert not maria.must_change_password
    assert clinic.opened.unlocked_by == "new"  # run_gui opens such a clinic unlocked
    accounts.sign_out(clinic)
    assert accounts.sign_in(clinic, maria.id, ADMIN_PASSWORD).id == maria.id
    clinic.close()


def test_the_wizard_refuses_the_clinic_passphrase_as_the_administrators_password(
    qtbot: QtBot, tmp_path: Path
) -> None:
    from tests.ui.test_first_run import STRONG, fill_admin_page, fill_clinic_page, open_wizard

    home = tmp_path / "clinic"
    wizard = open_wizard(qtbot, home)
    fill_clinic_page(qtbot, wizard)
    wizard.next()
    fill_admin_page(qtbot, wizard)
    page = wizard.admin_page
    page.password_fields.password.setText(STRONG)
    page.password_fields.repeat.setText(STRONG)
    assert not page.validatePage()
    assert "different from the clinic passphrase" in page.password_fields.password_error.text()
    assert not (home / "clinic.db").exists()
