"""The kiosk: the 0–10 question full screen on a monitor facing the patient.

The kiosk shows the clinic's name, the question, eleven big buttons, an optional
comment, then "Thank you" and the question again. It never shows who is answering:
the desk chooses the visit on its own screen (`ask_for`) and the kiosk keeps only the
visit's id, so a patient glancing at it learns nothing about the one before.

Only staff leave it: Ctrl+Shift+Q, or a long press on the small "Staff" corner at the
top right (Escape and the window system's close do nothing). The visit the desk chose
goes with the next score pressed, then the kiosk asks anonymously again, so an answer
is never booked to the previous patient's visit.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QResizeEvent,
    QScreen,
    QShortcut,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.clinic import Clinic
from app.directory import locations
from app.engagement import surveys
from app.errors import FrontdeskError
from app.scheduling import appointments
from ui.bus import DataBus
from ui.shortcuts import shortcut

log = logging.getLogger(__name__)

QUESTION = "How likely are you to recommend us to a friend or family member?"
LOWEST_WORDS = "0 = Not at all likely"
HIGHEST_WORDS = "10 = Extremely likely"
THANKS = "Thank you!"
THANKS_DETAIL = "Your answer helps us care for you better."
COMMENT_IDLE_MS = 60_000  # a patient who walked away: keep the score, start again
THANKS_MS = 4_000
HOLD_TO_LEAVE_MS = 3_000
# Staff's way out (shown on the kiosk, so staff need not remember it).
LEAVE_KEYS = shortcut("kiosk_leave").keys
# Digits 0–9 answer at once; ten has no key of its own, so T (for ten) and + stand for it.
TEN_KEYS = (Qt.Key.Key_T, Qt.Key.Key_Plus)
SCORES = range(11)

# Fixed, not the app's theme: white on deep blue (about 15:1) reads from across a room
# whatever look the desk chose, and the focus ring is a different colour and width.
_BACKGROUND = "#0f2741"
_FOREGROUND = "#ffffff"
_ACCENT = "#ffd24d"
# Sizes in pixels of a 1280×720 screen, scaled to the window (logical pixels), so the
# kiosk fills a 4K or a small screen alike and QT_SCALE_FACTOR is respected.
_DESIGN_WIDTH = 1280
_DESIGN_HEIGHT = 720
_SMALLEST_TOUCH = 44  # px: below this a finger misses (WCAG 2.5.5)


def choose_screen(desk: QScreen | None) -> tuple[QScreen, bool]:
    """Another screen than the desk's when there is one (True), else the desk's own."""
    desk = desk or QGuiApplication.primaryScreen()
    for screen in QGuiApplication.screens():
        if screen is not desk and screen.name() != desk.name():
            return screen, True
    return desk, False


class HoldButton(QPushButton):
    """A button that acts only when held down for `hold_ms`: a tap by a patient does nothing."""

    held = Signal()

    def __init__(self, text: str, hold_ms: int, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(hold_ms)
        self._timer.timeout.connect(self.held)
        self.pressed.connect(self._timer.start)
        self.released.connect(self._timer.stop)


class KioskWindow(QWidget):
    """Signals: `answered(Created)` after an answer is stored, `answer_failed(str)` when it
    could not be (the patient still sees "Thank you"; the desk shows the reason), and
    `left()` when staff closed the kiosk."""

    answered = Signal(object)
    answer_failed = Signal(str)
    left = Signal()

    def __init__(self, clinic: Clinic, bus: DataBus, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window | Qt.WindowType.FramelessWindowHint)
        self.clinic = clinic
        self.bus = bus
        self.setObjectName("kiosk")
        self.setWindowTitle("Frontdesk kiosk")
        self.setAccessibleName("Satisfaction kiosk")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # digits reach it with no button focused
        self.on_own_screen = False
        self._leaving = False
        # The visit the desk chose for the next answer, and the one being answered now
        # (appointment ids: the core books the answer to the visit's patient).
        self._next: str | None = None
        self._answering: str | None = None
        self.score: int | None = None

        self.stack = QStackedWidget()
        self.stack.setAccessibleName("Kiosk steps")
        self.question_page = self._question_page(clinic.settings.name)
        self.comment_page = self._comment_page()
        self.thanks_page = self._thanks_page()
        for page in (self.question_page, self.comment_page, self.thanks_page):
            self.stack.addWidget(page)

        self.leave_button = HoldButton("Staff", HOLD_TO_LEAVE_MS)
        self.leave_button.setObjectName("staff")
        self.leave_button.setAccessibleName("Staff: hold for 3 seconds to leave the kiosk")
        self.leave_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # patients Tab past it
        self.leave_button.setFlat(True)
        self.leave_button.held.connect(self.leave)
        self.leave_hint = QLabel(f"Staff: hold “Staff” 3 seconds or press {LEAVE_KEYS} to leave")
        self.leave_hint.setObjectName("hint")
        self.leave_hint.setAccessibleName("How staff leave the kiosk")
        self.leave_hint.hide()  # shown only when the kiosk covers the desk's own screen
        corner = QHBoxLayout()
        corner.addStretch(1)
        corner.addWidget(self.leave_hint)
        corner.addWidget(self.leave_button)

        layout = QVBoxLayout(self)
        layout.addLayout(corner)
        layout.addWidget(self.stack, 1)

        QShortcut(QKeySequence(LEAVE_KEYS), self).activated.connect(self.leave)
        self.comment_timer = QTimer(self)
        self.comment_timer.setSingleShot(True)
        self.comment_timer.setInterval(COMMENT_IDLE_MS)
        self.comment_timer.timeout.connect(self.skip)
        self.thanks_timer = QTimer(self)
        self.thanks_timer.setSingleShot(True)
        self.thanks_timer.setInterval(THANKS_MS)
        self.thanks_timer.timeout.connect(self.reset)
        self._restyle(_DESIGN_WIDTH, _DESIGN_HEIGHT)
        self.reset()

    # --- the three steps --------------------------------------------------------------

    def _question_page(self, clinic_name: str) -> QWidget:
        page = QWidget()
        page.setAccessibleName("Question")
        self.clinic_label = QLabel(clinic_name)
        self.clinic_label.setObjectName("clinic")
        self.clinic_label.setAccessibleName("Clinic")
        self.clinic_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.question = QLabel(QUESTION)
        self.question.setObjectName("question")
        self.question.setAccessibleName("Question")
        self.question.setWordWrap(True)
        self.question.setAlignment(Qt.AlignmentFlag.AlignCenter)
        row = QHBoxLayout()
        self.score_row = row
        self.score_buttons: list[QPushButton] = []
        for score in SCORES:
            button = QPushButton(str(score))
            button.setObjectName("score")
            button.setAccessibleName(f"{score} out of 10")
            button.setToolTip(f"{score} out of 10")
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
            button.setAutoDefault(True)  # Enter presses the focused button, as Space does
            button.clicked.connect(lambda _checked=False, s=score: self.choose(s))
            row.addWidget(button, 1)
            self.score_buttons.append(button)
        ends = QHBoxLayout()
        low = QLabel(LOWEST_WORDS)
        high = QLabel(HIGHEST_WORDS)
        for label in (low, high):
            label.setObjectName("ends")
            label.setAccessibleName(label.text())
        ends.addWidget(low)
        ends.addStretch(1)
        ends.addWidget(high)
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addWidget(self.clinic_label)
        layout.addSpacing(12)
        layout.addWidget(self.question)
        layout.addStretch(1)
        layout.addLayout(row, 3)
        layout.addLayout(ends)
        layout.addStretch(1)
        return page

    def _comment_page(self) -> QWidget:
        page = QWidget()
        page.setAccessibleName("Comment")
        self.comment_question = QLabel()
        self.comment_question.setObjectName("question")
        self.comment_question.setAccessibleName("Comment question")
        self.comment_question.setWordWrap(True)
        self.comment_question.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.comment = QPlainTextEdit()
        self.comment.setObjectName("comment")
        self.comment.setAccessibleName("Your comment (optional)")
        self.comment.setPlaceholderText("Type here if you wish")
        self.comment.setTabChangesFocus(True)
        self.comment.textChanged.connect(self._still_here)
        self.back_button = QPushButton("Change my score")
        self.skip_button = QPushButton("Skip")
        self.send_button = QPushButton("Send")
        for button, name in (
            (self.back_button, "Change my score"),
            (self.skip_button, "Skip the comment"),
            (self.send_button, "Send the comment"),
        ):
            button.setObjectName("step")
            button.setAccessibleName(name)
            button.setAutoDefault(True)  # Enter presses the focused button, as Space does
        self.back_button.setObjectName("quiet")
        self.back_button.clicked.connect(self.back)
        self.skip_button.clicked.connect(self.skip)
        self.send_button.clicked.connect(self.send)
        buttons = QHBoxLayout()
        buttons.addWidget(self.back_button)
        buttons.addStretch(1)
        buttons.addWidget(self.skip_button)
        buttons.addWidget(self.send_button)
        layout = QVBoxLayout(page)
        layout.addWidget(self.comment_question)
        layout.addWidget(self.comment, 1)
        layout.addLayout(buttons)
        return page

    def _thanks_page(self) -> QWidget:
        page = QWidget()
        page.setAccessibleName("Thank you")
        thanks = QLabel(THANKS)
        thanks.setObjectName("thanks")
        thanks.setAccessibleName(THANKS)
        detail = QLabel(THANKS_DETAIL)
        detail.setObjectName("question")
        detail.setAccessibleName(THANKS_DETAIL)
        detail.setWordWrap(True)
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        for label in (thanks, detail):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            layout.addWidget(label)
        layout.addStretch(1)
        return page

    # --- the desk's side --------------------------------------------------------------

    def ask_for(self, appointment_id: str | None) -> None:
        """The next score goes with this visit (its patient too), or with none (None).
        RecordNotFoundError when the visit is gone, so the desk hears it now, not later."""
        self._next = appointments.get(self.clinic, appointment_id).id if appointment_id else None

    @property
    def next_visit(self) -> str | None:
        """The visit the next score goes with, None when it will be anonymous."""
        return self._next

    def open(self) -> None:
        """Full screen on a screen other than the desk's; on the desk's own screen when it
        has only one, with the way out written in the corner."""
        desk = self.parentWidget()
        screen, self.on_own_screen = choose_screen(desk.window().screen() if desk else None)
        self.leave_hint.setVisible(not self.on_own_screen)
        self._restyle(screen.geometry().width(), screen.geometry().height())
        self.setScreen(screen)
        self.setGeometry(screen.geometry())
        self.showFullScreen()
        self.raise_()
        self.activateWindow()
        self.reset()

    def leave(self) -> None:
        """Staff close the kiosk (Ctrl+Shift+Q, the held corner, or the desk)."""
        self.comment_timer.stop()
        self.thanks_timer.stop()
        if self._answering is not None or self.score is not None:
            # A score pressed but not yet sent is kept: the patient did answer.
            self._record("")
        self._leaving = True
        self.close()
        self.left.emit()

    # --- the patient's side -----------------------------------------------------------

    def reset(self) -> None:
        """Back to the question, with nothing of the last patient left on screen."""
        self.thanks_timer.stop()
        self.comment_timer.stop()
        self.score = None
        self._answering = None
        self.comment.clear()
        self.stack.setCurrentWidget(self.question_page)
        self.setFocus()  # no button ringed in advance: that would suggest an answer

    def choose(self, score: int) -> None:
        if self.stack.currentWidget() is not self.question_page:
            return
        self.score = score
        self._answering, self._next = self._next, None
        self.comment_question.setText(
            f"You chose {score}. Would you like to tell us why? This is optional."
        )
        self.stack.setCurrentWidget(self.comment_page)
        self.comment.setFocus()
        self.comment_timer.start()

    def back(self) -> None:
        self.comment_timer.stop()
        self.score = None
        # The visit waits for the new score; a newer choice of the desk wins.
        self._next = self._next or self._answering
        self._answering = None
        self.stack.setCurrentWidget(self.question_page)
        self.setFocus()

    def send(self) -> None:
        self._finish(self.comment.toPlainText().strip())

    def skip(self) -> None:
        self._finish("")

    def _finish(self, comment: str) -> None:
        if self.score is None:
            return
        self.comment_timer.stop()
        self._record(comment)
        self.comment.clear()
        self.stack.setCurrentWidget(self.thanks_page)
        self.thanks_timer.start()

    def _record(self, comment: str) -> None:
        score, visit = self.score, self._answering
        self.score, self._answering = None, None
        if score is None:
            return
        try:
            created = surveys.record_answer(
                self.clinic,
                score=score,
                comment=comment,
                channel="kiosk",
                appointment_id=visit,
                location_id=None if visit else self._only_location(),
            )
        except FrontdeskError as exc:
            log.warning("a kiosk answer was not saved (%s)", type(exc).__name__)
            self.answer_failed.emit(str(exc))
            return
        except Exception:  # the patient still sees thanks; the desk is told plainly
            log.exception("a kiosk answer was not saved")
            self.answer_failed.emit("The last kiosk answer could not be saved.")
            return
        self.bus.publish(created.changes)
        self.answered.emit(created)

    def _only_location(self) -> str | None:
        """Where an answer with no visit was given: the clinic's one location. With several
        the kiosk cannot tell which it stands in, so the answer stays unplaced rather than
        counted for the wrong one."""
        places = locations(self.clinic)
        return places[0].id if len(places) == 1 else None

    def _still_here(self) -> None:
        if self.comment_timer.isActive():
            self.comment_timer.start()

    # --- keys, size, closing ----------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        key = event.key()
        on_question = self.stack.currentWidget() is self.question_page
        if on_question and Qt.Key.Key_0 <= key <= Qt.Key.Key_9:
            self.choose(key - Qt.Key.Key_0)
            return
        if on_question and key in TEN_KEYS:
            self.choose(10)
            return
        if self.stack.currentWidget() is self.comment_page:
            self._still_here()
        if key == Qt.Key.Key_Escape:
            return  # a patient must not close the kiosk
        super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        # Alt+F4 and the like come from the window system: only staff leave (leave()).
        if event.spontaneous() and not self._leaving:
            event.ignore()
            return
        self.comment_timer.stop()
        self.thanks_timer.stop()
        super().closeEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        self._restyle(event.size().width(), event.size().height())
        super().resizeEvent(event)

    def _restyle(self, width: int, height: int) -> None:
        unit = max(0.4, min(width / _DESIGN_WIDTH, height / _DESIGN_HEIGHT))

        def px(size: float) -> int:
            return max(1, round(size * unit))

        # Explicit minimums replace the big font's own: eleven buttons always fit across,
        # and the layout gives each its share of the width.
        # Minimums never grow with the window, or a window could not shrink back.
        for button in self.score_buttons:
            button.setMinimumSize(_SMALLEST_TOUCH, _SMALLEST_TOUCH)
        for button in (self.skip_button, self.send_button, self.back_button):
            button.setMinimumSize(_SMALLEST_TOUCH * 2, _SMALLEST_TOUCH)
        self.setStyleSheet(
            f"""
            QWidget#kiosk {{ background: {_BACKGROUND}; }}
            QWidget#kiosk QLabel {{ color: {_FOREGROUND}; background: transparent; }}
            QLabel#clinic {{ font-size: {px(34)}px; font-weight: 600; }}
            QLabel#question {{ font-size: {px(42)}px; }}
            QLabel#thanks {{ font-size: {px(96)}px; font-weight: 700; }}
            QLabel#ends {{ font-size: {px(24)}px; }}
            QLabel#hint {{ font-size: {px(18)}px; }}
            QPushButton {{
                background: {_FOREGROUND}; color: {_BACKGROUND};
                border: {px(3)}px solid {_FOREGROUND}; border-radius: {px(14)}px;
                font-size: {px(34)}px; font-weight: 700; padding: {px(8)}px {px(16)}px;
            }}
            QPushButton#score {{ font-size: {px(56)}px; padding: 0px; }}
            QPushButton:focus {{ border: {px(7)}px solid {_ACCENT}; }}
            QPushButton:pressed {{ background: {_ACCENT}; border-color: {_ACCENT}; }}
            QPushButton#quiet {{ background: transparent; color: {_FOREGROUND}; }}
            QPushButton#quiet:focus {{ border: {px(7)}px solid {_ACCENT}; }}
            QPushButton#staff {{
                background: transparent; color: #9fb3c8; border: {px(1)}px solid #3d5a7a;
                font-size: {px(16)}px; font-weight: 400; padding: {px(4)}px {px(10)}px;
            }}
            QPlainTextEdit#comment {{
                background: {_FOREGROUND}; color: {_BACKGROUND}; font-size: {px(30)}px;
                border: {px(3)}px solid {_FOREGROUND}; border-radius: {px(10)}px;
            }}
            QPlainTextEdit#comment:focus {{ border: {px(7)}px solid {_ACCENT}; }}
            """
        )
        self.score_row.setSpacing(px(12))
        margin = px(36)
        layout = self.layout()
        if layout is not None:
            layout.setContentsMargins(margin, px(12), margin, margin)
