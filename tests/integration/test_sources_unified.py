"""One list of channels: the forms, the patient list, the header and the demo all use the
channel keys of app.growth.acquisition, and older free-text answers still read right."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.growth.acquisition import Source, active_sources, save_sources, sources
from app.patients import records
from app.patients.editing import (
    DetailsInvalidError,
    load_details,
    save_details,
    source_choices,
    source_words,
)
from app.patients.listing import PatientListQuery, page
from app.patients.listing import sources as filter_sources
from app.patients.model import PatientDraft
from app.patients.summary import patient_summary
from app.patients.timeline import timeline
from ui.bus import DataBus
from ui.forms.details import DetailsDialog


def new_patient(clinic: Clinic, family: str, source: str = "") -> str:
    return records.create_patient(
        clinic, PatientDraft(family, "Test", acquisition_source=source)
    ).id


def open_details(qtbot: QtBot, clinic: Clinic, patient_id: str) -> DetailsDialog:
    dialog = DetailsDialog(clinic, DataBus(), patient_id)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    return dialog


def test_details_form_offers_the_active_channels_and_stores_the_key(
    qtbot: QtBot, clinic: Clinic
) -> None:
    pid = new_patient(clinic, "Okafor")
    dialog = open_details(qtbot, clinic, pid)
    offered = [dialog.source.itemData(i) for i in range(dialog.source.count())]
    assert offered == ["", *(s.key for s in active_sources(clinic))]
    dialog.source.setCurrentIndex(dialog.source.findText("Referred by a doctor"))
    assert dialog.save()
    assert records.get_patient(clinic, pid).acquisition_source == "physician_referral"


def test_older_words_read_as_their_channel_in_header_and_list(clinic: Clinic) -> None:
    older = new_patient(clinic, "Adams", "Google search")
    keyed = new_patient(clinic, "Baker", "search")
    new_patient(clinic, "Clark", "maps")
    assert source_words(clinic, "Google search") == "Internet search"
    assert patient_summary(clinic, older).source == "Internet search"
    rows = page(clinic, PatientListQuery(source="search"), 0, 50)
    expected = {
        str(r[0])
        for r in clinic.conn.execute(
            "SELECT id FROM patient WHERE acquisition_source IN ('search', 'Google search')"
        )
    }
    assert {r.id for r in rows} == expected == {older, keyed}
    assert {r.source_words for r in rows} == {"Internet search"}


def test_free_text_nobody_knows_is_shown_as_written_and_kept_on_save(clinic: Clinic) -> None:
    pid = new_patient(clinic, "Diaz", "saw the sign on the bus")
    assert source_words(clinic, "saw the sign on the bus") == "saw the sign on the bus"
    assert ("saw the sign on the bus", "saw the sign on the bus") in filter_sources(clinic)
    assert source_choices(clinic, "saw the sign on the bus")[-1][0] == "saw the sign on the bus"
    details = load_details(clinic, pid)
    edit = details.as_edit()
    save_details(clinic, pid, edit.__class__(**{**edit.__dict__, "given_names": "Tess"}), 1)
    assert records.get_patient(clinic, pid).acquisition_source == "saw the sign on the bus"


def test_saving_other_fields_keeps_older_words_and_says_nothing_about_the_source(
    qtbot: QtBot, clinic: Clinic
) -> None:
    pid = new_patient(clinic, "Evans", "Google search")
    dialog = open_details(qtbot, clinic, pid)
    assert dialog.source.currentData() == "search"  # shown as its channel
    dialog.preferred.setText("Evie")
    assert dialog.save()
    assert records.get_patient(clinic, pid).acquisition_source == "Google search"
    assert timeline(clinic, pid, kinds={"note"})[0].detail == "Name changed"


def test_a_retired_channel_stays_on_its_patients_but_cannot_be_chosen_anew(
    clinic: Clinic,
) -> None:
    pid = new_patient(clinic, "Fox", "event")
    other = new_patient(clinic, "Gray")
    save_sources(clinic, [Source(s.key, s.label, s.key != "event") for s in sources(clinic)])
    assert ("event", "Community event") in source_choices(clinic, "event")
    assert "event" not in [v for v, _ in source_choices(clinic, "")]
    keep = load_details(clinic, pid).as_edit()
    save_details(clinic, pid, keep.__class__(**{**keep.__dict__, "given_names": "Al"}), 1)
    assert records.get_patient(clinic, pid).acquisition_source == "event"
    fresh = load_details(clinic, other).as_edit()
    with pytest.raises(DetailsInvalidError) as refused:
        save_details(
            clinic, other, fresh.__class__(**{**fresh.__dict__, "acquisition_source": "event"}), 1
        )
    assert "acquisition_source" in refused.value.errors


def test_patient_list_filter_offers_channels_in_the_clinics_order(clinic: Clinic) -> None:
    choices = filter_sources(clinic)
    assert [v for v, _ in choices] == [s.key for s in sources(clinic)]


def test_every_demo_patient_has_a_channel_key(demo_clinic: Clinic) -> None:
    keys = {s.key for s in sources(demo_clinic)}
    stored = {
        str(r[0])
        for r in demo_clinic.conn.execute("SELECT DISTINCT acquisition_source FROM patient")
    }
    assert stored <= keys and len(stored) >= 5


def test_moved_away_is_saved_versioned_and_noted(clinic: Clinic) -> None:
    pid = new_patient(clinic, "Hale")
    before = load_details(clinic, pid)
    day = date(2026, 3, 2).isoformat()
    edit = before.as_edit()
    save_details(clinic, pid, edit.__class__(**{**edit.__dict__, "moved_on": day}), 1)
    after = load_details(clinic, pid)
    assert after.moved_on == day and after.version == before.version + 1
    assert records.get_patient(clinic, pid).moved_on == day
    assert timeline(clinic, pid, kinds={"note"})[0].detail == "Moved away changed"
    row = clinic.conn.execute("SELECT moved_on FROM patient WHERE id = ?", (pid,)).fetchone()
    assert row[0] == day


def test_a_move_in_the_future_is_refused(clinic: Clinic) -> None:
    pid = new_patient(clinic, "Ives")
    edit = load_details(clinic, pid).as_edit()
    later = (date.today() + timedelta(days=3)).isoformat()
    with pytest.raises(DetailsInvalidError) as refused:
        save_details(clinic, pid, edit.__class__(**{**edit.__dict__, "moved_on": later}), 1)
    assert "moved_on" in refused.value.errors
    assert records.get_patient(clinic, pid).moved_on is None


def test_moved_away_box_on_the_form_saves_and_clears(qtbot: QtBot, clinic: Clinic) -> None:
    pid = new_patient(clinic, "Jones")
    dialog = open_details(qtbot, clinic, pid)
    assert not dialog.moved.isChecked() and not dialog.moved_on.isEnabled()
    dialog.moved.setChecked(True)
    assert dialog.moved_on.isEnabled() and dialog.dirty
    assert dialog.save()
    assert records.get_patient(clinic, pid).moved_on is not None
    dialog = open_details(qtbot, clinic, pid)
    assert dialog.moved.isChecked()
    dialog.moved.setChecked(False)
    assert dialog.save()
    assert records.get_patient(clinic, pid).moved_on is None


def test_the_patient_header_says_the_patient_moved_away(qtbot: QtBot, clinic: Clinic) -> None:
    from zoneinfo import ZoneInfo

    from ui.patient.header import HeaderCard

    pid = new_patient(clinic, "Kerr", "walk-in")
    records.update_patient(clinic, pid, {"moved_on": "2026-03-02"})
    card = HeaderCard()
    qtbot.addWidget(card)
    card.show_summary(patient_summary(clinic, pid), "US", ZoneInfo("America/Chicago"))
    assert not card.banner.isHidden()
    assert card.banner.text().startswith("Moved away (noted 02 Mar 2026)")
    assert card.source.text() == "Found us through: Walked in"
