"""Reactivation: the patients not seen for a while and with nothing booked, as a worklist.

The list is read on a worker thread (a large clinic has thousands of lapsed patients) and
shows the first rows with the full count; Enter or a double-click opens the patient, and
one button starts a campaign for the same patients (message, then call, then letter).
"""

from __future__ import annotations

from datetime import date
from typing import Final

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.errors import FrontdeskError
from app.growth.reactivation import LapsedPatient, lapsed_count, lapsed_patients
from app.scheduling.kinds import appointment_kinds
from app.store.changes import Changes
from ui.bus import DataBus
from ui.campaigns.background import LatestWork
from ui.reminder_settings.widgets import TickList
from ui.theme import error_line, hint_line
from ui.today_page import Column, RowsModel, RowTable

DEFAULT_MONTHS: Final = 18
MAX_MONTHS: Final = 120  # as app/growth/reactivation checks
LIST_LIMIT: Final = 500
RELOAD_DELAY_MS: Final = 250
WATCHED: Final = ("appointment", "patient", "consent", "outbox", "task")


def day_text(day: date) -> str:
    return f"{day:%d %b %Y}".lstrip("0")


class ReactivationTab(QWidget):
    """The Reactivation tab (clinic, bus; refresh(); open_patient)."""

    open_patient = Signal(str)
    start_campaign = Signal(int, object)  # months without a visit, visit kinds (tuple)

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.setAccessibleName("Reactivation")
        self.rows: list[LapsedPatient] = []
        self.total: int | None = None
        self.loader = LatestWork(clinic, "reactivation")
        self.loader.ready.connect(self._loaded)
        self.destroyed.connect(self.loader.close)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(RELOAD_DELAY_MS)
        self._timer.timeout.connect(self.reload)

        self.months = QSpinBox()
        self.months.setRange(1, MAX_MONTHS)
        self.months.setValue(DEFAULT_MONTHS)
        self.months.setSuffix(" months")
        self.months.setAccessibleName("No visit for at least")
        months_label = QLabel("No &visit for at least")
        months_label.setBuddy(self.months)
        self.kinds = TickList("Kinds of visit that count")
        kinds_label = QLabel("&Kinds of visit that count:")
        kinds_label.setBuddy(self.kinds)
        kinds_hint = hint_line("Tick none to count every visit.")
        kinds_hint.setAccessibleName("About kinds of visit")
        self.start_button = QPushButton("&Start a reactivation campaign for these…")
        self.start_button.setAccessibleName("Start a reactivation campaign for these patients")
        self.start_button.clicked.connect(self._start_campaign)

        self.count_label = QLabel("—")
        self.count_label.setAccessibleName("How many patients are lapsed")
        self.count_label.setWordWrap(True)
        font = self.count_label.font()
        font.setBold(True)
        self.count_label.setFont(font)
        self.error = error_line()
        self.error.setAccessibleName("Reactivation problem")
        self.error.setWordWrap(True)
        self.error.hide()

        self.model: RowsModel[LapsedPatient] = RowsModel(
            [
                Column("Patient", lambda r: r.name),
                Column("Phone", lambda r: r.phone or "—"),
                Column("Last visit", lambda r: day_text(r.last_visit)),
                Column("Kind of visit", lambda r: str(r.last_kind or "—")),
                Column("Months away", lambda r: str(r.months_away)),
                Column("Step", lambda r: r.step),
            ]
        )
        self.table = RowTable("Patients not seen for a while", self.model, stretch_column=0)
        self.table.open_row.connect(self._open_row)

        filters = QHBoxLayout()
        months_column = QVBoxLayout()
        months_column.addWidget(months_label)
        months_column.addWidget(self.months)
        months_column.addStretch(1)
        filters.addLayout(months_column)
        kinds_column = QVBoxLayout()
        kinds_column.addWidget(kinds_label)
        kinds_column.addWidget(self.kinds)
        kinds_column.addWidget(kinds_hint)
        filters.addLayout(kinds_column, 1)
        start_column = QVBoxLayout()
        start_column.addStretch(1)
        start_column.addWidget(self.start_button)
        filters.addLayout(start_column)
        hint = hint_line(
            "Patients seen before but not since, with nothing booked; deceased, moved and "
            "do-not-contact patients are left out. Enter opens the patient."
        )
        hint.setWordWrap(True)
        hint.setAccessibleName("About this list")

        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(hint)
        layout.addWidget(self.count_label)
        layout.addWidget(self.error)
        layout.addWidget(self.table, 1)

        self.months.valueChanged.connect(lambda _v: self._timer.start())
        self.kinds.edited.connect(self._timer.start)
        bus.changed.connect(self._on_changes)
        self.refresh()

    def refresh(self) -> None:
        try:
            kinds = sorted(appointment_kinds(self.clinic), key=str.casefold)
        except FrontdeskError as exc:
            self._show_error(str(exc))
            return
        self.kinds.fill(((k, k) for k in kinds), self.kinds.ticked())
        self.reload()

    def visit_kinds(self) -> tuple[str, ...]:
        return self.kinds.ticked()

    def reload(self) -> None:
        self._timer.stop()
        months, kinds = self.months.value(), self.visit_kinds()
        self.count_label.setText("Looking for patients…")

        def work(clinic: Clinic) -> tuple[list[LapsedPatient], int]:
            rows = lapsed_patients(clinic, months=months, visit_kinds=kinds, limit=LIST_LIMIT)
            return list(rows), lapsed_count(clinic, months=months, visit_kinds=kinds)

        self.loader.request(work)

    def _loaded(self) -> None:
        outcome = self.loader.take()
        if outcome is None:
            return
        if outcome.error is not None:
            problem = outcome.error
            self._show_error(
                str(problem)
                if isinstance(problem, FrontdeskError)
                else "Frontdesk could not read the list; try again."
            )
            self.count_label.setText("—")
            return
        self.error.hide()
        keep = self.table.current_row()
        rows, total = outcome.value
        self.rows = rows
        self.total = total
        self.model.set_rows(rows)
        self.table.keep_row(keep)
        self.count_label.setText(self.count_words(total, len(rows)))
        self.start_button.setEnabled(total > 0)

    def count_words(self, total: int, shown: int) -> str:
        months = self.months.value()
        if total == 0:
            return f"Nobody has been away for {months} months or more with nothing booked."
        noun = "patient has" if total == 1 else "patients have"
        text = f"{total:,} {noun} had no visit for {months} months or more and nothing booked."
        if shown < total:
            text += f" The {shown:,} away longest are listed."
        return text

    def _open_row(self, row: int) -> None:
        if 0 <= row < len(self.rows):
            self.open_patient.emit(self.rows[row].patient_id)

    def _start_campaign(self) -> None:
        self.start_campaign.emit(self.months.value(), self.visit_kinds())

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()

    def _on_changes(self, changes: Changes) -> None:
        if changes.touches(*WATCHED):
            self._timer.start()
