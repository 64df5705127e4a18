"""The main window (minimal for now): navigation, the patient finder and a status bar."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.patients.search import PatientSearch, SearchResult
from app.patients.validation import display_phone

_UNLOCKED_BY = {
    "keyring": "unlocked by this computer's keychain",
    "passphrase": "unlocked with the passphrase",
    "recovery": "unlocked with the recovery key: please set a new passphrase",
    "new": "new clinic, encrypted",
}
AREAS = ("Today", "Patients", "Messages", "Letters", "Campaigns", "Reports", "Settings")


def describe(result: SearchResult, region: str) -> str:
    parts = [result.display_name]
    if result.birth_date:
        parts.append(
            f"born {result.birth_date}" + (f" ({result.age})" if result.age is not None else "")
        )
    if result.phone:
        parts.append(display_phone(result.phone, region))
    if result.next_appointment:
        parts.append(f"next visit {result.next_appointment[:10]}")
    if result.deceased:
        parts.append("deceased")
    return "  ·  ".join(parts)


class MainWindow(QMainWindow):
    def __init__(self, clinic: Clinic) -> None:
        super().__init__()
        self.clinic = clinic
        self.searcher = PatientSearch(clinic.conn, region=clinic.settings.region)
        self.setWindowTitle("Frontdesk")  # no clinic or patient data in titles of shared screens
        self.resize(1000, 640)

        self.nav = QListWidget()
        self.nav.setAccessibleName("Areas")
        self.nav.addItems(list(AREAS))
        self.nav.setCurrentRow(1)
        self.nav.setFixedWidth(150)

        self.finder = QLineEdit()
        self.finder.setPlaceholderText(
            "Find a patient: name, birth date, phone, email or record number  (Ctrl+K)"
        )
        self.finder.setAccessibleName("Find a patient")
        self.finder.setClearButtonEnabled(True)
        self.finder.textChanged.connect(self.run_search)
        self.finder.returnPressed.connect(self._open_selected)
        self.results = QListWidget()
        self.results.setAccessibleName("Matching patients")
        self.empty = QLabel("")
        self.empty.setAccessibleName("Search status")

        body = QVBoxLayout()
        body.addWidget(self.finder)
        body.addWidget(self.empty)
        body.addWidget(self.results)
        row = QHBoxLayout()
        row.addWidget(self.nav)
        row.addLayout(body)
        central = QWidget()
        central.setLayout(row)
        self.setCentralWidget(central)

        self.find_shortcut = QShortcut(QKeySequence("Ctrl+K"), self)
        self.find_shortcut.activated.connect(self.focus_finder)
        how = _UNLOCKED_BY.get(clinic.opened.unlocked_by, "unlocked")
        self.status = QLabel(f"{clinic.settings.name}  ·  {how}")
        self.status.setAccessibleName("Clinic status")
        self.statusBar().addPermanentWidget(self.status, 1)

    def focus_finder(self) -> None:
        self.finder.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.finder.selectAll()

    def run_search(self, text: str) -> list[SearchResult]:
        found = self.searcher.search(text)
        self.results.clear()
        for result in found:
            item = QListWidgetItem(describe(result, self.clinic.settings.region))
            item.setData(Qt.ItemDataRole.UserRole, result.patient_id)
            self.results.addItem(item)
        if found:
            self.results.setCurrentRow(0)
        self.empty.setText(
            ""
            if found or not text.strip()
            else "No patient matches. Check the spelling, or try the birth date or phone."
        )
        return found

    def keyPressEvent(self, event: object) -> None:  # noqa: N802 - Qt's name
        from PySide6.QtGui import QKeyEvent

        if isinstance(event, QKeyEvent) and event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up):
            step = 1 if event.key() == Qt.Key.Key_Down else -1
            row = max(0, min(self.results.count() - 1, self.results.currentRow() + step))
            self.results.setCurrentRow(row)
            return
        super().keyPressEvent(event)  # type: ignore[arg-type]

    def _open_selected(self) -> None:
        item = self.results.currentItem()
        if item is not None:
            self.statusBar().showMessage("Patient view arrives with the desktop release.", 3000)
