"""Add a workstation: a one-time code (letters and a QR picture), the wait, the check, the key.

The steps follow app/sync/enrollment.py: the code is made at the sync server
(create_invite), the dialog waits for the new workstation to enter it (wait_for_claim,
which also checks that it knew the whole code), shows the short check code both screens
show, and only when the administrator says so seals the clinic's keys to it (admit).
Every step that talks to the sync server runs off the GUI thread with progress and
Cancel in the dialog itself. Nothing of the code is kept once the dialog closes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.errors import FrontdeskError
from app.ops import CancelToken, OperationCancelledError, Progress
from app.store.changes import Changes
from app.sync.devices import revoke_device
from app.sync.enrollment import Claim, Invite, admit, create_invite, wait_for_claim
from ui.ops import Op
from ui.sync.qr_picture import QrPicture
from ui.task_tray import TaskTray
from ui.unlock import error_label, hint_label, show_error

INSTRUCTIONS = (
    "On the new computer, install Frontdesk and start it. On its first screen choose "
    "<b>This clinic already uses Frontdesk on another computer — join it</b>, then type "
    "this code there:"
)
UNEXPECTED = "Something unexpected stopped it. Close this window and try again."


def split_code(code: str) -> tuple[str, str]:
    """('https://sync.example.org', 'ABCD-EFGH-…') from the code as the core writes it."""
    address, _, groups = code.strip().partition(" ")
    return address, groups.strip()


def big_font(factor: float) -> QFont:
    """The fixed-width font, larger: 8 and B, 5 and S stay apart when read across a desk."""
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setPointSizeF(max(font.pointSizeF(), 10.0) * factor)
    font.setWeight(QFont.Weight.Bold)
    return font


def selectable(label: QLabel) -> QLabel:
    label.setTextInteractionFlags(
        Qt.TextInteractionFlag.TextSelectableByMouse
        | Qt.TextInteractionFlag.TextSelectableByKeyboard
    )
    label.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    return label


def countdown_words(expires_at: datetime, now: datetime) -> str:
    left = int((expires_at - now).total_seconds())
    if left <= 0:
        return "The code has expired."
    minutes, seconds = divmod(left, 60)
    return f"The code works for {minutes}:{seconds:02d} more (minutes:seconds)."


class AddWorkstationDialog(QDialog):
    """Window-modal. `joined` is emitted with the Changes of the new workstation's record
    once its keys were sent; `state` names the step ("making", "waiting", "claimed",
    "sending", "done", "failed", "refused") for whoever watches (tests)."""

    joined = Signal(object)
    turned_away = Signal(object)  # Changes: the refused computer removed

    def __init__(self, clinic: Clinic, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic = clinic
        self.invite: Invite | None = None
        self.claim: Claim | None = None
        self.state = "making"
        self.last_op: Op[Any] | None = None
        self._closed = False
        self.setWindowTitle("Add a workstation")
        self.setAccessibleName("Add a workstation")
        self.setWindowModality(Qt.WindowModality.WindowModal)

        self.pages = QStackedWidget()
        self.pages.addWidget(self._code_page())
        self.pages.addWidget(self._claim_page())
        self.pages.addWidget(self._done_page())

        # The wait's words and bar; the dialog's own Cancel stops it (one Cancel, not two).
        self.tray = TaskTray()
        self.tray.cancel_button.hide()
        tray_layout = self.tray.layout()
        if isinstance(tray_layout, QHBoxLayout):
            tray_layout.setStretch(0, 1)
        self.error = error_label("Problem adding the workstation")
        self.again_button = QPushButton("Make a new code")
        self.again_button.setAccessibleName("Make a new code")
        self.again_button.clicked.connect(self.make_code)
        self.again_button.hide()
        self.close_button = QPushButton("Cancel")
        self.close_button.setAccessibleName("Cancel adding a workstation")
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.again_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.pages, 1)
        layout.addWidget(self.tray)
        layout.addWidget(self.error)
        layout.addLayout(buttons)

        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._count_down)
        metrics = self.fontMetrics()
        self.resize(metrics.averageCharWidth() * 100, metrics.lineSpacing() * 30)

    # --- building ----------------------------------------------------------------------

    def _code_page(self) -> QWidget:
        page = QWidget()
        intro = QLabel(INSTRUCTIONS)
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.RichText)
        intro.setAccessibleName("What to do on the new computer")
        self.address_label = selectable(QLabel())
        self.address_label.setAccessibleName("Sync server address in the code")
        self.code_label = selectable(QLabel("…"))
        self.code_label.setAccessibleName("Enrollment code")
        self.code_label.setFont(big_font(1.8))
        self.code_label.setFrameShape(QFrame.Shape.Box)
        self.code_label.setMargin(12)
        self.code_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.code_label.setWordWrap(True)
        self.copy_button = QPushButton("&Copy the code")
        self.copy_button.setAccessibleName("Copy the code")
        self.copy_button.setEnabled(False)
        self.copy_button.clicked.connect(self.copy_code)
        self.copied = hint_label("")
        self.copied.setAccessibleName("Copied")
        self.copied.hide()
        self.countdown = hint_label("")
        self.countdown.setAccessibleName("Time left to use the code")
        self.qr = QrPicture()
        qr_note = hint_label("The same code as a QR picture:")
        qr_note.setAccessibleName("About the QR picture")
        left = QVBoxLayout()
        left.addWidget(self.copy_button, 0, Qt.AlignmentFlag.AlignLeft)
        left.addWidget(self.copied)
        left.addWidget(self.countdown)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(qr_note)
        right.addWidget(self.qr, 0, Qt.AlignmentFlag.AlignHCenter)
        right.addStretch(1)
        row = QHBoxLayout()
        row.addLayout(left, 1)
        row.addLayout(right)
        layout = QVBoxLayout(page)
        layout.addWidget(intro)
        layout.addWidget(self.address_label)
        layout.addWidget(self.code_label)
        layout.addLayout(row, 1)
        return page

    def _claim_page(self) -> QWidget:
        page = QWidget()
        self.claim_title = QLabel("<b>A new workstation wants to join — the code matched.</b>")
        self.claim_title.setTextFormat(Qt.TextFormat.RichText)
        self.claim_title.setWordWrap(True)
        self.claim_title.setAccessibleName("A new workstation wants to join")
        check_intro = QLabel(
            "Check that the new computer shows the same check code before you let it join:"
        )
        check_intro.setWordWrap(True)
        self.check_label = selectable(QLabel())
        self.check_label.setAccessibleName("Check code")
        self.check_label.setFont(big_font(2.4))
        self.check_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.check_label.setFrameShape(QFrame.Shape.Box)
        self.check_label.setMargin(12)
        explain = hint_label(
            "Letting it join sends the clinic's key to that computer, sealed so that only it "
            "can open it. The sync server never sees the key. If the check codes differ, "
            "press Don't let it join."
        )
        self.admit_button = QPushButton("&Let it join")
        self.admit_button.setAccessibleName("Let the new workstation join")
        self.admit_button.setDefault(True)
        self.admit_button.clicked.connect(self.let_it_join)
        self.refuse_button = QPushButton("&Don't let it join")
        self.refuse_button.setAccessibleName("Don't let the new workstation join")
        self.refuse_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.admit_button)
        buttons.addWidget(self.refuse_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(page)
        layout.addWidget(self.claim_title)
        layout.addWidget(check_intro)
        layout.addWidget(self.check_label)
        layout.addWidget(explain)
        layout.addLayout(buttons)
        layout.addStretch(1)
        return page

    def _done_page(self) -> QWidget:
        page = QWidget()
        self.done_label = QLabel()
        self.done_label.setWordWrap(True)
        self.done_label.setAccessibleName("The new workstation was let in")
        layout = QVBoxLayout(page)
        layout.addWidget(self.done_label)
        layout.addStretch(1)
        return page

    # --- the steps ---------------------------------------------------------------------

    def open(self) -> None:
        super().open()
        self.make_code()

    def _run(
        self,
        title: str,
        work: Callable[[Progress, CancelToken], Any],
        done: Callable[[Any], None],
    ) -> None:
        """Run `work` off the GUI thread; its outcome is dropped once the dialog closed."""

        def succeeded(result: Any) -> None:
            if self._alive():
                done(result)

        def failed(exc: BaseException) -> None:
            if self._alive():
                self._failed(exc)

        self.last_op = (
            Op(self, title, work).in_tray(self.tray).success(succeeded).failure(failed)
        ).run_in_background()

    def _alive(self) -> bool:
        return not self._closed and shiboken6.isValid(self)

    def make_code(self) -> None:
        self.state = "making"
        self.invite = None
        self.claim = None
        show_error(self.error, "")
        self.again_button.hide()
        self.pages.setCurrentIndex(0)
        self.code_label.setText("…")
        self.address_label.setText("")
        self.copy_button.setEnabled(False)
        self.qr.set_matrix(())
        clinic = self.clinic

        def work(_progress: Progress, _cancel: CancelToken) -> Invite:
            fork = clinic.fork()
            try:
                return create_invite(fork)
            finally:
                fork.close()

        self._run("Making a one-time code at the sync server…", work, self._show_code)

    def _show_code(self, invite: Invite) -> None:
        self.invite = invite
        self.state = "waiting"
        address, groups = split_code(invite.code)
        self.address_label.setText(f"Sync server: {address}")
        self.code_label.setText(groups.replace("-", "  "))
        self.code_label.setAccessibleDescription(" ".join(groups.replace("-", " ")))
        self.copy_button.setEnabled(True)
        self.qr.set_matrix(invite.qr)
        self._count_down()
        self._tick.start()
        self.copy_button.setFocus()
        clinic = self.clinic

        def work(progress: Progress, cancel: CancelToken) -> Claim:
            fork = clinic.fork()
            try:
                return wait_for_claim(fork, invite, cancel=cancel, progress=progress)
            finally:
                fork.close()

        self._run("Waiting for the new workstation to enter the code…", work, self._claimed)

    def _count_down(self) -> None:
        if self.invite is None:
            return
        words = countdown_words(self.invite.expires_at, datetime.now(UTC))
        self.countdown.setText(words)
        if words.startswith("The code has expired"):
            self._tick.stop()

    def copy_code(self) -> None:
        if self.invite is None:
            return
        QGuiApplication.clipboard().setText(self.invite.code)
        self.copied.setText("Copied. Paste it on the new computer.")
        self.copied.show()

    def _claimed(self, claim: Claim) -> None:
        self.claim = claim
        self.state = "claimed"
        self._tick.stop()
        who = _escape(claim.name) if claim.name else "A new workstation"
        self.claim_title.setText(f"<b>{who} wants to join — the code matched.</b>")
        self.claim_title.setAccessibleName(f"{claim.name or 'A new workstation'} wants to join")
        self.check_label.setText(claim.check_code)
        self.pages.setCurrentIndex(1)
        self.admit_button.setFocus()

    def let_it_join(self) -> None:
        invite, claim = self.invite, self.claim
        if invite is None or claim is None:
            return
        self.state = "sending"
        self.admit_button.setEnabled(False)
        self.refuse_button.setEnabled(False)
        clinic = self.clinic

        def work(_progress: Progress, _cancel: CancelToken) -> Changes:
            fork = clinic.fork()
            try:
                return admit(fork, invite, claim)
            finally:
                fork.close()

        self._run("Sending the clinic's key to the new workstation…", work, self._admitted)

    def _admitted(self, changes: Changes) -> None:
        self.state = "done"
        self.invite = None
        self.done_label.setText(
            "The new workstation has the clinic's key and is copying the clinic's data now. "
            "It appears in the list of workstations when it has finished; on a large clinic "
            "this can take several minutes."
        )
        self.pages.setCurrentIndex(2)
        self.close_button.setText("Close")
        self.close_button.setAccessibleName("Close")
        self.close_button.setFocus()
        self.joined.emit(changes)

    def _failed(self, exc: BaseException) -> None:
        if isinstance(exc, OperationCancelledError):
            return
        self.state = "failed"
        self._tick.stop()
        show_error(self.error, str(exc) if isinstance(exc, FrontdeskError) else UNEXPECTED)
        self.admit_button.setEnabled(True)
        self.refuse_button.setEnabled(True)
        if self.claim is None:
            self.again_button.show()
            self.again_button.setFocus()

    # --- closing -----------------------------------------------------------------------

    def done(self, result: int) -> None:
        """Cancel, Don't let it join, Close, Esc: whatever runs is cancelled; the code is
        forgotten (it expires at the sync server by itself, unusable without its secret)."""
        claimed = self.claim if self.state in ("claimed", "failed") else None
        self._closed = True
        self._tick.stop()
        if self.last_op is not None and not self.last_op.finished:
            self.last_op.cancel.cancel()
        if claimed is not None and result != QDialog.DialogCode.Accepted:
            self._turn_away(claimed)
        self.invite = None
        super().done(result)

    def _turn_away(self, claim: Claim) -> None:
        """A computer that used the code but was not let in holds a sync server login
        without the key: remove it at once (it appears as removed in the list)."""
        self.state = "refused"
        clinic = self.clinic

        def work(_progress: Progress, _cancel: CancelToken) -> Changes:
            fork = clinic.fork()
            try:
                return revoke_device(fork, claim.device_id)
            finally:
                fork.close()

        self.last_op = (
            Op(self, "Turning the new workstation away…", work)
            .in_tray(self.tray)
            .success(self.turned_away.emit)
            .failure(lambda _exc: None)  # best effort: it can be removed from the list
            .run_in_background()
        )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
