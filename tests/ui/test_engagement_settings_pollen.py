"""Settings › pollen for allergy alerts (ui/engagement_settings/location_pollen.py), offscreen."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.engagement import pollen_days
from app.engagement.pollen import SOURCE_CSV, SOURCE_MANUAL
from app.today import clinic_today
from tests.support.acting import administrator_acting  # noqa: F401
from ui.bus import DataBus
from ui.engagement_settings.location_pollen import PollenBox, parse_coordinate


def make_box(qtbot: QtBot, clinic: Clinic, bus: DataBus | None = None) -> PollenBox:
    box = PollenBox(clinic, bus or DataBus())
    qtbot.addWidget(box)
    box.resize(900, 700)
    box.show()
    return box


def test_the_location_typed_is_saved_and_shown_again(qtbot: QtBot, clinic: Clinic) -> None:
    box = make_box(qtbot, clinic)
    qtbot.keyClicks(box.latitude, "44.9778")
    qtbot.keyClicks(box.longitude, "-93.2650")
    qtbot.keyClick(box.longitude, "\r")
    assert pollen_days.clinic_location(clinic) == pollen_days.ClinicLocation(44.9778, -93.265)
    assert box.location_error.isHidden() and box.location_done.text() == "Location saved."
    again = make_box(qtbot, clinic)
    assert (again.latitude.text(), again.longitude.text()) == ("44.9778", "-93.265")


def test_a_location_pasted_as_maps_copy_it_fills_both_boxes(qtbot: QtBot, clinic: Clinic) -> None:
    box = make_box(qtbot, clinic)
    QGuiApplication.clipboard().setText("44.9778, -93.2650")
    box.latitude.setFocus()
    box.latitude.paste()
    assert (box.latitude.text(), box.longitude.text()) == ("44.9778", "-93.2650")
    assert box.save_location()


def test_typing_a_location_by_hand_is_not_split_half_way(qtbot: QtBot, clinic: Clinic) -> None:
    box = make_box(qtbot, clinic)
    qtbot.keyClicks(box.latitude, "44.9, -9")
    assert box.latitude.text() == "44.9, -9" and box.longitude.text() == ""


def test_a_bad_or_impossible_location_is_said_next_to_it_and_not_saved(
    qtbot: QtBot, clinic: Clinic
) -> None:
    box = make_box(qtbot, clinic)
    box.latitude.setText("north")
    box.longitude.setText("-93")
    assert not box.save_location()
    assert "latitude" in box.location_error.text() and not box.location_error.isHidden()
    box.latitude.setText("123")
    assert not box.save_location()
    assert "-90 to 90" in box.location_error.text()
    assert pollen_days.clinic_location(clinic) is None


def test_coordinates_with_a_decimal_comma_are_read() -> None:
    assert parse_coordinate(" 44,9778 ", "latitude") == 44.9778
    assert parse_coordinate("-93.2650°", "longitude") == -93.265


def test_the_desk_switch_makes_today_high_and_gives_it_back(qtbot: QtBot, clinic: Clinic) -> None:
    bus = DataBus()
    published: list[object] = []
    bus.changed.connect(published.append)
    box = make_box(qtbot, clinic, bus)
    today = clinic_today(clinic)
    assert "not decided yet" in box.today_line.text()
    box.high_today.click()
    found = pollen_days.pollen_for(clinic, today)
    assert found is not None and (found.level, found.source) == ("high", SOURCE_MANUAL)
    assert "High (source: Desk switch)" in box.today_line.text()
    assert "Allergy alerts go out today" in box.today_line.text() and published
    box.high_today.click()
    assert pollen_days.pollen_for(clinic, today) is None
    assert not box.high_today.isChecked()


def test_a_pollen_file_stores_its_days_and_lists_bad_lines_by_number(
    qtbot: QtBot, clinic: Clinic, tmp_path: Path
) -> None:
    path = tmp_path / "pollen.csv"
    path.write_text(
        "date,level\n2026-05-14,high\n2026-05-15,moderate\n2026-05-16,sky high\n2026-05-17,low\n",
        encoding="utf-8",
    )
    box = make_box(qtbot, clinic)
    assert box.load_file(path)
    stored = clinic.conn.execute(
        "SELECT day, level FROM pollen_day WHERE source = ? ORDER BY day", (SOURCE_CSV,)
    ).fetchall()
    assert stored == [("2026-05-14", "high"), ("2026-05-15", "moderate"), ("2026-05-17", "low")]
    assert box.file_result.text().startswith("Stored the pollen level of 3 days.")
    assert "line 4" in box.file_result.text().lower()


def test_a_file_that_is_not_a_table_of_levels_is_refused_in_plain_words(
    qtbot: QtBot, clinic: Clinic, tmp_path: Path
) -> None:
    path = tmp_path / "notes.csv"
    path.write_text("Dear diary,\nit was sunny.\n", encoding="utf-8")
    box = make_box(qtbot, clinic)
    assert not box.load_file(path)
    assert not box.file_error.isHidden() and box.file_error.text()
    assert clinic.conn.execute("SELECT count(*) FROM pollen_day").fetchone()[0] == 0
    assert not box.load_file(tmp_path / "gone.csv")
    assert "could not be opened" in box.file_error.text()


def test_check_now_without_any_source_says_so_without_the_network(
    qtbot: QtBot, clinic: Clinic
) -> None:
    box = make_box(qtbot, clinic)
    box.check_now()
    op = box.check_op
    assert op is not None
    qtbot.waitUntil(lambda: op.finished, timeout=10_000)
    assert op.error is None
    assert "Not known" in box.today_line.text() and "No pollen source" in box.today_line.text()
    assert box.check_button.isEnabled()


def test_every_input_has_an_accessible_name(qtbot: QtBot, clinic: Clinic) -> None:
    from PySide6.QtWidgets import QAbstractButton, QLineEdit

    box = make_box(qtbot, clinic)
    for kind in (QLineEdit, QAbstractButton):
        for widget in box.findChildren(kind):
            assert widget.accessibleName(), widget
