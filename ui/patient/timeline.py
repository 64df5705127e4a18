"""The timeline list: everything that happened with the patient, newest first, paged.

A patient with thousands of entries opens at once: the model fetches one page when
the list is scrolled near its end (Qt's canFetchMore/fetchMore), and filter changes
start again from the first page.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QFont, QPainter
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.patients.timeline import TimelineEntry, timeline
from ui.patient.header import local_text, money

PAGE = 100
ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1
# The chips: what a receptionist thinks in, each a group of timeline kinds.
CHIPS: tuple[tuple[str, frozenset[str]], ...] = (
    ("Visits", frozenset({"appointment", "visit"})),
    ("Calls", frozenset({"call"})),
    ("Messages", frozenset({"email", "sms"})),
    # What Frontdesk sent by itself (reminders, recalls, notices), apart from what staff
    # logged, so "did the reminder go?" is one click.
    ("Reminders", frozenset({"message"})),
    ("Letters", frozenset({"letter"})),
    ("Notes", frozenset({"note"})),
    ("Money", frozenset({"payment", "charge"})),
    ("Consent", frozenset({"consent"})),
)
_DIRECTION = {"in": "←", "out": "→", "none": ""}
# Read before the entry by a screen reader, where the title alone could be mistaken for
# a message staff logged by hand.
_SPOKEN_KIND = {"message": "Automatic message: "}
_Index = QModelIndex | QPersistentModelIndex


def entry_line(entry: TimelineEntry, zone: ZoneInfo) -> str:
    when = local_text(entry.at, zone, "%d %b %Y %H:%M")
    amount = f"  {money(entry.amount_cents)}" if entry.amount_cents is not None else ""
    arrow = _DIRECTION.get(entry.direction, "")
    return f"{when}   {arrow} {entry.title}{amount}".replace("  ", " ", 1)


class TimelineModel(QAbstractListModel):
    def __init__(self, clinic: Clinic) -> None:
        super().__init__()
        self.clinic = clinic
        self.zone = ZoneInfo(clinic.settings.timezone)
        self.patient_id = ""
        self.kinds: set[str] | None = None
        self.text = ""
        self.entries: list[TimelineEntry] = []
        self._more = False

    def load(self, patient_id: str, kinds: set[str] | None, text: str) -> None:
        self.beginResetModel()
        self.patient_id, self.kinds, self.text = patient_id, kinds, text
        self.zone = ZoneInfo(self.clinic.settings.timezone)
        self.entries = self._page(0)
        self._more = len(self.entries) == PAGE
        self.endResetModel()

    def _page(self, offset: int) -> list[TimelineEntry]:
        if not self.patient_id or self.kinds == set():
            return []
        return timeline(
            self.clinic,
            self.patient_id,
            kinds=self.kinds,
            limit=PAGE,
            offset=offset,
            text=self.text,
        )

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(self.entries)

    def canFetchMore(self, parent: _Index) -> bool:  # noqa: N802 - Qt's name
        return not parent.isValid() and self._more

    def fetchMore(self, parent: _Index) -> None:  # noqa: N802 - Qt's name
        if parent.isValid() or not self._more:
            return
        page = self._page(len(self.entries))
        self._more = len(page) == PAGE
        if page:
            first = len(self.entries)
            self.beginInsertRows(QModelIndex(), first, first + len(page) - 1)
            self.entries.extend(page)
            self.endInsertRows()

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= len(self.entries):
            return None
        entry = self.entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return entry_line(entry, self.zone)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            detail = f". {entry.detail}" if entry.detail else ""
            return _SPOKEN_KIND.get(entry.kind, "") + entry_line(entry, self.zone) + detail
        if role == Qt.ItemDataRole.ToolTipRole:
            return entry.detail or None
        if role == ENTRY_ROLE:
            return entry
        return None


class EntryDelegate(QStyledItemDelegate):
    """Two lines per entry: kind, date and title in bold; the detail below, muted."""

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:  # noqa: N802
        line = option.fontMetrics.height()
        return QSize(200, line * 2 + 12)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        entry = index.data(ENTRY_ROLE)
        if not isinstance(entry, TimelineEntry):
            super().paint(painter, option, index)
            return
        self.initStyleOption(option, index)
        style = option.widget.style() if option.widget else None
        option.text = ""
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter, option.widget)
        rect = option.rect.adjusted(8, 4, -8, -4)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        palette = option.palette
        painter.save()
        bold = QFont(option.font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(palette.highlightedText().color() if selected else palette.text().color())
        half = rect.height() // 2
        top = rect.adjusted(0, 0, 0, -half)
        model = index.model()
        zone = model.zone if isinstance(model, TimelineModel) else None
        when = local_text(entry.at, zone, "%a %d %b %Y  %H:%M") if zone else entry.at
        arrow = _DIRECTION.get(entry.direction, "")
        amount = f"   {money(entry.amount_cents)}" if entry.amount_cents is not None else ""
        painter.drawText(
            top, Qt.AlignmentFlag.AlignVCenter, f"{arrow} {entry.title}{amount}".strip()
        )
        painter.setFont(option.font)
        painter.drawText(top, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, when)
        if not selected:
            painter.setPen(palette.placeholderText().color())
        detail = option.fontMetrics.elidedText(
            entry.detail or "", Qt.TextElideMode.ElideRight, rect.width()
        )
        painter.drawText(rect.adjusted(0, half, 0, 0), Qt.AlignmentFlag.AlignVCenter, detail)
        painter.restore()


class TimelineView(QWidget):
    """Chips, a text filter and the list. `activated(entry)` on Enter or double-click."""

    activated = Signal(object)  # TimelineEntry; emitted on the GUI thread only

    def __init__(self, clinic: Clinic, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = TimelineModel(clinic)
        self.chips: dict[str, QToolButton] = {}
        chips = QHBoxLayout()
        chips.setSpacing(4)
        chips.addWidget(QLabel("Show:"))
        for name, _kinds in CHIPS:
            chip = QToolButton()
            chip.setText(name)
            chip.setCheckable(True)
            chip.setChecked(True)
            chip.setAccessibleName(f"Show {name.lower()}")
            chip.toggled.connect(self._filters_changed)
            chips.addWidget(chip)
            self.chips[name] = chip
        chips.addStretch(1)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter the timeline  (Ctrl+F)")
        self.filter.setAccessibleName("Filter the timeline")
        self.filter.setClearButtonEnabled(True)
        self.filter.setMaximumWidth(320)
        chips.addWidget(self.filter)
        # Typing waits a moment before reloading, so a fast typist reloads once.
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(120)
        self._debounce.timeout.connect(self.reload)
        self.filter.textChanged.connect(lambda _text: self._debounce.start())

        self.list = QListView()
        self.list.setAccessibleName("Timeline")
        self.list.setModel(self.model)
        self.list.setItemDelegate(EntryDelegate(self.list))
        self.list.setUniformItemSizes(True)
        self.list.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.list.activated.connect(self._activated)
        self.empty = QLabel("")
        self.empty.setAccessibleName("Timeline status")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(chips)
        layout.addWidget(self.empty)
        layout.addWidget(self.list, 1)

    def kinds(self) -> set[str] | None:
        chosen = [kinds for name, kinds in CHIPS if self.chips[name].isChecked()]
        if len(chosen) == len(CHIPS):
            return None
        return set().union(*chosen) if chosen else set()

    def show_patient(self, patient_id: str) -> None:
        self.model.load(patient_id, self.kinds(), self.filter.text())
        self._after_load()

    def reload(self) -> None:
        self.model.load(self.model.patient_id, self.kinds(), self.filter.text())
        self._after_load()

    def _filters_changed(self, _checked: bool) -> None:
        self.reload()

    def _after_load(self) -> None:
        if self.model.rowCount():
            self.empty.hide()
            self.list.setCurrentIndex(self.model.index(0))
            return
        filtered = self.kinds() is not None or self.filter.text().strip()
        self.empty.setText(
            "Nothing matches the filter." if filtered else "Nothing on the timeline yet."
        )
        self.empty.show()

    def _activated(self, index: QModelIndex) -> None:
        entry = index.data(ENTRY_ROLE)
        if isinstance(entry, TimelineEntry):
            self.activated.emit(entry)
