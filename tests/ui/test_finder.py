"""The Ctrl+K finder on its own: threaded search, arrows and Enter, New patient row."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.patients.model import PatientDraft, PhoneDraft
from app.patients.records import create_patient
from ui.finder import Finder


@pytest.fixture
def finder(qtbot: QtBot, clinic: Clinic) -> Iterator[Finder]:
    host = QWidget()
    host.resize(900, 600)
    found = Finder(clinic, overlay_parent=host)
    QVBoxLayout(host).addWidget(found)
    qtbot.addWidget(host)
    host.show()
    host.activateWindow()
    qtbot.waitUntil(host.isActiveWindow)
    found.focus()
    yield found
    found.close_service()


def type_and_wait(qtbot: QtBot, finder: Finder, text: str) -> None:
    qtbot.keyClicks(finder.field, text)
    qtbot.waitUntil(lambda: finder.shown_text == finder.field.text())


def test_typing_lists_the_patient_with_birth_date_and_phone(
    qtbot: QtBot, clinic: Clinic, finder: Finder
) -> None:
    ada = create_patient(
        clinic,
        PatientDraft(
            "Okafor", "Ada", birth_date="1975-03-04", phones=(PhoneDraft("(612) 555-0142"),)
        ),
    ).id
    create_patient(clinic, PatientDraft("Okonkwo", "Chidi"))
    type_and_wait(qtbot, finder, "okaf")
    assert finder.patient_ids() == [ada]
    line = finder.results.item(0).text()
    assert "Okafor, Ada" in line and "born 1975-03-04" in line and "(612) 555-0142" in line
    assert finder.panel.isVisible()


def test_arrows_choose_and_enter_opens_the_chosen_patient(
    qtbot: QtBot, clinic: Clinic, finder: Finder
) -> None:
    first = create_patient(clinic, PatientDraft("Garcia", "Maria", birth_date="1980-01-01")).id
    second = create_patient(clinic, PatientDraft("Garcia", "Mario", birth_date="1990-01-01")).id
    type_and_wait(qtbot, finder, "garcia")
    assert set(finder.patient_ids()) == {first, second}
    wanted = finder.patient_ids()[1]
    qtbot.keyClick(finder.field, Qt.Key.Key_Down)
    with qtbot.waitSignal(finder.open_patient) as opened:
        qtbot.keyClick(finder.field, Qt.Key.Key_Return)
    assert opened.args == [wanted]
    assert finder.field.text() == ""
    assert not finder.panel.isVisible()


def test_enter_right_after_typing_opens_what_matches_the_typed_text(
    qtbot: QtBot, clinic: Clinic, finder: Finder
) -> None:
    """A fast typist presses Enter before the list caught up: still the right patient."""
    create_patient(clinic, PatientDraft("Berg", "Anna"))
    lind = create_patient(clinic, PatientDraft("Lindqvist", "Sven")).id
    type_and_wait(qtbot, finder, "berg")
    finder.field.setText("lindq")
    with qtbot.waitSignal(finder.open_patient) as opened:
        qtbot.keyClick(finder.field, Qt.Key.Key_Return)
    assert opened.args == [lind]


def test_no_match_says_what_to_try_and_offers_a_new_patient(qtbot: QtBot, finder: Finder) -> None:
    type_and_wait(qtbot, finder, "Zyx Qwerty")
    assert finder.patient_ids() == []
    assert "No patient matches" in finder.status.text()
    assert "New patient" in finder.results.item(0).text()
    with qtbot.waitSignal(finder.new_patient) as asked:
        qtbot.keyClick(finder.field, Qt.Key.Key_Return)
    assert asked.args == ["Zyx Qwerty"]


def test_escape_closes_the_list_then_clears_the_field(
    qtbot: QtBot, clinic: Clinic, finder: Finder
) -> None:
    create_patient(clinic, PatientDraft("Okafor", "Ada"))
    type_and_wait(qtbot, finder, "okafor")
    qtbot.keyClick(finder.field, Qt.Key.Key_Escape)
    assert not finder.panel.isVisible()
    assert finder.field.text() == "okafor"
    qtbot.keyClick(finder.field, Qt.Key.Key_Escape)
    assert finder.field.text() == ""


def test_only_the_newest_text_is_shown_after_fast_typing(
    qtbot: QtBot, clinic: Clinic, finder: Finder
) -> None:
    for family in ("Adams", "Adler", "Adkins", "Baker"):
        create_patient(clinic, PatientDraft(family, "Sam"))
    qtbot.keyClicks(finder.field, "adl")
    qtbot.waitUntil(lambda: finder.shown_text == "adl")
    assert len(finder.patient_ids()) == 1
    assert "Adler" in finder.results.item(0).text()


def test_a_patient_added_elsewhere_is_found_at_once(
    qtbot: QtBot, clinic: Clinic, finder: Finder
) -> None:
    """The finder reads on its own connection; a save on the GUI's is visible to it."""
    type_and_wait(qtbot, finder, "Nakamura")
    assert finder.patient_ids() == []
    created = create_patient(clinic, PatientDraft("Nakamura", "Yui")).id
    finder.field.clear()
    type_and_wait(qtbot, finder, "Nakamura")
    assert finder.patient_ids() == [created]
