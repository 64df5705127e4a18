"""Settings: clinic details are checked and saved for every desk; text size and colours
apply to this computer at once and come back after a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QWidget,
)
from pytestqt.qtbot import QtBot

from app.clinic import Clinic, open_clinic
from app.preferences import Preferences, load_preferences
from app.store.changes import Changes
from tests.support.acting import administrator_acting  # noqa: F401
from ui import theme
from ui.bus import DataBus
from ui.settings_page import SettingsPage


@pytest.fixture
def prefs_file(clinic: Clinic) -> Path:
    """Preferences live beside the clinic (this test's copy), never the developer's."""
    return clinic.home / "preferences.json"


@pytest.fixture
def page(qtbot: QtBot, clinic: Clinic, prefs_file: Path, app_looks: QApplication) -> SettingsPage:
    widget = SettingsPage(clinic, DataBus())
    qtbot.addWidget(widget)
    widget.resize(1280, 720)
    widget.show()
    return widget


def _retype(qtbot: QtBot, field: QLineEdit, text: str) -> None:
    field.selectAll()
    qtbot.keyClick(field, Qt.Key.Key_Delete)
    qtbot.keyClicks(field, text)


def _choose_time_zone(qtbot: QtBot, page: SettingsPage, zone: str) -> None:
    editor = page.timezone_combo.lineEdit()
    assert editor is not None
    _retype(qtbot, editor, zone)


def test_phone_and_time_zone_saved_reach_the_clinic_and_a_fresh_open(
    qtbot: QtBot, page: SettingsPage, clinic: Clinic, clinic_home: Path
) -> None:
    published: list[Changes] = []
    page.bus.changed.connect(published.append)

    _retype(qtbot, page.phone_edit, "(312) 555-0188")
    _choose_time_zone(qtbot, page, "Europe/Dublin")
    qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)

    assert clinic.settings.phone == "+13125550188"
    assert clinic.settings.timezone == "Europe/Dublin"
    assert published and published[0].touches("setting")
    assert not page.has_unsaved_changes()
    assert page.clinic_status.text() == "Saved."
    with open_clinic(clinic_home) as reopened:
        assert reopened.settings.phone == "+13125550188"
        assert reopened.settings.timezone == "Europe/Dublin"


def test_bad_phone_is_refused_beside_the_field_and_nothing_is_saved(
    qtbot: QtBot, page: SettingsPage, clinic: Clinic, clinic_home: Path
) -> None:
    changes_before = clinic.conn.execute("SELECT count(*) FROM change").fetchone()[0]
    published: list[Changes] = []
    page.bus.changed.connect(published.append)

    _retype(qtbot, page.phone_edit, "555-01")
    _choose_time_zone(qtbot, page, "Europe/Dublin")
    saved = page.save()

    assert not saved
    assert page.phone_error.isVisible()
    assert "too few digits" in page.phone_error.text()
    assert page.phone_error.accessibleName() == "Clinic phone number problem"
    assert page.phone_edit.hasFocus()
    assert clinic.settings.timezone == "America/Chicago"  # not half a save either
    assert clinic.conn.execute("SELECT count(*) FROM change").fetchone()[0] == changes_before
    assert not published
    assert page.has_unsaved_changes()
    with open_clinic(clinic_home) as reopened:
        assert reopened.settings.timezone == "America/Chicago"


def test_phone_with_letters_is_refused_as_soon_as_the_field_is_left(
    qtbot: QtBot, page: SettingsPage
) -> None:
    page.activateWindow()
    qtbot.waitUntil(page.isActiveWindow)
    page.phone_edit.setFocus()
    qtbot.keyClicks(page.phone_edit, "call reception")
    page.region_combo.setFocus()  # leaving the field checks it, before any Save

    assert page.phone_error.isVisible()
    assert "letters" in page.phone_error.text()


def test_empty_name_and_unknown_time_zone_are_refused(
    qtbot: QtBot, page: SettingsPage, clinic: Clinic
) -> None:
    _retype(qtbot, page.name_edit, "   ")
    _choose_time_zone(qtbot, page, "Mars/Olympus_Mons")

    assert not page.save()

    assert page.name_error.text() == "The clinic needs a name."
    assert "Choose a time zone from the list" in page.timezone_error.text()
    assert clinic.settings.name == "Lakeside Family Practice"
    assert clinic.settings.timezone == "America/Chicago"


def test_clinic_on_a_time_zone_alias_can_still_save_other_details(
    qtbot: QtBot, clinic: Clinic, prefs_file: Path, app_looks: QApplication
) -> None:
    clinic.update_settings(timezone="US/Central")
    page = SettingsPage(clinic, DataBus())
    qtbot.addWidget(page)

    _retype(qtbot, page.phone_edit, "+44 20 7946 0018")

    assert page.save()
    assert clinic.settings.phone == "+442079460018"
    assert clinic.settings.timezone == "US/Central"


def test_typing_marks_the_page_unsaved_and_undo_puts_it_back(
    qtbot: QtBot, page: SettingsPage, clinic: Clinic
) -> None:
    assert not page.has_unsaved_changes()
    assert not page.save_button.isEnabled()

    qtbot.keyClicks(page.name_edit, " East")

    assert page.has_unsaved_changes()
    assert page.save_button.isEnabled()
    qtbot.mouseClick(page.undo_button, Qt.MouseButton.LeftButton)
    assert page.name_edit.text() == "Lakeside Family Practice"
    assert not page.has_unsaved_changes()


def test_leaving_with_unsaved_changes_asks_and_discard_keeps_the_saved_details(
    qtbot: QtBot, page: SettingsPage, clinic: Clinic
) -> None:
    qtbot.keyClicks(page.address_edit, "1 Lake Street")
    asked: list[str] = []

    def answer_discard() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        asked.append(box.text())
        discard = box.button(QMessageBox.StandardButton.Discard)
        assert isinstance(discard, QAbstractButton)
        discard.click()

    QTimer.singleShot(0, answer_discard)
    may_leave = page.confirm_leave()

    assert may_leave
    assert asked and "not saved" in asked[0]
    assert page.address_edit.toPlainText() == ""
    assert clinic.settings.address == ""


def test_leaving_and_choosing_save_saves(qtbot: QtBot, page: SettingsPage, clinic: Clinic) -> None:
    qtbot.keyClicks(page.address_edit, "1 Lake Street")

    def answer_save() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        save = box.button(QMessageBox.StandardButton.Save)
        assert isinstance(save, QAbstractButton)
        save.click()

    QTimer.singleShot(0, answer_save)
    assert page.confirm_leave()
    assert clinic.settings.address == "1 Lake Street"


def test_refresh_shows_details_saved_elsewhere_but_keeps_edits_in_progress(
    qtbot: QtBot, page: SettingsPage, clinic: Clinic
) -> None:
    other = clinic.fork()  # as if another window or a background job saved
    try:
        other.update_settings(name="Lakeside Family Health")
    finally:
        other.close()

    page.refresh()
    assert page.name_edit.text() == "Lakeside Family Health"

    qtbot.keyClicks(page.phone_edit, "312")
    other = clinic.fork()
    try:
        other.update_settings(name="Lakeside Health")
    finally:
        other.close()
    page.refresh()
    assert page.phone_edit.text() == "312"
    assert page.has_unsaved_changes()


def test_text_size_applies_to_the_application_font_and_is_remembered(
    page: SettingsPage, prefs_file: Path, app_looks: QApplication
) -> None:
    normal = theme.base_font().pointSizeF()

    page.font_combo.setCurrentIndex(page.font_combo.findData(150))

    assert app_looks.font().pointSizeF() == pytest.approx(normal * 1.5, abs=0.1)
    assert page.fontMetrics().height() > 0
    assert load_preferences(prefs_file).font_scale == 150


def test_dark_theme_makes_the_window_palette_dark_and_is_remembered(
    qtbot: QtBot, page: SettingsPage, prefs_file: Path, app_looks: QApplication
) -> None:
    page.theme_combo.setCurrentIndex(page.theme_combo.findData("dark"))

    assert app_looks.palette().color(QPalette.ColorRole.Window).lightness() < 80
    # Qt hands the new palette to open widgets through posted events.
    qtbot.waitUntil(lambda: page.palette().color(QPalette.ColorRole.Window).lightness() < 80)
    assert app_looks.style().name().lower() == "fusion"
    assert theme.is_dark()
    assert load_preferences(prefs_file).theme == "dark"
    # The inline error colour follows the theme, so it stays readable on dark.
    assert theme.css("danger", dark=True) in page.name_error.styleSheet()

    page.theme_combo.setCurrentIndex(page.theme_combo.findData("light"))
    assert app_looks.palette().color(QPalette.ColorRole.Window).lightness() > 200
    assert theme.css("danger", dark=False) in page.name_error.styleSheet()


def test_page_opens_with_the_saved_choices(
    qtbot: QtBot, clinic: Clinic, prefs_file: Path, app_looks: QApplication
) -> None:
    from app.preferences import save_preferences

    save_preferences(Preferences(font_scale=130, theme="dark"), prefs_file)

    reopened = SettingsPage(clinic, DataBus())
    qtbot.addWidget(reopened)

    assert reopened.font_combo.currentData() == 130
    assert reopened.theme_combo.currentData() == "dark"


@pytest.mark.parametrize("scheme", [theme.LIGHT, theme.DARK], ids=["light", "dark"])
def test_every_text_colour_of_both_themes_meets_wcag_aa(scheme: theme.Scheme) -> None:
    too_faint = {
        name: round(theme.contrast_ratio(QColor(fg), QColor(bg)), 2)
        for name, (fg, bg) in theme.text_pairs(scheme).items()
        if theme.contrast_ratio(QColor(fg), QColor(bg)) < 4.5
    }
    assert too_faint == {}


def test_every_control_has_an_accessible_name(page: SettingsPage) -> None:
    controls: list[QWidget] = [
        *page.findChildren(QLineEdit),
        *page.findChildren(QComboBox),
        *page.findChildren(QPlainTextEdit),
        *page.findChildren(QPushButton),
    ]
    unnamed = [type(w).__name__ for w in controls if w.isVisible() and not w.accessibleName()]
    assert unnamed == []


def test_about_section_shows_folder_unlock_and_versions(page: SettingsPage, clinic: Clinic) -> None:
    from app.version import __version__

    assert page.folder_label.text() == str(clinic.home)
    assert "keychain" in page.unlocked_label.text()
    assert page.version_label.text() == __version__
    from app.store.migrations import latest_version

    assert page.schema_label.text().startswith(f"{latest_version()} ")


def test_tab_walks_the_form_in_reading_order(qtbot: QtBot, page: SettingsPage) -> None:
    page.activateWindow()
    qtbot.waitUntil(page.isActiveWindow)
    page.name_edit.setFocus()
    qtbot.keyClicks(page.name_edit, "!")  # something unsaved, so Save and Undo take focus
    visited = [page.focusWidget()]
    for _ in range(9):
        focused = QApplication.focusWidget()
        assert focused is not None
        qtbot.keyClick(focused, Qt.Key.Key_Tab)
        visited.append(QApplication.focusWidget())

    assert visited == [
        page.name_edit,
        page.address_edit,
        page.phone_edit,
        page.region_combo,
        page.timezone_combo,
        page.date_order_combo,
        page.save_button,
        page.undo_button,
        page.font_combo,
        page.theme_combo,
    ]


def test_start_page_choice_is_saved_for_this_computer(page: SettingsPage, prefs_file: Path) -> None:
    page.start_combo.setCurrentIndex(page.start_combo.findData("Patients"))
    assert load_preferences(prefs_file).start_page == "Patients"


def test_a_receptionist_reads_the_clinic_settings_but_cannot_change_them(
    qtbot: QtBot, page: SettingsPage, clinic: Clinic
) -> None:
    from app.users import add_user

    assert page.clinic_box.isEnabled() and not page.role_note.isVisible()
    clinic.acting_user_id = add_user(clinic, "Dana Reyes", "receptionist").id
    page.bus.publish(Changes(frozenset({"app_user"})))  # what signing in publishes
    assert not page.clinic_box.isEnabled()
    assert page.role_note.isVisible()
    assert "Only a administrator" not in page.role_note.text()
    assert page.role_note.text().startswith("Only an administrator can change the clinic")
    # This computer's own screen preferences stay hers to choose.
    assert page.font_combo.isEnabled()
    page.tabs.setCurrentIndex(page.tabs.indexOf(page.tabs.widget(1)))  # Reminders
    assert not page.reminders.isEnabled()
    assert page.role_note.text().startswith("Only a manager or administrator")
