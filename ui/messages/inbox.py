"""Inbox: the patients' text replies that need a person, and what Frontdesk did with the rest.

Replies Frontdesk handled by itself (a confirmation, a STOP, a HELP) are not in the way:
they show only with "Show handled replies". The page reloads when the bus says replies
changed (a poll stored some, another view marked one done), or when it is shown again.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from PySide6.QtCore import QEvent, QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QFont, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.errors import FrontdeskError
from app.reminders.replies import InboxItem, inbox, mark_handled, mark_open
from app.store.changes import Changes
from ui.bus import DataBus
from ui.ops import show_error
from ui.shortcuts import shortcut
from ui.theme import ToneLabel, color
from ui.today_page import Column, RowsModel, RowTable

WATCHED_TABLES = ("inbound_message", "patient")
EMPTY_TEXT = "No replies waiting. Replies to reminders that need a person appear here."
EMPTY_ALL_TEXT = "No replies yet. Patients' replies to reminders appear here."
NOT_DONE_YET = "Not done yet: Frontdesk tries again at the next check"
LIMIT = 200
ACTION_COLUMN = 3
# What Frontdesk did can be a long sentence (CANCEL): past this width it is cut short in
# the list (whole in its tooltip and under the list), so the patient's text keeps its room.
ACTION_MAX_CHARS = 46


def received_text(item: InboxItem, zone: ZoneInfo, day_first: bool, now: datetime) -> str:
    """'Today 8:30', 'Yesterday 16:05', else 'Mon 23 Nov 8:30' in the clinic's time zone."""
    when = datetime.fromisoformat(item.received_at.replace("Z", "+00:00")).astimezone(zone)
    today = now.astimezone(zone).date()
    clock = f"{when:%H:%M}"
    if when.date() == today:
        return f"Today {clock}"
    if when.date() == today - timedelta(days=1):
        return f"Yesterday {clock}"
    day = f"{when:%a} {when.day} {when:%b}" if day_first else f"{when:%a} {when:%b} {when.day}"
    if when.year != today.year:
        day += f" {when.year}"
    return f"{day} {clock}"


def sender_text(item: InboxItem) -> str:
    return item.patient_name or f"{item.sender} (not on file)"


def action_text(item: InboxItem) -> str:
    return item.action or NOT_DONE_YET


def sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


def one_line(text: str) -> str:
    return " ".join(text.split()) or "(empty text)"


class InboxPage(QWidget):
    open_patient = Signal(str)

    def __init__(
        self,
        clinic: Clinic,
        bus: DataBus,
        parent: QWidget | None = None,
        *,
        now: datetime | None = None,
    ) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self._pinned_now = now  # tests and screenshots look at a given moment
        self._stale = True
        self.setAccessibleName("Inbox")

        self.heading = QLabel("Replies")
        self.heading.setAccessibleName("Inbox heading")
        font = self.heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        self.heading.setFont(font)
        self.summary = ToneLabel(tone="muted")
        self.summary.setAccessibleName("How many replies are waiting")
        self.show_handled = QCheckBox("&Show handled replies")
        self.show_handled.setAccessibleName("Show handled replies")
        self.show_handled.setToolTip(
            "Also list the replies Frontdesk or a colleague already dealt with"
        )
        self.show_handled.toggled.connect(self.refresh)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setAccessibleName("Refresh the Inbox")
        self.refresh_button.setToolTip(f"Refresh ({shortcut('refresh').keys})")
        self.refresh_button.clicked.connect(self.refresh)
        self.refresh_shortcut = QShortcut(shortcut("refresh").sequence(), self)
        self.refresh_shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.refresh_shortcut.activated.connect(self.refresh)

        columns: list[Column[InboxItem]] = [
            Column("Received", self._received),
            Column("From", sender_text),
            Column("Text", lambda i: one_line(i.body)),
            Column("What Frontdesk did", action_text),
        ]
        self.model: RowsModel[InboxItem] = RowsModel(columns, self._style)
        self.table = RowTable("Replies", self.model, stretch_column=2)
        self.table.horizontalHeader().setSectionResizeMode(
            ACTION_COLUMN, QHeaderView.ResizeMode.Interactive
        )
        self.table.open_row.connect(self._open_row)
        self.table.installEventFilter(self)
        self.table.selectionModel().currentChanged.connect(self._current_changed)
        self.empty = ToneLabel(EMPTY_TEXT, tone="muted", extra="padding: 12px 2px;")
        self.empty.setAccessibleName("No replies")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)

        # The whole text of the chosen reply (the table cuts long ones short), in a box
        # that scrolls rather than squeezing the words at large text sizes.
        self.detail = QTextBrowser()
        self.detail.setAccessibleName("The chosen reply")
        self.detail.setOpenLinks(False)
        self.detail.setFrameShape(QFrame.Shape.NoFrame)
        self.detail.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.detail.viewport().setAutoFillBackground(False)
        lines = self.detail.fontMetrics().lineSpacing()
        self.detail.setMinimumHeight(lines * 4)
        self.detail.setMaximumHeight(lines * 8)
        self.open_button = QPushButton("&Open patient")
        self.open_button.setAccessibleName("Open the patient who sent the chosen reply")
        self.open_button.setToolTip("Open the patient's page (Enter in the list)")
        self.open_button.clicked.connect(lambda: self._open_row(self.table.current_row()))
        self.done_button = QPushButton("Mark as &done")
        self.done_button.setAccessibleName("Mark the chosen reply as done")
        self.done_button.setToolTip("Take the reply off the Inbox once you have dealt with it")
        self.done_button.clicked.connect(self.toggle_done)
        # The button says "Back to the Inbox" for a handled reply: as wide as either text,
        # so the buttons do not jump or cut the words when the choice moves.
        widths = []
        for text in ("Mark as &done", "&Back to the Inbox", "&Open patient"):
            self.done_button.setText(text)
            widths.append(self.done_button.sizeHint().width())
        self.done_button.setText("Mark as &done")
        for button in (self.open_button, self.done_button):
            button.setMinimumWidth(max(widths))

        self.detail_box = QFrame()
        self.detail_box.setFrameShape(QFrame.Shape.StyledPanel)
        self.detail_box.setAccessibleName("Chosen reply")
        buttons = QVBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.done_button)
        buttons.addStretch(1)
        box = QHBoxLayout(self.detail_box)
        box.addWidget(self.detail, 1)
        box.addLayout(buttons)

        top = QHBoxLayout()
        titles = QVBoxLayout()
        titles.setSpacing(0)
        titles.addWidget(self.heading)
        titles.addWidget(self.summary)
        top.addLayout(titles, 1)
        top.addWidget(self.show_handled, 0, Qt.AlignmentFlag.AlignBottom)
        top.addSpacing(12)
        top.addWidget(self.refresh_button, 0, Qt.AlignmentFlag.AlignBottom)

        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty, 1)
        layout.addWidget(self.detail_box)

        self.setTabOrder(self.table, self.open_button)
        self.setTabOrder(self.open_button, self.done_button)
        self.setTabOrder(self.done_button, self.show_handled)
        self.setTabOrder(self.show_handled, self.refresh_button)

        bus.changed.connect(self._on_changed)
        self.refresh()

    # --- loading -----------------------------------------------------------------------

    def _now(self) -> datetime:
        return self._pinned_now or datetime.now(UTC)

    def _received(self, item: InboxItem) -> str:
        zone = ZoneInfo(self.clinic.settings.timezone)
        return received_text(item, zone, self.clinic.settings.day_first, self._now())

    def _style(self, item: InboxItem, column: int, role: int) -> object:
        if item.handled and role == Qt.ItemDataRole.ForegroundRole:
            return color("muted")
        if column == 1 and not item.patient_id and role == Qt.ItemDataRole.FontRole:
            font = QFont()
            font.setItalic(True)
            return font
        if not item.handled and column == 0 and role == Qt.ItemDataRole.FontRole:
            font = QFont()
            font.setBold(True)
            return font
        return None

    def refresh(self) -> None:
        """Reload the list, staying on the reply that was chosen (or its place)."""
        chosen = self.current_item()
        place = self.table.current_row()
        include = self.show_handled.isChecked()
        items = inbox(self.clinic, include_handled=include, limit=LIMIT)
        self.model.set_rows(items)
        self._size_action_column()
        ids = [i.id for i in items]
        if chosen is not None and chosen.id in ids:
            self.table.selectRow(ids.index(chosen.id))
        else:
            self.table.keep_row(place)
        if items and self.table.current_row() is None:
            self.table.selectRow(0)
        waiting = sum(1 for i in items if not i.handled)
        self.summary.setText(self._summary(waiting, len(items), include))
        self.empty.setText(EMPTY_ALL_TEXT if include else EMPTY_TEXT)
        self.table.setVisible(bool(items))
        self.empty.setVisible(not items)
        self.detail_box.setVisible(bool(items))
        self._stale = False
        self._show_current()

    def _size_action_column(self) -> None:
        widest = self.table.sizeHintForColumn(ACTION_COLUMN)
        most = self.table.fontMetrics().averageCharWidth() * ACTION_MAX_CHARS
        share = self.table.width() // 3
        self.table.horizontalHeader().resizeSection(
            ACTION_COLUMN, max(120, min(widest, most, share))
        )

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        # The list's width is known only once the layout placed it (after show).
        if watched is self.table and event.type() == QEvent.Type.Resize:
            self._size_action_column()
        return super().eventFilter(watched, event)

    @staticmethod
    def _summary(waiting: int, shown: int, include: bool) -> str:
        if waiting == 0:
            text = "No replies waiting for a person"
        elif waiting == 1:
            text = "1 reply waiting for a person"
        else:
            text = f"{waiting} replies waiting for a person"
        handled = shown - waiting
        if include and handled:
            text += f" · {handled} handled shown"
        if shown >= LIMIT:
            text += f" · the newest {LIMIT} shown"
        return text

    def _on_changed(self, changes: Changes) -> None:
        if not changes.touches(*WATCHED_TABLES):
            return
        if self.isVisible():
            self.refresh()
        else:
            self._stale = True

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        if self._stale:
            self.refresh()
        super().showEvent(event)

    # --- the chosen reply --------------------------------------------------------------

    def current_item(self) -> InboxItem | None:
        row = self.table.current_row()
        if row is None or not 0 <= row < len(self.model.rows):
            return None
        return self.model.rows[row]

    def _current_changed(self, _current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_current()

    def _show_current(self) -> None:
        item = self.current_item()
        if item is None:
            self.detail.clear()
            self.open_button.setEnabled(False)
            self.done_button.setEnabled(False)
            return
        self.detail.setHtml(self._detail_html(item))
        self.open_button.setEnabled(item.patient_id is not None)
        self.done_button.setEnabled(True)
        if item.handled:
            self.done_button.setText("&Back to the Inbox")
            self.done_button.setAccessibleName("Put the chosen reply back in the Inbox")
        else:
            self.done_button.setText("Mark as &done")
            self.done_button.setAccessibleName("Mark the chosen reply as done")

    def _detail_html(self, item: InboxItem) -> str:
        who = item.patient_name or "A number not on any patient's record"
        done = " Marked as done." if item.handled else ""
        body = html.escape(item.body or "(empty text)").replace("\n", "<br>")
        return (
            f"<p><b>{html.escape(who)}</b> · {html.escape(item.sender)} · "
            f"{html.escape(self._received(item))}</p>"
            f"<p>{body}</p>"
            f"<p><i>What Frontdesk did: {html.escape(sentence(action_text(item)))}{done}</i></p>"
        )

    def _open_row(self, row: int | None) -> None:
        if row is None or not 0 <= row < len(self.model.rows):
            return
        patient_id = self.model.rows[row].patient_id
        if patient_id:
            self.open_patient.emit(patient_id)

    def toggle_done(self) -> None:
        """Mark the chosen reply done (or put a handled one back); the list then reloads."""
        item = self.current_item()
        if item is None:
            return
        try:
            if item.handled:
                changes = mark_open(self.clinic, item.id)
            else:
                changes = mark_handled(self.clinic, item.id)
        except FrontdeskError as exc:
            show_error(self, "Inbox", exc)
            return
        self.bus.publish(changes)
        if not changes:
            self.refresh()
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)
