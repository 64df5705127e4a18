"""Pollen for allergy alerts: the clinic's location, the desk's switch, a file, today's level.

Alerts go out on days the pollen is high. Where the level comes from, in order of trust:
the desk's "High pollen today" switch, a file of daily levels the clinic loads, then the
Open-Meteo forecast for the clinic's location (app/engagement/pollen_days.py). Asking the
forecast goes over the network, so "Check now" runs off the GUI thread on its own
connection; everything else here is one small write.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Final

from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.engagement import pollen_days
from app.engagement.pollen import SOURCE_MANUAL, SOURCE_NONE
from app.engagement.pollen_days import ImportedLevels, PollenDay
from app.errors import FrontdeskError, InvalidInputError
from app.ops import CancelToken, Progress
from app.store.changes import Changes
from app.today import clinic_today
from ui.bus import DataBus
from ui.ops import Op
from ui.theme import error_line, hint_line

LEVEL_WORDS: Final = {
    "none": "None",
    "low": "Low",
    "moderate": "Moderate",
    "high": "High",
    "very_high": "Very high",
    "unknown": "Not known",
}
ABOUT: Final = (
    "Patients with a pollen allergy who agreed to health messages get a short text on "
    "days the pollen is high. Frontdesk asks the free Open-Meteo forecast for the pollen "
    "at the clinic's location; only the two numbers below leave the clinic. Its pollen "
    "forecast covers Europe: elsewhere, use the switch below or load a file of daily levels."
)
WHERE_HINT: Final = (
    "To find them: in Google Maps, right-click the clinic's building; the first line of the "
    "menu is the two numbers (for example 44.9778, -93.2650). Click it to copy, then paste "
    "it into Latitude: both boxes are filled."
)
FILE_HINT: Final = (
    "A CSV file with a date and a level on each line (low, moderate, high or very high), "
    "such as 2026-05-14,high. A day the desk switched on keeps the desk's level."
)


def parse_coordinate(text: str, what: str) -> float:
    """A latitude or longitude as typed ("44.9778", "44,9778" with a decimal comma)."""
    cleaned = text.strip().replace("°", "")
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        return float(cleaned)
    except ValueError:
        raise InvalidInputError(f"The {what} is a number, such as 44.9778.") from None


def day_words(found: PollenDay | None, today: date) -> str:
    if found is None:
        return (
            f"Today ({today:%d %b}): not decided yet. The sending desk decides it at its "
            "next pass, or press Check now."
        )
    level = LEVEL_WORDS.get(found.level, found.level)
    alert = " Allergy alerts go out today." if found.alert else ""
    source = "" if found.source == SOURCE_NONE else f" (source: {found.source})"
    return f"Today ({today:%d %b}): {level}{source}. {found.status}{alert}"


class PollenBox(QGroupBox):
    """The pollen part of Settings › Health tips and surveys (clinic, bus; refresh())."""

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__("Pollen for allergy alerts", parent)
        self.clinic = clinic
        self.bus = bus
        self.setAccessibleName("Pollen for allergy alerts")
        self._filling = False
        self._latitude_length = 0
        self.check_op: Op[PollenDay] | None = None
        self.imported: ImportedLevels | None = None

        layout = QVBoxLayout(self)
        about = QLabel(ABOUT)
        about.setWordWrap(True)
        about.setAccessibleName("About pollen alerts")
        layout.addWidget(about)

        self.location_error = error_line()
        self.location_error.setAccessibleName("Location error")
        self.location_error.setWordWrap(True)
        self.location_error.hide()
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.latitude = QLineEdit()
        self.latitude.setPlaceholderText("44.9778")
        self.latitude.setAccessibleName("Latitude")
        self.latitude.textEdited.connect(self._latitude_typed)
        self.longitude = QLineEdit()
        self.longitude.setPlaceholderText("-93.2650")
        self.longitude.setAccessibleName("Longitude")
        for edit in (self.latitude, self.longitude):
            edit.setMinimumWidth(edit.fontMetrics().horizontalAdvance("-000.00000000"))
            edit.textEdited.connect(lambda _t: self.location_error.hide())
            edit.returnPressed.connect(self.save_location)
        lat_caption = QLabel("&Latitude")
        lat_caption.setBuddy(self.latitude)
        lon_caption = QLabel("Lon&gitude")
        lon_caption.setBuddy(self.longitude)
        form.addRow(lat_caption, self.latitude)
        form.addRow(lon_caption, self.longitude)
        self.save_button = QPushButton("&Save location")
        self.save_button.setAccessibleName("Save the clinic's location")
        self.save_button.clicked.connect(self.save_location)
        form.addRow("", self.save_button)
        layout.addLayout(form)
        where = hint_line(WHERE_HINT)
        where.setWordWrap(True)
        where.setAccessibleName("How to find the location")
        layout.addWidget(where)
        layout.addWidget(self.location_error)
        self.location_done = hint_line("")
        self.location_done.setAccessibleName("Location saved")
        self.location_done.hide()
        layout.addWidget(self.location_done)

        self.high_today = QCheckBox("&High pollen today")
        self.high_today.setAccessibleName("High pollen today")
        self.high_today.setToolTip(
            "Tick on a day you know the pollen is high: alerts go out today, whatever the "
            "forecast says. It turns itself off at midnight."
        )
        self.high_today.toggled.connect(self._switch_toggled)
        layout.addWidget(self.high_today)

        today_row = QHBoxLayout()
        self.today_line = QLabel("")
        self.today_line.setWordWrap(True)
        self.today_line.setAccessibleName("Today's pollen")
        today_row.addWidget(self.today_line, 1)
        self.check_button = QPushButton("&Check now")
        self.check_button.setAccessibleName("Check today's pollen now")
        self.check_button.clicked.connect(self.check_now)
        today_row.addWidget(self.check_button)
        layout.addLayout(today_row)

        file_row = QHBoxLayout()
        self.load_button = QPushButton("Load daily pollen levels from a &file…")
        self.load_button.setAccessibleName("Load daily pollen levels from a file")
        self.load_button.clicked.connect(self.choose_file)
        file_row.addWidget(self.load_button)
        file_row.addStretch(1)
        layout.addLayout(file_row)
        file_hint = hint_line(FILE_HINT)
        file_hint.setWordWrap(True)
        file_hint.setAccessibleName("About pollen files")
        layout.addWidget(file_hint)
        self.file_result = QLabel("")
        self.file_result.setWordWrap(True)
        self.file_result.setAccessibleName("Pollen file result")
        self.file_result.hide()
        layout.addWidget(self.file_result)
        self.file_error = error_line()
        self.file_error.setAccessibleName("Pollen file error")
        self.file_error.setWordWrap(True)
        self.file_error.hide()
        layout.addWidget(self.file_error)

        layout.addStretch(1)
        bus.changed.connect(self._bus_changed)
        self.refresh()

    # --- showing ----------------------------------------------------------------------

    def today(self) -> date:
        return clinic_today(self.clinic)

    def refresh(self) -> None:
        self._filling = True
        try:
            location = pollen_days.clinic_location(self.clinic)
            self.latitude.setText(f"{location.latitude:g}" if location else "")
            self._latitude_length = len(self.latitude.text())
            self.longitude.setText(f"{location.longitude:g}" if location else "")
            found = pollen_days.pollen_for(self.clinic, self.today())
            self.high_today.setChecked(found is not None and found.source == SOURCE_MANUAL)
            self.today_line.setText(day_words(found, self.today()))
        finally:
            self._filling = False

    def _bus_changed(self, changes: Changes) -> None:
        if changes.touches("pollen_day", "setting"):
            self.refresh()

    def _publish(self, changes: Changes) -> None:
        if changes.tables:
            self.bus.publish(changes)

    # --- the location -----------------------------------------------------------------

    def _latitude_typed(self, text: str) -> None:
        """A pasted "44.9778, -93.2650" (as maps copy it) fills both boxes. Only a paste
        (more than one character at once): typing "44.9, -9" must not split half-way."""
        pasted = len(text) - self._latitude_length > 1
        self._latitude_length = len(text)
        if not pasted:
            return
        parts = [p for p in text.replace(";", ",").split(",") if p.strip()]
        numbers = len(parts) == 2 and all(any(c.isdigit() for c in p) for p in parts)
        if numbers and ("." in parts[0] or "." in parts[1]):
            self.latitude.setText(parts[0].strip())
            self.longitude.setText(parts[1].strip())
            self._latitude_length = len(self.latitude.text())

    def save_location(self) -> bool:
        self.location_error.hide()
        self.location_done.hide()
        try:
            latitude = parse_coordinate(self.latitude.text(), "latitude")
            longitude = parse_coordinate(self.longitude.text(), "longitude")
            changes = pollen_days.save_clinic_location(self.clinic, latitude, longitude)
        except FrontdeskError as exc:
            self.location_error.setText(str(exc))
            self.location_error.show()
            return False
        self.location_done.setText("Location saved.")
        self.location_done.show()
        self._publish(changes)
        return True

    # --- the desk's switch ------------------------------------------------------------

    def _switch_toggled(self, on: bool) -> None:
        if self._filling:
            return
        try:
            changes = pollen_days.set_manual_high(self.clinic, self.today(), on)
        except FrontdeskError as exc:
            self.today_line.setText(str(exc))
            return
        self._publish(changes)
        self.refresh()

    # --- today's level from the forecast ----------------------------------------------

    def check_now(self) -> None:
        """Decide today's level now (the forecast may be asked: off the GUI thread)."""
        day = self.today()
        clinic = self.clinic

        def work(_progress: Progress, _cancel: CancelToken) -> PollenDay:
            worker = clinic.fork()
            try:
                return pollen_days.decide_day(worker, day)
            finally:
                worker.close()

        self.check_button.setEnabled(False)
        self.today_line.setText("Checking today's pollen…")
        self.check_op = (
            Op(self, "Checking today's pollen", work)
            .success(self._checked)
            .failure(self._check_failed)
            .run_in_background()
        )

    def _checked(self, _found: PollenDay) -> None:
        self.check_button.setEnabled(True)
        self._publish(Changes(frozenset({"pollen_day"})))
        self.refresh()

    def _check_failed(self, exc: BaseException) -> None:
        self.check_button.setEnabled(True)
        self.today_line.setText(
            str(exc) if isinstance(exc, FrontdeskError) else "Today's pollen could not be checked."
        )

    # --- a file of daily levels -------------------------------------------------------

    def choose_file(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self, "Load daily pollen levels", "", "Pollen levels (*.csv *.txt);;All files (*)"
        )
        if path:
            self.load_file(Path(path))

    def load_file(self, path: Path) -> bool:
        self.file_error.hide()
        self.file_result.hide()
        try:
            result = pollen_days.import_levels(self.clinic, path)
        except FrontdeskError as exc:
            problems = getattr(exc, "problems", ())
            self.file_error.setText("\n".join([str(exc), *problems[:5]]))
            self.file_error.show()
            return False
        except OSError:
            self.file_error.setText("The file could not be read. Is it still there?")
            self.file_error.show()
            return False
        self.imported = result
        days = f"{result.days} day" + ("" if result.days == 1 else "s")
        lines = [f"Stored the pollen level of {days}."]
        if result.problems:
            count = len(result.problems)
            lines.append(f"{count} line{'' if count == 1 else 's'} left out:")
            lines += list(result.problems[:5])
            if count > 5:
                lines.append(f"…and {count - 5} more.")
        self.file_result.setText("\n".join(lines))
        self.file_result.show()
        self._publish(result.changes)
        self.refresh()
        return True
