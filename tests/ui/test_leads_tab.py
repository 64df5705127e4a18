"""The Enquiries tab of Campaigns (ui/campaigns/leads_tab.py), driven offscreen on real clinics."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.demo.generator import generate
from app.growth import acquisition
from app.growth.acquisition import LeadDraft
from app.patients import records
from app.store.changes import Changes
from app.today import clinic_today
from ui.bus import DataBus
from ui.campaigns.leads_tab import LeadsTab, month_back, month_words, spend_cents


@pytest.fixture
def engaged(clinic: Clinic) -> Clinic:
    """A demo clinic with its engagement history: enquiries in every stage, spend."""
    generate(clinic, 300, seed=7, engagement=True)
    return clinic


def make_tab(qtbot: QtBot, clinic: Clinic, bus: DataBus | None = None) -> LeadsTab:
    tab = LeadsTab(clinic, bus or DataBus())
    qtbot.addWidget(tab)
    tab.resize(1280, 720)
    tab.show()
    return tab


def one(clinic: Clinic, sql: str, *params: object) -> object:
    return clinic.conn.execute(sql, params).fetchone()[0]


def test_pipeline_buttons_count_each_stage_and_filter_the_list(
    qtbot: QtBot, engaged: Clinic
) -> None:
    tab = make_tab(qtbot, engaged)
    for status in acquisition.LEAD_STATUSES:
        expected = one(engaged, "SELECT count(*) FROM lead WHERE status = ?", status)
        assert tab.status_buttons[status].text().endswith(f"({expected})")
        tab.status_buttons[status].click()
        assert len(tab.leads) == expected
        assert {lead.status for lead in tab.leads} <= {status}
    tab.status_buttons[""].click()
    assert len(tab.leads) == one(engaged, "SELECT count(*) FROM lead")


def test_a_bad_phone_is_said_next_to_the_field_and_nothing_is_added(
    qtbot: QtBot, clinic: Clinic
) -> None:
    tab = make_tab(qtbot, clinic)
    tab.family.setText("Okafor")
    tab.phone.setText("555")
    tab.email.setText("not an email")
    assert not tab.add_enquiry()
    assert not tab.add_errors["phone"].isHidden() and tab.add_errors["phone"].text()
    assert not tab.add_errors["email"].isHidden()
    assert tab.add_errors["name"].isHidden()
    assert one(clinic, "SELECT count(*) FROM lead") == 0


def test_an_enquiry_without_a_name_or_a_way_back_is_refused_field_by_field(
    qtbot: QtBot, clinic: Clinic
) -> None:
    tab = make_tab(qtbot, clinic)
    assert not tab.add_enquiry()
    assert not tab.add_errors["name"].isHidden()
    assert not tab.add_errors["phone"].isHidden()
    assert one(clinic, "SELECT count(*) FROM lead") == 0


def test_adding_an_enquiry_stores_the_channel_key_and_shows_it_under_new(
    qtbot: QtBot, clinic: Clinic
) -> None:
    bus = DataBus()
    published: list[Changes] = []
    bus.changed.connect(published.append)
    tab = make_tab(qtbot, clinic, bus)
    tab.family.setText("Okafor")
    tab.given.setText("Ada")
    tab.phone.setText("(612) 555-0142")
    tab.source.setCurrentIndex(tab.source.findText("Maps (Google, Apple)"))
    tab.note.setText("Asked about evening hours")
    qtbot.keyClick(tab.note, "\r")
    stored = clinic.conn.execute("SELECT family_name, phone, source, status FROM lead").fetchall()
    assert stored == [("Okafor", "+16125550142", "maps", "new")]
    assert tab.status_filter() == "new" and len(tab.leads) == 1
    assert tab.status_buttons["new"].text() == "New (1)"
    assert tab.family.text() == "" and published and published[0].touches("lead")


def test_moving_an_enquiry_along_and_losing_it_needs_a_note(qtbot: QtBot, clinic: Clinic) -> None:
    lead = acquisition.add_lead(clinic, LeadDraft("Bello", "Tunde", phone="612 555 0100")).id
    tab = make_tab(qtbot, clinic)
    tab.select_lead(lead)
    assert not tab.move_buttons["contacted"].isEnabled() or tab.move_selected("contacted")
    assert acquisition.get_lead(clinic, lead).status == "contacted"
    tab.status_buttons[""].click()
    tab.select_lead(lead)
    assert not tab.move_selected("lost")
    assert not tab.move_error.isHidden()
    assert acquisition.get_lead(clinic, lead).status == "contacted"
    tab.move_note.setText("Went to another clinic")
    assert tab.move_selected("lost")
    assert acquisition.get_lead(clinic, lead).status == "lost"
    history = clinic.conn.execute(
        "SELECT status, note FROM lead_status WHERE lead_id = ? ORDER BY rowid", (lead,)
    ).fetchall()
    assert history == [("new", ""), ("contacted", ""), ("lost", "Went to another clinic")]
    assert tab.reopen_button.isEnabled() and not tab.move_buttons["booked"].isEnabled()


def test_a_backward_move_is_refused_in_plain_words(qtbot: QtBot, clinic: Clinic) -> None:
    lead = acquisition.add_lead(clinic, LeadDraft("Lind", "Karl", phone="612 555 0101")).id
    acquisition.move_lead(clinic, lead, "booked")
    tab = make_tab(qtbot, clinic)
    tab.status_buttons[""].click()
    tab.select_lead(lead)
    assert not tab.move_buttons["contacted"].isEnabled()
    assert not tab.move_selected("contacted")
    assert "forward" in tab.move_error.text()


def test_making_a_patient_fills_the_new_patient_form_links_and_opens_them(
    qtbot: QtBot, clinic: Clinic
) -> None:
    lead = acquisition.add_lead(
        clinic,
        LeadDraft(
            "Moreno", "Lucia", phone="612 555 0177", email="lucia@example.com", source="social"
        ),
    ).id
    tab = make_tab(qtbot, clinic)
    opened: list[str] = []
    tab.open_patient.connect(opened.append)
    tab.select_lead(lead)
    tab.convert_selected()
    dialog = tab.convert_dialog
    assert dialog is not None
    assert dialog.family.text() == "Moreno" and dialog.email.text() == "lucia@example.com"
    assert dialog.source.currentData() == "social"
    assert dialog.save()
    qtbot.waitUntil(lambda: bool(opened))
    patient = records.get_patient(clinic, opened[0])
    assert patient.acquisition_source == "social"
    linked = acquisition.get_lead(clinic, lead)
    assert linked.patient_id == opened[0] and linked.status == "booked"


def test_spend_typed_as_money_is_saved_for_its_channel_and_month(
    qtbot: QtBot, clinic: Clinic
) -> None:
    tab = make_tab(qtbot, clinic)
    row = tab._spend_rows.index("search")
    column = len(tab._spend_months) - 1
    assert tab.set_spend_cell(row, column, "$1,200")
    month = month_back(clinic_today(clinic), 0)
    assert clinic.conn.execute(
        "SELECT source, month, amount_cents FROM channel_spend"
    ).fetchall() == [("search", month, 120_000)]
    assert tab.spend_grid.item(row, column).text() == "$1,200"
    assert tab.set_spend_cell(row, column, "")
    assert one(clinic, "SELECT amount_cents FROM channel_spend") == 0


def test_a_bad_amount_is_said_under_the_grid_and_not_saved(qtbot: QtBot, clinic: Clinic) -> None:
    tab = make_tab(qtbot, clinic)
    row = tab._spend_rows.index("maps")
    assert not tab.set_spend_cell(row, 0, "twelve hundred")
    assert not tab.spend_error.isHidden()
    assert tab.spend_error.text().startswith(
        f"Maps (Google, Apple), {month_words(tab._spend_months[0])}"
    )
    assert one(clinic, "SELECT count(*) FROM channel_spend") == 0
    assert tab.spend_grid.item(row, 0).text() == ""


def test_typing_in_a_spend_box_saves_it(qtbot: QtBot, clinic: Clinic) -> None:
    tab = make_tab(qtbot, clinic)
    row = tab._spend_rows.index("website")
    tab.spend_grid.item(row, 3).setText("250")
    assert one(clinic, "SELECT amount_cents FROM channel_spend WHERE source = 'website'") == 25_000


def test_spend_cells_read_blank_and_zero_as_nothing() -> None:
    assert spend_cents("") == spend_cents(" $0 ") == spend_cents("0.00") == 0
    assert spend_cents("$1,200.50") == 120_050


def test_lead_conversion_report_equals_an_independent_count(qtbot: QtBot, engaged: Clinic) -> None:
    tab = make_tab(qtbot, engaged)
    tab.parts.setCurrentIndex(2)
    tab.report_choice.setCurrentIndex(tab.report_choice.findData("conversion"))
    tab.first_month.setCurrentIndex(0)
    qtbot.waitUntil(lambda: tab.report is not None and not tab.report_loading, timeout=20_000)
    assert tab.report is not None
    first = str(tab.first_month.currentData())
    start = datetime(int(first[:4]), int(first[5:]), 1, tzinfo=UTC).isoformat()[:10]
    # The range starts at local midnight (Chicago, UTC-5/-6): a day's margin each side
    # is far from any demo enquiry, which all lie in the last year.
    expected = dict(
        engaged.conn.execute(
            "SELECT source, count(*) FROM lead WHERE created_at >= ? GROUP BY source", (start,)
        ).fetchall()
    )
    labels = acquisition.labels(engaged)
    shown = {row[0]: int(row[1]) for row in tab.report.rows}
    assert shown == {labels[key]: count for key, count in expected.items()}
    assert tab.report_table.rowCount() == len(expected)


def test_new_patients_report_totals_the_patients_who_started_in_the_months(
    qtbot: QtBot, engaged: Clinic
) -> None:
    tab = make_tab(qtbot, engaged)
    tab.parts.setCurrentIndex(2)
    qtbot.waitUntil(lambda: tab.report is not None and not tab.report_loading, timeout=20_000)
    assert tab.report is not None
    first, last = str(tab.first_month.currentData()), str(tab.last_month.currentData())
    total = sum(r.count for r in acquisition.new_patients_by_source(engaged, first, last))
    assert sum(int(row[2].replace(",", "")) for row in tab.report.rows) == total > 0


def test_a_range_backwards_is_said_and_not_counted(qtbot: QtBot, clinic: Clinic) -> None:
    tab = make_tab(qtbot, clinic)
    tab.parts.setCurrentIndex(2)
    tab.first_month.setCurrentIndex(tab.first_month.count() - 1)
    tab.last_month.setCurrentIndex(0)
    assert not tab.report_error.isHidden()


def test_every_input_has_an_accessible_name(qtbot: QtBot, clinic: Clinic) -> None:
    from PySide6.QtWidgets import QAbstractButton, QComboBox, QLineEdit, QTableView

    tab = make_tab(qtbot, clinic)
    for index in range(tab.parts.count()):
        tab.parts.setCurrentIndex(index)
        for kind in (QLineEdit, QComboBox, QAbstractButton, QTableView):
            for widget in tab.findChildren(kind):
                inner = isinstance(widget.parent(), QComboBox) or widget.objectName().startswith(
                    "qt_"  # Qt's own parts of a view (the corner button)
                )
                if widget.isVisibleTo(tab) and not inner:
                    assert widget.accessibleName() or widget.text(), widget


def test_a_lead_added_elsewhere_shows_after_the_bus_says_so(qtbot: QtBot, clinic: Clinic) -> None:
    bus = DataBus()
    tab = make_tab(qtbot, clinic, bus)
    created = acquisition.add_lead(clinic, LeadDraft("Ito", "Ken", email="ken@example.com"))
    bus.publish(created.changes)
    assert [lead.id for lead in tab.leads] == [created.id]
