"""The outbox: every automatic message, why it is where it is, and what staff can do about it.

A receptionist comes here when a patient says "I never got the reminder": find the
message (by state and channel, newest due first), read its reason and history in plain
words, send a failed one again or stop one that should not go. The list reads one page
of 200 at a time (outbox.list_messages), so a clinic with a year of messages opens at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QFont,
    QGuiApplication,
    QKeyEvent,
    QPalette,
    QResizeEvent,
    QShortcut,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.errors import FrontdeskError
from app.patients.validation import display_phone
from app.reminders import outbox
from app.reminders.outbox import STATE_LABELS, Message, MessageRow
from app.reminders.rules import CHANNEL_LABELS
from app.reminders.sender import channel_problems
from app.reminders.settings import is_chosen_sender, load_settings
from app.store.changes import Changes
from app.sync import sender_lease
from app.users import get_user
from ui.bus import DataBus
from ui.patient.header import local_text
from ui.shortcuts import shortcut
from ui.theme import ColorName, ToneLabel, color, css, error_line, hint_line
from ui.today_page import RowTable

PAGE_SIZE = 200
FIND_DEBOUNCE_MS = 250  # a fast typist reloads the list once, not at every letter
WHEN = "%a %d %b %Y  %H:%M"
DUE = "%d %b %Y  %H:%M"  # the list's column: narrower, the details say the weekday
DUE_THIS_YEAR = "%d %b  %H:%M"
# What the list can be narrowed to: the words on the menu and the states they mean.
STATE_FILTERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("All", ()),
    *((STATE_LABELS[s], (s,)) for s in outbox.STATES),
)
CHANNEL_FILTERS: tuple[tuple[str, str], ...] = (
    ("All channels", ""),
    *((CHANNEL_LABELS[c], c) for c in ("sms", "email", "letter")),
)
COLUMNS = ("Due", "Patient", "Message", "Channel", "State", "Why")
STATE_COLUMN = 4
WHY_COLUMN = 5
_STATE_TONES: dict[str, ColorName] = {
    "failed": "danger",
    "to_print": "warning",
    "sent": "ok",
    "sending": "info",
    "skipped": "muted",
    "cancelled": "muted",
}
SENDING_OFF = (
    "Sending is off. Messages are planned but not sent. Turn it on in Settings ▸ Reminders."
)
OTHER_SENDER = "Messages are sent by another computer of the clinic."
WRITTEN_LATER = "The text is written when it is sent, from the visit as it is then."
NOTHING_SENT = "Nothing was sent."
WATCHED_TABLES = ("outbox", "reminder_rule", "patient", "setting")
CANCELLABLE = ("planned", "due", "failed", "to_print")
_Index = QModelIndex | QPersistentModelIndex


def channel_words(channel: str) -> str:
    """'Text', 'Email', 'Letter'; a message not yet sent has no channel chosen."""
    return CHANNEL_LABELS.get(channel, "Not chosen yet")


def due_text(utc_iso: str, zone: ZoneInfo, now: datetime | None = None) -> str:
    """'28 Nov  19:15' this year, '28 Nov 2025  19:15' for another year."""
    moment = datetime.fromisoformat(utc_iso.replace("Z", "+00:00")).astimezone(zone)
    this_year = (now or datetime.now(UTC)).astimezone(zone).year
    return moment.strftime(DUE_THIS_YEAR if moment.year == this_year else DUE)


def may_have_been_sent(message: Message) -> bool:
    """A failure the sender could not rule out as a delivery (the connection dropped just
    after the handover): sending again could give the patient two."""
    return message.state == "failed" and "may have been sent" in message.reason.lower()


def banner_text(clinic: Clinic) -> str:
    """Why nothing will go from here, or '' when this computer sends."""
    settings = load_settings(clinic)
    if not settings.enabled:
        return SENDING_OFF
    if settings.sender_device and not is_chosen_sender(clinic, settings):
        return OTHER_SENDER
    if settings.sender_device and sender_lease.sync_on(clinic):
        # The chosen desk, with sync on: it sends only while it holds the sending turn.
        turn = sender_lease.sender_turn(clinic)
        if not turn.holds:
            return turn.message
    problems = channel_problems(clinic)
    if problems:
        # An account that cannot sign in stops a whole channel: say so above the list,
        # not only on each message that waits.
        lines = [
            f"{_CHANNEL_WORDS.get(p.channel, p.channel)} cannot be sent: {p.reason}"
            for p in problems.values()
        ]
        return " ".join(lines) + " Fix it in Settings ▸ Email and text messages."
    return ""


_CHANNEL_WORDS = {"sms": "Texts", "email": "Emails"}


def _recipient_text(message: Message, region: str) -> str:
    if not message.recipient:
        return "Chosen when it is sent"
    if message.channel == "sms":
        return display_phone(message.recipient, region)
    return message.recipient


# --- the list ------------------------------------------------------------------------------


class OutboxModel(QAbstractTableModel):
    """One page of messages, as outbox.list_messages gives them."""

    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__()
        self.zone = zone
        self.rows: list[MessageRow] = []

    def set_rows(self, rows: list[MessageRow]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def row_of(self, message_id: str) -> int | None:
        return next((i for i, r in enumerate(self.rows) if r.message.id == message_id), None)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(  # noqa: N802 - Qt's name
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def text(self, row: MessageRow, column: int) -> str:
        message = row.message
        if column == 0:
            return due_text(message.due_at, self.zone)
        if column == 1:
            return row.patient_name
        if column == 2:
            return row.rule_name or "(rule deleted)"
        if column == 3:
            return channel_words(message.channel) if message.channel else ""
        if column == STATE_COLUMN:
            return message.state_label
        return message.reason

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        row = self.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(row, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.text(row, column) or None
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{COLUMNS[column]}: {self.text(row, column) or 'none'}"
        if role == Qt.ItemDataRole.UserRole:
            return row.message.id
        tone = _STATE_TONES.get(row.message.state)
        if column == STATE_COLUMN and tone and role == Qt.ItemDataRole.ForegroundRole:
            return color(tone)
        if column == STATE_COLUMN and role == Qt.ItemDataRole.FontRole:
            font = QFont()
            font.setBold(row.message.state in ("failed", "to_print"))
            return font
        return None


class MessageTable(RowTable):
    """Tab leaves the list; Enter opens the patient of the current message. Columns are
    sized by size_columns and can be widened by the person (the reason takes the rest)."""

    def __init__(self, model: OutboxModel) -> None:
        super().__init__("Messages", model, stretch_column=WHY_COLUMN)
        self.setAccessibleDescription(
            "Newest due first. Arrows move, the details show on the right, Enter opens the patient."
        )
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(WHY_COLUMN, QHeaderView.ResizeMode.Stretch)

    def size_columns(self) -> None:
        """Fit the columns to the page shown, but cap names so the reason keeps room
        (the full text is in each cell's tooltip, and the person can widen a column)."""
        room = self.viewport().width()
        caps = {1: 0.24, 2: 0.24}  # patient, rule name: shares of the list's width
        for column in range(len(COLUMNS)):
            if column == WHY_COLUMN:
                continue
            self.resizeColumnToContents(column)
            cap = int(room * caps.get(column, 1.0))
            if self.columnWidth(column) > cap > 0:
                self.setColumnWidth(column, cap)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.size_columns()


# --- the banner and the details ----------------------------------------------------------------


class Banner(QLabel):
    """A strip in the warning colour across the top; the window's colour reads on it in
    the light and the dark look alike."""

    def __init__(self) -> None:
        super().__init__()
        self.setAccessibleName("Sending status")
        self.setWordWrap(True)
        self.restyle()
        self.hide()

    def show_text(self, text: str) -> None:
        self.setText(text)
        self.setAccessibleDescription(text)
        self.setVisible(bool(text))

    def restyle(self) -> None:
        window = QGuiApplication.palette().color(QPalette.ColorRole.Window).name()
        sheet = (
            f"background: {css('warning')}; color: {window}; padding: 6px 8px;"
            " font-weight: bold; border-radius: 3px;"
        )
        if sheet != self.styleSheet():  # setting a sheet is itself a palette change
            self.setStyleSheet(sheet)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self.restyle()
        super().changeEvent(event)


@dataclass(frozen=True)
class _Shown:
    row: MessageRow
    events: list[outbox.Event]


class MessageDetails(QWidget):
    """The chosen message: what, to whom, its text and its history, and the actions."""

    def __init__(self, clinic: Clinic) -> None:
        super().__init__()
        self.clinic = clinic
        self.setAccessibleName("Message details")
        self.title = QLabel("Choose a message to see its details.")
        self.title.setAccessibleName("Message")
        self.title.setWordWrap(True)
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title.setFont(font)
        self.state = ToneLabel(tone="text", bold=True)
        self.state.setAccessibleName("State and reason")
        self.state.setWordWrap(True)

        self.send_again_button = QPushButton("Send &again")
        self.send_again_button.setAccessibleName("Send the message again")
        self.send_again_button.setToolTip("Send this failed message at the next sending pass")
        self.cancel_button = QPushButton("Ca&ncel message…")
        self.cancel_button.setAccessibleName("Cancel the message")
        self.cancel_button.setToolTip("Stop this message: it will not be sent or printed")
        self.open_button = QPushButton("&Open patient")
        self.open_button.setAccessibleName("Open the patient")
        self.open_button.setToolTip("Open the patient of this message (Enter in the list)")
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for button in (self.send_again_button, self.cancel_button, self.open_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.error = error_line()
        self.error.setAccessibleName("Problem with the message")
        self.error.setWordWrap(True)
        self.error.hide()

        self.facts = QFormLayout()
        self.facts.setContentsMargins(0, 0, 0, 0)
        self.facts.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.fact_labels: dict[str, QLabel] = {}
        for name in ("Patient", "To", "Due", "Sent", "Delivery", "Rule"):
            value = QLabel()
            value.setAccessibleName(name)
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fact_labels[name] = value
            self.facts.addRow(f"{name}:", value)

        self.text_heading = _heading("What was sent")
        self.subject = QLabel()
        self.subject.setAccessibleName("Subject")
        self.subject.setWordWrap(True)
        self.subject.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text_note = hint_line()
        self.text_note.setAccessibleName("About the text")
        self.text_note.setWordWrap(True)
        self.body = QPlainTextEdit()
        self.body.setReadOnly(True)
        self.body.setTabChangesFocus(True)
        self.body.setAccessibleName("Message text")
        self.body.setMinimumHeight(self.fontMetrics().height() * 4)
        self.body.setMaximumHeight(self.fontMetrics().height() * 7)

        self.history_heading = _heading("History")
        # One entry per change, wrapped to the panel's width: the reasons are sentences.
        self.history = QListWidget()
        self.history.setAccessibleName("History")
        self.history.setAccessibleDescription("Every change of the message, oldest first.")
        self.history.setWordWrap(True)
        self.history.setResizeMode(QListView.ResizeMode.Adjust)
        self.history.setAlternatingRowColors(True)
        self.history.setMinimumHeight(self.fontMetrics().height() * 6)
        # It takes the height left over, so the panel scrolls only when it truly must.
        self.history.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)

        self.body_box = QWidget()
        inner = QVBoxLayout(self.body_box)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.addLayout(self.facts)
        inner.addWidget(self.text_heading)
        inner.addWidget(self.subject)
        inner.addWidget(self.text_note)
        inner.addWidget(self.body)
        inner.addWidget(self.history_heading)
        inner.addWidget(self.history, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.state)
        layout.addLayout(buttons)
        layout.addWidget(self.error)
        layout.addWidget(self.body_box, 1)
        self.shown: _Shown | None = None
        self.show_message(None)

    def show_message(self, row: MessageRow | None) -> None:
        self.error.hide()
        if row is None:
            self.shown = None
            self.title.setText("Choose a message to see its details.")
            self.state.setText("")
            self.state.hide()
            self.body_box.hide()
            for button in (self.send_again_button, self.cancel_button, self.open_button):
                button.setEnabled(False)
            return
        message = row.message
        self.shown = _Shown(row, outbox.history(self.clinic, message.id))
        zone = ZoneInfo(self.clinic.settings.timezone)
        kind = channel_words(message.channel) if message.channel else "Message"
        self.title.setText(f"{kind} · {row.rule_name or '(rule deleted)'}")
        words = message.state_label + (f": {message.reason}" if message.reason else "")
        self.state.tone = _STATE_TONES.get(message.state, "text")
        self.state.restyle()
        self.state.setText(words)
        self.state.show()
        facts = {
            "Patient": row.patient_name,
            "To": _recipient_text(message, self.clinic.settings.region),
            "Due": local_text(message.due_at, zone, WHEN),
            "Sent": local_text(message.sent_at, zone, WHEN) if message.sent_at else "Not yet",
            "Delivery": message.delivery.capitalize() if message.delivery else "",
            "Rule": f"{row.rule_name or '(rule deleted)'}, message {message.touch + 1}",
        }
        if message.state in ("skipped", "cancelled") and not message.sent_at:
            facts["Sent"] = "No"
        for name, value in facts.items():
            label = self.fact_labels[name]
            label.setText(value)
            self.facts.setRowVisible(label, bool(value))
        self._show_text(message)
        self.history.clear()
        for event in self.shown.events:
            line = f"{local_text(event.at, zone, WHEN)} · {event.state_label}"
            said = event.reason and event.reason != event.state_label
            self.history.addItem(line + (f"\n{event.reason}" if said else ""))
        self.body_box.show()
        self.send_again_button.setEnabled(message.state == "failed")
        self.cancel_button.setEnabled(message.state in CANCELLABLE)
        self.open_button.setEnabled(True)

    def _show_text(self, message: Message) -> None:
        self.subject.setText(f"Subject: {message.subject}" if message.subject else "")
        self.subject.setVisible(bool(message.subject))
        if message.body:
            self.text_heading.setText(
                "What was sent" if message.state in ("sent", "to_print") else "The text"
            )
            self.body.setPlainText(message.body)
            self.body.show()
            self.text_note.hide()
            return
        gone = message.state in ("skipped", "cancelled", "failed")
        self.text_heading.setText("What was sent" if gone else "The text")
        self.body.clear()
        self.body.hide()
        self.text_note.setText(NOTHING_SENT if gone else WRITTEN_LATER)
        self.text_note.show()

    def show_problem(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    label.setAccessibleName(f"{text} heading")
    return label


class _DetailsScroller(QScrollArea):
    """Scrolls the details up and down only: never narrower than their buttons need, so
    large text takes room from the list (which scrolls sideways) instead of cutting them."""

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        inner = self.widget()
        hint = super().minimumSizeHint()
        if inner is None:
            return hint
        bar = self.verticalScrollBar().sizeHint().width()
        return QSize(max(inner.minimumSizeHint().width() + bar, 300), hint.height())


# --- the view ------------------------------------------------------------------------------


class OutboxView(QWidget):
    """Signals: `open_patient(id)` on Enter, double-click or "Open patient"."""

    open_patient = Signal(str)

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.offset = 0
        self.has_next = False
        self._stale = False
        self.confirm_box: QMessageBox | None = None
        self._yes_button: QAbstractButton | None = None
        self._then: Callable[[], None] | None = None
        self.counts: dict[str, int] = {}
        self.setAccessibleName("Outbox")

        self.banner = Banner()
        self.state_filter = QComboBox()
        self.state_filter.setAccessibleName("Show messages that are")
        self.state_filter.setToolTip("Show only messages in this state")
        for words, states in STATE_FILTERS:
            self.state_filter.addItem(words, states)
        self.channel_filter = QComboBox()
        self.channel_filter.setAccessibleName("Show messages sent by")
        self.channel_filter.setToolTip("Show only messages sent this way")
        for words, channel in CHANNEL_FILTERS:
            self.channel_filter.addItem(words, channel)
        self.state_filter.currentIndexChanged.connect(self._filters_changed)
        self.channel_filter.currentIndexChanged.connect(self._filters_changed)
        self.find_patient = QLineEdit()
        self.find_patient.setAccessibleName("Find a patient in the list")
        self.find_patient.setAccessibleDescription(
            "Type a name, birth date or phone number to show only that patient's messages."
            " Escape clears it."
        )
        self.find_patient.setPlaceholderText("Find a patient")
        self.find_patient.setToolTip("Show only the messages of patients who match (Esc clears)")
        self.find_patient.setClearButtonEnabled(True)
        self.find_patient.setMinimumWidth(self.fontMetrics().horizontalAdvance("x") * 22)
        self.find_patient.installEventFilter(self)
        self._find_timer = QTimer(self)
        self._find_timer.setSingleShot(True)
        self._find_timer.setInterval(FIND_DEBOUNCE_MS)
        self._find_timer.timeout.connect(self._filters_changed)
        self.find_patient.textChanged.connect(lambda _text: self._find_timer.start())
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setAccessibleName("Refresh the messages")
        self.refresh_button.setToolTip(f"Refresh ({shortcut('refresh').keys})")
        self.refresh_button.clicked.connect(self.refresh)
        self.refresh_shortcut = QShortcut(shortcut("refresh").sequence(), self)
        self.refresh_shortcut.activated.connect(self.refresh)

        self.model = OutboxModel(ZoneInfo(clinic.settings.timezone))
        self.table = MessageTable(self.model)
        self.table.open_row.connect(self._open_row)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.empty = hint_line()
        self.empty.setAccessibleName("Messages: none")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.empty.hide()
        self.page_label = QLabel()
        self.page_label.setAccessibleName("Messages shown")
        self.previous_button = QPushButton("Previous 200")
        self.previous_button.setAccessibleName("Show the previous 200 messages")
        self.previous_button.clicked.connect(self.previous_page)
        self.next_button = QPushButton("Next 200")
        self.next_button.setAccessibleName("Show the next 200 messages")
        self.next_button.clicked.connect(self.next_page)

        self.details = MessageDetails(clinic)
        self.details.send_again_button.clicked.connect(self.send_again)
        self.details.cancel_button.clicked.connect(self.cancel_message)
        self.details.open_button.clicked.connect(self.open_current_patient)
        scroller = _DetailsScroller()
        scroller.setWidget(self.details)
        scroller.setWidgetResizable(True)
        scroller.setFrameShape(QFrame.Shape.NoFrame)
        scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        filters = QHBoxLayout()
        show = QLabel("&Show:")
        show.setBuddy(self.state_filter)
        filters.addWidget(show)
        filters.addWidget(self.state_filter)
        filters.addWidget(self.channel_filter)
        filters.addWidget(self.find_patient, 1)
        filters.addStretch(1)
        filters.addWidget(self.refresh_button)
        paging = QHBoxLayout()
        paging.addWidget(self.page_label, 1)
        paging.addWidget(self.previous_button)
        paging.addWidget(self.next_button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(filters)
        left_layout.addWidget(self.table, 1)
        left_layout.addWidget(self.empty, 1)
        left_layout.addLayout(paging)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(left)
        self.splitter.addWidget(scroller)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 1)
        self._user_split = False  # once the person drags the divider, their split stands
        self.splitter.splitterMoved.connect(self._split_moved)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)

        details = self.details
        for first, second in (
            (self.state_filter, self.channel_filter),
            (self.channel_filter, self.find_patient),
            (self.find_patient, self.refresh_button),
            (self.refresh_button, self.table),
            (self.table, self.previous_button),
            (self.previous_button, self.next_button),
            (self.next_button, details.send_again_button),
            (details.send_again_button, details.cancel_button),
            (details.cancel_button, details.open_button),
            (details.open_button, details.body),
            (details.body, details.history),
        ):
            QWidget.setTabOrder(first, second)

        bus.changed.connect(self._on_changed)
        self.refresh()

    # --- loading -------------------------------------------------------------------------

    def states(self) -> tuple[str, ...]:
        value = self.state_filter.currentData()
        return tuple(value) if value else ()

    def channel(self) -> str:
        return str(self.channel_filter.currentData() or "")

    def find_text(self) -> str:
        return self.find_patient.text().strip()

    def set_state_filter(self, state: str | None) -> None:
        """Show only `state` (None = all), e.g. "failed" from a status line's link."""
        wanted = (state,) if state else ()
        for index in range(self.state_filter.count()):
            if tuple(self.state_filter.itemData(index) or ()) == wanted:
                self.state_filter.setCurrentIndex(index)
                return
        raise ValueError(f"unknown outbox state: {state}")

    def refresh(self) -> None:
        """Reload the counts, the banner and the page, staying on the chosen message."""
        self._stale = False
        keep = self.current_message_id()
        self.model.zone = ZoneInfo(self.clinic.settings.timezone)
        self.banner.show_text(banner_text(self.clinic))
        self._show_counts()
        self._load(keep)

    def _show_counts(self) -> None:
        self.counts = outbox.count_by_state(self.clinic)
        total = sum(self.counts.values())
        for index, (words, states) in enumerate(STATE_FILTERS):
            number = sum(self.counts.get(s, 0) for s in states) if states else total
            self.state_filter.setItemText(index, f"{words} ({number:,})")

    def _load(self, keep: str | None = None) -> None:
        rows = outbox.list_messages(
            self.clinic,
            states=self.states(),
            channel=self.channel(),
            text=self.find_text(),
            limit=PAGE_SIZE + 1,  # one more says whether there is a next page
            offset=self.offset,
        )
        if not rows and self.offset:  # the page emptied (messages moved on): go back
            self.offset = max(0, self.offset - PAGE_SIZE)
            self._load(keep)
            return
        self.has_next = len(rows) > PAGE_SIZE
        self.model.set_rows(rows[:PAGE_SIZE])
        self.table.size_columns()
        count = len(self.model.rows)
        self.table.setVisible(count > 0)
        self.empty.setVisible(count == 0)
        self.empty.setText(self._empty_text())
        self.previous_button.setEnabled(self.offset > 0)
        self.next_button.setEnabled(self.has_next)
        self.page_label.setText(self._page_text(count))
        row = self.model.row_of(keep) if keep else None
        if row is None and count:
            row = 0
        if row is not None:
            self.table.selectRow(row)
        self._current_changed()

    def _page_text(self, count: int) -> str:
        if not count:
            return ""
        first, last = self.offset + 1, self.offset + count
        total = None
        if not self.channel() and not self.find_text():
            states = self.states()
            total = sum(self.counts.get(s, 0) for s in states or outbox.STATES)
        of = f" of {total:,}" if total is not None else ""
        return f"Messages {first:,}–{last:,}{of}, newest due first"

    def _empty_text(self) -> str:
        if self.find_text():
            return "No messages for a patient who matches. Press Esc to show every patient."
        if self.states() or self.channel():
            return "No messages match. Choose “All” to see every message."
        return (
            "No messages yet. Reminders appear here as they are planned, a few days "
            "before they are due."
        )

    def _filters_changed(self, *_args: object) -> None:
        self._find_timer.stop()  # a filter chosen while typing loads what was typed too
        self.offset = 0
        self._load()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if (
            watched is self.find_patient
            and isinstance(event, QKeyEvent)
            and event.type() == QEvent.Type.KeyPress
        ):
            if event.key() == Qt.Key.Key_Escape and self.find_patient.text():
                self.find_patient.clear()
                self._filters_changed()
                return True
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self._filters_changed()  # at once, without waiting for the pause
                return True
            if event.key() == Qt.Key.Key_Down and self.model.rowCount() > 0:
                if self._find_timer.isActive():  # the rows must match what was typed
                    self._filters_changed()
                self.table.setFocus(Qt.FocusReason.OtherFocusReason)
                return True
        return super().eventFilter(watched, event)

    def next_page(self) -> None:
        if self.has_next:
            self.offset += PAGE_SIZE
            self._load()

    def previous_page(self) -> None:
        if self.offset:
            self.offset = max(0, self.offset - PAGE_SIZE)
            self._load()

    def _on_changed(self, changes: Changes) -> None:
        if not changes.touches(*WATCHED_TABLES):
            return
        if self.isVisible():
            self.refresh()
        else:
            self._stale = True  # reload when shown; no work for a page nobody sees

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        if self._stale:
            self.refresh()
        super().showEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if not self._user_split:
            # About two thirds for the list and a third for the details.
            total = self.splitter.width()
            left = total * 68 // 100
            self.splitter.setSizes([left, total - left])

    def _split_moved(self, _position: int, _index: int) -> None:
        self._user_split = True

    # --- the chosen message --------------------------------------------------------------

    def current_row(self) -> MessageRow | None:
        index = self.table.currentIndex()
        if not index.isValid() or index.row() >= len(self.model.rows):
            return None
        return self.model.rows[index.row()]

    def current_message_id(self) -> str | None:
        row = self.current_row()
        return row.message.id if row else None

    def _current_changed(self, *_args: object) -> None:
        self.details.show_message(self.current_row())

    def _open_row(self, row: int) -> None:
        if 0 <= row < len(self.model.rows):
            self.open_patient.emit(self.model.rows[row].message.patient_id)

    def open_current_patient(self) -> None:
        row = self.current_row()
        if row is not None:
            self.open_patient.emit(row.message.patient_id)

    def _who(self) -> str:
        user = get_user(self.clinic, self.clinic.acting_user_id)
        return user.name if user else ""

    def send_again(self) -> QMessageBox | None:
        """Send a failed message at the next pass; one that may have arrived asks first."""
        row = self.current_row()
        if row is None or row.message.state != "failed":
            return None
        if not may_have_been_sent(row.message):
            self._act(row.message.id, outbox.retry)
            return None
        return self._confirm(
            "Send it again?",
            "This message may already have reached the patient:\n\n"
            f"{row.message.reason}\n\nSend it again anyway?",
            "Send again",
            "Don't send",
            lambda: self._act(row.message.id, outbox.retry),
        )

    def cancel_message(self) -> QMessageBox | None:
        """Stop a message that has not gone; always asks first."""
        row = self.current_row()
        if row is None or row.message.state not in CANCELLABLE:
            return None
        what = "printed" if row.message.state == "to_print" else "sent"
        kind = channel_words(row.message.channel).lower() if row.message.channel else "message"
        return self._confirm(
            "Cancel the message?",
            f"Cancel this {kind} to {row.patient_name} ({row.rule_name or 'rule deleted'})?"
            f"\n\nIt will not be {what}. This cannot be undone.",
            "Cancel message",
            "Keep it",
            lambda: self._act(row.message.id, outbox.cancel),
        )

    def _confirm(
        self, title: str, text: str, yes: str, no: str, then: Callable[[], None]
    ) -> QMessageBox:
        """Window-modal without blocking: the answer runs `then` (tests click the box)."""
        if self.confirm_box is not None:
            self.confirm_box.close()
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(title)
        box.setText(text)
        box.setAccessibleName(title)
        self._yes_button = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
        no_button = box.addButton(no, QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(no_button)
        box.setEscapeButton(no_button)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        # Bound methods, not lambdas holding the box: the box goes away after its answer.
        box.buttonClicked.connect(self._answered)
        box.finished.connect(self._box_closed)
        self._then = then
        self.confirm_box = box
        box.open()
        return box

    def _answered(self, button: QAbstractButton) -> None:
        then, self._then = self._then, None
        if button is self._yes_button and then is not None:
            then()

    def _box_closed(self, _result: int) -> None:
        box, self.confirm_box = self.confirm_box, None
        self._then = None
        if box is not None:
            box.deleteLater()
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)

    def _act(self, message_id: str, action: Callable[..., Changes]) -> None:
        try:
            changes = action(self.clinic, message_id, who=self._who())
        except FrontdeskError as exc:  # someone else moved it first; say so, then reload
            self.refresh()
            self.details.show_problem(str(exc))
            return
        self.bus.publish(changes)
        if not self.isVisible():
            self.refresh()  # the bus reloads only a page on screen
