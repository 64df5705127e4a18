"""What a rule's letters print as: the rule dialog offers Letter or Postcard where the rule can
send letters (billing says it prints statements), saves and reloads the choice; the words'
editor refuses a postcard message that does not fit, with the reason, and keeps Save off."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtWidgets import QApplication, QLabel
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.letters.settings import LetterSettings, save_settings
from app.reminders import template_store
from app.reminders.rules import Rule, get_rule, install_default_rules, save_rule
from ui.bus import DataBus
from ui.reminder_settings.rule_dialog import BILLING_PRINT_HINT, NO_LETTERS_HINT, RuleDialog
from ui.reminder_settings.template_editor import TemplateEditor

SHORT_CARD = (
    "Dear {{ patient_first_name }}, it is time for your next checkup at {{ clinic_name }}. "
    "Please call us to book."
)
LONG_CARD = SHORT_CARD + "\n\n" + " ".join(["We look forward to seeing you again soon."] * 60)


@pytest.fixture
def rules(clinic: Clinic) -> dict[str, Rule]:
    return {r.kind: r for r in install_default_rules(clinic)}


def _dialog(qtbot: QtBot, clinic: Clinic, rule: Rule) -> RuleDialog:
    dialog = RuleDialog(clinic, DataBus(), rule)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _editor(qtbot: QtBot, clinic: Clinic, rule: Rule) -> TemplateEditor:
    editor = TemplateEditor(clinic, DataBus(), rule, channel="letter", language="en")
    qtbot.addWidget(editor)
    editor.resize(1280, 720)
    editor.show()
    return editor


def test_a_recall_rule_saves_postcards_and_shows_them_again_when_edited(
    qtbot: QtBot, clinic: Clinic, rules: dict[str, Rule], app_looks: QApplication
) -> None:
    recall = rules["recall"]
    assert recall.print_format == "letter"
    dialog = _dialog(qtbot, clinic, recall)
    combo = dialog.print_format_combo

    assert combo.isEnabled()  # its last message goes by letter
    assert combo.accessibleName() == "Letters print as"
    assert [combo.itemText(i) for i in range(combo.count())] == ["Letter", "Postcard"]
    assert combo.currentData() == "letter"
    combo.setCurrentIndex(combo.findData("postcard"))
    assert dialog.dirty
    assert "postcard" in dialog.hint_text("print_format")
    assert dialog.save()

    assert get_rule(clinic, recall.id).print_format == "postcard"
    reopened = _dialog(qtbot, clinic, get_rule(clinic, recall.id))
    assert reopened.print_format_combo.currentData() == "postcard"
    assert not reopened.dirty


def test_the_choice_is_off_with_the_reason_until_the_rule_can_send_a_letter(
    qtbot: QtBot, clinic: Clinic, rules: dict[str, Rule], app_looks: QApplication
) -> None:
    dialog = _dialog(qtbot, clinic, rules["no_show"])  # text, else email
    assert not dialog.print_format_combo.isEnabled()
    assert dialog.hint_text("print_format") == NO_LETTERS_HINT

    third = dialog.channel_order.combos[2]
    third.setCurrentIndex(third.findData("letter"))
    assert dialog.print_format_combo.isEnabled()
    dialog.print_format_combo.setCurrentIndex(dialog.print_format_combo.findData("postcard"))
    assert dialog.save()
    assert get_rule(clinic, rules["no_show"].id).print_format == "postcard"


def test_a_billing_rule_says_its_letters_print_as_statements(
    qtbot: QtBot, clinic: Clinic, rules: dict[str, Rule], app_looks: QApplication
) -> None:
    dialog = _dialog(qtbot, clinic, rules["billing"])

    shown = dialog.field_widget("print_format")
    assert isinstance(shown, QLabel) and shown.text() == "Statements"
    assert shown.accessibleName() == "Letters print as statements"
    assert dialog.hint_text("print_format") == BILLING_PRINT_HINT
    assert dialog.save()
    assert get_rule(clinic, rules["billing"].id).print_format == "letter"


def test_a_postcard_message_too_long_for_the_card_is_refused_with_the_reason(
    qtbot: QtBot, clinic: Clinic, rules: dict[str, Rule], app_looks: QApplication
) -> None:
    recall = save_rule(clinic, replace(rules["recall"], print_format="postcard"))
    editor = _editor(qtbot, clinic, recall)

    editor.editor.setPlainText(LONG_CARD)
    editor.check_now()

    assert editor.problem is None  # the words themselves are fine…
    reason = editor.postcard_label.text()
    assert reason.startswith("This message is too long for a postcard: shorten it by about")
    assert reason.endswith("words or send it as a letter.")
    assert editor.postcard_label.isVisible()
    assert editor.postcard_label.accessibleName() == "Why this does not fit a postcard"
    assert not editor.save_button.isEnabled()  # …but they do not fit the card
    assert not editor.save()
    assert template_store.stored_template(clinic, recall.id, "letter", "en") is None

    editor.editor.setPlainText(SHORT_CARD)
    editor.check_now()
    assert not editor.postcard_label.isVisible()
    assert editor.save_button.isEnabled()
    assert editor.save()
    assert template_store.stored_template(clinic, recall.id, "letter", "en") == SHORT_CARD


def test_a_long_message_is_fine_as_a_letter_and_the_card_size_follows_the_envelope(
    qtbot: QtBot, clinic: Clinic, rules: dict[str, Rule], app_looks: QApplication
) -> None:
    letters = _editor(qtbot, clinic, rules["recall"])  # prints as letters
    letters.editor.setPlainText(LONG_CARD)
    letters.check_now()
    assert not letters.postcard_label.isVisible()
    assert letters.save_button.isEnabled()

    recall = save_rule(clinic, replace(rules["recall"], print_format="postcard"))
    cards = _editor(qtbot, clinic, recall)
    assert cards.postcard_size() == "4x6"  # the US #10 envelope setting
    assert cards.preview_note.text().endswith("Prints as a 4 × 6 in postcard.")
    save_settings(clinic, LetterSettings(envelope="din_a"))
    assert cards.postcard_size() == "a6"
    cards.check_now()
    assert cards.preview_note.text().endswith("Prints as an A6 postcard.")
