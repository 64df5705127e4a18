"""The first-run wizard end to end, offscreen and by keyboard, on a real new clinic."""

from __future__ import annotations

import os
from pathlib import Path

from pypdf import PdfReader
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget, QWizard
from pytestqt.qtbot import QtBot

from app.clinic import open_clinic
from app.users import users
from ui.first_run import ADMIN_PAGE, CLINIC_PAGE, KIT_PAGE, START_PAGE, FirstRunWizard

REPO = Path(__file__).resolve().parents[2]
STRONG = "harbour lanterns at dusk"
ADMIN_PASSWORD = "maria rows the blue kayak"
Button = QWizard.WizardButton


def open_wizard(qtbot: QtBot, home: Path) -> FirstRunWizard:
    wizard = FirstRunWizard(home)
    qtbot.addWidget(wizard)
    wizard.resize(900, 640)
    wizard.show()
    wizard.activateWindow()
    qtbot.waitUntil(wizard.isActiveWindow)
    return wizard


def retype(qtbot: QtBot, field: QWidget, text: str) -> None:
    field.setFocus()
    qtbot.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(field, Qt.Key.Key_Delete)
    qtbot.keyClicks(field, text)


def fill_clinic_page(qtbot: QtBot, wizard: FirstRunWizard, phone: str = "(612) 555-0100") -> None:
    page = wizard.clinic_page
    qtbot.keyClicks(page.name, "Lakeside Family Practice")
    qtbot.keyClicks(page.address, "12 Harbour Road")
    qtbot.keyClick(page.address, Qt.Key.Key_Return)
    qtbot.keyClicks(page.address, "Lakeside, MN 55401")
    qtbot.keyClicks(page.phone, phone)
    line = page.timezone.lineEdit()
    assert line is not None
    retype(qtbot, line, "America/Chicago")
    region = page.region.lineEdit()
    assert region is not None
    retype(qtbot, region, "United States (US)")
    page.date_order.setCurrentIndex(0)
    qtbot.keyClick(page.date_order, Qt.Key.Key_Down)


def fill_admin_page(qtbot: QtBot, wizard: FirstRunWizard, passphrase: str = STRONG) -> None:
    page = wizard.admin_page
    retype(qtbot, page.admin_name, "Maria Lopez")
    retype(qtbot, page.fields.passphrase, passphrase)
    retype(qtbot, page.fields.repeat, passphrase)
    retype(qtbot, page.password_fields.password, ADMIN_PASSWORD)
    retype(qtbot, page.password_fields.repeat, ADMIN_PASSWORD)


def press_enter(qtbot: QtBot, field: QWidget) -> None:
    field.setFocus()
    qtbot.keyClick(field, Qt.Key.Key_Return)


def to_kit_page(qtbot: QtBot, wizard: FirstRunWizard) -> None:
    fill_clinic_page(qtbot, wizard)
    press_enter(qtbot, wizard.clinic_page.phone)
    fill_admin_page(qtbot, wizard)
    press_enter(qtbot, wizard.admin_page.fields.repeat)
    assert wizard.currentId() == KIT_PAGE


def test_wizard_creates_the_clinic_with_its_settings_administrator_and_kit(
    qtbot: QtBot, tmp_path: Path
) -> None:
    home = tmp_path / "clinic"
    wizard = open_wizard(qtbot, home)
    fill_clinic_page(qtbot, wizard)
    press_enter(qtbot, wizard.clinic_page.phone)
    assert wizard.currentId() == ADMIN_PAGE

    fill_admin_page(qtbot, wizard, "qwertyuiop12")
    assert wizard.admin_page.fields.strength_label == "Too weak"
    press_enter(qtbot, wizard.admin_page.fields.repeat)
    assert wizard.currentId() == ADMIN_PAGE
    assert "guessed" in wizard.admin_page.fields.passphrase_error.text()
    assert not (home / "clinic.db").exists()

    fill_admin_page(qtbot, wizard)
    assert wizard.admin_page.fields.strength_label == "Strong"
    qtbot.mouseClick(wizard.button(Button.CommitButton), Qt.MouseButton.LeftButton)
    assert wizard.currentId() == KIT_PAGE
    assert wizard.clinic is not None

    kit_page = wizard.kit_page
    assert kit_page.key.text() == wizard.recovery_key
    assert not wizard.button(Button.BackButton).isEnabled()
    assert not wizard.button(Button.NextButton).isEnabled()
    assert kit_page.save_kit(tmp_path / "kit")
    pdf_text = "".join(page.extract_text() for page in PdfReader(tmp_path / "kit.pdf").pages)
    assert wizard.recovery_key in "".join(pdf_text.split())
    assert "Lakeside Family Practice" in pdf_text
    kit_page.stored.setFocus()
    qtbot.keyClick(kit_page.stored, Qt.Key.Key_Space)
    assert wizard.button(Button.NextButton).isEnabled()
    qtbot.mouseClick(wizard.button(Button.NextButton), Qt.MouseButton.LeftButton)

    assert wizard.currentId() == START_PAGE
    assert wizard.start_page.empty.isChecked()
    wizard.start_page.demo.setFocus()
    qtbot.keyClick(wizard.start_page.demo, Qt.Key.Key_Space)
    qtbot.mouseClick(wizard.button(Button.FinishButton), Qt.MouseButton.LeftButton)
    assert wizard.result() == QWizard.DialogCode.Accepted
    assert wizard.want_demo

    recovery_key = wizard.recovery_key
    wizard.clinic.close()
    with open_clinic(home, recovery_key=recovery_key, use_keyring=False) as clinic:
        settings = clinic.settings
        assert settings.name == "Lakeside Family Practice"
        assert settings.address == "12 Harbour Road\nLakeside, MN 55401"
        assert settings.phone == "+16125550100"
        assert settings.timezone == "America/Chicago"
        assert settings.region == "US"
        assert settings.day_first is True
        assert [(u.name, u.role) for u in users(clinic)] == [("Maria Lopez", "administrator")]


def test_empty_name_and_impossible_phone_are_refused_with_reasons(
    qtbot: QtBot, tmp_path: Path
) -> None:
    wizard = open_wizard(qtbot, tmp_path / "clinic")
    page = wizard.clinic_page
    qtbot.keyClicks(page.phone, "555-01")
    press_enter(qtbot, page.phone)
    assert wizard.currentId() == CLINIC_PAGE
    assert "name" in page.name_error.text()
    assert "digits" in page.phone_error.text() or "number" in page.phone_error.text()
    assert page.name.hasFocus()

    qtbot.keyClicks(page.name, "Lakeside Family Practice")
    retype(qtbot, page.phone, "call us")
    press_enter(qtbot, page.phone)
    assert wizard.currentId() == CLINIC_PAGE
    assert "letters" in page.phone_error.text()
    assert page.name_error.isHidden()

    retype(qtbot, page.phone, "+44 20 7946 0958")
    press_enter(qtbot, page.phone)
    assert wizard.currentId() == ADMIN_PAGE


def test_unknown_time_zone_is_refused(qtbot: QtBot, tmp_path: Path) -> None:
    wizard = open_wizard(qtbot, tmp_path / "clinic")
    fill_clinic_page(qtbot, wizard)
    line = wizard.clinic_page.timezone.lineEdit()
    assert line is not None
    retype(qtbot, line, "Lakeside Time")
    press_enter(qtbot, wizard.clinic_page.name)
    assert wizard.currentId() == CLINIC_PAGE
    assert "time zone" in wizard.clinic_page.timezone_error.text()


def test_differing_passphrases_and_missing_name_are_refused_before_creating(
    qtbot: QtBot, tmp_path: Path
) -> None:
    home = tmp_path / "clinic"
    wizard = open_wizard(qtbot, home)
    fill_clinic_page(qtbot, wizard)
    press_enter(qtbot, wizard.clinic_page.phone)
    page = wizard.admin_page
    retype(qtbot, page.fields.passphrase, STRONG)
    retype(qtbot, page.fields.repeat, STRONG + "s")
    press_enter(qtbot, page.fields.repeat)
    assert "Type a name" in page.admin_error.text()
    qtbot.keyClicks(page.admin_name, "Maria Lopez")
    press_enter(qtbot, page.fields.repeat)
    assert "different" in page.fields.repeat_error.text()
    assert page.fields.repeat.hasFocus()
    assert wizard.currentId() == ADMIN_PAGE
    assert not (home / "clinic.db").exists()


def test_the_clinics_own_name_makes_a_weak_passphrase(qtbot: QtBot, tmp_path: Path) -> None:
    wizard = open_wizard(qtbot, tmp_path / "clinic")
    fill_clinic_page(qtbot, wizard)
    press_enter(qtbot, wizard.clinic_page.phone)
    fill_admin_page(qtbot, wizard, "Lakeside Family Practice 1")
    assert wizard.admin_page.fields.strength_label == "Too weak"
    press_enter(qtbot, wizard.admin_page.fields.repeat)
    assert wizard.currentId() == ADMIN_PAGE


def test_cancel_before_creating_leaves_no_clinic(qtbot: QtBot, tmp_path: Path) -> None:
    home = tmp_path / "clinic"
    wizard = open_wizard(qtbot, home)
    fill_clinic_page(qtbot, wizard)
    qtbot.mouseClick(wizard.button(Button.CancelButton), Qt.MouseButton.LeftButton)
    assert wizard.clinic is None
    assert not wizard.isVisible()
    assert not home.exists() or not any(home.iterdir())


def test_once_created_the_wizard_stays_open_until_the_key_is_stored(
    qtbot: QtBot, tmp_path: Path
) -> None:
    wizard = open_wizard(qtbot, tmp_path / "clinic")
    to_kit_page(qtbot, wizard)
    assert not wizard.button(Button.CancelButton).isVisible()
    qtbot.keyClick(wizard.kit_page.save_button, Qt.Key.Key_Escape)
    assert wizard.isVisible() and wizard.currentId() == KIT_PAGE
    wizard.kit_page.stored.setChecked(True)
    wizard.next()
    assert not wizard.want_demo  # "Start empty" is the default
    assert wizard.clinic is not None
    wizard.clinic.close()


def test_kit_that_cannot_be_saved_says_so_on_the_page(qtbot: QtBot, tmp_path: Path) -> None:
    wizard = open_wizard(qtbot, tmp_path / "clinic")
    to_kit_page(qtbot, wizard)
    assert not wizard.kit_page.save_kit(tmp_path / "no such folder" / "kit.pdf")
    assert "could not be saved" in wizard.kit_page.save_error.text()
    assert not wizard.kit_page.print_button.isEnabled()
    assert wizard.clinic is not None
    wizard.clinic.close()


def test_screenshots_of_the_wizard_pages(qtbot: QtBot, tmp_path: Path) -> None:
    """FRONTDESK_SCREENSHOTS=1 also writes them to docs/screenshots/ for the user guide."""
    out = REPO / "docs" / "screenshots" if os.environ.get("FRONTDESK_SCREENSHOTS") else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    wizard = open_wizard(qtbot, tmp_path / "clinic")
    fill_clinic_page(qtbot, wizard)
    shots = [wizard.grab()]
    press_enter(qtbot, wizard.clinic_page.phone)
    fill_admin_page(qtbot, wizard, "harbour lanterns")
    QApplication.processEvents()
    shots.append(wizard.grab())
    press_enter(qtbot, wizard.admin_page.fields.repeat)
    wizard.kit_page.stored.setChecked(True)
    shots.append(wizard.grab())
    wizard.next()
    shots.append(wizard.grab())
    for number, image in enumerate(shots, start=1):
        path = out / f"first-run-{number}.png"
        assert image.save(str(path))
        assert path.stat().st_size > 10_000
    assert wizard.clinic is not None
    wizard.clinic.close()


def test_every_country_offered_is_one_the_clinic_settings_accept(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """The wizard and Settings share one country list, and the core accepts each of it."""
    from app.clinic import _checked_settings

    wizard = open_wizard(qtbot, tmp_path / "clinic")
    combo = wizard.page(CLINIC_PAGE).region  # type: ignore[attr-defined]
    codes = [str(combo.itemData(i)) for i in range(combo.count())]
    assert len(codes) > 200
    for code in codes:
        assert _checked_settings({"region": code}, code)["region"] == code
