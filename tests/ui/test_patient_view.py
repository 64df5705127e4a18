"""The 360° patient view on real data: header card, badges, timeline chips, paging, refresh."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex
from pytestqt.qtbot import QtBot

from app.billing import ledger
from app.clinic import Clinic
from app.importers.session import plan_import, run_import
from app.interactions.log import log_interaction
from app.patients import records
from app.patients.model import PatientDraft, PhoneDraft
from app.store.writer import new_id
from ui.bus import DataBus
from ui.patient.timeline import PAGE
from ui.patient.view import PatientView


def make_view(qtbot: QtBot, clinic: Clinic) -> PatientView:
    view = PatientView(clinic, DataBus())
    qtbot.addWidget(view)
    view.resize(1280, 720)
    view.show()
    return view


def busiest_patient(clinic: Clinic) -> str:
    return str(
        clinic.conn.execute(
            "SELECT patient_id FROM interaction GROUP BY patient_id ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()[0]
    )


def test_header_shows_who_and_where_things_stand(qtbot: QtBot, clinic: Clinic) -> None:
    patient = records.create_patient(
        clinic,
        PatientDraft(
            "Okafor",
            "Adaeze",
            preferred_name="Ada",
            birth_date="1975-03-04",
            phones=(PhoneDraft("(612) 555-0142"),),
            acquisition_source="Google search",
            language="es",
            tags=("interpreter",),
        ),
    ).id
    ledger.post_charge(clinic, patient, 4_550, "Visit")
    view = make_view(qtbot, clinic)
    view.show_patient(patient)
    header = view.header
    assert header.name.text() == "Okafor, Adaeze (Ada)"
    assert "born 04 Mar 1975" in header.facts.text()
    assert "speaks Spanish" in header.facts.text()
    assert "(612) 555-0142" in header.contact.text()
    assert header.balance.text() == "Owes $45.50"
    assert "Internet search" in header.source.text()  # older words read as their channel
    assert "interpreter" in header.tags.text()
    assert header.banner.isHidden()


def test_deceased_patient_shows_a_banner_and_cannot_be_booked(qtbot: QtBot, clinic: Clinic) -> None:
    patient = records.create_patient(clinic, PatientDraft("Lind", "Karl")).id
    records.mark_deceased(clinic, patient, "2026-02-01")
    view = make_view(qtbot, clinic)
    view.show_patient(patient)
    assert view.header.banner.isVisible()
    assert "Deceased" in view.header.banner.text()
    assert not view.buttons["book"].isEnabled()


def test_consent_change_published_on_the_bus_changes_the_badge(
    qtbot: QtBot, clinic: Clinic
) -> None:
    patient = records.create_patient(clinic, PatientDraft("Okafor", "Ada")).id
    view = make_view(qtbot, clinic)
    view.show_patient(patient)
    badge = view.header.badges[("sms", "appointment")]
    assert badge.state == "unknown"
    view.bus.publish(
        records.record_consent(clinic, patient, "sms", "appointment", True, "form").changes
    )
    assert badge.state == "granted"
    assert "Text for reminders: yes" in badge.accessibleName()
    assert view.timeline.model.entries[0].kind == "consent"


def test_a_call_logged_elsewhere_appears_on_top_of_the_timeline(
    qtbot: QtBot, clinic: Clinic
) -> None:
    patient = records.create_patient(clinic, PatientDraft("Okafor", "Ada")).id
    view = make_view(qtbot, clinic)
    view.show_patient(patient)
    assert view.timeline.model.rowCount() == 0
    assert view.timeline.empty.text() == "Nothing on the timeline yet."
    logged = log_interaction(clinic, patient, "call", direction="out", outcome="reached")
    view.bus.publish(logged.changes)
    assert view.timeline.model.entries[0].record_id == logged.id
    assert "Call · reached" in view.timeline.model.data(view.timeline.model.index(0))


def test_other_patients_changes_do_not_reload_the_view(qtbot: QtBot, clinic: Clinic) -> None:
    shown = records.create_patient(clinic, PatientDraft("Okafor", "Ada")).id
    other = records.create_patient(clinic, PatientDraft("Berg", "Anna")).id
    view = make_view(qtbot, clinic)
    view.show_patient(shown)
    before = view.summary
    view.bus.publish(log_interaction(clinic, other, "note", subject="x").changes)
    assert view.summary is before


@pytest.mark.parametrize(("chip", "kinds"), [("Calls", {"call"}), ("Money", {"payment", "charge"})])
def test_chips_keep_only_their_kinds(
    qtbot: QtBot, demo_clinic: Clinic, chip: str, kinds: set[str]
) -> None:
    view = make_view(qtbot, demo_clinic)
    patient = busiest_patient(demo_clinic)
    view.show_patient(patient)
    for name, button in view.timeline.chips.items():
        button.setChecked(name == chip)
    shown = {entry.kind for entry in view.timeline.model.entries}
    assert shown <= kinds


def test_text_filter_narrows_the_timeline(qtbot: QtBot, clinic: Clinic) -> None:
    patient = records.create_patient(clinic, PatientDraft("Okafor", "Ada")).id
    log_interaction(clinic, patient, "note", subject="Asked about flu shots")
    log_interaction(clinic, patient, "note", subject="Parking")
    view = make_view(qtbot, clinic)
    view.show_patient(patient)
    assert view.timeline.model.rowCount() == 2
    qtbot.keyClicks(view.timeline.filter, "flu")
    qtbot.waitUntil(lambda: view.timeline.model.rowCount() == 1)
    assert view.timeline.model.entries[0].detail == "Asked about flu shots"


def test_thousands_of_entries_load_a_page_at_a_time(qtbot: QtBot, clinic: Clinic) -> None:
    patient = records.create_patient(clinic, PatientDraft("Okafor", "Ada")).id
    start = datetime(2020, 1, 1, tzinfo=UTC)
    rows = [
        {
            "id": new_id(),
            "patient_id": patient,
            "kind": "call",
            "direction": "out",
            "outcome": "reached",
            "subject": f"call {n}",
            "body": "",
            "occurred_at": (start + timedelta(hours=n)).isoformat().replace("+00:00", "Z"),
            "appointment_id": None,
            "recorded_by": "",
        }
        for n in range(2_500)
    ]
    with clinic.store.write() as tx:
        tx.insert_many("interaction", rows)
    view = make_view(qtbot, clinic)
    view.show_patient(patient)
    model = view.timeline.model
    assert model.rowCount() == PAGE
    assert model.entries[0].detail == "call 2499"
    while model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())
    assert model.rowCount() == 2_500
    assert len({e.record_id for e in model.entries}) == 2_500
    view.timeline.list.scrollToBottom()


def test_header_shows_the_insurance_an_import_brought_in(
    qtbot: QtBot, clinic: Clinic, tmp_path: Path
) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Organization", "id": "bc", "name": "Blue Lake Health"}},
            {
                "resource": {
                    "resourceType": "Patient",
                    "id": "p1",
                    "name": [{"family": "Insured", "given": ["Ina"]}],
                }
            },
            {
                "resource": {
                    "resourceType": "Coverage",
                    "id": "c1",
                    "status": "active",
                    "beneficiary": {"reference": "Patient/p1"},
                    "payor": [{"reference": "Organization/bc"}],
                }
            },
            {
                "resource": {
                    "resourceType": "Coverage",
                    "id": "c2",
                    "status": "cancelled",
                    "beneficiary": {"reference": "Patient/p1"},
                    "payor": [{"display": "Old Mutual Care"}],
                }
            },
        ],
    }
    (tmp_path / "bundle.json").write_text(json.dumps(bundle), encoding="utf-8")
    run_import(clinic, plan_import(clinic, [tmp_path / "bundle.json"]))
    patient = clinic.conn.execute("SELECT id FROM patient WHERE family_name = 'Insured'")
    view = make_view(qtbot, clinic)
    view.show_patient(str(patient.fetchone()[0]))
    assert view.header.insurance.isVisible()
    assert view.header.insurance.text() == "Insurance: Blue Lake Health"  # not the cancelled one


def test_header_says_nothing_about_insurance_when_none_was_imported(
    qtbot: QtBot, clinic: Clinic
) -> None:
    patient = records.create_patient(clinic, PatientDraft("Plain", "Pat")).id
    view = make_view(qtbot, clinic)
    view.show_patient(patient)
    assert not view.header.insurance.isVisible()
