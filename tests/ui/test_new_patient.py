"""The New patient form from the finder: prefill, the duplicate warning and its two answers."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.patients import records
from app.patients.editing import draft_from_text
from app.patients.model import PatientDraft, PhoneDraft
from ui.bus import DataBus
from ui.forms.new_patient import NewPatientDialog


@pytest.fixture
def ada(clinic: Clinic) -> str:
    return records.create_patient(
        clinic,
        PatientDraft(
            "Okafor", "Ada", birth_date="1975-03-04", phones=(PhoneDraft("(612) 555-0142"),)
        ),
    ).id


def open_dialog(qtbot: QtBot, clinic: Clinic, text: str = "") -> NewPatientDialog:
    dialog = NewPatientDialog(clinic, DataBus(), None, initial_text=text)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    return dialog


def patient_count(clinic: Clinic) -> int:
    return int(clinic.conn.execute("SELECT count(*) FROM patient").fetchone()[0])


def test_prefills_name_and_birth_date_typed_in_the_finder(qtbot: QtBot, clinic: Clinic) -> None:
    dialog = open_dialog(qtbot, clinic, "Ada Okafor 3/4/1975")
    assert (dialog.family.text(), dialog.given.text()) == ("Okafor", "Ada")
    assert dialog.birth_date.text() == "3/4/1975"
    assert dialog.hint_text("birth_date").startswith("4 March 1975")
    assert not dialog.dirty


def test_family_name_on_file_is_recognised_first(clinic: Clinic, ada: str) -> None:
    guess = draft_from_text(clinic, "Okafor Chidi 612.555.0199")
    assert (guess.family_name, guess.given_names) == ("Okafor", "Chidi")
    assert guess.phones == (PhoneDraft("612.555.0199"),)


def test_comma_puts_the_family_name_first_and_email_is_picked_out(clinic: Clinic) -> None:
    guess = draft_from_text(clinic, "Bello, Tunde Ade tunde@example.com 1980-02-29")
    assert (guess.family_name, guess.given_names) == ("Bello", "Tunde Ade")
    assert guess.emails == ("tunde@example.com",)
    assert guess.birth_date == "1980-02-29"


def test_swap_button_swaps_the_names(qtbot: QtBot, clinic: Clinic) -> None:
    dialog = open_dialog(qtbot, clinic, "Okafor Ada")
    dialog.swap.click()
    assert (dialog.family.text(), dialog.given.text()) == ("Okafor", "Ada")


def test_similar_patient_on_file_is_shown_before_anything_is_created(
    qtbot: QtBot, clinic: Clinic, ada: str
) -> None:
    dialog = open_dialog(qtbot, clinic, "Ada Okafor 3/4/1975")
    assert not dialog.save()
    assert dialog.isVisible() and not dialog.duplicates_panel.isHidden()
    assert dialog.duplicates.count() == 1
    assert "same name and birth date" in dialog.duplicates.item(0).text()
    assert "Nothing was created yet" in dialog.general_error.text()
    assert patient_count(clinic) == 1


def test_create_anyway_creates_the_new_patient(qtbot: QtBot, clinic: Clinic, ada: str) -> None:
    dialog = open_dialog(qtbot, clinic, "Ada Okafor 3/4/1975")
    created: list[str] = []
    dialog.created.connect(created.append)
    dialog.save()
    dialog.create_anyway_button.click()
    assert not dialog.isVisible()
    assert dialog.created_id is not None and dialog.created_id != ada
    assert created == [dialog.created_id]
    assert records.get_patient(clinic, dialog.created_id).birth_date == "1975-03-04"
    assert patient_count(clinic) == 2


def test_open_existing_reports_the_patient_and_creates_nothing(
    qtbot: QtBot, clinic: Clinic, ada: str
) -> None:
    dialog = open_dialog(qtbot, clinic, "Okafor Ada")
    dialog.phone.setText("612-555-0142")
    chosen: list[str] = []
    dialog.open_existing.connect(chosen.append)
    dialog.save()
    assert "same phone" in dialog.duplicates.item(0).text()
    dialog.open_button.click()
    assert chosen == [ada] and dialog.existing_id == ada
    assert dialog.created_id is None and not dialog.isVisible()
    assert patient_count(clinic) == 1


def test_nobody_similar_creates_at_once_with_reminder_consent(
    qtbot: QtBot, clinic: Clinic, ada: str
) -> None:
    dialog = open_dialog(qtbot, clinic, "Tunde Bello")
    dialog.reminder_ticks["sms"].setChecked(True)
    dialog.phone.setText("612 555 0100")
    dialog.source.setCurrentIndex(dialog.source.findText("Internet search"))
    assert dialog.save()
    patient = records.get_patient(clinic, str(dialog.created_id))
    assert patient.acquisition_source == "search"  # the channel's key, as reports read it
    consent = patient.consent_for("sms", "appointment")
    assert consent is not None and consent.granted and consent.source == "Told us at the desk"


def test_bad_entries_are_refused_next_to_their_fields_all_at_once(
    qtbot: QtBot, clinic: Clinic
) -> None:
    dialog = open_dialog(qtbot, clinic)
    dialog.birth_date.setText("1/1/2999")
    dialog.phone.setText("12")
    dialog.email.setText("someone@nowhere")
    assert not dialog.save()
    assert "name" in dialog.error_text("family_name")
    assert "future" in dialog.error_text("birth_date")
    assert "few digits" in dialog.error_text("phone")
    assert "dot" in dialog.error_text("email")
    assert patient_count(clinic) == 0


def test_every_alt_letter_of_the_form_is_used_once(qtbot: QtBot, clinic: Clinic) -> None:
    """Two labels on one Alt letter make Alt+letter cycle instead of jumping."""
    import re

    from PySide6.QtWidgets import QAbstractButton, QLabel

    dialog = NewPatientDialog(clinic, DataBus())
    qtbot.addWidget(dialog)
    texts = [w.text() for w in dialog.findChildren(QLabel)]
    texts += [w.text() for w in dialog.findChildren(QAbstractButton)]
    letters = [m.group(1).lower() for t in texts for m in re.finditer(r"&([^&\s])", t)]
    assert len(letters) == len(set(letters)), sorted(letters)
