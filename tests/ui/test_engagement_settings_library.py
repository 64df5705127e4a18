"""Settings › health tips library (ui/engagement_settings/library_editor.py), offscreen."""

from __future__ import annotations

import json

import pytest
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.engagement import library
from app.engagement.education import ICD10CM_SYSTEM, SNOMED_SYSTEM
from app.errors import InvalidInputError
from tests.support.acting import administrator_acting  # noqa: F401
from ui.bus import DataBus
from ui.engagement_settings.library_editor import (
    LibraryEditor,
    ages_words,
    parse_age,
    parse_conditions,
    parse_links,
)


def make_editor(qtbot: QtBot, clinic: Clinic) -> LibraryEditor:
    editor = LibraryEditor(clinic, DataBus())
    qtbot.addWidget(editor)
    editor.resize(1280, 720)
    editor.show()
    return editor


def stored(clinic: Clinic, item_id: str) -> tuple[dict[str, object], int] | None:
    row = clinic.conn.execute(
        "SELECT definition, active FROM education_item WHERE id = ?", (item_id,)
    ).fetchone()
    return None if row is None else (json.loads(row[0]), int(row[1]))


def test_the_list_shows_every_shipped_tip_with_its_ages_and_months(
    qtbot: QtBot, clinic: Clinic
) -> None:
    editor = make_editor(qtbot, clinic)
    shipped = library.shipped_items()
    assert editor.table.rowCount() == len(shipped) > 20
    row = [e.item.id for e in editor.entries].index("flu-adults.en")
    cells = [editor.table.item(row, c).text() for c in range(editor.table.columnCount())]
    assert cells[1:] == [
        "English",
        "18 to under 65 years",
        "Sep to Jan",
        "Shipped",
        "Yes",
    ]


def test_changing_a_shipped_tip_stores_the_clinics_version_with_its_sources(
    qtbot: QtBot, clinic: Clinic
) -> None:
    editor = make_editor(qtbot, clinic)
    assert editor.select("flu-adults.en")
    editor._selected()
    editor.title.setText("Flu shots are in at Lakeside")
    editor.clinic_links.setPlainText("Dr. Ahmed on flu shots (video) | https://example.org/flu")
    assert editor.save(), editor.form_error.text()
    definition, active = stored(clinic, "flu-adults.en") or ({}, 0)
    assert definition["title"] == "Flu shots are in at Lakeside" and active == 1
    assert definition["clinic_links"] == [
        {"label": "Dr. Ahmed on flu shots (video)", "url": "https://example.org/flu"}
    ]
    assert definition["sources"]  # the shipped item's guidance stays with it
    row = [e.item.id for e in editor.entries].index("flu-adults.en")
    assert editor.table.item(row, 4).text() == "Changed by us"
    assert editor.revert_button.isEnabled()
    assert editor.revert()
    assert stored(clinic, "flu-adults.en") is None
    assert editor.title.text() == library.shipped_items()["flu-adults.en"].title


def test_a_new_tip_is_checked_by_the_library_and_then_saved(qtbot: QtBot, clinic: Clinic) -> None:
    editor = make_editor(qtbot, clinic)
    editor.new_item()
    assert editor.stem.isEnabled() and editor.title.text() == ""
    editor.stem.setText("school-sports-physicals")
    editor.title.setText("Sports physicals before school starts")
    editor.body.setPlainText("Book your child's sports physical before the season begins.")
    editor.sms.setPlainText("Book your child's sports physical before the season. Call us.")
    editor.audience.setCurrentIndex(editor.audience.findData("parent"))
    editor.min_age.setText("11")
    editor.max_age.setText("18 years")
    for month in (7, 8):
        editor.months[month - 1].setChecked(True)
    editor.conditions.setPlainText("ICD-10 j30.2 Seasonal allergic rhinitis")
    assert editor.save(), editor.form_error.text()
    definition, _active = stored(clinic, "school-sports-physicals.en") or ({}, 0)
    assert definition["age"] == {"min_months": 132, "max_months": 216}
    assert definition["months"] == [7, 8] and definition["audience"] == "parent"
    assert definition["conditions"] == [
        {"system": ICD10CM_SYSTEM, "code": "J30.2", "display": "Seasonal allergic rhinitis"}
    ]
    entry = next(e for e in editor.entries if e.item.id == "school-sports-physicals.en")
    assert entry.origin == "clinic" and entry.active
    assert editor.revert_button.text() == "&Delete our tip"


def test_a_tip_the_library_refuses_shows_its_reason_and_stores_nothing(
    qtbot: QtBot, clinic: Clinic
) -> None:
    editor = make_editor(qtbot, clinic)
    editor.new_item()
    editor.stem.setText("empty-tip")
    editor.title.setText("Nothing to say")
    assert not editor.save()
    assert not editor.form_error.isHidden() and editor.form_error.text()
    editor.stem.setText("Not A Name!")
    assert not editor.save()
    assert "short name" in editor.form_error.text()
    editor.stem.setText("ages")
    editor.body.setPlainText("Text.")
    editor.sms.setPlainText("Text.")
    editor.min_age.setText("a few")
    assert not editor.save()
    assert "years or months" in editor.form_error.text()
    assert clinic.conn.execute("SELECT count(*) FROM education_item").fetchone()[0] == 0


def test_turning_a_tip_off_keeps_it_out_of_the_library_campaigns_use(
    qtbot: QtBot, clinic: Clinic
) -> None:
    editor = make_editor(qtbot, clinic)
    assert editor.select("seasonal-allergies.es")
    assert editor.active_button.text() == "Turn o&ff"
    assert editor.toggle_active()
    assert "seasonal-allergies.es" not in {item.id for item in library.library(clinic)}
    row = [e.item.id for e in editor.entries].index("seasonal-allergies.es")
    assert editor.table.item(row, 5).text() == "Off"
    assert editor.active_button.text() == "Turn o&n"
    assert editor.toggle_active()
    assert "seasonal-allergies.es" in {item.id for item in library.library(clinic)}


def test_the_forms_text_fields_are_read_as_the_library_expects() -> None:
    assert parse_age("6 months", "age") == 6 and parse_age("2", "age") == 24
    assert parse_age(" ", "age") is None
    with pytest.raises(InvalidInputError):
        parse_age("soon", "age")
    assert parse_links("CDC | https://www.cdc.gov/\nOur video |\n\nWHO https://www.who.int/") == [
        {"label": "CDC", "url": "https://www.cdc.gov/"},
        {"label": "Our video", "url": ""},
        {"label": "WHO", "url": "https://www.who.int/"},
    ]
    assert parse_conditions("15777000 Prediabetes\nR73.03") == [
        {"system": SNOMED_SYSTEM, "code": "15777000", "display": "Prediabetes"},
        {"system": ICD10CM_SYSTEM, "code": "R73.03", "display": ""},
    ]
    item = library.shipped_items()["well-child-2-6-months.en"]
    assert ages_words(item) == "2 to under 6 months"


def test_every_input_has_an_accessible_name(qtbot: QtBot, clinic: Clinic) -> None:
    from PySide6.QtWidgets import QAbstractButton, QComboBox, QLineEdit, QPlainTextEdit

    editor = make_editor(qtbot, clinic)
    for kind in (QLineEdit, QComboBox, QAbstractButton, QPlainTextEdit):
        for widget in editor.findChildren(kind):
            inner = isinstance(widget.parent(), QComboBox) or widget.objectName().startswith("qt_")
            if not inner:
                assert widget.accessibleName(), widget
