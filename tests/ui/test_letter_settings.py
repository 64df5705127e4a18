"""Settings ▸ Letters on a real clinic: envelope, logo (shown, refused with the reason,
removed), texts, blank backs; saved through the letter settings and read back; the tab in
Settings."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.letters.settings import load_settings
from tests.support.acting import administrator_acting  # noqa: F401
from tests.ui.test_accessibility import unnamed_controls
from ui.bus import DataBus
from ui.letters.settings_tab import LetterSettingsTab


def png(path: Path, size: tuple[int, int] = (400, 120)) -> Path:
    image = Image.new("RGB", size, (20, 90, 160))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


def type_into(field: QLineEdit, text: str) -> None:
    """As typed (keyClicks cannot type outside ASCII)."""
    field.setText(text)
    field.textEdited.emit(text)


def make_tab(qtbot: QtBot, clinic: Clinic) -> LetterSettingsTab:
    tab = LetterSettingsTab(clinic, DataBus())
    qtbot.addWidget(tab)
    tab.resize(900, 700)
    tab.show()
    return tab


def test_letter_settings_are_saved_and_read_back(
    qtbot: QtBot, clinic: Clinic, tmp_path: Path
) -> None:
    tab = make_tab(qtbot, clinic)
    assert not tab.save_button.isEnabled()  # nothing changed yet
    tab.envelope_combo.setCurrentIndex(tab.envelope_combo.findData("din_b"))
    assert tab.logo.choose_file(png(tmp_path / "logo.png"))
    qtbot.keyClicks(tab.web_edit, "www.lakeside-clinic.example")
    type_into(tab.closing_edit, "Mit freundlichen Grüßen,")
    type_into(tab.signer_edit, "Dr. Σοφία Παπαδοπούλου")
    tab.blank_backs_box.setChecked(True)
    assert tab.save_button.isEnabled()
    assert tab.status.text() == "Not saved yet."

    assert tab.save()

    stored = load_settings(clinic)
    assert stored.envelope == "din_b"
    assert stored.logo_png is not None and stored.logo_png.startswith(b"\x89PNG")
    assert (stored.web, stored.closing) == (
        "www.lakeside-clinic.example",
        "Mit freundlichen Grüßen,",
    )
    assert stored.signer == "Dr. Σοφία Παπαδοπούλου"
    assert stored.blank_backs
    assert stored.signature_png is None
    assert tab.status.text() == "Saved."
    assert not tab.save_button.isEnabled()
    # the logo shows, scaled to the row
    pixmap = tab.logo.picture.pixmap()
    assert not pixmap.isNull()
    assert pixmap.height() / pixmap.devicePixelRatio() <= 64


def test_a_refused_image_says_why_beside_it_and_keeps_the_old_one(
    qtbot: QtBot, clinic: Clinic, tmp_path: Path
) -> None:
    tab = make_tab(qtbot, clinic)
    assert tab.logo.choose_file(png(tmp_path / "logo.png"))
    not_a_picture = tmp_path / "logo.png.txt"
    not_a_picture.write_text("this is not an image")

    assert not tab.logo.choose_file(not_a_picture)

    assert tab.logo.error.isVisible()
    assert "PNG or JPEG" in tab.logo.error.text()
    assert tab.logo.data is not None  # the good one stays

    huge = tmp_path / "huge.png"
    huge.write_bytes(b"\x89PNG" + b"\0" * (3 * 1024 * 1024))
    assert not tab.logo.choose_file(huge)
    assert "2 MB" in tab.logo.error.text()


def test_removing_the_logo_saves_no_logo(qtbot: QtBot, clinic: Clinic, tmp_path: Path) -> None:
    tab = make_tab(qtbot, clinic)
    tab.logo.choose_file(png(tmp_path / "logo.png"))
    assert tab.save()
    assert tab.logo.remove_button.isEnabled()

    tab.logo.remove_button.click()

    assert tab.logo.picture.text() == "No logo"
    assert tab.save()
    assert load_settings(clinic).logo_png is None


def test_undo_puts_back_what_is_saved(qtbot: QtBot, clinic: Clinic) -> None:
    tab = make_tab(qtbot, clinic)
    qtbot.keyClicks(tab.closing_edit, "Cheers,")
    tab.undo_button.click()
    assert tab.closing_edit.text() == ""
    assert not tab.is_dirty()


def test_a_text_too_long_is_refused_inline(qtbot: QtBot, clinic: Clinic) -> None:
    tab = make_tab(qtbot, clinic)
    type_into(tab.closing_edit, "Kind regards " * 20)

    assert not tab.save()

    assert tab.error.isVisible()
    assert "closing" in tab.error.text()
    assert load_settings(clinic).closing == ""


def test_the_letters_tab_is_in_settings_and_every_control_is_named(
    qtbot: QtBot, clinic: Clinic, tmp_path: Path
) -> None:
    from ui.settings_page import SettingsPage

    page = SettingsPage(clinic, DataBus(), preferences_file=tmp_path / "prefs.json")
    qtbot.addWidget(page)
    titles = [page.tabs.tabText(i) for i in range(page.tabs.count())]
    assert "Letters" in titles
    assert isinstance(page.letters, LetterSettingsTab)
    assert unnamed_controls(page.letters) == []
