"""The import wizard, offscreen, on a real encrypted clinic and small real export files."""

from __future__ import annotations

import csv
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QThreadPool, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QWizard
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.importers.csv.dates import DateFormat
from app.importers.csv.profiles import Kind
from app.importers.profile_store import saved_profiles
from app.patients.search import PatientSearch
from tests.support.acting import administrator_acting  # noqa: F401
from tests.ui.import_files import (
    write_bundle,
    write_generic_csv,
    write_not_an_export,
    write_synthea_devices,
    write_synthea_patients,
)
from tests.ui.test_accessibility import unnamed_controls
from ui.bus import DataBus
from ui.importing.mapping import FileMapping
from ui.importing.wizard import CHOOSE, MAPPING, PREVIEW, RUN, SUMMARY, ImportWizard

REPO = Path(__file__).resolve().parents[2]


def shot_folder(tmp_path: Path) -> Path:
    """FRONTDESK_SCREENSHOTS=1 writes screenshots to docs/screenshots/ for the user guide."""
    out = REPO / "docs" / "screenshots" if os.environ.get("FRONTDESK_SCREENSHOTS") else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    return out


def patient_count(clinic: Clinic) -> int:
    return int(clinic.conn.execute("SELECT count(*) FROM patient").fetchone()[0])


def found(clinic: Clinic, text: str) -> list[str]:
    return [r.display_name for r in PatientSearch(clinic.conn, region="US").search(text)]


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    folder = tmp_path / "exports"
    folder.mkdir()
    return folder


def open_wizard(qtbot: QtBot, clinic: Clinic) -> tuple[ImportWizard, DataBus]:
    bus = DataBus()
    wizard = ImportWizard(clinic, bus)
    qtbot.addWidget(wizard)
    wizard.resize(1280, 720)
    wizard.show()
    wizard.activateWindow()
    qtbot.waitUntil(wizard.isActiveWindow)
    return wizard, bus


def add_and_wait(qtbot: QtBot, wizard: ImportWizard, paths: list[Path]) -> None:
    wizard.choose_page.add_paths(paths)
    qtbot.waitUntil(lambda: not wizard.choose_page.planning, timeout=30_000)


def press_next(qtbot: QtBot, wizard: ImportWizard) -> None:
    button = wizard.button(QWizard.WizardButton.NextButton)
    assert button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def wait_preview(qtbot: QtBot, wizard: ImportWizard) -> None:
    assert wizard.currentId() == PREVIEW
    qtbot.waitUntil(lambda: not wizard.preview_page.loading, timeout=30_000)


def wait_summary(qtbot: QtBot, wizard: ImportWizard) -> None:
    qtbot.waitUntil(lambda: wizard.currentId() == SUMMARY, timeout=60_000)


def summary_counts(wizard: ImportWizard) -> dict[str, list[str]]:
    table = wizard.summary_page.counts
    return {
        table.item(row, 0).text(): [table.item(row, c).text() for c in range(1, 6)]
        for row in range(table.rowCount())
    }


def test_fhir_and_synthea_files_import_and_the_summary_counts_them(
    qtbot: QtBot, clinic: Clinic, exports: Path, tmp_path: Path
) -> None:
    wizard, bus = open_wizard(qtbot, clinic)
    published: list[object] = []
    bus.changed.connect(published.append)
    add_and_wait(
        qtbot,
        wizard,
        [
            write_bundle(exports),
            write_synthea_patients(exports),
            write_not_an_export(exports),
            write_synthea_devices(exports),
        ],
    )
    listed = wizard.choose_page.list
    rows = {listed.topLevelItem(i).text(0): listed.topLevelItem(i) for i in range(4)}
    assert rows["patients.csv"].text(1) == "Synthea patients (CSV)"
    assert "FHIR" in rows["bundle.json"].text(1)
    assert rows["scan.pdf"].text(2).startswith("Left out: ")  # refused, with its reason, not fatal
    assert rows["devices.csv"].text(1) == "Synthea devices (not imported)"
    assert "3 files to import; 1 left out" in wizard.choose_page.status.text()

    press_next(qtbot, wizard)  # nothing to map: straight to the preview
    wait_preview(qtbot, wizard)
    preview = wizard.preview_page.table
    shown = " ".join(preview.item(r, 2).text() for r in range(preview.rowCount()))
    assert "Okafor" in shown and "Delgado" in shown
    assert wizard.button(QWizard.WizardButton.NextButton).text().replace("&", "") == "Import"

    press_next(qtbot, wizard)
    wait_summary(qtbot, wizard)
    result = wizard.import_result
    assert result is not None and not result.dry_run
    assert patient_count(clinic) == 4
    assert found(clinic, "Okafor") and found(clinic, "Delgado") and found(clinic, "Lindqvist")
    counts = summary_counts(wizard)
    assert counts["Patients"][0] == "4"  # new
    assert counts["Visits"][0] == "1"
    assert "Observation (1)" in wizard.summary_page.skipped.text()
    assert "Files not imported: devices.csv" in wizard.summary_page.skipped.text()
    assert published  # open views were told to refresh

    report = tmp_path / "problems.csv"
    assert wizard.summary_page.report_button.isVisible()
    assert wizard.summary_page.save_error_report_to(report)
    with report.open(encoding="utf-8-sig", newline="") as stream:
        lines = list(csv.reader(stream))
    assert lines[0] == ["Where", "Kind", "Problem", "Record left out"]
    assert any(line[0] == "scan.pdf" for line in lines[1:])
    assert len(lines) - 1 == len(result.problems)
    assert wizard.summary_page.problems.rowCount() == len(result.problems)
    # A folder that is not there: said in plain words beside the button, nothing written.
    assert not wizard.summary_page.save_error_report_to(tmp_path / "gone" / "problems.csv")
    assert "could not be created there" in wizard.summary_page.report_status.text()


def test_a_csv_nobody_knows_is_mapped_by_keyboard_and_its_dates_read_day_first(
    qtbot: QtBot, clinic: Clinic, exports: Path, tmp_path: Path
) -> None:
    wizard, _bus = open_wizard(qtbot, clinic)
    add_and_wait(qtbot, wizard, [write_generic_csv(exports)])
    assert "choose what each column holds" in wizard.choose_page.list.topLevelItem(0).text(1)
    press_next(qtbot, wizard)
    assert wizard.currentId() == MAPPING
    mapping = wizard.mapping_page.step.mappings[0]
    # Guessed from the column names; the id and the date order are the person's to say.
    assert mapping.choices() == {
        "mrn": "Chart No",
        "last": "Surname",
        "first": "Given Name",
        "birth_date": "DOB",
        "phone": "Home Phone",
        "email": "E-mail",
    }
    assert "Patient ID in the EMR" in mapping.problem_label.text()
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    assert mapping.date_format() is None  # 03/04/1975 reads both ways: asked, not guessed
    assert mapping.date_hint.isVisible()

    chart = mapping.combos["Chart No"]
    chart.setFocus()
    qtbot.keyClick(chart, Qt.Key.Key_Home)
    qtbot.keyClick(chart, Qt.Key.Key_Down)  # the first field after "(not imported)": the id
    assert chart.currentData() == "source_id"
    assert "Choose how the dates are written" in mapping.problem_label.text()
    mapping.date_combo.setFocus()
    qtbot.keyClicks(mapping.date_combo, "31/")
    assert mapping.date_format() is DateFormat.EU
    assert "03/04/1975 → 3 April 1975" in mapping.date_preview.text()
    assert mapping.problem() is None
    assert wizard.button(QWizard.WizardButton.NextButton).isEnabled()

    assert mapping.save_mapping_named("My EMR patients")
    (profile,) = saved_profiles(clinic)  # kept in the clinic, for the next import
    assert profile.name == "My EMR patients"
    assert profile.kind is Kind.PATIENT
    assert profile.columns["source_id"] == ("Chart No",)
    assert profile.date_format is DateFormat.EU
    assert profile.source_system == "csv:clinic-export"  # ids keyed by where they come from

    press_next(qtbot, wizard)
    wait_preview(qtbot, wizard)
    shown = wizard.preview_page.table.item(0, 2).text()
    assert "Marsh" in shown and "1975-04-03" in shown
    press_next(qtbot, wizard)
    wait_summary(qtbot, wizard)
    assert patient_count(clinic) == 3
    birth = clinic.conn.execute(
        "SELECT birth_date FROM patient WHERE family_name = 'Marsh'"
    ).fetchone()[0]
    assert birth == "1975-04-03"


def test_a_saved_mapping_fills_the_mapping_step_of_the_next_import(
    qtbot: QtBot, clinic: Clinic, exports: Path, tmp_path: Path
) -> None:
    wizard, bus = open_wizard(qtbot, clinic)
    published: list[object] = []
    bus.changed.connect(published.append)
    add_and_wait(qtbot, wizard, [write_generic_csv(exports)])
    press_next(qtbot, wizard)
    first = wizard.mapping_page.step.mappings[0]
    first.set_column_field("Chart No", "source_id")
    first.set_date_format(DateFormat.US)
    first.source_edit.setText("Lakeside EMR")
    assert first.save_mapping_named("Lakeside EMR patients")
    assert published  # the settings changed: views that show them hear of it

    # Next month's export of the same EMR: the mapping step starts filled in.
    again = FileMapping(wizard.mapping_files[0], clinic)
    qtbot.addWidget(again)
    assert again.choices() == first.choices()
    assert again.date_format() is DateFormat.US
    assert again.source_edit.text() == "Lakeside EMR"
    assert "Lakeside EMR patients" in again.note.text()
    assert again.problem() is None
    assert again.profile().source_system == first.profile().source_system == "csv:Lakeside EMR"

    # Chosen from the button's menu, by keyboard-reachable actions.
    again.set_column_field("Chart No", "mrn")
    again._fill_load_menu()
    names = [a.text() for a in again.load_menu.actions() if a.text()]
    assert names == ["Lakeside EMR patients", "From a file…"]
    again.load_menu.actions()[0].trigger()
    assert again.choices() == first.choices()

    exported = tmp_path / "lakeside.json"
    first.profile().save(exported)
    from_file = FileMapping(wizard.mapping_files[0], clinic)
    qtbot.addWidget(from_file)
    from_file.set_column_field("Chart No", "mrn")
    from_file.load_mapping_from(exported)
    assert from_file.choices() == first.choices()

    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    from_file.load_mapping_from(broken)
    assert "damaged" in from_file.problem_label.text()


def test_a_dry_run_shows_the_summary_and_saves_nothing(
    qtbot: QtBot, clinic: Clinic, exports: Path
) -> None:
    wizard, _bus = open_wizard(qtbot, clinic)
    add_and_wait(qtbot, wizard, [write_bundle(exports)])
    press_next(qtbot, wizard)
    wait_preview(qtbot, wizard)
    box = wizard.preview_page.dry_run_box
    box.setFocus()
    qtbot.keyClick(box, Qt.Key.Key_Space)
    assert box.isChecked()
    assert wizard.button(QWizard.WizardButton.NextButton).text().replace("&", "") == "Try it"
    press_next(qtbot, wizard)
    wait_summary(qtbot, wizard)
    assert wizard.summary_page.title().startswith("Dry run finished")
    assert summary_counts(wizard)["Patients"][0] == "2"
    assert patient_count(clinic) == 0
    assert not clinic.conn.execute("SELECT count(*) FROM import_batch").fetchone()[0]

    qtbot.mouseClick(wizard.summary_page.again_button, Qt.MouseButton.LeftButton)
    assert wizard.currentId() == PREVIEW and not box.isChecked()
    qtbot.waitUntil(lambda: not wizard.preview_page.loading, timeout=30_000)
    press_next(qtbot, wizard)
    wait_summary(qtbot, wizard)
    assert patient_count(clinic) == 2
    assert not wizard.button(QWizard.WizardButton.BackButton).isVisible()


@pytest.fixture
def held_pool() -> Iterator[tuple[QThreadPool, threading.Event]]:
    """A pool whose only thread is busy until the test lets go: work given to it waits."""
    pool = QThreadPool()
    pool.setMaxThreadCount(1)
    release = threading.Event()
    pool.start(lambda: release.wait(30))
    yield pool, release
    release.set()
    pool.waitForDone(30_000)


def test_cancel_during_the_run_leaves_no_patient_and_says_so(
    qtbot: QtBot,
    clinic: Clinic,
    exports: Path,
    tmp_path: Path,
    held_pool: tuple[QThreadPool, threading.Event],
) -> None:
    wizard, bus = open_wizard(qtbot, clinic)
    published: list[object] = []
    bus.changed.connect(published.append)
    add_and_wait(qtbot, wizard, [write_bundle(exports), write_synthea_patients(exports, 50)])
    press_next(qtbot, wizard)
    wait_preview(qtbot, wizard)
    pool, release = held_pool
    wizard.pool = pool  # the run is queued behind the held thread: Cancel comes first
    press_next(qtbot, wizard)
    page = wizard.run_page
    assert wizard.currentId() == RUN and page.running
    assert not wizard.button(QWizard.WizardButton.BackButton).isVisible()
    assert page.tray.cancel_button.hasFocus()
    image = wizard.grab()
    assert image.width() >= 1280
    assert image.save(str(shot_folder(tmp_path) / "import-running.png"))
    qtbot.keyClick(page.tray.cancel_button, Qt.Key.Key_Space)
    release.set()
    qtbot.waitUntil(lambda: not page.running, timeout=30_000)
    assert page.message.text() == "Import cancelled; nothing was saved."
    assert wizard.currentId() == RUN
    assert patient_count(clinic) == 0
    assert not clinic.conn.execute("SELECT count(*) FROM import_batch").fetchone()[0]
    assert not published
    assert wizard.button(QWizard.WizardButton.BackButton).isVisible()  # to try again
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.BackButton), Qt.MouseButton.LeftButton)
    assert wizard.currentId() == PREVIEW


def test_closing_the_wizard_during_the_run_cancels_the_import_first(
    qtbot: QtBot,
    clinic: Clinic,
    exports: Path,
    held_pool: tuple[QThreadPool, threading.Event],
) -> None:
    wizard, _bus = open_wizard(qtbot, clinic)
    add_and_wait(qtbot, wizard, [write_bundle(exports)])
    press_next(qtbot, wizard)
    wait_preview(qtbot, wizard)
    pool, release = held_pool
    wizard.pool = pool
    press_next(qtbot, wizard)
    qtbot.keyClick(wizard, Qt.Key.Key_Escape)
    assert wizard.isVisible()  # waits for the import to stop
    release.set()
    qtbot.waitUntil(lambda: not wizard.isVisible(), timeout=30_000)
    assert patient_count(clinic) == 0


def test_files_and_folders_dropped_on_the_first_page_are_added(
    qtbot: QtBot, clinic: Clinic, exports: Path
) -> None:
    wizard, _bus = open_wizard(qtbot, clinic)
    write_bundle(exports)
    write_synthea_patients(exports)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(exports))])
    drop = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    wizard.choose_page.dropEvent(drop)
    qtbot.waitUntil(lambda: not wizard.choose_page.planning, timeout=30_000)
    names = sorted(
        wizard.choose_page.list.topLevelItem(i).text(0)
        for i in range(wizard.choose_page.list.topLevelItemCount())
    )
    assert names == ["exports/bundle.json", "exports/patients.csv"]  # named within the folder

    listed = wizard.choose_page.list
    listed.setCurrentItem(listed.findItems("exports/patients.csv", Qt.MatchFlag.MatchExactly)[0])
    qtbot.mouseClick(wizard.choose_page.remove_button, Qt.MouseButton.LeftButton)
    assert [listed.topLevelItem(i).text(0) for i in range(listed.topLevelItemCount())] == [
        "exports/bundle.json"
    ]
    assert wizard.plan is not None and [f.name for f in wizard.plan.files] == [
        "exports/bundle.json"
    ]


def test_nothing_to_import_keeps_next_disabled(qtbot: QtBot, clinic: Clinic, exports: Path) -> None:
    wizard, _bus = open_wizard(qtbot, clinic)
    assert wizard.currentId() == CHOOSE
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    add_and_wait(qtbot, wizard, [write_not_an_export(exports)])
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    assert wizard.choose_page.list.topLevelItem(0).text(2).startswith("Left out: ")


def test_every_page_names_its_controls_and_screenshots(
    qtbot: QtBot, clinic: Clinic, exports: Path, tmp_path: Path
) -> None:
    """Renders each page at 1280×720; FRONTDESK_SCREENSHOTS=1 also writes them to
    docs/screenshots/ for the user guide."""
    out = shot_folder(tmp_path)
    wizard, _bus = open_wizard(qtbot, clinic)
    shots = {}
    add_and_wait(
        qtbot,
        wizard,
        [
            write_bundle(exports),
            write_synthea_patients(exports),
            write_generic_csv(exports),
            write_not_an_export(exports),
        ],
    )
    assert unnamed_controls(wizard) == []
    shots["import-choose.png"] = wizard.grab()
    press_next(qtbot, wizard)
    mapping = wizard.mapping_page.step.mappings[0]
    mapping.set_column_field("Chart No", "source_id")
    mapping.set_column_field("Given Name", "first")
    mapping.set_date_format(DateFormat.US)
    QApplication.processEvents()
    assert unnamed_controls(wizard) == []
    shots["import-mapping.png"] = wizard.grab()

    press_next(qtbot, wizard)
    wait_preview(qtbot, wizard)
    assert unnamed_controls(wizard) == []
    shots["import-preview.png"] = wizard.grab()
    press_next(qtbot, wizard)
    wait_summary(qtbot, wizard)
    QApplication.processEvents()
    assert unnamed_controls(wizard) == []
    shots["import-summary.png"] = wizard.grab()
    for name, image in shots.items():
        assert image.width() >= 1280
        assert image.save(str(out / name))
    for name in shots:
        assert (out / name).stat().st_size > 10_000


def test_the_mapping_step_offers_no_government_numbers() -> None:
    from app.importers.csv.profiles import Kind
    from ui.importing.mapping import NOT_IMPORTED, guess_field, offered_fields

    offered = offered_fields(Kind.PATIENT)
    assert {"source_id", "last", "birth_date"} <= set(offered)
    assert not {"ssn", "drivers", "passport"} & set(offered)
    assert guess_field("SSN", Kind.PATIENT) == NOT_IMPORTED
    assert guess_field("Passport", Kind.PATIENT) == NOT_IMPORTED
