"""The message words editor: a broken template is refused with its line, the SMS part counter
follows the text (GSM vs accented Spanish), variables go in by double-click, save and reset."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.reminders import template_store
from app.reminders.rules import Rule, install_default_rules
from app.reminders.templates import default_template
from ui.bus import DataBus
from ui.reminder_settings.template_editor import TemplateEditor, parts_text


@pytest.fixture
def rule(clinic: Clinic) -> Rule:
    return next(r for r in install_default_rules(clinic) if r.kind == "appointment")


def _editor(
    qtbot: QtBot, clinic: Clinic, rule: Rule, channel: str = "sms", language: str = "en"
) -> TemplateEditor:
    editor = TemplateEditor(clinic, DataBus(), rule, channel=channel, language=language)
    qtbot.addWidget(editor)
    editor.resize(1280, 720)
    editor.show()
    return editor


def test_the_ready_made_words_are_shown_when_the_clinic_wrote_none(
    qtbot: QtBot, clinic: Clinic, rule: Rule, app_looks: QApplication
) -> None:
    editor = _editor(qtbot, clinic, rule, "email", "en")

    assert editor.text() == default_template("appointment", "email", "en")
    assert "ready-made" in editor.origin_label.text()
    assert editor.problem is None
    assert not editor.save_button.isEnabled()  # nothing changed yet
    assert editor.preview.toPlainText().startswith("Subject: Your appointment at Sunrise")
    assert "Dr. Rivera" in editor.preview.toPlainText()


def test_a_broken_template_is_refused_with_its_line_and_nothing_is_saved(
    qtbot: QtBot, clinic: Clinic, rule: Rule, app_looks: QApplication
) -> None:
    editor = _editor(qtbot, clinic, rule)
    editor.editor.setPlainText("Hello {{ patient_first_name }}\n{% if provider_name %}\nsee you")
    qtbot.waitUntil(lambda: editor.problem is not None)  # the live check, after typing

    assert editor.problem_label.text().startswith("Line 2: a {% if %} is not closed")
    assert editor.problem_label.isVisible()
    assert editor.problem_label.accessibleName() == "Problem in the message text"
    assert not editor.save_button.isEnabled()
    assert not editor.save()
    assert template_store.stored_template(clinic, rule.id, "sms", "en") is None
    assert editor.preview.toPlainText() == ""

    editor.editor.setPlainText("Hello {{ patient_first_name }}, see you soon.")
    editor.check_now()
    assert editor.problem is None
    assert not editor.problem_label.isVisible()
    assert editor.save_button.isEnabled()


def test_a_variable_that_does_not_exist_is_named_in_the_reason(
    qtbot: QtBot, clinic: Clinic, rule: Rule, app_looks: QApplication
) -> None:
    editor = _editor(qtbot, clinic, rule)
    editor.editor.setPlainText("Hi {{ patient_first_name }},\nabout your {{ diagnosis }}")
    editor.check_now()

    assert editor.problem is not None and editor.problem.line == 2
    assert "{{ diagnosis }} is not a variable" in editor.problem_label.text()


def test_the_sms_part_counter_shows_gsm_and_special_characters(
    qtbot: QtBot, clinic: Clinic, rule: Rule, app_looks: QApplication
) -> None:
    english = _editor(qtbot, clinic, rule, "sms", "en")
    assert english.parts_label.text().startswith("2 parts · ")
    assert "special" not in english.parts_label.text()  # plain GSM: 160 a part

    spanish = _editor(qtbot, clinic, rule, "sms", "es")
    assert "special characters (í)" in spanish.parts_label.text()  # Lucía
    assert "70 characters" in spanish.parts_label.text()

    english.editor.setPlainText("{{ clinic_name }}: " + "x" * 150)
    english.check_now()
    assert english.parts_label.text() == "2 parts · 173 characters"
    english.editor.setPlainText("{{ clinic_name }}: ¿Sí?")
    english.check_now()
    # ¿ is in the GSM alphabet, í is not
    assert english.parts_label.text() == (
        "1 part · 27 characters · special characters (í) make each part 70 characters, not 160"
    )


def test_parts_text_counts_in_network_units() -> None:
    assert parts_text("Hola Lucía") == (
        "1 part · 10 characters · special characters (í) make each part 70 characters, not 160"
    )
    assert parts_text("a" * 160) == "1 part · 160 characters"
    assert parts_text("a" * 161) == "2 parts · 161 characters"


def test_double_clicking_a_variable_puts_it_into_the_text(
    qtbot: QtBot, clinic: Clinic, rule: Rule, app_looks: QApplication
) -> None:
    editor = _editor(qtbot, clinic, rule)
    editor.editor.setPlainText("Call ")
    editor.editor.moveCursor(editor.editor.textCursor().MoveOperation.End)
    names = [editor.variables.item(i).text() for i in range(editor.variables.count())]
    assert "{{ clinic_phone }}" in names
    item = editor.variables.item(names.index("{{ clinic_phone }}"))
    editor.variables.setCurrentItem(item)

    editor.variables.itemActivated.emit(item)

    assert editor.text() == "Call {{ clinic_phone }}"
    assert editor.variable_help.text() == "The clinic's phone number, as in Settings."


def test_saved_words_are_the_clinics_and_reset_brings_back_the_ready_made_ones(
    qtbot: QtBot, clinic: Clinic, rule: Rule, app_looks: QApplication
) -> None:
    editor = _editor(qtbot, clinic, rule, "sms", "es")
    words = "{{ clinic_name }}: {{ patient_first_name }}, le esperamos el {{ appointment_date }}."
    editor.editor.setPlainText(words)
    assert editor.save()

    assert template_store.stored_template(clinic, rule.id, "sms", "es") == words
    assert editor.origin_label.text() == "The clinic's own words."
    assert editor.status.text() == "Saved."
    assert not editor.dirty

    again = _editor(qtbot, clinic, rule, "sms", "es")
    assert again.text() == words
    assert again.reset_button.isEnabled()
    again.reset_button.click()

    assert template_store.stored_template(clinic, rule.id, "sms", "es") is None
    assert again.text() == default_template("appointment", "sms", "es")
    assert not again.reset_button.isEnabled()


def test_switching_message_with_unsaved_words_asks_first(
    qtbot: QtBot, clinic: Clinic, rule: Rule, app_looks: QApplication
) -> None:
    editor = _editor(qtbot, clinic, rule, "sms", "en")
    editor.editor.setPlainText("Changed {{ clinic_name }}")

    editor.channel_combo.setCurrentIndex(editor.channel_combo.findData("email"))
    assert editor.question.box is not None
    assert editor.channel == "sms"  # kept until the answer
    editor.question.answer(yes=False)
    assert editor.text() == "Changed {{ clinic_name }}"

    editor.channel_combo.setCurrentIndex(editor.channel_combo.findData("email"))
    editor.question.answer(yes=True)
    assert editor.channel == "email"
    assert editor.text().startswith("Subject:")


def test_a_message_without_ready_made_words_starts_empty_and_says_so(
    qtbot: QtBot, clinic: Clinic, rule: Rule, app_looks: QApplication
) -> None:
    editor = _editor(qtbot, clinic, rule, "sms", "fr")  # no French words ship

    assert editor.text() == ""
    assert "no ready-made words" in editor.origin_label.text()
    assert editor.problem is not None  # an empty message cannot be saved
    assert not editor.save_button.isEnabled()


def test_an_email_needs_its_subject_line(
    qtbot: QtBot, clinic: Clinic, rule: Rule, app_looks: QApplication
) -> None:
    editor = _editor(qtbot, clinic, rule, "email", "en")
    editor.editor.setPlainText("Dear {{ patient_first_name }},\nsee you.")
    editor.check_now()

    assert editor.problem_label.text().startswith("Line 1: the first line must be the subject")


def test_the_preview_on_a_chosen_patient_uses_their_own_details(
    qtbot: QtBot, demo_clinic: Clinic, app_looks: QApplication
) -> None:
    from app.patients.records import get_patient

    rule = next(r for r in install_default_rules(demo_clinic) if r.kind == "appointment")
    row = demo_clinic.conn.execute(
        "SELECT p.id FROM patient p JOIN appointment a ON a.patient_id = p.id "
        "WHERE a.status = 'booked' AND a.start_at > strftime('%Y-%m-%dT%H:%M:%SZ', 'now') "
        "AND p.deceased = 0 ORDER BY a.start_at LIMIT 1"
    ).fetchone()
    patient = get_patient(demo_clinic, row[0])
    editor = _editor(qtbot, demo_clinic, rule, "email", "en")

    picker = editor.choose_patient()
    qtbot.waitUntil(picker.isVisible)
    picker.query.setText(f"{patient.given_names} {patient.family_name}")
    picker.search_now()
    ids = [picker.results.item(i).data(256)[0] for i in range(picker.results.count())]
    assert patient.id in ids
    picker.results.setCurrentRow(ids.index(patient.id))
    picker.ok_button.click()

    assert editor.preview_source.currentText().startswith("Patient: ")
    shown = editor.preview.toPlainText()
    assert shown.startswith("Subject: Your appointment at Lakeside Family Practice")
    assert patient.given_names.split()[0] in shown or patient.preferred_name in shown
    assert "Sunrise" not in shown  # the clinic's own details, not the made-up ones
    assert editor.preview_note.text().startswith("For ")

    editor.editor.setPlainText(editor.text() + "\nP.S. Bring your card.")
    editor.check_now()
    assert "P.S. Bring your card." in editor.preview.toPlainText()  # unsaved words, real patient
    assert patient.given_names.split()[0] in shown or patient.preferred_name in shown

    editor.preview_source.setCurrentIndex(0)
    assert "P.S. Bring your card." in editor.preview.toPlainText()
