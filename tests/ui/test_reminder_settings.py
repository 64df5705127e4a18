"""Settings ▸ Reminders: the ready-made rules are listed in plain words, rules are edited and
checked inline, sending on/off, the sending computer, limits and consent are saved."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest
from PySide6.QtCore import QTime
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QLineEdit,
    QListWidget,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTimeEdit,
    QWidget,
)
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.errors import RecordNotFoundError
from app.reminders.accounts import save_sms_account
from app.reminders.rules import get_rule, load_rules
from app.reminders.service import keep_running_in_tray, set_keep_running_in_tray
from app.reminders.settings import is_sender, load_settings, update_settings
from app.reminders.sms_channel import SmsAccount
from app.reminders.template_store import edited_templates, save_template
from app.store.changes import Changes
from tests.support.acting import administrator_acting  # noqa: F401
from ui.bus import DataBus
from ui.reminder_runner import ReminderRunner
from ui.reminder_settings.page import RemindersTab
from ui.reminder_settings.rule_dialog import RuleDialog
from ui.settings_page import SettingsPage


@pytest.fixture
def page(qtbot: QtBot, clinic: Clinic, app_looks: QApplication) -> SettingsPage:
    widget = SettingsPage(clinic, DataBus())
    qtbot.addWidget(widget)
    widget.resize(1280, 720)
    widget.show()
    widget.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: len(widget.reminders.rules) == 5)
    return widget


def _tab(page: SettingsPage) -> RemindersTab:
    return page.reminders


def _row_of(tab: RemindersTab, kind: str) -> int:
    return next(i for i, rule in enumerate(tab.rules) if rule.kind == kind)


def _edit(qtbot: QtBot, tab: RemindersTab, kind: str) -> RuleDialog:
    tab.table.selectRow(_row_of(tab, kind))
    dialog = tab.edit_rule()
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    return dialog


def test_the_rules_tab_shows_the_ready_made_rules_in_plain_words(
    page: SettingsPage, clinic: Clinic
) -> None:
    tab = _tab(page)
    table = tab.table

    # The ready-made survey and review request are listed with the campaigns.
    reminders = [r.kind for r in load_rules(clinic) if r.kind not in ("survey", "review")]
    assert reminders == [r.kind for r in tab.rules]
    row = _row_of(tab, "appointment")
    assert table.item(row, 1).text() == "Appointment reminders"
    assert table.item(row, 2).text() == "Appointment reminder"
    assert table.item(row, 3).text().splitlines() == [
        "7 days before at 10:00 by email",
        "2 days before at 10:00 by text, else email (asks to confirm)",
        "On the day at 8:00 by text",
    ]
    recall = table.item(_row_of(tab, "recall"), 3).text()
    assert "45 days after the due date at 10:00 by letter" in recall
    billing = table.item(_row_of(tab, "billing"), 3).text()
    assert "When the bill is 30 days old" in billing
    assert all(table.item(r, 0).checkState().value == 2 for r in range(table.rowCount()))


def test_the_ready_made_rules_come_only_once(
    qtbot: QtBot, page: SettingsPage, clinic: Clinic
) -> None:
    again = SettingsPage(clinic, DataBus())
    qtbot.addWidget(again)
    again.show()
    again.tabs.setCurrentIndex(1)

    assert len(load_rules(clinic)) == 7  # with the survey and the review request
    assert len(again.reminders.rules) == 5


def test_editing_a_rule_saves_it_and_the_list_and_a_new_dialog_show_the_change(
    qtbot: QtBot, page: SettingsPage, clinic: Clinic
) -> None:
    tab = _tab(page)
    published: list[Changes] = []
    page.bus.changed.connect(published.append)
    dialog = _edit(qtbot, tab, "appointment")

    dialog.name_edit.setText("Visit reminders")
    first = dialog.touch_list.rows[0]  # 7 days before, by email
    first.days.setValue(5)
    first.at.setTime(QTime(9, 30))
    first.channels.setCurrentIndex(first.channels.findData("sms,email"))
    first.confirm.setChecked(True)
    dialog.window_spin.setValue(4)
    assert dialog.save()

    rule = get_rule(clinic, tab.rules[_row_of(tab, "appointment")].id)
    assert rule.name == "Visit reminders"
    assert rule.window_hours == 4
    five = next(t for t in rule.touches if t.days == -5)
    assert five.at == time(9, 30)
    assert five.channels == ("sms", "email")
    assert five.ask_to_confirm
    assert published and published[-1].touches("reminder_rule")
    shown = tab.table.item(_row_of(tab, "appointment"), 3).text()
    assert "5 days before at 9:30 by text, else email (asks to confirm)" in shown

    reopened = _edit(qtbot, tab, "appointment")
    assert reopened.name_edit.text() == "Visit reminders"
    assert reopened.touch_list.rows[0].days.value() == 5
    assert reopened.touch_list.rows[0].at.time() == QTime(9, 30)
    assert not reopened.dirty


def test_a_message_in_the_quiet_hours_is_refused_beside_the_messages_and_nothing_is_saved(
    qtbot: QtBot, page: SettingsPage, clinic: Clinic
) -> None:
    tab = _tab(page)
    before = get_rule(clinic, tab.rules[_row_of(tab, "appointment")].id)
    dialog = _edit(qtbot, tab, "appointment")
    dialog.tabs.setCurrentIndex(1)

    dialog.touch_list.rows[0].at.setTime(QTime(21, 0))
    assert not dialog.save()

    assert "falls in the quiet hours" in dialog.error_text("touches")
    assert dialog.error_label("touches").accessibleName() == "Messages error"
    assert dialog.tabs.currentIndex() == 0  # the tab with the problem is shown
    assert dialog.isVisible()
    assert get_rule(clinic, before.id) == before


def test_an_empty_name_and_a_repeated_way_of_sending_are_shown_where_they_belong(
    qtbot: QtBot, page: SettingsPage, clinic: Clinic
) -> None:
    tab = _tab(page)
    dialog = _edit(qtbot, tab, "no_show")
    dialog.name_edit.setText("   ")
    assert not dialog.save()
    assert "Give the rule a name" in dialog.error_text("name")

    dialog.name_edit.setText("Missed you")
    second = dialog.channel_order.combos[1]
    second.setCurrentIndex(second.findData("sms"))  # text, then text again
    assert not dialog.save()
    assert "only once" in dialog.error_text("channels")
    assert get_rule(clinic, tab.rules[_row_of(tab, "no_show")].id).name == "We missed you"


def test_billing_smallest_balance_is_read_as_money_and_bad_money_is_refused(
    qtbot: QtBot, page: SettingsPage, clinic: Clinic
) -> None:
    tab = _tab(page)
    dialog = _edit(qtbot, tab, "billing")
    dialog.min_balance.setText("twenty")
    assert not dialog.save()
    assert "not a number" in dialog.error_text("min_balance")
    assert dialog.tabs.currentIndex() == 2

    dialog.min_balance.setText("$1,025.50")
    assert dialog.save()
    assert get_rule(clinic, tab.rules[_row_of(tab, "billing")].id).min_balance_cents == 102550


def test_a_new_recall_rule_gets_its_visit_kinds_and_months(
    qtbot: QtBot, demo_clinic: Clinic, app_looks: QApplication
) -> None:
    tab = RemindersTab(demo_clinic, DataBus())
    qtbot.addWidget(tab)
    tab.show()
    dialog = tab.new_rule("recall")
    qtbot.waitUntil(dialog.isVisible)
    dialog.name_edit.setText("Vaccination recall")
    dialog.recall_months.setValue(6)
    dialog.recall_kinds.set_ticked(["vaccination"])
    dialog.touch_list.add_button.click()
    assert len(dialog.touch_list.rows) == 5

    assert dialog.save()

    made = next(r for r in load_rules(demo_clinic) if r.name == "Vaccination recall")
    assert made.kind == "recall"
    assert made.recall_months == 6
    assert made.recall_visit_kinds == ("vaccination",)
    assert len(made.touches) == 5
    assert tab.selected_rule() is not None and tab.selected_rule().id == made.id  # type: ignore[union-attr]


def test_appointment_filters_offer_the_clinics_kinds_providers_and_locations(
    qtbot: QtBot, demo_clinic: Clinic, app_looks: QApplication
) -> None:
    tab = RemindersTab(demo_clinic, DataBus())
    qtbot.addWidget(tab)
    tab.show()
    dialog = _edit(qtbot, tab, "appointment")
    assert dialog.kinds_list.count() > 1
    assert dialog.providers_list.count() > 1
    provider_id = dialog.providers_list.item(0).data(256)
    dialog.providers_list.set_ticked([provider_id])
    dialog.kinds_list.set_ticked([dialog.kinds_list.item(0).data(256)])

    assert dialog.save()
    rule = next(r for r in load_rules(demo_clinic) if r.kind == "appointment")
    assert rule.provider_ids == (provider_id,)
    assert len(rule.appointment_kinds) == 1


def test_pause_and_resume_from_the_button_and_the_tick(
    qtbot: QtBot, page: SettingsPage, clinic: Clinic
) -> None:
    tab = _tab(page)
    row = _row_of(tab, "birthday")
    rule_id = tab.rules[row].id
    tab.table.selectRow(row)

    tab.pause_button.click()
    assert not get_rule(clinic, rule_id).active
    row = _row_of(tab, "birthday")
    assert tab.table.item(row, 0).checkState().value == 0
    assert tab.table.item(row, 1).text() == "Birthday greeting (paused)"
    assert tab.pause_button.text() == "Resume"

    tab.table.item(row, 0).setCheckState(tab.table.item(row, 0).checkState().Checked)
    assert get_rule(clinic, rule_id).active


def test_removing_a_rule_asks_first_and_takes_its_words_with_it(
    page: SettingsPage, clinic: Clinic
) -> None:
    tab = _tab(page)
    row = _row_of(tab, "birthday")
    rule = tab.rules[row]
    save_template(clinic, rule.id, "birthday", "sms", "en", "Happy birthday from {{ clinic_name }}")
    tab.table.selectRow(row)

    tab.remove_button.click()
    tab.question.answer(False)
    assert get_rule(clinic, rule.id).name == rule.name

    tab.remove_button.click()
    tab.question.answer(True)
    with pytest.raises(RecordNotFoundError):
        get_rule(clinic, rule.id)
    assert edited_templates(clinic, rule.id) == {}
    assert rule.id not in [r.id for r in tab.rules]
    assert "birthday" not in [r.kind for r in load_rules(clinic)]


def test_daily_limit_and_consent_choices_are_saved_when_chosen(
    page: SettingsPage, clinic: Clinic
) -> None:
    tab = _tab(page)
    tab.limit_spin.setValue(3)
    survey = tab.consent_combos["survey"]
    survey.setCurrentIndex(survey.findData("opt_out"))
    tab.language_combo.setCurrentIndex(tab.language_combo.findData("es"))

    settings = load_settings(clinic)
    assert settings.language == "es"
    assert settings.daily_limit == 3
    assert settings.consent["survey"] == "opt_out"
    assert settings.consent["marketing"] == "opt_in"
    assert tab.settings_status.text() == "Saved."


def test_send_from_this_computer_makes_it_the_sender(page: SettingsPage, clinic: Clinic) -> None:
    tab = _tab(page)
    update_settings(clinic, sender_device="another-desk")
    tab.refresh()
    assert "Another computer" in tab.sender_label.text()

    tab.claim_button.click()

    assert is_sender(clinic)
    assert tab.sender_label.text() == "This computer sends the messages."
    assert not tab.claim_button.isEnabled()


def test_keep_sending_when_the_window_is_closed_is_saved_for_this_computer_when_ticked(
    page: SettingsPage, clinic: Clinic
) -> None:
    tab = _tab(page)
    assert tab.keep_check.accessibleName() == "Keep sending when the window is closed"
    assert tab.keep_hint.text().startswith(
        "Frontdesk stays in the system tray so reminders still go; Quit from the tray icon "
        "to stop it."
    )
    assert tab.keep_check.isChecked()  # on unless someone turned it off here

    tab.keep_check.click()

    assert not keep_running_in_tray(clinic)
    assert tab.settings_status.text() == "Saved."
    tab.refresh()
    assert not tab.keep_check.isChecked()
    tab.keep_check.click()
    assert keep_running_in_tray(clinic)


def test_the_tray_menu_and_the_settings_tick_stay_in_step(
    qtbot: QtBot, page: SettingsPage, clinic: Clinic
) -> None:
    tab = _tab(page)
    window = QMainWindow()
    qtbot.addWidget(window)
    runner = ReminderRunner(window, clinic, page.bus)
    try:
        tab.keep_check.click()  # off in Settings
        assert not runner.keep_action.isChecked()

        runner.keep_action.trigger()  # on from the tray menu
        assert keep_running_in_tray(clinic)
        assert tab.keep_check.isChecked()

        set_keep_running_in_tray(clinic, False)  # saved without telling the window
        runner.menu.popup(window.mapToGlobal(window.rect().center()))
        qtbot.waitUntil(runner.menu.isVisible)
        assert not runner.keep_action.isChecked()  # read again as the menu opened
        runner.menu.close()
        assert not keep_running_in_tray(clinic)  # catching up saved nothing
    finally:
        runner.stop()


def test_turning_sending_on_without_accounts_asks_and_can_go_to_the_accounts(
    qtbot: QtBot, page: SettingsPage, clinic: Clinic
) -> None:
    tab = _tab(page)
    tab.enabled_check.click()

    assert tab.question.box is not None
    assert not tab.enabled_check.isChecked()
    tab.question.answer(yes=False)  # "Set up an account first"

    assert not load_settings(clinic).enabled
    assert page.tabs.currentIndex() == 2


def test_turning_sending_on_for_letters_only(
    qtbot: QtBot, page: SettingsPage, clinic: Clinic
) -> None:
    tab = _tab(page)
    tab.enabled_check.click()
    tab.question.answer(yes=True)  # "Letters only for now"

    assert load_settings(clinic).enabled
    assert tab.enabled_check.isChecked()
    assert page.tabs.currentIndex() == 1


def test_turning_sending_on_with_an_sms_account_asks_nothing(
    page: SettingsPage, clinic: Clinic
) -> None:
    save_sms_account(clinic, SmsAccount("AC1", "token", "+13125550100"))
    tab = _tab(page)
    tab.enabled_check.click()

    assert tab.question.box is None
    assert load_settings(clinic).enabled
    tab.enabled_check.click()
    assert not load_settings(clinic).enabled


def test_every_control_of_the_reminder_screens_has_an_accessible_name(
    qtbot: QtBot, page: SettingsPage
) -> None:
    dialog = _edit(qtbot, _tab(page), "appointment")
    kinds = (
        QLineEdit,
        QComboBox,
        QPlainTextEdit,
        QPushButton,
        QCheckBox,
        QSpinBox,
        QTimeEdit,
        QListWidget,
        QTableWidget,
    )
    unnamed: list[str] = []
    for root in (page.reminders, page.accounts, dialog):
        controls: list[QWidget] = [w for kind in kinds for w in root.findChildren(kind)]
        unnamed += [
            f"{type(w).__name__} {getattr(w, 'text', lambda: '')()}"
            for w in controls
            if not w.accessibleName() and not isinstance(w.parent(), QComboBox | QAbstractSpinBox)
        ]
    assert unnamed == []


def test_leaving_settings_with_unsaved_account_settings_asks(
    qtbot: QtBot, page: SettingsPage, clinic: Clinic
) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QMessageBox

    page.tabs.setCurrentIndex(2)
    page.accounts.sms.account_sid.setText("AC0123")
    assert page.has_unsaved_changes()
    asked: list[str] = []

    def answer_discard() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        asked.append(box.text())
        discard = box.button(QMessageBox.StandardButton.Discard)
        assert isinstance(discard, QAbstractButton)
        discard.click()

    QTimer.singleShot(0, answer_discard)
    assert page.confirm_leave()
    assert asked and "email and text message settings" in asked[0]
    assert page.accounts.sms.account_sid.text() == ""
    assert not page.has_unsaved_changes()


def test_screenshot_paths_stay_out_of_the_checkout(tmp_path: Path) -> None:
    # The screenshots are written by tests/ui/test_reminder_screens.py only when asked.
    assert not (tmp_path / "reminder-rules.png").exists()
