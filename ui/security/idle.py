"""Noticing that nobody has touched Frontdesk for a while, so the window can lock itself.

Only Frontdesk's own input counts: someone typing in another program while patient data
sits on this window is, for the data, the same as nobody at the desk. That is the safe
side of HIPAA's automatic logoff (45 CFR 164.312(a)(2)(iii)).

One application-wide event filter notes the time of the last real input and never
swallows an event; one repeating 1-second timer compares that with the clock. Restarting
a timer on every mouse move would cost far more than reading a clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer, Signal

# What a person does. Not Enter/Leave/Hover/Paint: a window repainting or a pointer
# resting over it says nothing about whether anyone is there.
INPUT_EVENTS: Final = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
        QEvent.Type.TabletPress,
    }
)
TICK_MS: Final = 1000


class IdleWatcher(QObject):
    """Emits `idle` once when `limit_seconds` pass without input; again only after input."""

    idle = Signal()

    def __init__(
        self,
        limit_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        if limit_seconds <= 0:
            raise ValueError("the idle limit must be positive")
        self._clock = clock
        self._limit = float(limit_seconds)
        self._last_input = clock()
        self._fired = False
        self._paused = False
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self.check)
        app = QCoreApplication.instance()
        if app is None:
            raise RuntimeError("IdleWatcher needs a running QApplication")
        self._app = app
        app.installEventFilter(self)
        self._timer.start()

    @property
    def limit_seconds(self) -> float:
        return self._limit

    def set_limit(self, seconds: float) -> None:
        """A new limit, counted from the last input (so shortening it can lock at once)."""
        if seconds <= 0:
            raise ValueError("the idle limit must be positive")
        self._limit = float(seconds)

    def idle_for(self) -> float:
        """Seconds since the last input Frontdesk saw."""
        return self._clock() - self._last_input

    def is_paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        """While the window is locked: nothing to protect, so no ticking and no signal."""
        self._paused = True
        self._timer.stop()

    def resume(self) -> None:
        """After sign-in: the person is here now, so the count starts again."""
        self._paused = False
        self._fired = False
        self._last_input = self._clock()
        self._timer.start()

    def stop(self) -> None:
        """For good (window closing): no filter left on the application."""
        self.pause()
        self._app.removeEventFilter(self)

    def check(self) -> None:
        """The timer's work, also callable directly: emit `idle` if the limit has passed."""
        if self._paused or self._fired:
            return
        if self._clock() - self._last_input >= self._limit:
            self._fired = True
            self.idle.emit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() in INPUT_EVENTS:
            self._last_input = self._clock()
            self._fired = False
        return False  # never swallow input: this only watches
