"""Settings ▸ People and sign-in: administrators manage people, everyone else reads the list."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.security import accounts
from app.users import get_user, users
from ui.bus import DataBus
from ui.security.people_tab import PeopleTab, TemporaryPasswordDialog

MARIA_PASSWORD = "orchard ladders in april"


def open_tab(qtbot: QtBot, clinic: Clinic) -> PeopleTab:
    tab = PeopleTab(clinic, DataBus())
    qtbot.addWidget(tab)
    tab.resize(1000, 600)
    tab.show()
    return tab


def cells(tab: PeopleTab) -> list[list[str]]:
    return [
        [tab.table.item(row, column).text() for column in range(tab.table.columnCount())]  # type: ignore[union-attr]
        for row in range(tab.table.rowCount())
    ]


def test_an_administrator_adds_a_person_with_a_temporary_password(
    qtbot: QtBot, clinic: Clinic
) -> None:
    accounts.set_first_password(clinic, MARIA_PASSWORD, name="Maria Lopez")
    tab = open_tab(qtbot, clinic)
    assert tab.manage_row.isVisible() and not tab.notice.isVisible()
    qtbot.mouseClick(tab.add_button, Qt.MouseButton.LeftButton)
    dialog = tab.dialog
    assert isinstance(dialog, TemporaryPasswordDialog)
    suggested = dialog.password.text()
    assert len(suggested) == 14
    qtbot.keyClicks(dialog.name, "Dana Reyes")
    dialog.save()
    rows = cells(tab)
    assert rows[0][:4] == ["Maria Lopez", "Administrator", "Active", "Set"]
    assert rows[1] == ["Dana Reyes", "Receptionist", "Active", "Temporary", "Never here"]
    assert "Dana Reyes has a temporary password" in tab.done.text()
    dana = next(u for u in users(clinic) if u.name == "Dana Reyes")
    assert accounts.sign_in(clinic, dana.id, suggested).must_change_password


def test_a_weak_temporary_password_is_refused_in_the_dialog(qtbot: QtBot, clinic: Clinic) -> None:
    accounts.set_first_password(clinic, MARIA_PASSWORD, name="Maria Lopez")
    tab = open_tab(qtbot, clinic)
    tab.add_person()
    dialog = tab.dialog
    assert isinstance(dialog, TemporaryPasswordDialog)
    qtbot.keyClicks(dialog.name, "Dana Reyes")
    dialog.password.setText("dana123")
    dialog.save()
    assert dialog.isVisible() and "12 characters" in dialog.error.text()
    assert len(users(clinic)) == 1


def test_roles_passwords_and_disabling_from_the_tab_and_the_last_administrator_kept(
    qtbot: QtBot, clinic: Clinic
) -> None:
    maria = accounts.set_first_password(clinic, MARIA_PASSWORD, name="Maria Lopez").id
    dana = accounts.add_person(clinic, "Dana Reyes", "receptionist", "KQ7M-R2XD-P9TA").id
    tab = open_tab(qtbot, clinic)
    tab.choose(maria)
    tab.role.setCurrentIndex(tab.role.findData("manager"))
    qtbot.mouseClick(tab.role_button, Qt.MouseButton.LeftButton)
    assert "only administrator" in tab.error.text()
    assert tab.error.isVisible()
    tab.choose(dana)
    tab.role.setCurrentIndex(tab.role.findData("manager"))
    qtbot.mouseClick(tab.role_button, Qt.MouseButton.LeftButton)
    assert get_user(clinic, dana).role == "manager"  # type: ignore[union-attr]
    qtbot.mouseClick(tab.active_button, Qt.MouseButton.LeftButton)
    assert cells(tab)[1][2] == "Disabled" and tab.active_button.text() == "&Enable"
    tab.reset()
    dialog = tab.dialog
    assert isinstance(dialog, TemporaryPasswordDialog) and dialog.person is not None
    dialog.password.setText("ZX9P-4KMW-TT3Q")
    dialog.save()
    assert not dialog.isVisible()


def test_a_receptionist_reads_the_list_without_the_buttons(qtbot: QtBot, clinic: Clinic) -> None:
    accounts.set_first_password(clinic, MARIA_PASSWORD, name="Maria Lopez")
    dana = accounts.add_person(clinic, "Dana Reyes", "receptionist", "KQ7M-R2XD-P9TA").id
    accounts.sign_in(clinic, dana, "KQ7M-R2XD-P9TA")
    tab = open_tab(qtbot, clinic)
    assert not tab.manage_row.isVisible()
    assert tab.notice.isVisible() and "Only an administrator" in tab.notice.text()
    assert [row[0] for row in cells(tab)] == ["Maria Lopez", "Dana Reyes"]
    assert cells(tab)[0][4] != "Never here"  # Maria signed in at this desk


def test_the_lock_settings_box_joins_the_tab_below_the_list(qtbot: QtBot, clinic: Clinic) -> None:
    accounts.set_first_password(clinic, MARIA_PASSWORD, name="Maria Lopez")
    tab = open_tab(qtbot, clinic)
    box = QLabel("Automatic lock")
    tab.add_section(box)
    assert box.parentWidget() is tab
    qtbot.waitUntil(box.isVisible)


def test_screenshot_of_the_people_tab(qtbot: QtBot, clinic: Clinic, tmp_path: Path) -> None:
    accounts.set_first_password(clinic, MARIA_PASSWORD, name="Maria Lopez")
    accounts.add_person(clinic, "Dana Reyes", "receptionist", "KQ7M-R2XD-P9TA")
    tab = open_tab(qtbot, clinic)
    tab.resize(1280, 600)
    tab.table.selectRow(1)
    path = tmp_path / "people.png"
    assert tab.grab().save(str(path))
