"""The Research export… dialog: managers only, fields from the catalogue, result summary."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.errors import PermissionDeniedError
from app.growth.segments import Segment, SegmentTerms, save_segment
from app.research.fields import CATALOGUE
from app.users import add_user
from ui.research.export_dialog import NEVER_INCLUDED, ResearchExportDialog, may_open


@pytest.fixture
def manager(demo_clinic: Clinic) -> Clinic:
    demo_clinic.acting_user_id = add_user(demo_clinic, "Morgan Manager", "manager").id
    return demo_clinic


def _shown(qtbot: QtBot, clinic: Clinic) -> ResearchExportDialog:
    dialog = ResearchExportDialog(clinic)
    qtbot.addWidget(dialog)
    dialog.resize(1280, 720)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    return dialog


def test_a_receptionist_cannot_open_it(qtbot: QtBot, demo_clinic: Clinic) -> None:
    demo_clinic.acting_user_id = add_user(demo_clinic, "Rita Reception", "receptionist").id
    assert not may_open(demo_clinic)
    with pytest.raises(PermissionDeniedError):
        ResearchExportDialog(demo_clinic)


def test_it_offers_the_catalogue_and_says_what_is_never_included(
    qtbot: QtBot, manager: Clinic
) -> None:
    save_segment(manager, Segment("", "Women", SegmentTerms(sex="female")))
    dialog = _shown(qtbot, manager)
    assert may_open(manager)
    assert set(dialog.fields) == {f.key for f in CATALOGUE}
    assert not any("name" in key or "phone" in key for key in dialog.fields)
    texts = " ".join(label.text() for label in dialog.findChildren(type(dialog.summary)))
    assert NEVER_INCLUDED in texts
    assert [dialog.group.itemText(i) for i in range(dialog.group.count())] == [
        "Everyone",
        "Women",
    ]
    qtbot.waitUntil(lambda: "patients" in dialog.group_count.text(), timeout=10_000)


def test_no_field_ticked_is_said_next_to_the_button(qtbot: QtBot, manager: Clinic) -> None:
    dialog = _shown(qtbot, manager)
    for tick in dialog.fields.values():
        tick.setChecked(False)
    dialog.export.click()
    assert dialog.error.isVisible() and "Tick at least one field" in dialog.error.text()
    assert dialog.op is None


def test_an_export_runs_and_shows_what_it_wrote(
    qtbot: QtBot, manager: Clinic, tmp_path: Path
) -> None:
    dialog = _shown(qtbot, manager)
    dialog.folder.setText(str(tmp_path))
    dialog.suppress.setChecked(True)
    dialog.export.click()
    assert dialog.op is not None
    qtbot.waitUntil(lambda: dialog.op is not None and dialog.op.finished, timeout=60_000)
    assert dialog.op.error is None
    assert dialog.summary.isVisible() and dialog.open_folder.isVisible()
    assert "patients.csv" in dialog.summary.text() and "hidden" in dialog.summary.text()
    result = dialog.result_value
    assert result is not None and result.folder.parent == tmp_path
    with (result.folder / "patients.csv").open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle))
    assert "birth_year" not in header  # unticked by default
    assert "zip3" in header
    dialog.grab().save(str(tmp_path / "research-dialog.png"))


def test_a_missing_folder_is_said_inline(qtbot: QtBot, manager: Clinic, tmp_path: Path) -> None:
    dialog = _shown(qtbot, manager)
    dialog.folder.setText(str(tmp_path / "not-there"))
    dialog.export.click()
    assert "Choose a folder that exists" in dialog.error.text()
