"""Merge review: is this imported patient someone the clinic already has?

The import never merges on its own (a wrong merge mixes two people's records); it
queues look-alikes here. The person sees both records side by side and decides.
A merge keeps everything of both and can be undone from the Decided tab, so the
confirmation says exactly that rather than warning about loss that cannot happen.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.errors import FrontdeskError
from app.importers.merge_review import (
    ReviewItem,
    ReviewPerson,
    decided_reviews,
    keep_apart,
    merge,
    open_reviews,
    undo_decision,
)
from app.patients.validation import display_phone
from app.store.changes import Changes
from ui.bus import DataBus
from ui.forms.base import PendingQuestion
from ui.ops import show_error
from ui.theme import ToneLabel, error_line

ROWS = (
    ("Name", "display_name"),
    ("Birth date", "birth_date"),
    ("Phone", "phone"),
    ("Email", "email"),
    ("Address", "address"),
    ("Identifiers", "identifiers"),
    ("Visits", "visits"),
)
_DECISION_WORDS = {"merged": "Merged", "kept-apart": "Kept apart", "open": "Open"}


def person_value(person: ReviewPerson, attribute: str, region: str = "US") -> str:
    value = getattr(person, attribute)
    if attribute == "phone" and value:
        return display_phone(str(value), region)
    if attribute == "identifiers":
        return "; ".join(value) if value else ""
    if attribute == "visits":
        return f"{value:,}"
    return str(value or "")


def _same(first: str, second: str) -> str:
    if not first or not second:
        return ""
    return "same" if first.casefold().strip() == second.casefold().strip() else "different"


def local_text(utc: str | None, zone: ZoneInfo) -> str:
    """A stored UTC time as the clinic reads it: "Tue 3 Mar 2026 14:05"."""
    if not utc:
        return ""
    try:
        moment = datetime.fromisoformat(utc.replace("Z", "+00:00")).astimezone(zone)
    except ValueError:
        return utc
    return f"{moment:%a} {moment.day} {moment:%b %Y %H:%M}"


class MergeReviewDialog(QDialog):
    """File ▸ Review possible duplicates…, and the summary's "Review N possible duplicates"."""

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.zone = ZoneInfo(clinic.settings.timezone)
        self.open_items: list[ReviewItem] = []
        self.decided_items: list[ReviewItem] = []
        self.question = PendingQuestion()  # the open "Merge these two records?"
        self.setWindowTitle("Possible duplicates")
        self.setAccessibleName("Possible duplicates")
        self.setSizeGripEnabled(True)
        self.resize(1000, 620)

        intro = QLabel(
            "An import brought in these patients, and each looks like a patient already in "
            "Frontdesk without sharing an ID with them. Compare the two and decide; nothing "
            "is merged until you say so."
        )
        intro.setWordWrap(True)
        intro.setAccessibleName("About possible duplicates")

        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Possible duplicates")
        self.tabs.addTab(self._build_open_tab(), "To decide")
        self.tabs.addTab(self._build_decided_tab(), "Decided")

        self.error = error_line()
        self.error.setAccessibleName("Merge review error")
        self.error.setWordWrap(True)
        self.error.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close = self.buttons.button(QDialogButtonBox.StandardButton.Close)
        close.setAccessibleName("Close")
        close.setAutoDefault(False)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.bus.changed.connect(self._changed)
        self.refresh()

    # --- building -------------------------------------------------------------------

    def _build_open_tab(self) -> QWidget:
        self.open_list = QListWidget()
        self.open_list.setAccessibleName("Pairs to decide")
        self.open_list.currentRowChanged.connect(self._show_current)
        self.compare = QTableWidget(len(ROWS), 3)
        self.compare.setAccessibleName("The two records side by side")
        self.compare.setHorizontalHeaderLabels(["From the import", "Already in Frontdesk", "Match"])
        self.compare.setVerticalHeaderLabels([label for label, _ in ROWS])
        self.compare.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.compare.setTabKeyNavigation(False)
        self.compare.setWordWrap(True)
        header = self.compare.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        rows = self.compare.verticalHeader()
        rows.setMinimumSectionSize(self.fontMetrics().height() * 2)
        rows.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.compare.setSizeAdjustPolicy(QTableWidget.SizeAdjustPolicy.AdjustToContents)
        self.compare.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.reason = ToneLabel(tone="info", bold=True)
        self.reason.setAccessibleName("Why they look alike")
        self.reason.setWordWrap(True)
        self.merge_button = QPushButton("&Same person — merge…")
        self.merge_button.setAccessibleName("Same person, merge")
        self.merge_button.clicked.connect(self.ask_merge)
        self.apart_button = QPushButton("&Different people — keep apart")
        self.apart_button.setAccessibleName("Different people, keep apart")
        self.apart_button.clicked.connect(self.keep_apart_current)
        self.empty = QLabel("Nothing to decide: no possible duplicates are waiting.")
        self.empty.setAccessibleName("Nothing to decide")
        self.empty.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.apart_button)
        buttons.addWidget(self.merge_button)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.reason)
        right_layout.addWidget(self.compare)
        right_layout.addLayout(buttons)
        right_layout.addStretch(1)
        self.open_split = QSplitter()
        self.open_split.addWidget(self.open_list)
        self.open_split.addWidget(right)
        self.open_split.setStretchFactor(1, 1)
        self.open_split.setSizes([300, 700])
        self.open_split.setChildrenCollapsible(False)
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addWidget(self.empty)
        layout.addWidget(self.open_split, 1)
        return tab

    def _build_decided_tab(self) -> QWidget:
        self.decided_list = QListWidget()
        self.decided_list.setAccessibleName("Decisions made")
        self.undo_button = QPushButton("&Undo this decision")
        self.undo_button.setAccessibleName("Undo this decision")
        self.undo_button.clicked.connect(self.undo_current)
        self.decided_list.currentRowChanged.connect(
            lambda row: self.undo_button.setEnabled(row >= 0)
        )
        hint = ToneLabel(
            "Undoing a merge moves the imported record's visits, contacts and history back "
            "to it; undoing “keep apart” puts the pair back to decide.",
            tone="muted",
        )
        hint.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(hint, 1)
        row.addWidget(self.undo_button)
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addWidget(self.decided_list, 1)
        layout.addLayout(row)
        return tab

    # --- showing --------------------------------------------------------------------

    def refresh(self) -> None:
        keep = self.current_item()
        self.open_items = open_reviews(self.clinic)
        self.decided_items = decided_reviews(self.clinic)
        self.open_list.blockSignals(True)
        self.open_list.clear()
        for item in self.open_items:
            birth = f", born {item.imported.birth_date}" if item.imported.birth_date else ""
            entry = QListWidgetItem(
                f"{item.imported.display_name}{birth}\nmay be {item.existing.display_name}"
            )
            entry.setData(Qt.ItemDataRole.AccessibleTextRole, entry.text().replace("\n", ", "))
            self.open_list.addItem(entry)
        self.open_list.blockSignals(False)
        ids = [i.id for i in self.open_items]
        row = ids.index(keep.id) if keep is not None and keep.id in ids else 0
        self.open_list.setCurrentRow(row if self.open_items else -1)
        self._show_current()
        self.decided_list.clear()
        for item in self.decided_items:
            word = _DECISION_WORDS.get(item.status, item.status)
            when = local_text(item.decided_at, self.zone)
            self.decided_list.addItem(
                f"{word}: {item.imported.display_name} and {item.existing.display_name}"
                + (f"  ·  {when}" if when else "")
            )
        self.decided_list.setCurrentRow(0 if self.decided_items else -1)
        self.undo_button.setEnabled(bool(self.decided_items))
        count = len(self.open_items)
        self.tabs.setTabText(0, f"To decide ({count})")
        self.tabs.setTabText(1, f"Decided ({len(self.decided_items)})")
        self.empty.setVisible(count == 0)
        self.open_split.setVisible(count > 0)

    def current_item(self) -> ReviewItem | None:
        row = self.open_list.currentRow() if hasattr(self, "open_list") else -1
        return self.open_items[row] if 0 <= row < len(self.open_items) else None

    def _show_current(self) -> None:
        item = self.current_item()
        self.merge_button.setEnabled(item is not None)
        self.apart_button.setEnabled(item is not None)
        if item is None:
            self.reason.setText("")
            self.compare.clearContents()
            return
        self.reason.setText(f"Why they look alike: {item.reason}")
        for row, (_label, attribute) in enumerate(ROWS):
            region = self.clinic.settings.region
            first = person_value(item.imported, attribute, region)
            second = person_value(item.existing, attribute, region)
            same = _same(first, second) if attribute != "visits" else ""
            for column, text in enumerate((first or "—", second or "—", same)):
                cell = QTableWidgetItem(text)
                cell.setToolTip(text)
                if same == "same" and column < 2:
                    font = cell.font()
                    font.setBold(True)
                    cell.setFont(font)
                self.compare.setItem(row, column, cell)

    # --- deciding -------------------------------------------------------------------

    def ask_merge(self) -> QMessageBox | None:
        item = self.current_item()
        if item is None or self.merge_box is not None:
            return self.merge_box
        return self.question.ask(
            self,
            "Merge these two records?",
            f"{item.existing.display_name} stays, and everything of the imported record "
            "(visits, calls, phones, emails, addresses and identifiers) moves onto it. "
            "Nothing is deleted, and you can undo the merge later under Decided.",
            yes="Merge",
            no="Don't merge",
            then=lambda: self._decide(lambda: merge(self.clinic, item.id)),
        )

    @property
    def merge_box(self) -> QMessageBox | None:
        """The open "Merge these two records?" question, if any."""
        return self.question.box

    def answer_merge(self, yes: bool) -> None:
        """Answer the open question as the person would (tests, and code)."""
        self.question.answer(yes)

    def keep_apart_current(self) -> None:
        item = self.current_item()
        if item is not None:
            self._decide(lambda: keep_apart(self.clinic, item.id))

    def undo_current(self) -> None:
        row = self.decided_list.currentRow()
        if 0 <= row < len(self.decided_items):
            review_id = self.decided_items[row].id
            self._decide(lambda: undo_decision(self.clinic, review_id))

    def _decide(self, action: Callable[[], Changes]) -> None:
        self.error.hide()
        try:
            changes = action()
        except FrontdeskError as exc:
            self.error.setText(str(exc))
            self.error.show()
            self.refresh()
            return
        except Exception as exc:  # noqa: BLE001 - shown plainly, never a traceback
            show_error(self, self.windowTitle(), exc)
            return
        self.bus.publish(changes)  # refresh() follows from _changed
        if not changes.touches("merge_review"):
            self.refresh()
        (self.open_list if self.tabs.currentIndex() == 0 else self.decided_list).setFocus()

    def _changed(self, changes: Changes) -> None:
        if changes.touches("merge_review", "patient"):
            self.refresh()
