"""Changes that need a decision: what sync kept aside for a manager (app/sync/conflicts.py).

Mostly an edit made on one workstation to a record deleted on another: sync never drops
it, the record stays deleted, and a manager or administrator decides here whether it
stays deleted or comes back with the change. The decision is clinic data and syncs, so
every workstation stops listing it. The core gives each conflict and its plain words;
this box lists them with the patient they concern and passes the decision on. Deciding
is a local write (no network), so it runs like any other save.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.errors import FrontdeskError
from app.patients.records import get_patient
from app.security.permissions import allowed, refusal
from app.sync import conflicts
from app.sync.apply import EDITED_AFTER_DELETE
from app.today import clinic_zone
from ui.bus import DataBus
from ui.unlock import error_label, hint_label, show_error

# The core decides who may (managers and administrators); the box only spares others a
# refused click and says who can.
NOT_YOURS = refusal("sync.resolve") + " Ask one of them."


# Kinds of record in desk words (the core's own list is plainer still).
RECORD_WORDS = {
    "patient": "patient",
    "contact_point": "phone or email",
    "address": "address",
    "patient_tag": "tag",
    "patient_identifier": "record number",
    "appointment": "appointment",
    "interaction": "call or note",
    "consent": "consent",
    "charge": "charge",
    "payment": "payment",
}


# Columns every write moves on its own: not a change a person made, so not listed.
BOOKKEEPING = frozenset({"version", "updated_at", "created_at"})


@dataclass(frozen=True)
class Decision:
    """One line of the list: the conflicts of one record (one per edited column in the
    core), decided together."""

    members: tuple[conflicts.Conflict, ...]

    @property
    def first(self) -> conflicts.Conflict:
        return self.members[0]

    @property
    def key(self) -> str:
        return self.first.key


def grouped(found: list[conflicts.Conflict]) -> list[Decision]:
    """The core's conflicts, one line per record and kind, in the core's order."""
    groups: dict[tuple[str, str, str], list[conflicts.Conflict]] = {}
    for conflict in found:
        groups.setdefault((conflict.kind, conflict.table, conflict.row_id), []).append(conflict)
    return [Decision(tuple(group)) for group in groups.values()]


def may_decide(clinic: Clinic) -> bool:
    return allowed(clinic, "sync.resolve")


def patient_words(clinic: Clinic, patient_id: str) -> str:
    if not patient_id:
        return ""
    try:
        return get_patient(clinic, patient_id).display_name
    except FrontdeskError:
        return "(deleted on another workstation)"


def record_words(clinic: Clinic, conflict: conflicts.Conflict) -> str:
    """'Okafor, Ada — phone or email' (the record and whose it is)."""
    what = RECORD_WORDS.get(conflict.table, conflict.table.replace("_", " "))
    who = patient_words(clinic, conflict.patient_id)
    if conflict.table == "patient":
        return f"Patient: {who}" if who else "A patient"
    return f"{who} — {what}" if who else what[:1].upper() + what[1:]


def change_words(decision: Decision, zone: tzinfo) -> str:
    """'preferred name changed to “Addie” on FRONT-DESK-2, 03 Mar 10:42'."""
    latest = max(decision.members, key=lambda c: c.made_at or datetime.min.replace(tzinfo=UTC))
    when = f", {latest.made_at.astimezone(zone):%d %b %H:%M}" if latest.made_at else ""
    devices = sorted({c.device_name for c in decision.members if c.device_name})
    where = f" on {' and '.join(devices)}" if devices else ""
    if decision.first.kind != EDITED_AFTER_DELETE:
        return f"Found{where}{when}"
    fields = [
        f"{c.column.replace('_', ' ')} changed to {_shown(c.value)}"
        for c in decision.members
        if c.column not in ("", "*") and c.column not in BOOKKEEPING
    ]
    return f"{'; '.join(fields) if fields else 'Changed'}{where}{when}"


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "(empty)"
    text = str(value)
    return f"“{text[:60]}…”" if len(text) > 60 else f"“{text}”"


class ConflictsBox(QGroupBox):
    """Hidden while nothing waits for a decision."""

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__("Changes that need a decision", parent)
        self.clinic = clinic
        self.bus = bus
        self.items: list[conflicts.Conflict] = []
        self.decisions: list[Decision] = []
        self.setAccessibleName("Changes that need a decision")
        self.explain = hint_label(
            "A record was deleted on one workstation while it was being changed on another, "
            "or two workstations entered the same thing. Nothing was lost: choose what to do."
        )
        self.explain.setAccessibleName("About changes that need a decision")
        self.notice = hint_label(NOT_YOURS)
        self.notice.setAccessibleName("Who decides")
        # A table, not a tree: its rows grow to the wrapped words (nothing cut off).
        self.list = QTableWidget(0, 3)
        self.list.setHorizontalHeaderLabels(["Record", "What changed", "What happened"])
        self.list.verticalHeader().hide()
        self.list.horizontalHeader().setStretchLastSection(True)
        self.list.setWordWrap(True)
        self.list.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.list.setAlternatingRowColors(True)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setTabKeyNavigation(False)
        # Rows follow the columns' widths (the last one stretches with the window).
        self.list.horizontalHeader().sectionResized.connect(lambda *_a: self._rows_later())
        self.list.setAccessibleName("Changes that need a decision")
        lines = self.list.fontMetrics().lineSpacing()
        self.list.setMinimumHeight(lines * 5)
        self.list.setMaximumHeight(lines * 14)
        self.list.currentCellChanged.connect(lambda *_a: self._update_buttons())
        self.keep_button = QPushButton("&Keep deleted")
        self.keep_button.setAccessibleName("Keep the record deleted")
        self.keep_button.clicked.connect(lambda: self.decide("dismissed"))
        self.restore_button = QPushButton("Restore &with this change")
        self.restore_button.setAccessibleName("Restore the record with this change")
        self.restore_button.clicked.connect(lambda: self.decide("restored"))
        self.error = error_label("Problem deciding the change")
        buttons = QHBoxLayout()
        buttons.addWidget(self.keep_button)
        buttons.addWidget(self.restore_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.explain)
        layout.addWidget(self.notice)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        layout.addWidget(self.error)
        self.refresh()

    def refresh(self) -> None:
        may = may_decide(self.clinic)
        self.items = conflicts.open_conflicts(self.clinic)
        self.decisions = grouped(self.items)
        self.setVisible(bool(self.items))
        self.setTitle(
            f"Changes that need a decision ({len(self.decisions)})"
            if self.items
            else "Changes that need a decision"
        )
        self.notice.setVisible(not may)
        for widget in (self.keep_button, self.restore_button):
            widget.setVisible(may)
        chosen = self.selected_key()
        zone = clinic_zone(self.clinic)
        self.list.setRowCount(len(self.decisions))
        for row, decision in enumerate(self.decisions):
            texts = (
                record_words(self.clinic, decision.first),
                change_words(decision, zone),
                decision.first.words,
            )
            for column, text in enumerate(texts):
                cell = QTableWidgetItem(text)
                cell.setToolTip(text)
                cell.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
                cell.setData(Qt.ItemDataRole.UserRole, decision.key)
                self.list.setItem(row, column, cell)
            if decision.key == chosen:
                self.list.selectRow(row)
        if self.list.currentRow() < 0 and self.decisions:
            self.list.selectRow(0)
        width = self.list.fontMetrics().averageCharWidth()
        self.list.setColumnWidth(0, width * 28)
        self.list.setColumnWidth(1, width * 38)
        self.list.resizeRowsToContents()
        self._update_buttons()

    def _rows_later(self) -> None:
        # After the header has settled (a stretched column resizes inside the layout).
        QTimer.singleShot(0, self, self.list.resizeRowsToContents)

    def selected(self) -> Decision | None:
        key = self.selected_key()
        return next((d for d in self.decisions if d.key == key), None)

    def selected_key(self) -> str:
        row = self.list.currentRow()
        cell = self.list.item(row, 0) if row >= 0 else None
        return str(cell.data(Qt.ItemDataRole.UserRole)) if cell is not None else ""

    def _update_buttons(self) -> None:
        chosen = self.selected()
        edited = chosen is not None and chosen.first.kind == EDITED_AFTER_DELETE
        # Only an edit to a deleted record can bring it back; the rest are acknowledged.
        self.keep_button.setText("&Keep deleted" if edited or chosen is None else "&Leave it so")
        self.keep_button.setAccessibleName(
            "Keep the record deleted" if edited or chosen is None else "Leave it as it is"
        )
        self.keep_button.setEnabled(chosen is not None)
        self.restore_button.setEnabled(edited)

    def decide(self, resolution: conflicts.Resolution) -> None:
        decision = self.selected()
        if decision is None:
            return
        # The record comes back once (with every kept change: the core merges them all);
        # the line's other fields are then settled with it.
        first, *rest = decision.members
        try:
            changes = conflicts.resolve(self.clinic, first.key, resolution)
            for conflict in rest:
                changes |= conflicts.resolve(self.clinic, conflict.key, "dismissed")
        except FrontdeskError as exc:
            show_error(self.error, str(exc))
            self.refresh()
            return
        show_error(self.error, "")
        self.bus.publish(changes)
        self.refresh()
        self.list.setFocus()
