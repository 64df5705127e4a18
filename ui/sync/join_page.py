"""First start on a new computer of a clinic that already uses Frontdesk: join it with a code.

An administrator on a workstation that is already connected shows a one-time code
(Settings ▸ Sync ▸ Add a workstation…). Here it is typed or pasted, in any case, with
or without dashes (app/sync/enrollment.parse_code says what is wrong in words). Then:
the code is used at the sync server and both screens show the same check code; the
other workstation sends the clinic's key; the clinic's data is copied from the sync
server; and Frontdesk opens at the usual sign-in, where everyone uses their own name
and password as on the other workstations. Every step that waits on the network runs
off the GUI thread with its progress and Cancel on this page.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from app.clinic import Clinic
from app.errors import FrontdeskError
from app.ops import CancelToken, OperationCancelledError, Progress
from app.store.paths import data_home
from app.sync.enrollment import JOIN_WAITING, PendingJoin, claim, join_clinic, parse_code
from ui.ops import Op
from ui.sync.add_dialog import big_font, selectable
from ui.task_tray import TaskTray
from ui.unlock import error_label, show_error

HOW = (
    "On a workstation of the clinic that already uses Frontdesk, an administrator opens "
    "Settings ▸ Sync and presses <b>Add a workstation…</b>. Type or paste the code it "
    "shows. Nothing is copied until that workstation lets this one join."
)
UNEXPECTED = "Something unexpected stopped it. Try again; if it goes on, ask for help."


def size_words(count: int) -> str:
    """1,234,567,890 → '1.2 GB'; small clinics read in MB."""
    if count >= 1_000_000_000:
        return f"{count / 1_000_000_000:.1f} GB"
    return f"{count / 1_000_000:.1f} MB"


def copy_words(done: int, total: int) -> str:
    """'Copying the clinic's data (1.2 GB of 2.5 GB)'."""
    if total <= 0:
        return "Copying the clinic's data…"
    return f"Copying the clinic's data ({size_words(done)} of {size_words(total)})"


class JoinPage(QWizardPage):
    """The wizard's page for joining; `joined` carries the opened Clinic at the end.
    `step` names where it is ("code", "claiming", "waiting", "copying", "joined") for
    whoever watches (tests)."""

    joined = Signal(object)
    new_clinic_instead = Signal()

    def __init__(self, home: Path | None) -> None:
        super().__init__()
        self.home = home
        self.clinic: Clinic | None = None
        self.pending: PendingJoin | None = None
        self.last_op: Op[Any] | None = None
        self.step = "code"
        self.setTitle("Join a clinic that already uses Frontdesk")
        self.setSubTitle(
            "This computer becomes another workstation of the clinic, with the same "
            "patients, kept the same through the clinic's sync server."
        )
        self.setFinalPage(True)
        how = QLabel(HOW)
        how.setWordWrap(True)
        how.setTextFormat(Qt.TextFormat.RichText)
        how.setAccessibleName("Where the code comes from")
        self.code = QLineEdit()
        self.code.setAccessibleName("Code from the other workstation")
        self.code.setPlaceholderText("https://sync.example.org ABCD-EFGH-JKLM-NPQR-STUV-WXYZ")
        self.code.returnPressed.connect(self.join)
        self.code.textChanged.connect(lambda _t: self._code_edited())
        caption = QLabel("&Code:")
        caption.setBuddy(self.code)
        self.join_button = QPushButton("&Join")
        self.join_button.setAccessibleName("Join the clinic with this code")
        self.join_button.setEnabled(False)
        self.join_button.clicked.connect(self.join)
        self.code_error = error_label("Problem with the code")
        code_row = QHBoxLayout()
        code_row.addWidget(caption)
        code_row.addWidget(self.code, 1)
        code_row.addWidget(self.join_button)

        self.check_intro = QLabel(
            "Check that the other workstation shows the same check code, then let it join there:"
        )
        self.check_intro.setWordWrap(True)
        self.check_label = selectable(QLabel())
        self.check_label.setAccessibleName("Check code")
        self.check_label.setFont(big_font(2.4))
        self.check_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.check_label.setFrameShape(QFrame.Shape.Box)
        self.check_label.setMargin(12)
        self.check_box = QWidget()
        check_layout = QVBoxLayout(self.check_box)
        check_layout.setContentsMargins(0, 0, 0, 0)
        check_layout.addWidget(self.check_intro)
        check_layout.addWidget(self.check_label)
        self.check_box.hide()

        self.tray = TaskTray()
        self.tray.bar.setMaximumWidth(16_777_215)
        self.tray.cancel_button.setAccessibleName("Cancel joining")
        tray_layout = self.tray.layout()
        if isinstance(tray_layout, QHBoxLayout):
            tray_layout.setStretch(0, 1)
            tray_layout.setStretch(1, 1)
        self.done_label = QLabel()
        self.done_label.setWordWrap(True)
        self.done_label.setAccessibleName("Joined")
        self.done_label.hide()
        self.instead = QPushButton("Set up a &new clinic instead")
        self.instead.setAccessibleName("Set up a new clinic instead")
        self.instead.clicked.connect(self.new_clinic_instead)

        layout = QVBoxLayout(self)
        layout.addWidget(how)
        layout.addSpacing(6)
        layout.addLayout(code_row)
        layout.addWidget(self.code_error)
        layout.addWidget(self.check_box)
        layout.addWidget(self.tray)
        layout.addWidget(self.done_label)
        layout.addStretch(1)
        layout.addWidget(self.instead, 0, Qt.AlignmentFlag.AlignLeft)

    # --- the wizard's questions ----------------------------------------------------------

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        self.code.setFocus()

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return self.clinic is not None

    def nextId(self) -> int:  # noqa: N802 - Qt's name
        return -1

    @property
    def busy(self) -> bool:
        return self.last_op is not None and not self.last_op.finished

    # --- the steps -----------------------------------------------------------------------

    def _code_edited(self) -> None:
        show_error(self.code_error, "")
        self.join_button.setEnabled(bool(self.code.text().strip()) and not self.busy)

    def join(self) -> None:
        if self.busy or self.clinic is not None:
            return
        try:
            code = parse_code(self.code.text())
        except FrontdeskError as exc:
            show_error(self.code_error, str(exc))
            self.code.setFocus()
            return
        self._editing(False)
        self.step = "claiming"

        def work(_progress: Progress, _cancel: CancelToken) -> PendingJoin:
            return claim(code)

        self._run("Using the code at the sync server…", work, self._claimed)

    def _claimed(self, pending: PendingJoin) -> None:
        self.pending = pending
        self.step = "waiting"
        self.check_label.setText(pending.check_code)
        self.check_box.show()
        home = self.home or data_home()

        def work(progress: Progress, cancel: CancelToken) -> Clinic:
            def step(done: int, total: int, what: str) -> None:
                if what == JOIN_WAITING:
                    progress(0, 0, what)
                    return
                self.step = "copying"
                progress(done, total, copy_words(done, total))

            return join_clinic(pending, home, cancel=cancel, progress=step)

        self._run(JOIN_WAITING, work, self._joined)

    def _joined(self, clinic: Clinic) -> None:
        self.clinic = clinic
        self.step = "joined"
        self.check_box.hide()
        self.instead.hide()
        self.done_label.setText(
            f"This computer is now a workstation of {clinic.settings.name}. Press Open "
            "Frontdesk, then sign in with your own name and password as on the other "
            "workstations."
        )
        self.done_label.show()
        self.completeChanged.emit()
        self.joined.emit(clinic)

    def _failed(self, exc: BaseException) -> None:
        self.step = "code"
        self.pending = None
        self.check_box.hide()
        self._editing(True)
        if isinstance(exc, OperationCancelledError):
            show_error(self.code_error, "Cancelled: nothing was copied. Join again when ready.")
        else:
            show_error(self.code_error, str(exc) if isinstance(exc, FrontdeskError) else UNEXPECTED)
        self.code.setFocus()

    def _editing(self, on: bool) -> None:
        self.code.setReadOnly(not on)
        self.join_button.setEnabled(on and bool(self.code.text().strip()))
        self.instead.setEnabled(on)

    def _run(
        self,
        title: str,
        work: Callable[[Progress, CancelToken], Any],
        done: Callable[[Any], None],
    ) -> None:
        self.last_op = (
            Op(self, title, work).in_tray(self.tray).success(done).failure(self._failed)
        ).run_in_background()
        self.tray.label.setText(title)

    def cancel(self) -> None:
        """The wizard closes: whatever waits or copies stops; nothing half-made is kept."""
        if self.last_op is not None and not self.last_op.finished:
            self.last_op.cancel.cancel()
