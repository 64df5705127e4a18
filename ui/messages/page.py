"""Messages: the outbox of automatic messages and the Inbox of replies, on two tabs."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from app.clinic import Clinic
from app.reminders.replies import open_count
from app.store.changes import Changes
from ui.bus import DataBus
from ui.messages.inbox import InboxPage
from ui.messages.outbox_view import OutboxView

OUTBOX_TAB = 0
INBOX_TAB = 1


def inbox_title(waiting: int) -> str:
    return f"Inbox ({waiting:,})" if waiting else "Inbox"


class MessagesPage(QWidget):
    """Signals: `open_patient(id)` from either tab."""

    open_patient = Signal(str)

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.setAccessibleName("Messages")
        title = QLabel("Messages")
        title.setAccessibleName("Messages heading")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        title.setFont(font)

        self.outbox = OutboxView(clinic, bus)
        self.outbox.open_patient.connect(self.open_patient)
        self.inbox = InboxPage(clinic, bus)
        self.inbox.open_patient.connect(self.open_patient)
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Outbox and Inbox")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.outbox, "Outbox")
        self.tabs.setTabToolTip(OUTBOX_TAB, "Every automatic message: planned, sent, failed")
        self.tabs.addTab(self.inbox, "Inbox")

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.tabs, 1)
        bus.changed.connect(self._on_changed)
        self._show_inbox_count()

    def refresh(self) -> None:
        self.outbox.refresh()
        self.inbox.refresh()
        self._show_inbox_count()

    def _on_changed(self, changes: Changes) -> None:
        if changes.touches("inbound_message"):
            self._show_inbox_count()

    def _show_inbox_count(self) -> None:
        waiting = open_count(self.clinic)
        self.tabs.setTabText(INBOX_TAB, inbox_title(waiting))
        self.tabs.setTabToolTip(
            INBOX_TAB,
            f"{waiting} repl{'y' if waiting == 1 else 'ies'} waiting to be read"
            if waiting
            else "Replies from patients that someone must read",
        )
