"""Settings › channels new patients heard about us through, and the large-campaign limit
(ui/engagement_settings/channels.py), offscreen on a real clinic."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.growth import acquisition, segments
from app.patients.listing import PatientListQuery, page
from app.patients.model import PatientDraft
from app.patients.records import create_patient
from app.store.changes import Changes
from tests.support.acting import administrator_acting  # noqa: F401
from ui.bus import DataBus
from ui.engagement_settings.channels import RETIRED, CampaignLimitBox, ChannelsBox


def make_box(qtbot: QtBot, clinic: Clinic, bus: DataBus | None = None) -> ChannelsBox:
    box = ChannelsBox(clinic, bus or DataBus())
    qtbot.addWidget(box)
    box.resize(900, 600)
    box.show()
    return box


def select(box: ChannelsBox, label: str) -> int:
    row = [s.label for s in box.channels()].index(label)
    box.list.setCurrentRow(row)
    return row


def listed_source(clinic: Clinic, patient_id: str) -> str:
    rows = [r for r in page(clinic, PatientListQuery(), 0, 100) if r.id == patient_id]
    return rows[0].source_words


def stored_setting(clinic: Clinic, key: str) -> str | None:
    row = clinic.conn.execute("SELECT value FROM setting WHERE id = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def test_renaming_a_channel_shows_the_new_name_on_its_patients(
    qtbot: QtBot, clinic: Clinic
) -> None:
    pid = create_patient(clinic, PatientDraft("Ayala", "Rosa", acquisition_source="maps")).id
    assert listed_source(clinic, pid) == "Maps (Google, Apple)"
    bus = DataBus()
    box = make_box(qtbot, clinic, bus)
    select(box, "Maps (Google, Apple)")
    box.name.setFocus()
    box.name.selectAll()
    qtbot.keyClicks(box.name, "Google Maps")
    assert box.list.currentItem().text() == "Google Maps"
    with qtbot.waitSignal(bus.changed) as published:
        qtbot.keyClick(box.name, Qt.Key.Key_Return)  # Enter in the name box saves
    assert isinstance(published.args[0], Changes) and published.args[0].touches("setting")
    assert box.status.text() == "Saved." and box.error.isHidden()
    assert listed_source(clinic, pid) == "Google Maps"
    # The key stays: the patient is still on the same channel, in the same place.
    maps = [s for s in acquisition.sources(clinic) if s.key == "maps"]
    assert maps == [acquisition.Source("maps", "Google Maps", True)]
    assert [s.key for s in acquisition.sources(clinic)] == [
        s.key for s in acquisition.DEFAULT_SOURCES
    ]


def test_a_retired_channel_is_not_offered_but_its_patients_keep_it(
    qtbot: QtBot, clinic: Clinic
) -> None:
    pid = create_patient(clinic, PatientDraft("Baker", "Tom", acquisition_source="event")).id
    box = make_box(qtbot, clinic)
    row = select(box, "Community event")
    box.retire_button.setFocus()
    qtbot.keyClick(box.retire_button, Qt.Key.Key_Space)
    assert box.list.item(row).text() == f"Community event ({RETIRED})"
    assert box.retire_button.text() == "&Bring back"
    assert box.save()
    assert "event" not in {s.key for s in acquisition.active_sources(clinic)}
    assert "event" in {s.key for s in acquisition.sources(clinic)}
    assert listed_source(clinic, pid) == "Community event"
    assert acquisition.labels(clinic)["event"] == "Community event"

    # Brought back: offered again.
    select(box, "Community event")
    box.toggle()
    assert box.save()
    assert "event" in {s.key for s in acquisition.active_sources(clinic)}


def test_channels_move_and_a_new_one_is_added_at_the_end(qtbot: QtBot, clinic: Clinic) -> None:
    box = make_box(qtbot, clinic)
    box.activateWindow()
    qtbot.waitUntil(box.isActiveWindow)
    select(box, "Walked in")
    box.up_button.click()
    box.up_button.click()
    assert box.list.currentItem().text() == "Walked in"
    box.add_channel()
    assert box.name.hasFocus() and box.name.text() == ""
    qtbot.keyClicks(box.name, "  Radio   advert ")
    assert box.save()
    saved = acquisition.sources(clinic)
    keys = [s.key for s in saved]
    assert keys.index("walk_in") == keys.index("insurance_directory") - 1
    assert saved[-1] == acquisition.Source("radio_advert", "Radio advert", True)
    assert "radio_advert" in {s.key for s in acquisition.active_sources(clinic)}


def test_a_refused_save_says_why_under_the_list_and_saves_nothing(
    qtbot: QtBot, clinic: Clinic
) -> None:
    create_patient(clinic, PatientDraft("Chen", "Li", acquisition_source="social"))
    bus = DataBus()
    box = make_box(qtbot, clinic, bus)
    published: list[Changes] = []
    bus.changed.connect(published.append)

    # Two channels with one name.
    select(box, "Other")
    box.name.setText("")
    qtbot.keyClicks(box.name, "internet SEARCH")
    assert not box.save()
    assert "same name" in box.error.text() and not box.error.isHidden()
    assert box.save_button.accessibleDescription() == box.error.text()
    assert box.list.currentItem().text() == "internet SEARCH"  # the repeated name, selected
    assert stored_setting(clinic, acquisition.SOURCES_SETTING) is None
    assert acquisition.sources(clinic) == list(acquisition.DEFAULT_SOURCES)

    # A channel a patient came through cannot be removed, only retired.
    box.refresh()
    select(box, "Social media")
    box.remove_channel()
    assert "Social media" not in [s.label for s in box.channels()]
    assert not box.save()
    assert "retire it instead" in box.error.text()
    assert acquisition.sources(clinic) == list(acquisition.DEFAULT_SOURCES)
    assert published == []

    # Undo puts the saved list back and clears the reason.
    box.undo_button.click()
    assert box.channels() == list(acquisition.DEFAULT_SOURCES) and box.error.isHidden()


def test_a_save_elsewhere_shows_here_unless_an_edit_is_under_way(
    qtbot: QtBot, clinic: Clinic
) -> None:
    bus = DataBus()
    box = make_box(qtbot, clinic, bus)
    renamed = [
        acquisition.Source(s.key, "Web search" if s.key == "search" else s.label, s.active)
        for s in acquisition.sources(clinic)
    ]
    bus.publish(acquisition.save_sources(clinic, renamed))
    assert box.channels()[0].label == "Web search"
    select(box, "Other")
    qtbot.keyClicks(box.name, " things")
    bus.publish(acquisition.save_sources(clinic, list(acquisition.DEFAULT_SOURCES)))
    assert box.channels()[-1].label == "Other things"  # the edit is not thrown away


def test_every_control_has_a_name_and_the_buttons_follow_the_selection(
    qtbot: QtBot, clinic: Clinic
) -> None:
    box = make_box(qtbot, clinic)
    for widget in (
        box.list,
        box.name,
        box.up_button,
        box.down_button,
        box.add_button,
        box.retire_button,
        box.remove_button,
        box.undo_button,
        box.save_button,
    ):
        assert widget.accessibleName()
    box.list.setCurrentRow(0)
    assert not box.up_button.isEnabled() and box.down_button.isEnabled()
    box.list.setCurrentRow(box.list.count() - 1)
    assert box.up_button.isEnabled() and not box.down_button.isEnabled()


# --- the large-campaign limit ---------------------------------------------------------


def make_limit_box(qtbot: QtBot, clinic: Clinic, bus: DataBus | None = None) -> CampaignLimitBox:
    box = CampaignLimitBox(clinic, bus or DataBus())
    qtbot.addWidget(box)
    box.show()
    return box


def test_the_campaign_limit_shows_the_default_and_saves_a_new_number(
    qtbot: QtBot, clinic: Clinic
) -> None:
    bus = DataBus()
    box = make_limit_box(qtbot, clinic, bus)
    assert box.limit.value() == segments.DEFAULT_ASK_ABOVE
    assert box.limit.accessibleName() and box.save_button.accessibleName()
    box.limit.setValue(1200)
    assert box.status.text() == "Not saved yet."
    with qtbot.waitSignal(bus.changed):
        box.save_button.click()
    assert box.status.text() == "Saved."
    assert segments.ask_above(clinic) == 1200
    assert json.loads(stored_setting(clinic, segments.ASK_ABOVE_SETTING) or "null") == 1200
    assert make_limit_box(qtbot, clinic).limit.value() == 1200


def test_the_campaign_limit_box_cannot_hold_a_number_out_of_range(
    qtbot: QtBot, clinic: Clinic
) -> None:
    box = make_limit_box(qtbot, clinic)
    box.limit.setValue(0)
    assert box.limit.value() == 1
    box.limit.setValue(5_000_000)
    assert box.limit.value() == segments.MAX_ASK_ABOVE


def test_enter_in_the_campaign_limit_saves_it(qtbot: QtBot, clinic: Clinic) -> None:
    box = make_limit_box(qtbot, clinic)
    box.activateWindow()
    qtbot.waitUntil(box.isActiveWindow)
    box.limit.setFocus()
    box.limit.selectAll()
    qtbot.keyClicks(box.limit, "2500")
    assert segments.ask_above(clinic) == segments.DEFAULT_ASK_ABOVE  # not saved while typing
    qtbot.keyClick(box.limit, Qt.Key.Key_Return)
    assert segments.ask_above(clinic) == 2500 and box.status.text() == "Saved."
