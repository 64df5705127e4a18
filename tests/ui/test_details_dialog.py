"""The details and consents dialog (Ctrl+E), driven like a receptionist would, offscreen."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.patients import records
from app.patients.model import PatientDraft, PhoneDraft
from app.patients.timeline import timeline
from app.store.changes import Changes
from ui.bus import DataBus
from ui.forms.details import DetailsDialog


@pytest.fixture
def ada(clinic: Clinic) -> str:
    return records.create_patient(
        clinic,
        PatientDraft(
            "Okafor",
            "Ada",
            birth_date="1975-03-04",
            phones=(PhoneDraft("(612) 555-0142"),),
            emails=("ada.okafor@example.com",),
        ),
    ).id


def open_dialog(qtbot: QtBot, clinic: Clinic, bus: DataBus, patient_id: str) -> DetailsDialog:
    dialog = DetailsDialog(clinic, bus, patient_id)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    return dialog


def phones_of(clinic: Clinic, patient_id: str) -> list[str]:
    patient = records.get_patient(clinic, patient_id)
    return [c.value for c in patient.contact_points if c.kind == "phone"]


def test_editing_a_phone_and_saving_changes_the_patient_and_publishes(
    qtbot: QtBot, clinic: Clinic, ada: str, dana: str
) -> None:
    bus = DataBus()
    published: list[Changes] = []
    bus.changed.connect(published.append)
    dialog = open_dialog(qtbot, clinic, bus, ada)
    line = dialog.phones.lines[0].edit
    line.selectAll()
    qtbot.keyClicks(line, "612 555 0177")
    qtbot.keyClick(line, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert dialog.result() == DetailsDialog.DialogCode.Accepted
    assert phones_of(clinic, ada) == ["+16125550177"]
    assert published and ada in published[0].patient_ids
    assert timeline(clinic, ada, kinds={"note"})[0].detail == "Phone changed"


def test_adding_a_second_phone_with_the_add_button(qtbot: QtBot, clinic: Clinic, ada: str) -> None:
    dialog = open_dialog(qtbot, clinic, DataBus(), ada)
    qtbot.mouseClick(dialog.phones.add_button, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(dialog.focusWidget(), "651-555-0199")
    dialog.phones.lines[1].use.setCurrentIndex(dialog.phones.lines[1].use.findData("home"))
    assert dialog.save()
    assert phones_of(clinic, ada) == ["+16125550142", "+16515550199"]


def test_bad_email_is_refused_next_to_the_line_and_nothing_is_saved(
    qtbot: QtBot, clinic: Clinic, ada: str
) -> None:
    dialog = open_dialog(qtbot, clinic, DataBus(), ada)
    email = dialog.emails.lines[0].edit
    email.setText("ada@example")
    before = clinic.conn.execute("SELECT max(seq) FROM change").fetchone()[0]
    assert not dialog.save()
    assert dialog.isVisible()
    error = dialog.emails.lines[0].error
    assert not error.isHidden() and "dot" in error.text()
    assert error.accessibleName() == "Email 1 error"
    assert clinic.conn.execute("SELECT max(seq) FROM change").fetchone()[0] == before
    qtbot.keyClicks(email, ".com")
    assert error.isHidden()


def test_future_birth_date_and_missing_name_are_shown_together(
    qtbot: QtBot, clinic: Clinic, ada: str
) -> None:
    dialog = open_dialog(qtbot, clinic, DataBus(), ada)
    dialog.family.clear()
    dialog.given.clear()
    dialog.birth_date.setText("1/1/2999")
    assert not dialog.save()
    assert "future" in dialog.error_text("birth_date")
    assert "name" in dialog.error_text("family_name")
    assert dialog.tabs.currentIndex() == 0
    assert records.get_patient(clinic, ada).family_name == "Okafor"


def test_clicking_a_consent_box_with_a_source_records_it_and_who(
    qtbot: QtBot, clinic: Clinic, ada: str, dana: str
) -> None:
    dialog = open_dialog(qtbot, clinic, DataBus(), ada)
    dialog.tabs.setCurrentIndex(1)
    box = dialog.consent_boxes[("sms", "appointment")]
    assert box.text() == "Not asked"
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    assert box.text() == "Yes (changed)"
    dialog.consent_source.setCurrentText("Signed form")
    assert dialog.save()
    consent = records.get_patient(clinic, ada).consent_for("sms", "appointment")
    assert consent is not None and consent.granted
    assert (consent.source, consent.recorded_by) == ("Signed form", dana)


def test_consent_change_without_a_source_is_refused_inline(
    qtbot: QtBot, clinic: Clinic, ada: str
) -> None:
    dialog = open_dialog(qtbot, clinic, DataBus(), ada)
    dialog.tabs.setCurrentIndex(1)
    dialog.consent_boxes[("email", "marketing")].click()
    assert not dialog.save()
    assert "how the patient told us" in dialog.error_text("consent_source")
    assert records.current_consents(clinic, ada) == ()


def test_consent_tooltip_says_who_recorded_it_when_and_how(
    qtbot: QtBot, clinic: Clinic, ada: str, dana: str
) -> None:
    records.record_consent(clinic, ada, "letter", "billing", True, "Signed form")
    dialog = open_dialog(qtbot, clinic, DataBus(), ada)
    tip = dialog.consent_boxes[("letter", "billing")].toolTip()
    assert tip.startswith("Given ") and tip.endswith(" by Dana Reyes (Signed form)")
    assert (
        dialog.history.item(0).text().endswith("Letter for billing: yes (Signed form) · Dana Reyes")
    )


def test_second_window_saving_sees_the_conflict_and_does_not_overwrite(
    qtbot: QtBot, clinic: Clinic, ada: str
) -> None:
    first = open_dialog(qtbot, clinic, DataBus(), ada)
    # Another desk: its own bus, so neither window hears of the other before saving.
    second = open_dialog(qtbot, clinic, DataBus(), ada)
    first.given.setText("Adaeze")
    assert first.save()
    second.family.setText("Okafor-Bello")
    assert not second.save()
    assert second.isVisible() and second.conflict_shown
    assert "Someone else saved this patient" in second.general_error.text()
    patient = records.get_patient(clinic, ada)
    assert (patient.family_name, patient.given_names) == ("Okafor", "Adaeze")

    second.reload_button.click()
    assert second.reload_box is not None  # asks before dropping the edits
    second.answer_reload(True)
    assert second.given.text() == "Adaeze" and second.family.text() == "Okafor"
    assert not second.conflict_shown and not second.dirty
    second.family.setText("Okafor-Bello")
    assert second.save()
    assert records.get_patient(clinic, ada).family_name == "Okafor-Bello"


def test_keeping_edits_after_a_conflict_leaves_the_form_as_typed(
    qtbot: QtBot, clinic: Clinic, ada: str
) -> None:
    first = open_dialog(qtbot, clinic, DataBus(), ada)
    second = open_dialog(qtbot, clinic, DataBus(), ada)
    first.preferred.setText("Addie")
    assert first.save()
    second.preferred.setText("Dee")
    assert not second.save()
    second.ask_reload()
    second.answer_reload(False)
    assert second.preferred.text() == "Dee" and second.conflict_shown


def test_a_clean_window_on_the_same_bus_follows_a_save_at_once(
    qtbot: QtBot, clinic: Clinic, ada: str
) -> None:
    bus = DataBus()
    watching = open_dialog(qtbot, clinic, bus, ada)
    editing = open_dialog(qtbot, clinic, bus, ada)
    editing.given.setText("Adaeze")
    assert editing.save()
    assert watching.given.text() == "Adaeze" and not watching.conflict_shown
    watching.family.setText("Okafor-Bello")
    assert watching.save()


def test_closing_with_unsaved_edits_asks_first(qtbot: QtBot, clinic: Clinic, ada: str) -> None:
    dialog = open_dialog(qtbot, clinic, DataBus(), ada)
    dialog.preferred.setText("Addie")
    dialog.reject()
    assert dialog.discard_box is not None and dialog.isVisible()
    dialog.answer_discard(True)
    assert not dialog.isVisible()
    assert records.get_patient(clinic, ada).preferred_name == ""


def test_opening_and_closing_without_edits_writes_nothing(
    qtbot: QtBot, demo_clinic: Clinic
) -> None:
    patient_id = demo_clinic.conn.execute(
        "SELECT patient_id FROM contact_point WHERE kind = 'email' LIMIT 1"
    ).fetchone()[0]
    before = demo_clinic.conn.execute("SELECT max(seq) FROM change").fetchone()[0]
    dialog = open_dialog(qtbot, demo_clinic, DataBus(), patient_id)
    assert not dialog.dirty
    assert dialog.save()
    assert demo_clinic.conn.execute("SELECT max(seq) FROM change").fetchone()[0] == before


def test_every_input_has_an_accessible_name(qtbot: QtBot, clinic: Clinic, ada: str) -> None:
    from PySide6.QtWidgets import QAbstractButton, QComboBox, QLineEdit

    dialog = open_dialog(qtbot, clinic, DataBus(), ada)
    for kind in (QLineEdit, QComboBox, QAbstractButton):
        for widget in dialog.findChildren(kind):
            if widget.isVisibleTo(dialog) and widget.parent() is not None:
                inner = isinstance(widget.parent(), QComboBox)  # a combo box's own line
                assert inner or widget.accessibleName(), widget
