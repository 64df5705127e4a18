"""Screenshots of Settings ▸ Reminders, the rule dialog, the template editor and the accounts
tab at 1280×720 (FRONTDESK_SCREENSHOTS=1 writes them to docs/screenshots/)."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.reminders.rules import load_rules
from tests.support.acting import administrator_acting  # noqa: F401
from ui.bus import DataBus
from ui.reminder_settings.template_editor import TemplateEditor
from ui.settings_page import SettingsPage

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _target(tmp_path: Path, name: str) -> Path:
    """docs/screenshots/ with FRONTDESK_SCREENSHOTS=1 (only the two the guide shows), else
    a temporary folder, so a plain test run leaves the checkout as it was."""
    documented = name in ("reminder-rules.png", "template-editor.png")
    folder = DOCS if os.environ.get("FRONTDESK_SCREENSHOTS") and documented else tmp_path
    if os.environ.get("FRONTDESK_SHOTS_DIR"):  # to look at all of them while working
        folder = Path(os.environ["FRONTDESK_SHOTS_DIR"])
    target = folder / name
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def _save(widget: QWidget, path: Path) -> None:
    QApplication.processEvents()
    assert widget.grab().save(str(path))
    assert path.stat().st_size > 10_000


def _settings(qtbot: QtBot, clinic: Clinic) -> SettingsPage:
    page = SettingsPage(clinic, DataBus())
    qtbot.addWidget(page)
    page.resize(1280, 720)
    page.show()
    page.tabs.setCurrentIndex(1)
    return page


def test_screenshot_of_the_reminder_rules(
    qtbot: QtBot, demo_clinic: Clinic, app_looks: QApplication, tmp_path: Path
) -> None:
    page = _settings(qtbot, demo_clinic)
    qtbot.waitUntil(lambda: len(page.reminders.rules) == 5)
    _save(page, _target(tmp_path, "reminder-rules.png"))
    dialog = page.reminders.edit_rule()
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    _save(dialog, _target(tmp_path, "reminder-rule-dialog.png"))
    dialog.tabs.setCurrentIndex(2)
    _save(dialog, _target(tmp_path, "reminder-rule-dialog-who.png"))
    page.tabs.setCurrentIndex(2)
    _save(page, _target(tmp_path, "reminder-accounts.png"))


def test_screenshot_of_the_template_editor(
    qtbot: QtBot, demo_clinic: Clinic, app_looks: QApplication, tmp_path: Path
) -> None:
    page = _settings(qtbot, demo_clinic)
    qtbot.waitUntil(lambda: len(page.reminders.rules) == 5)
    rule = next(r for r in load_rules(demo_clinic) if r.kind == "appointment")
    editor = TemplateEditor(demo_clinic, DataBus(), rule, channel="sms", language="es")
    qtbot.addWidget(editor)
    editor.resize(1280, 720)
    editor.show()
    _save(editor, _target(tmp_path, "template-editor.png"))
    editor.editor.setPlainText("{% if provider_name %}\nHola {{ patient_first_name }}")
    editor.check_now()
    _save(editor, _target(tmp_path, "template-editor-broken.png"))
