"""Past imports: what each import brought in, by whom and when, and taking one back.

Undo is refused while newer work depends on the import (a call logged on an imported
patient, a merge); the reasons are shown right under the list, not in a popup, so the
person can read them while looking at the import they concern.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.errors import FrontdeskError, UndoBlockedError
from app.importers.batches import BatchInfo, list_batches, undo_batch, undo_blockers
from app.ops import CancelToken, Progress
from app.store.changes import Changes
from ui.bus import DataBus
from ui.forms.base import PendingQuestion
from ui.importing.review import local_text
from ui.ops import Op, show_error
from ui.theme import ToneLabel, error_line

COLUMNS = ("When", "Who", "Files", "What it brought in", "Status")


def counts_text(counts: dict[str, dict[str, int]]) -> str:
    """'patients: 12 new, 3 updated; visits: 40 new' (kinds with nothing done left out)."""
    parts = []
    for kind, numbers in counts.items():
        said = [
            f"{numbers.get(name, 0):,} {word}"
            for name, word in (
                ("created", "new"),
                ("updated", "updated"),
                ("unchanged", "unchanged"),
                ("failed", "failed"),
            )
            if numbers.get(name, 0)
        ]
        if said:
            parts.append(f"{kind}: {', '.join(said)}")
    return "; ".join(parts) or "nothing"


def files_text(files: tuple[str, ...]) -> str:
    if len(files) <= 1:
        return files[0] if files else ""
    shown = ", ".join(files[:2])
    more = len(files) - 2
    return f"{len(files)} files: {shown}" + (f" and {more} more" if more > 0 else "")


class PastImportsDialog(QDialog):
    """File ▸ Past imports…"""

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.bus = bus
        self.zone = ZoneInfo(clinic.settings.timezone)
        self.batches: list[BatchInfo] = []
        self.question = PendingQuestion()
        self.op: Op[Changes] | None = None
        self.setWindowTitle("Past imports")
        self.setAccessibleName("Past imports")
        self.setSizeGripEnabled(True)
        self.resize(1000, 520)

        intro = QLabel(
            "Every import made on this computer, newest first. Undoing an import removes "
            "what it added and puts back what it changed."
        )
        intro.setWordWrap(True)
        intro.setAccessibleName("About past imports")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setAccessibleName("Past imports")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setTabKeyNavigation(False)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        for column in (0, 1, 4):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(2, self.fontMetrics().averageCharWidth() * 32)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.empty = QLabel("No imports yet. File ▸ Import from your EMR… brings patients in.")
        self.empty.setAccessibleName("No imports yet")

        self.undo_button = QPushButton("&Undo this import…")
        self.undo_button.setAccessibleName("Undo this import")
        self.undo_button.clicked.connect(self.ask_undo)
        self.blocked = ToneLabel(tone="warning", bold=False)
        self.blocked.setAccessibleName("Why this import cannot be undone")
        self.blocked.setWordWrap(True)
        self.blocked.hide()
        self.message = QLabel()
        self.message.setAccessibleName("Past imports status")
        self.message.setWordWrap(True)
        self.error = error_line()
        self.error.setAccessibleName("Past imports error")
        self.error.setWordWrap(True)
        self.error.hide()
        actions = QHBoxLayout()
        actions.addWidget(self.message, 1)
        actions.addWidget(self.undo_button)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close = self.buttons.button(QDialogButtonBox.StandardButton.Close)
        close.setAccessibleName("Close")
        close.setAutoDefault(False)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.empty)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)
        layout.addWidget(self.blocked)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.bus.changed.connect(self._changed)
        self.refresh()

    def refresh(self) -> None:
        keep = self.current_batch()
        self.batches = list_batches(self.clinic)
        self.table.setRowCount(len(self.batches))
        for row, batch in enumerate(self.batches):
            status = "Done"
            if batch.status == "undone":
                when = local_text(batch.undone_at, self.zone)
                status = f"Undone {when}".strip()
            cells = (
                local_text(batch.started_at, self.zone),
                batch.created_by or "—",
                files_text(batch.files),
                counts_text(batch.counts),
                status,
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip("\n".join(batch.files) if column == 2 else text)
                self.table.setItem(row, column, item)
        self.empty.setVisible(not self.batches)
        self.table.setVisible(bool(self.batches))
        ids = [b.id for b in self.batches]
        if self.batches:
            self.table.selectRow(ids.index(keep.id) if keep is not None and keep.id in ids else 0)
        self._selection_changed()

    def current_batch(self) -> BatchInfo | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        row = rows[0].row() if rows else -1
        return self.batches[row] if 0 <= row < len(self.batches) else None

    def _selection_changed(self) -> None:
        batch = self.current_batch()
        self.undo_button.setEnabled(
            batch is not None and batch.status == "done" and self.op is None
        )
        self.blocked.hide()
        self.error.hide()

    # --- undo -----------------------------------------------------------------------

    def ask_undo(self) -> QMessageBox | None:
        """Say why it cannot be undone, or ask to confirm; the undo itself runs after Yes."""
        batch = self.current_batch()
        if batch is None or self.confirm_box is not None or self.op is not None:
            return self.confirm_box
        self.error.hide()
        try:
            reasons = undo_blockers(self.clinic, batch.id)
        except FrontdeskError as exc:
            self._show_error(str(exc))
            return None
        if reasons:
            self._show_blocked(reasons)
            return None
        created = sum(n.get("created", 0) for n in batch.counts.values())
        updated = sum(n.get("updated", 0) for n in batch.counts.values())
        return self.question.ask(
            self,
            "Undo this import?",
            f"The {created:,} records it added are removed"
            + (f" and the {updated:,} it changed are put back as they were" if updated else "")
            + ". Frontdesk will be as it was before this import.",
            yes="Undo the import",
            no="Keep it",
            then=lambda: self.undo(batch),
        )

    @property
    def confirm_box(self) -> QMessageBox | None:
        """The open "Undo this import?" question, if any."""
        return self.question.box

    def answer_undo(self, yes: bool) -> None:
        """Answer the open question as the person would (tests, and code)."""
        self.question.answer(yes)

    def undo(self, batch: BatchInfo) -> Op[Changes]:
        """Undo off the GUI thread (a big import takes a while), with progress."""
        clinic = self.clinic

        def work(progress: Progress, _cancel: CancelToken) -> Changes:
            worker = clinic.fork()
            try:
                return undo_batch(worker, batch.id, progress=progress)
            finally:
                worker.close()

        self.undo_button.setEnabled(False)
        self.message.setText("Undoing the import…")
        self.op = Op(self, "Undoing the import", work).success(self._undone).failure(self._failed)
        return self.op.run_in_background()

    def _undone(self, changes: Changes) -> None:
        self.op = None
        self.message.setText("The import was undone.")
        self.bus.publish(changes)
        self.refresh()

    def _failed(self, exc: BaseException) -> None:
        self.op = None
        self.message.setText("")
        if isinstance(exc, UndoBlockedError):
            self._show_blocked(exc.reasons)
        elif isinstance(exc, FrontdeskError):
            self._show_error(str(exc))
        else:
            show_error(self, self.windowTitle(), exc)
        self._selection_changed_keep_messages()

    def _selection_changed_keep_messages(self) -> None:
        batch = self.current_batch()
        self.undo_button.setEnabled(batch is not None and batch.status == "done")

    def _show_blocked(self, reasons: list[str]) -> None:
        self.blocked.setText(
            "This import cannot be undone now, because newer work depends on it:\n"
            + "\n".join(f"• {reason}" for reason in reasons)
        )
        self.blocked.show()

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()

    def _changed(self, changes: Changes) -> None:
        if self.op is None and changes.touches("import_batch", "patient"):
            self.refresh()

    def reject(self) -> None:
        if self.op is not None:
            return  # the undo finishes first: it is one transaction and cannot stop half-way
        super().reject()
